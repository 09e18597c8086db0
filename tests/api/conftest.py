"""Fixtures for API tests: the real app on a loopback port, a real Engine on the Jimeng emulator, the official SDK."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web
from PIL import Image
from pydantic import SecretStr

from api.app import create_app
from api.settings import ApiSettings
from core import Engine, EngineConfig, Timing
from emulator import FakeJimeng
from tests.core.support import FAST, sid

KEY_A = "sk-test-alpha-0123456789"
KEY_B = "sk-test-beta-9876543210"
USER_SID = sid("api-user")  # the caller's own session id (Bearer mode)
USER_HEADERS = {"Authorization": f"Bearer {USER_SID}", "Content-Type": "application/json"}
IMAGE_BODY = json.dumps({"prompt": "a cat", "model": "jimeng-4.5", "n": 1})
OTHER_SID = sid("api-other")
POOL_SID = sid("api-pool")  # the server's account (server mode)


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    im = Image.new("RGB", (width, height), colour)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int, str]:
    with Image.open(io.BytesIO(data)) as im:
        return im.width, im.height, (im.format or "").lower()


@dataclass
class Api:
    url: str
    engine: Engine
    fake: FakeJimeng
    settings: ApiSettings
    files_url: str

    def client(self, key: str, **kw: Any) -> openai.AsyncOpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 20.0)
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=key, **kw)

    def root_client(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.url, api_key=key, max_retries=0, timeout=20.0)

    async def post_image(self, timeout: float) -> int:
        """One plain image request in the caller's name (Bearer mode) by raw HTTP, with a client timeout (a caller
        who leaves): the reply's status."""
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.post(self.url + "/v1/images/generations", data=IMAGE_BODY, headers=USER_HEADERS) as resp,
        ):
            await resp.read()
            return resp.status

    def file(self, name: str) -> str:
        return f"{self.files_url}/{name}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeJimeng]:
    fake = FakeJimeng(image_seconds=0.3, video_seconds=0.5)
    await fake.start()
    fake.add_account(USER_SID, credits=10_000)
    fake.add_account(OTHER_SID, credits=10_000)
    fake.add_account(POOL_SID, credits=10_000)
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def files_url() -> AsyncIterator[str]:
    """A small file server on 127.0.0.1: every ``/<name>`` is a real PNG (reference images for URL inputs)."""

    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name.startswith("missing"):
            return web.Response(status=404)
        seed = sum(name.encode()) % 200
        return web.Response(body=png(80 + seed % 40, 60, (seed, 100, 255 - seed)), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name:.+}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def make_api(fake: FakeJimeng, files_url: str) -> ApiFactory:
    """``async with make_api(keys="k1,k2", pool=POOL_SID, **api_settings) as api``. No keys: Bearer-session mode."""

    @asynccontextmanager
    async def build(keys: str = "", pool: str = "", timing: Timing = FAST, **settings: Any) -> AsyncIterator[Api]:
        settings.setdefault("poll_after_ms", 100)
        settings.setdefault("stream_progress_s", 0.0)
        api_settings = ApiSettings(_env_file=None, keys=SecretStr(keys), port=0, **settings)  # type: ignore[call-arg]
        async with aiohttp.ClientSession() as http:
            engine = Engine(
                http,
                EngineConfig(
                    tokens=pool, upstream_url=fake.url, maintenance=False, timing=timing, allow_private_urls=True
                ),
            )
            await engine.start()
            app = create_app(api_settings, engine)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            try:
                yield Api(f"http://127.0.0.1:{runner.addresses[0][1]}", engine, fake, api_settings, files_url)
            finally:
                await runner.cleanup()
                await engine.close()

    return build


@pytest.fixture
async def bearer_api(make_api: ApiFactory) -> AsyncIterator[Api]:
    async with make_api() as api:
        yield api


@pytest.fixture
async def server_api(make_api: ApiFactory) -> AsyncIterator[Api]:
    async with make_api(keys=f"{KEY_A},{KEY_B}", pool=POOL_SID) as api:
        yield api


@pytest.fixture
async def client(bearer_api: Api) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official SDK in Bearer-session mode (the seeds' way: the API key IS the session id)."""
    async with bearer_api.client(USER_SID) as c:
        yield c


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
