"""Video (PROTOCOL.md §5.6, §7.3) end to end: each mode, each model's durations/resolutions and benefit_type, the result, and the
download rendition from get_local_item_list (PROTOCOL.md §9.2)."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.catalogue import DEFAULT_VIDEO_MODEL, VIDEO_MODELS
from core.drafts import new_id
from core.drafts import video as video_body
from core.errors import InvalidRequestError, UpstreamRejectedError
from core.media import RefImage
from core.params import VideoParams, validate_video
from core.registry import Registry
from core.wire import PATH_GENERATE, PATH_LOCAL_ITEM_LIST, Region
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, UpstreamProxy, make_png


@pytest.fixture(autouse=True)
def quick_videos(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.video_seconds = 0.4


def site_for(name: str) -> str:
    regions = VIDEO_MODELS[name].regions
    return "cn" if Region.CN in regions else "hk"


def gen_input(fake: FakeJimeng, submit_id: str) -> dict:
    draft = json.loads(fake.jobs[submit_id].draft_content)
    return draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]


async def test_text_to_video_result(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.video(VideoParams(prompt="a wave breaking", ratio="16:9"))
        result = await job.wait()
        [video] = result.videos
        async with engine.download(video) as dl:
            data = b"".join([c async for c in dl.chunks])
    fake_job = fake_jimeng.jobs[result.submit_id]
    assert fake_job.model_key == VIDEO_MODELS[DEFAULT_VIDEO_MODEL].key  # default model
    assert fake_job.references == [] and gen_input(fake_jimeng, result.submit_id)["duration_ms"] == 5000
    assert video.url.startswith(fake_jimeng.url) and video.format == "mp4"
    assert (video.width, video.height) == (1280, 720) and video.duration_s == 5.0
    assert video.cover_url and video.item_id
    assert data[4:8] == b"ftyp" and dl.content_type == "video/mp4"
    assert result.notes == ()


async def test_first_frame_video(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.video(
            VideoParams(prompt="it starts to move", ratio="16:9"), first_frame=RefImage.from_bytes(make_png(60, 80, 1))
        )
        result = await job.wait()
    fake_job = fake_jimeng.jobs[result.submit_id]
    [uri] = fake_job.references
    assert fake_jimeng.uploaded_images[uri]["width"] == 60
    inp = gen_input(fake_jimeng, result.submit_id)
    assert inp["first_frame_image"]["image_uri"] == uri and "end_frame_image" not in inp
    assert any("ratio is ignored" in n for n in result.notes)  # the video follows the frame, and we say so
    assert fake_job.height > fake_job.width  # emulator: output follows the portrait frame, not the 16:9 asked


async def test_first_and_last_frame_video(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.video(
            VideoParams(prompt=""),  # a prompt is optional when frames are given
            first_frame=make_png(64, 36, 2),
            last_frame=RefImage.from_bytes(make_png(66, 36, 3)),
        )
        result = await job.wait()
    uris = fake_jimeng.jobs[result.submit_id].references
    assert [fake_jimeng.uploaded_images[u]["width"] for u in uris] == [64, 66]
    inp = gen_input(fake_jimeng, result.submit_id)
    assert (inp["first_frame_image"]["image_uri"], inp["end_frame_image"]["image_uri"]) == tuple(uris)


async def test_last_frame_alone_is_refused(make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        with pytest.raises(InvalidRequestError, match="last frame needs a first frame"):
            await engine.video(VideoParams(prompt="x"), last_frame=make_png())


async def test_every_model_accepts_its_values_and_sends_its_benefit_type(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    async with make_engine("cn") as cn, make_engine("hk") as hk:
        jobs = []
        for name, spec in VIDEO_MODELS.items():
            engine = cn if site_for(name) == "cn" else hk
            for resolution in spec.resolutions:  # every resolution: 3.0 Fast and Seedance VIP differ by resolution
                duration = spec.durations[-1]
                params = VideoParams(prompt=f"test {name}", model=name, duration=duration, resolution=resolution)
                jobs.append((name, duration, resolution, await engine.video(params)))
        assert len(jobs) == sum(len(s.resolutions) for s in VIDEO_MODELS.values())
        results = await asyncio.gather(*(job.wait() for *_, job in jobs))
    for (name, duration, resolution, _), result in zip(jobs, results, strict=True):
        spec = VIDEO_MODELS[name]
        fake_job = fake_jimeng.jobs[result.submit_id]
        assert fake_job.model_key == spec.key, name
        assert fake_job.benefit_type == spec.benefit_types[resolution], name
        assert fake_job.video_ms == duration * 1000, name
        assert len(result.videos) == 1 and result.videos[0].url, name


@pytest.mark.parametrize("name", list(VIDEO_MODELS))
async def test_every_model_refuses_what_it_cannot_do(make_engine: EngineFactory, name: str) -> None:
    spec = VIDEO_MODELS[name]
    bad_duration = next(d for d in (3, 7, 9, 11, 16, 20) if d not in spec.durations)
    bad_resolution = (
        next(r for r in ("480p", "1080p", "720p") if r not in spec.resolutions) if len(spec.resolutions) < 3 else None
    )
    async with make_engine(site_for(name), n=name) as engine:
        with pytest.raises(InvalidRequestError, match=rf"makes videos of .* seconds, not {bad_duration}$") as ei:
            await engine.video(VideoParams(prompt="x", model=name, duration=bad_duration))
        assert ei.value.param == "duration"
        if bad_resolution:
            with pytest.raises(InvalidRequestError, match=rf"not {bad_resolution}$") as ei:
                await engine.video(VideoParams(prompt="x", model=name, resolution=bad_resolution))
            assert ei.value.param == "resolution"
        if not spec.frames:
            with pytest.raises(InvalidRequestError, match="does not take first/last frame"):
                await engine.video(VideoParams(prompt="x", model=name), first_frame=make_png())


async def test_wrong_benefit_type_is_refused_upstream(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    """The emulator's 5001 check is live: a draft with another model's benefit type is refused."""
    async with make_engine() as engine:
        acc = engine.accounts()[0]
        spec = validate_video(VideoParams(prompt="x", model="jimeng-video-3.0"), Registry(), frozenset({Region.CN}))
        body = video_body(spec, new_id(), Region.CN)
        body["extend"]["m_video_commerce_info"]["benefit_type"] = "dreamina_video_seedance_15_pro"
        with pytest.raises(UpstreamRejectedError) as ei:
            await engine.upstream.call(acc, PATH_GENERATE, body, submit=True)
    assert ei.value.ret == "5001"


async def test_download_rendition_is_preferred(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        result = await (await engine.video(VideoParams(prompt="hq please"))).wait()
        [video] = result.videos
        async with engine.download(video) as dl:
            head = await dl.chunks.__anext__()
    [call] = fake_jimeng.calls("get_local_item_list")
    assert call.json["item_id_list"] == [video.item_id] and call.json["is_for_video_download"] is True
    assert "-hq.mp4?" in video.url  # the rendition the web app's own download button uses
    assert head[4:8] == b"ftyp"
    assert video.width and video.height and video.duration_s == 5.0  # size and duration kept from the history item


async def test_history_url_kept_when_the_rendition_call_fails(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, upstream_proxy: UpstreamProxy
) -> None:
    upstream_proxy.replies[PATH_LOCAL_ITEM_LIST] = (200, {"ret": "1000", "errmsg": "invalid parameter", "data": {}})
    async with make_engine(upstream_url=upstream_proxy.url) as engine:
        result = await (await engine.video(VideoParams(prompt="no hq today"))).wait()
    [video] = result.videos
    assert video.url.startswith(fake_jimeng.url) and "-hq" not in video.url
