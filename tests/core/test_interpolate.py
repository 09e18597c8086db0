"""Frame interpolation (补帧) end to end against the emulator: of one of our results (on the account that made it,
the source component replayed, ``video_ref_params``) and of an uploaded video (VOD vid); refusals before any credit."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidRequestError, JimengError
from core.params import VideoParams
from core.video_refs import RefMedia
from emulator import FakeJimeng
from emulator.omni import item_vid
from tests.core.conftest import EngineFactory
from tests.core.media_files import make_mp3, make_mp4
from tests.core.test_omni import sent


@pytest.fixture(autouse=True)
def quick_videos(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.video_seconds = 0.3


async def test_interpolate_a_result_of_ours(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        source = await engine.video(
            VideoParams(prompt="a lion runs", model="jimeng-video-seedance-2.0-mini", duration=4)
        )
        src = await source.wait()
        job = await engine.interpolate(source.id)
        result = await job.wait()
    assert result.assets[0].kind == "video"
    body, draft, inp = sent(fake_jimeng, result.submit_id)
    _, src_draft, _ = sent(fake_jimeng, src.submit_id)
    original, child = draft["component_list"]
    assert original == src_draft["component_list"][0]  # replayed unchanged
    assert child["parent_id"] == original["id"] and draft["main_component_id"] == child["id"]
    assert child["process_type"] == 3 and draft["min_version"] == "3.1.0"
    gen_video = child["abilities"]["gen_video"]
    assert gen_video["scene"] == "insert_frame"
    assert gen_video["video_ref_params"]["item_id"] == int(src.assets[0].item_id or 0)
    assert gen_video["video_ref_params"]["origin_history_id"] == int(src.history_id or 0)
    assert inp["origin_history_id"] == src.history_id
    src_record = fake_jimeng.jobs[src.submit_id]
    assert inp["vid"].startswith("v0") and inp["vid"] == item_vid(src_record.tokens[0])  # the item's video_id
    assert inp["v2v_opt"]["insert_frame"] == {**inp["v2v_opt"]["insert_frame"], "enable": True, "target_fps": 60}
    t2v = gen_video["text_to_video_params"]
    assert not {"video_aspect_ratio", "seed", "model_req_key", "priority"} & set(t2v)
    assert body["extend"] == {
        "root_model": "dreamina_seedance_40_mini",
        "m_video_commerce_info": {
            "amount": 0,
            "benefit_type": "video_frame_interpolation",
            "resource_id": "generate_video",
            "resource_id_type": "str",
            "resource_sub_type": "aigc",
        },
        "m_video_commerce_info_list": [body["extend"]["m_video_commerce_info"]],
    }
    metrics = json.loads(body["metrics_extra"])
    assert metrics["originId"] == src.assets[0].item_id and metrics["previewSubmitId"] == src.submit_id
    assert [s["scene"] for s in json.loads(metrics["sceneOptions"])] == [
        "BasicVideoGenerateButton",
        "VideoFrameInterpolation",
    ]
    assert fake_jimeng.jobs[result.submit_id].price == 0


async def test_interpolate_an_uploaded_video(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.interpolate(RefMedia.from_bytes(make_mp4(4.097, 1280, 720), "clip.mp4"))
        result = await job.wait()
    _, draft, inp = sent(fake_jimeng, result.submit_id)
    [child] = draft["component_list"]
    assert "parent_id" not in child and "video_ref_params" not in child["abilities"]["gen_video"]
    assert inp["vid"] in fake_jimeng.uploaded_vids and "origin_history_id" not in inp
    assert inp["v2v_opt"]["insert_frame"]["duration_ms"] == 4097


async def test_bad_sources_are_refused(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        image_job = await engine.imagine(__import__("core").ImageParams(prompt="a cat", count=1))
        await image_job.wait()
        for source, reason in [("no-such-job", "not_found"), (image_job.id, "not_video")]:
            with pytest.raises(InvalidRequestError) as err:
                await engine.interpolate(source)
            assert err.value.code == "interpolate_source" and err.value.details["reason"] == reason
        with pytest.raises(InvalidRequestError) as err:
            await engine.interpolate(RefMedia.from_bytes(make_mp3(2.0)))
        assert err.value.details["reason"] == "not_video"
        with pytest.raises(InvalidRequestError) as err:
            await engine.interpolate(RefMedia.from_bytes(make_mp4(20.0)))
        assert err.value.code == "reference_too_long"
    assert not fake_jimeng.calls("ApplyUploadInner")


async def test_emulator_refuses_another_items_vid(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.video_tools as tools

    async def wrong(*_: object) -> str:
        return "v0" + "q" * 28

    monkeypatch.setattr(tools, "source_vid", wrong)
    async with make_engine() as engine:
        source = await engine.video(VideoParams(prompt="rain", model="jimeng-video-seedance-2.0-mini", duration=4))
        await source.wait()
        job = await engine.interpolate(source.id)
        with pytest.raises(JimengError) as err:
            await job.wait()
    assert err.value.ret == "1000"


async def test_an_interpolation_rerun_after_a_restart_stays_on_the_source_account(fake_jimeng: FakeJimeng) -> None:
    """Recovery re-runs a never-submitted job with ``among=None``: the spec itself names the account with the item.
    The source is made on the second account; an idle pool would hand the first one out."""
    from core.jobs import Job
    from tests.core.conftest import session_id
    from tests.core.support import engine_for

    first, second = session_id("interp-a"), session_id("interp-b")
    fake_jimeng.add_account(first, credits=1000)
    fake_jimeng.add_account(second, credits=1000)
    async with engine_for(fake_jimeng, f"{first},{second}") as engine:
        b = [acc for acc in engine.accounts() if acc.token.sessionid == second]
        source = await engine.video(VideoParams(prompt="dunes", model="jimeng-video-seedance-2.0-mini"), accounts=b)
        await source.wait()
        plain = await engine.video(VideoParams(prompt="sea", model="jimeng-video-seedance-2.0-mini"))
        assert fake_jimeng.jobs[(await plain.wait()).submit_id].sessionid == first  # what an idle pool picks
        spec = (await engine.interpolate(source.id)).spec
        for _ in range(2):
            result = await engine.dispatcher.run(Job("video", spec), spec, among=None, refs=[])
            assert fake_jimeng.jobs[result.submit_id].sessionid == second
