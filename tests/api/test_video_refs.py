"""Omni-reference videos and frame interpolation through the API with the official SDK: several ``input_reference``
files (image, video, audio) in multipart and JSON forms, the interpolation endpoints, and the specific 4xx errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import openai
import pytest
from openai.types import Video

from tests.api.conftest import USER_SID, Api, png
from tests.core.media_files import OGG, make_mp3, make_mp4

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


async def create_multipart(client: openai.AsyncOpenAI, files: list[tuple[str, bytes, str]], **fields: Any) -> Video:
    """``POST /v1/videos`` with several ``input_reference`` parts, through the SDK's own multipart machinery."""
    return await client.post(
        "/videos",
        cast_to=Video,
        body=fields,
        files=[("input_reference", f) for f in files],
        options={"headers": {"Content-Type": "multipart/form-data"}},
    )


async def poll(client: openai.AsyncOpenAI, video: Video) -> Video:
    return await client.videos.poll(video.id, poll_interval_ms=100)


def generate_body(api: Api, n: int = -1) -> dict[str, Any]:
    calls = api.fake.calls("/mweb/v1/aigc_draft/generate")
    return calls[n].json


async def test_multipart_image_video_audio(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    video = await create_multipart(
        client,
        [
            ("a.png", png(), "image/png"),
            ("b.mp4", make_mp4(3.0, 1280, 720), "video/mp4"),
            ("c.mp3", make_mp3(2.0), "audio/mpeg"),
        ],
        prompt="@1 dances to @3 like @2",
        model="jimeng-video-seedance-2.0-mini",
        seconds="5",
    )
    assert video.object == "video" and video.model == "jimeng-video-seedance-2.0-mini"
    video = await poll(client, video)
    assert video.status == "completed", video.error
    body = generate_body(bearer_api)
    draft = json.loads(body["draft_content"])
    inp = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
    assert [m["material_type"] for m in inp["unified_edit_input"]["material_list"]] == ["image", "video", "audio"]
    assert body["extend"]["m_video_commerce_info"]["amount"] == 8
    assert len(bearer_api.fake.calls("ApplyUploadInner")) == 2
    content = await client.videos.download_content(video.id)
    assert content.read()[4:8] == b"ftyp"


async def test_json_list_of_data_urls(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    mp4 = "data:video/mp4;base64," + base64.b64encode(make_mp4(2.0)).decode()
    image = "data:image/png;base64," + base64.b64encode(png()).decode()
    video = await client.videos.create(
        prompt="the cat from @1 walks as in @2",
        model="jimeng-video-seedance-2.0-fast",
        seconds="5",
        extra_body={"input_reference": [image, mp4]},
    )
    video = await poll(client, video)
    assert video.status == "completed", video.error
    benefit = generate_body(bearer_api)["extend"]["m_video_commerce_info"]["benefit_type"]
    assert benefit == "dreamina_seedance_20_fast_with_video"


async def test_one_image_on_a_frame_model_stays_the_first_frame(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    video = await client.videos.create_and_poll(
        prompt="", model="jimeng-video-seedance-2.0", seconds="5", input_reference=("f.png", png(), "image/png")
    )
    assert video.status == "completed", video.error
    draft = json.loads(generate_body(bearer_api)["draft_content"])
    inp = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
    assert "first_frame_image" in inp and "unified_edit_input" not in inp


@pytest.mark.parametrize(
    ("files", "model", "code"),
    [
        ([("long.mp4", make_mp4(16.0), "video/mp4")], "jimeng-video-seedance-2.0", "reference_too_long"),
        ([("a.ogg", OGG, "audio/ogg")], "jimeng-video-seedance-2.0", "reference_audio_format"),
        ([("a.png", png(), "image/png"), ("b.png", png(), "image/png")], "jimeng-video-3.0", "omni_unsupported"),
        ([("v.mp4", make_mp4(2.0), "video/mp4")] * 4, "jimeng-video-seedance-2.0", "too_many_references"),
    ],
)
async def test_bad_references_are_400_before_any_upload(
    client: openai.AsyncOpenAI, bearer_api: Api, files: list[tuple[str, bytes, str]], model: str, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await create_multipart(client, files, prompt="p", model=model)
    assert err.value.status_code == 400
    error = err.value.body
    assert isinstance(error, dict) and error["code"] == code
    assert error["param"] in ("input_reference", "model")
    assert not bearer_api.fake.calls("get_upload_token")


async def test_interpolate_a_task_and_an_upload(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    source = await client.videos.create_and_poll(prompt="a boat", model="jimeng-video-seedance-2.0-mini", seconds="5")
    assert source.status == "completed"
    smooth = await client.post(f"/videos/{source.id}/interpolate", cast_to=Video, body={})
    assert smooth.id != source.id and smooth.object == "video"
    smooth = await poll(client, smooth)
    assert smooth.status == "completed", smooth.error
    body = generate_body(bearer_api)
    assert body["extend"]["m_video_commerce_info"]["benefit_type"] == "video_frame_interpolation"
    assert len(json.loads(body["draft_content"])["component_list"]) == 2

    uploaded = await client.post(
        "/videos/interpolate",
        cast_to=Video,
        body={},
        files=[("video", ("clip.mp4", make_mp4(3.0), "video/mp4"))],
        options={"headers": {"Content-Type": "multipart/form-data"}},
    )
    uploaded = await poll(client, uploaded)
    assert uploaded.status == "completed", uploaded.error
    assert len(json.loads(generate_body(bearer_api)["draft_content"])["component_list"]) == 1


async def test_interpolate_errors(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.post("/videos/video_nope/interpolate", cast_to=Video, body={})
    with pytest.raises(openai.BadRequestError) as err:
        await client.post("/videos/interpolate", cast_to=Video, body={})
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "video"
    with pytest.raises(openai.BadRequestError) as err:
        await client.post(
            "/videos/interpolate",
            cast_to=Video,
            body={"video": "data:video/mp4;base64," + base64.b64encode(make_mp4(30.0)).decode()},
        )
    assert isinstance(err.value.body, dict) and err.value.body["code"] == "reference_too_long"
    bearer_api.fake.accounts[USER_SID].next_outcomes = [("never",)]
    running = await client.videos.create(prompt="slow", model="jimeng-video-seedance-2.0-mini", seconds="5")
    with pytest.raises(openai.ConflictError):
        await client.post(f"/videos/{running.id}/interpolate", cast_to=Video, body={})
