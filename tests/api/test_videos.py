"""OpenAI's video task API through the official SDK, and the seeds' synchronous /v1/videos/generations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web
from pydantic import SecretStr

from api.app import create_app
from api.settings import ApiSettings
from core import Engine, EngineConfig
from emulator import FakeJimeng
from tests.api.conftest import KEY_A, KEY_B, POOL_SID, USER_SID, Api, png
from tests.core.support import FAST

# The SDK marks its video methods deprecated (OpenAI retires Sora); the wire shape is what we implement.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


async def test_create_retrieve_download(client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a paper boat", model="jimeng-video-3.0", seconds="5", size="1280x720")
    assert video.object == "video" and video.id.startswith("video_")
    assert video.status in ("queued", "in_progress") and video.seconds == "5" and video.model == "jimeng-video-3.0"
    for _ in range(100):
        video = await client.videos.retrieve(video.id)
        if video.status in ("completed", "failed"):
            break
        assert 0 <= video.progress < 100
        await asyncio.sleep(0.1)
    assert video.status == "completed" and video.progress == 100 and video.completed_at
    assert video.size == "1280x720"
    content = await client.videos.download_content(video.id)
    data = content.read()
    assert data[4:8] == b"ftyp"  # a real MP4
    thumb = await client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.read()[:4] == b"RIFF"  # the cover is a WebP


async def test_create_and_poll_with_input_reference_file(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    video = await client.videos.create_and_poll(
        prompt="", model="jimeng-video-3.0", seconds="5", input_reference=("f.png", png(), "image/png")
    )
    assert video.status == "completed", video.error
    assert bearer_api.fake.uploaded_images  # the frame went to Jimeng


async def test_create_with_image_url_reference(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    video = await client.videos.create_and_poll(
        prompt="zoom in",
        model="jimeng-video-3.0",
        seconds="5",
        # this SDK version only uploads files for input_reference; the reference object goes as a form field
        extra_body={"input_reference": {"image_url": bearer_api.file("x.png")}},
    )
    assert video.status == "completed", video.error


async def test_failed_task_reports_error(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    bearer_api.fake.accounts[USER_SID].next_outcomes = [("fail", 30, "2038")]
    video = await client.videos.create_and_poll(prompt="x", model="jimeng-video-3.0", seconds="5")
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "content_policy_violation"
    with pytest.raises(openai.ConflictError):
        await client.videos.download_content(video.id)


async def test_bad_seconds_and_size_name_the_parameter(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        await client.videos.create(prompt="x", model="jimeng-video-3.0", seconds="4")
    assert exc.value.param == "seconds"
    with pytest.raises(openai.BadRequestError) as exc:
        await client.videos.create(prompt="x", model="jimeng-video-3.5-pro", size="1080x1920")
    assert exc.value.param == "size"


async def test_another_key_gets_404(server_api: Api) -> None:
    async with server_api.client(KEY_A) as a, server_api.client(KEY_B) as b:
        video = await a.videos.create(prompt="mine", model="jimeng-video-3.0", seconds="5")
        with pytest.raises(openai.NotFoundError):
            await b.videos.retrieve(video.id)
        with pytest.raises(openai.NotFoundError):
            await b.videos.download_content(video.id)
        assert (await a.videos.retrieve(video.id)).id == video.id
        listed = [v.id async for v in b.videos.list()]
        assert video.id not in listed
        assert video.id in [v.id async for v in a.videos.list()]
        await a.videos.poll(video.id, poll_interval_ms=50)


async def test_another_bearer_token_gets_404(bearer_api: Api) -> None:
    from tests.api.conftest import OTHER_SID

    async with bearer_api.client(USER_SID) as a, bearer_api.client(OTHER_SID) as b:
        video = await a.videos.create(prompt="mine", model="jimeng-video-3.0", seconds="5")
        with pytest.raises(openai.NotFoundError):
            await b.videos.retrieve(video.id)
        with pytest.raises(openai.NotFoundError):
            await a.videos.retrieve("video_doesnotexist")
        await a.videos.poll(video.id, poll_interval_ms=50)


async def test_sync_video_generations_multipart_frames(bearer_api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "jimeng-video-3.0")
    form.add_field("prompt", "from first to last")
    form.add_field("duration", "5")
    form.add_field("image_file_1", png(), filename="a.png", content_type="image/png")
    form.add_field("image_file_2", png(colour=(0, 0, 255)), filename="b.png", content_type="image/png")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{bearer_api.url}/v1/videos/generations", data=form, headers={"Authorization": f"Bearer {USER_SID}"}
        ) as resp:
            doc = await resp.json()
            assert resp.status == 200, doc
    assert doc["videoUrl"] and doc["data"][0]["url"] == doc["videoUrl"]
    assert len(bearer_api.fake.uploaded_images) == 2


async def test_a_task_keeps_its_real_times_across_a_restart(fake: FakeJimeng, tmp_path: Path) -> None:
    """Issue #13: a task recovered after a restart reported the restart as its created_at."""
    fake.video_seconds = 3.0
    settings = ApiSettings(_env_file=None, keys=SecretStr(KEY_A), port=0, poll_after_ms=100)  # type: ignore[call-arg]
    config = EngineConfig(tokens=POOL_SID, upstream_url=fake.url, maintenance=False, timing=FAST, data_dir=tmp_path)
    headers = {"Authorization": f"Bearer {KEY_A}"}

    @asynccontextmanager
    async def serve(http: aiohttp.ClientSession) -> AsyncIterator[str]:
        engine = Engine(http, config)
        await engine.start()
        runner = web.AppRunner(create_app(settings, engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()
            await engine.close()

    async with aiohttp.ClientSession() as http:
        async with serve(http) as url:
            body = {"prompt": "a boat", "model": "jimeng-video-3.0", "seconds": "5"}
            async with http.post(url + "/v1/videos", json=body, headers=headers) as resp:
                task = await resp.json()
            assert resp.status == 200, task
        await asyncio.sleep(1.5)  # the restart comes a whole second later
        async with serve(http) as url:
            for _ in range(100):
                async with http.get(f"{url}/v1/videos/{task['id']}", headers=headers) as resp:
                    now = await resp.json()
                if now["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.1)
    assert now["created_at"] == task["created_at"]
    assert now["status"] == "completed", now
    assert task["created_at"] <= now["completed_at"] <= time.time() + 1
