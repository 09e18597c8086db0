"""Seedance omni reference end to end against the emulator: VOD uploads (signed, checked by the emulator), the draft's
wire shape (materials, meta list, benefit type per mix and model, amount), and the refusals before any upload."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import InvalidRequestError, JimengError
from core.media import RefImage
from core.params import VideoParams
from core.video_refs import RefMedia, reference_from_bytes
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, make_png
from tests.core.media_files import FLAC, OGG, make_mp3, make_mp4, make_wav


def sent(fake: FakeJimeng, submit_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(body, draft, video_gen_inputs[0]) of the generate call the emulator received for ``submit_id``."""
    for call in fake.calls("/mweb/v1/aigc_draft/generate"):
        if isinstance(call.json, dict) and call.json.get("submit_id") == submit_id:
            draft = json.loads(call.json["draft_content"])
            comp = draft["component_list"][-1]
            inp = comp["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
            return call.json, draft, inp
    raise AssertionError("no generate call for that submit id")


@pytest.fixture(autouse=True)
def quick_videos(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.video_seconds = 0.3


async def test_image_video_audio_references(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    refs = [
        RefImage.from_bytes(make_png(64, 48), name="cat.png"),
        RefMedia.from_bytes(make_mp4(4.5, 1280, 720), "walk.mp4"),
        RefMedia.from_bytes(make_mp3(3.0), "song.mp3"),
    ]
    async with make_engine() as engine:
        spec = engine.validate_omni(
            VideoParams(prompt="@1 walks like @2 to @3", model="jimeng-video-seedance-2.0-mini", duration=5),
            kinds=["image", "video", "audio"],
        )
        job = await engine.omni_video(spec, refs)
        result = await job.wait()
    assert result.assets[0].kind == "video"
    body, draft, inp = sent(fake_jimeng, result.submit_id)
    assert draft["min_version"] == "3.3.9" and draft["min_features"] == ["AIGC_Video_UnifiedEdit"]
    assert inp["min_version"] == "3.3.9" and inp["prompt"] == "" and inp["resolution"] == "720p"
    mats = inp["unified_edit_input"]["material_list"]
    assert [m["material_type"] for m in mats] == ["image", "video", "audio"]
    assert mats[0]["image_info"]["image_uri"] in fake_jimeng.uploaded_images
    video, audio = mats[1]["video_info"], mats[2]["audio_info"]
    assert video["vid"] in fake_jimeng.uploaded_vids and video["duration"] == 4500 and video["width"] == 1280
    assert audio["vid"] in fake_jimeng.uploaded_vids and audio["name"] == "song.mp3" and 2900 < audio["duration"] < 3100
    metas = inp["unified_edit_input"]["meta_list"]
    assert [(m["meta_type"], m.get("material_ref", {}).get("material_idx")) for m in metas] == [
        ("image", 0),
        ("text", None),
        ("video", 1),
        ("text", None),
        ("audio", 2),
    ]
    commerce = body["extend"]["m_video_commerce_info"]
    assert commerce["benefit_type"] == "seedance_20_mini_720p_output_5s" and commerce["amount"] == 9.5
    metrics = json.loads(body["metrics_extra"])
    scene = json.loads(metrics["sceneOptions"])[0]
    assert metrics["functionMode"] == "omni_reference" and scene["materialTypes"] == [1, 2, 3]
    assert scene["hasInputVideo"] is True and scene["inputVideoDuration"] == 4.5
    # VOD: signed with service "vod", SpaceName dreamina, audio uploaded as FileType=video
    applies = fake_jimeng.calls("ApplyUploadInner")
    assert len(applies) == 2 and all(
        a.query["FileType"] == "video" and a.query["SpaceName"] == "dreamina" for a in applies
    )
    assert all("/vod/aws4_request" in a.headers["Authorization"] for a in applies)
    [commit, _] = fake_jimeng.calls("CommitUploadInner")
    assert json.loads(commit.body_bytes)["Functions"] == []
    assert "content-type" not in commit.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]


@pytest.mark.parametrize(
    ("model", "with_video", "benefit"),
    [
        ("jimeng-video-seedance-2.0", False, "dreamina_video_seedance_20_pro"),
        ("jimeng-video-seedance-2.0", True, "dreamina_video_seedance_20_pro_with_video"),
        ("jimeng-video-seedance-2.0-fast", True, "dreamina_seedance_20_fast_with_video"),
        ("jimeng-video-seedance-2.0-fast", False, "dreamina_seedance_20_fast"),
        ("jimeng-video-seedance-2.0-vip", True, "seedance_20_pro_720p_output"),
        ("jimeng-video-seedance-2.0-fast-vip", False, "dreamina_seedance_20_fast_5s"),
    ],
)
async def test_benefit_type_per_mix_and_model(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, model: str, with_video: bool, benefit: str
) -> None:
    refs: list[Any] = [RefImage.from_bytes(make_png(40, 40))]
    if with_video:
        refs.append(RefMedia.from_bytes(make_mp4(2.0)))
    async with make_engine() as engine:
        job = await engine.omni_video(VideoParams(prompt="a dance", model=model, duration=5), refs)
        result = await job.wait()
    body, _, _ = sent(fake_jimeng, result.submit_id)
    assert body["extend"]["m_video_commerce_info"]["benefit_type"] == benefit
    assert [x["benefit_type"] for x in body["extend"]["m_video_commerce_info_list"]] == [benefit]


async def test_emulator_refuses_a_wrong_benefit_for_the_mix(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream refuses a benefit type that does not fit the mix with 5001; the emulator's table does the same."""
    from core.omni import OmniSpec

    monkeypatch.setattr(OmniSpec, "benefit_type", property(lambda self: "dreamina_video_seedance_20_pro"))
    async with make_engine() as engine:
        job = await engine.omni_video(
            VideoParams(prompt="x", model="jimeng-video-seedance-2.0"), [RefMedia.from_bytes(make_mp4(2.0))]
        )
        with pytest.raises(JimengError) as err:
            await job.wait()
    assert err.value.ret == "5001"
    assert not fake_jimeng.jobs


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ([make_mp4(16.0)], "reference_too_long"),
        ([make_mp4(8.0), make_mp4(8.0)], "reference_videos_too_long"),
        ([make_mp4(2.0, pad=51 * 1024 * 1024)], "reference_too_large"),
        ([OGG], "reference_audio_format"),
        ([FLAC], "reference_audio_format"),
        ([b"\x1a\x45\xdf\xa3" + b"\0" * 64], "reference_video_format"),
        ([make_wav(16.0)], "reference_too_long"),
    ],
)
async def test_bad_references_are_refused_before_any_upload(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, files: list[bytes], code: str
) -> None:
    async with make_engine() as engine:
        with pytest.raises(InvalidRequestError) as err:
            await engine.omni_video(
                VideoParams(prompt="p", model="jimeng-video-seedance-2.0"), [reference_from_bytes(f) for f in files]
            )
    assert err.value.code == code and err.value.param == "references"
    assert not fake_jimeng.calls("get_upload_token") and not fake_jimeng.calls("ApplyUploadInner")


async def test_counts_model_and_prompt_refs_are_checked_at_once(make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        cases = [
            (VideoParams(prompt="p"), ["image"] * 10, "too_many_references"),
            (VideoParams(prompt="p"), ["video"] * 4, "too_many_references"),
            (VideoParams(prompt="p"), ["audio"] * 4, "too_many_references"),
            (VideoParams(prompt="p"), ["image"] * 9 + ["audio"] * 3 + ["video"], "too_many_references"),
            (VideoParams(prompt="p"), [], "no_references"),
            (VideoParams(prompt="p", model="jimeng-video-3.0"), ["image"], "omni_unsupported"),
            (VideoParams(prompt="see @3"), ["image", "audio"], "reference_index"),
        ]
        for params, kinds, code in cases:
            with pytest.raises(InvalidRequestError) as err:
                engine.validate_omni(params, kinds=kinds)
            assert err.value.code == code, (kinds, code)


async def test_capability_refused_on_a_site_without_omni(make_engine: EngineFactory) -> None:
    async with make_engine(region="hk") as engine:
        assert engine.video_capabilities() == frozenset()
        with pytest.raises(InvalidRequestError) as err:
            engine.validate_omni(VideoParams(prompt="p"), kinds=["image"])
        assert err.value.code == "capability_unavailable" and err.value.details == {"capability": "video.omni"}
        with pytest.raises(InvalidRequestError) as err:
            await engine.interpolate(RefMedia.from_bytes(make_mp4(3.0)))
        assert err.value.code == "capability_unavailable"


async def test_seedance_25_draft_mode(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        assert "video.seedance25" in engine.video_capabilities()
        job = await engine.video(VideoParams(prompt="a fox", model="jimeng-video-seedance-2.5-draft"))
        result = await job.wait()
    body, draft, inp = sent(fake_jimeng, result.submit_id)
    assert draft["min_version"] == "3.3.28" and draft["min_features"] == ["AIGC_Video_Seedance25ResultAction"]
    assert inp["is_draft_mode"] is True and inp["resolution"] == "480p"
    assert json.loads(body["metrics_extra"])["videoStage"] == "draft"
    assert body["extend"]["m_video_commerce_info"] == {
        "amount": 5,
        "benefit_type": "seedance_25_draft_480p_no_input_video_output",
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }


async def test_specs_survive_the_store(make_engine: EngineFactory) -> None:
    """A stored omni/interpolation spec comes back as the same kind of spec (restart recovery keeps the body)."""
    from core.params import spec_from_dict
    from core.video_refs import RefMedia as _RefMedia

    async with make_engine() as engine:
        job = await engine.omni_video(
            VideoParams(prompt="p", model="jimeng-video-seedance-2.0-fast"), [_RefMedia.from_bytes(make_mp4(2.0))]
        )
        await job.wait()
        data = json.loads(json.dumps(job.spec.to_dict()))
        back = spec_from_dict("video", data, engine.registry)
        assert back == job.spec and back.benefit_type == "dreamina_seedance_20_fast_with_video"
        interp = await engine.interpolate(job.id)
        await interp.wait()
        data = json.loads(json.dumps(interp.spec.to_dict()))
        assert spec_from_dict("video", data, engine.registry) == interp.spec


async def test_kinds_from_refimage_source_kinds_count_as_images(make_engine: EngineFactory) -> None:
    """``RefImage.kind`` is where the image comes from (bytes, path, url); ``validate_omni`` reads those as images."""
    async with make_engine() as engine:
        refs: list[Any] = [RefImage.from_bytes(make_png()), RefMedia.from_bytes(make_mp4(2.0))]
        spec = engine.validate_omni(VideoParams(prompt="p"), kinds=[getattr(r, "kind", "image") for r in refs])
        assert spec.kinds == ("image", "video")
        job = await engine.omni_video(spec, refs)
        await job.wait()


def test_containers_and_lengths_are_read_without_ffmpeg() -> None:
    from core.video_refs import probe

    cases = {
        make_mp4(4.5, 1280, 720): ("video", "mp4", 4500, 1280),
        make_mp4(3.0, brand=b"qt  "): ("video", "mov", 3000, 640),
        make_mp4(2.0, brand=b""): ("video", "mov", 2000, 640),  # QuickTime atoms without ftyp
        make_wav(2.5): ("audio", "wav", 2500, 0),
        make_mp3(3.0): ("audio", "mp3", 3004, 0),
        OGG: ("audio", "ogg", 0, 0),
        FLAC: ("audio", "flac", 0, 0),
    }
    for data, (kind, fmt, ms, width) in cases.items():
        info = probe(RefMedia.from_bytes(data))
        assert (info.kind, info.format, info.width) == (kind, fmt, width)
        assert abs(info.duration_ms - ms) <= 30, (fmt, info.duration_ms)
    assert isinstance(reference_from_bytes(make_png()), RefImage)
    assert reference_from_bytes(b"?" * 40, "x.m4a").kind == "audio"  # unknown bytes: the extension decides
