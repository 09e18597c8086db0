"""The API maps core's rules instead of keeping its own: the number of references, the video size, and whose fault
an upload failure is."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import openai
import pytest

from tests.api.conftest import USER_SID, Api, png

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

HEADERS = {"Authorization": f"Bearer {USER_SID}"}


async def _post(api: Api, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(api.url + path, json=body, headers=HEADERS) as resp:
        return resp.status, await resp.json()


def data_url(n: int = 0) -> str:
    return "data:image/png;base64," + base64.b64encode(png(40 + n, 30)).decode()


async def test_a_composition_without_images_is_a_400_naming_images(bearer_api: Api) -> None:
    status, doc = await _post(bearer_api, "/v1/images/compositions", {"prompt": "x", "model": "jimeng-4.5"})
    assert status == 400
    assert doc["error"]["param"] == "images" and doc["error"]["code"] == "missing_required_parameter"
    assert not bearer_api.fake.jobs


async def test_an_edit_without_an_image_is_a_400_naming_image(bearer_api: Api) -> None:
    status, doc = await _post(bearer_api, "/v1/images/edits", {"prompt": "x", "model": "jimeng-4.5"})
    assert status == 400
    assert doc["error"]["param"] == "image" and doc["error"]["code"] == "missing_required_parameter"


async def test_too_many_references_are_refused_before_anything_is_uploaded(bearer_api: Api) -> None:
    body = {"prompt": "x", "model": "jimeng-4.5", "images": [data_url(i) for i in range(11)]}
    status, doc = await _post(bearer_api, "/v1/images/compositions", body)
    assert status == 400 and doc["error"]["param"] == "images"
    assert "11" in doc["error"]["message"] and "1–10" in doc["error"]["message"]
    assert not bearer_api.fake.uploaded_images and not bearer_api.fake.jobs


async def test_a_reference_jimeng_cannot_store_is_a_502(bearer_api: Api) -> None:
    bearer_api.fake.upload_faults = ["commit_500"] * 3
    body = {"prompt": "x", "model": "jimeng-4.5", "images": [data_url()], "n": 1}
    status, doc = await _post(bearer_api, "/v1/images/compositions", body)
    assert status == 502
    assert doc["error"]["code"] == "upload_failed" and doc["error"]["type"] == "upstream_error"


async def test_a_video_task_whose_frame_cannot_be_stored_says_upload_failed(
    client: openai.AsyncOpenAI, bearer_api: Api
) -> None:
    """The task's error is classified as the synchronous endpoints classify it: upstream's fault."""
    bearer_api.fake.upload_faults = ["commit_500"] * 3
    body = {"prompt": "x", "model": "jimeng-video-3.0", "input_reference": data_url()}
    status, doc = await _post(bearer_api, "/v1/videos", body)
    assert status == 200, doc
    video = await client.videos.poll(doc["id"], poll_interval_ms=50)
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "upload_failed"


@pytest.mark.parametrize(("size", "ratio", "shown"), [("720x1280", "9:16", "720x1280"), ("1024x1024", "1:1", "")])
async def test_video_size_becomes_ratio_and_resolution_in_core(
    bearer_api: Api, size: str, ratio: str, shown: str
) -> None:
    status, doc = await _post(bearer_api, "/v1/videos", {"prompt": "x", "model": "jimeng-video-3.0", "size": size})
    assert status == 200, doc
    job = bearer_api.engine.job(doc["id"].removeprefix("video_"))
    assert job is not None and job.spec.ratio == ratio
    assert job.spec.resolution == ("720p" if size == "720x1280" else "1080p")
    if shown:
        assert doc["size"] == shown


@pytest.mark.parametrize("size", ["huge", "1280:720", "0x720"])
async def test_a_malformed_video_size_is_a_400_naming_size(bearer_api: Api, size: str) -> None:
    status, doc = await _post(bearer_api, "/v1/videos", {"prompt": "x", "model": "jimeng-video-3.0", "size": size})
    assert status == 400 and doc["error"]["param"] == "size" and "1280x720" in doc["error"]["message"]
