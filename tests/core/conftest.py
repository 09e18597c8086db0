"""Fixtures for core tests: a client session, engines wired to the emulator, and small real images."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from core.config import EngineConfig
from core.engine import Engine
from core.poller import Timing
from emulator import FakeJimeng

QUICK = Timing(image_expected=0.3, video_expected=0.5, image_interval=0.2, video_interval=0.2, min_first_poll=0.1)


def session_id(n: int | str) -> str:
    """A realistic 32-hex session id, distinct per ``n``."""
    return hashlib.md5(f"media-session-{n}".encode()).hexdigest()


def make_png(width: int = 48, height: int = 32, seed: int = 0) -> bytes:
    """A small real PNG whose bytes differ per ``seed``."""
    im = Image.new("RGB", (width, height), ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    im.putpixel((0, 0), (seed % 256, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


EngineFactory = Callable[..., AbstractAsyncContextManager[Engine]]


@pytest.fixture
def make_engine(fake_jimeng: FakeJimeng, http: aiohttp.ClientSession) -> EngineFactory:
    """``async with make_engine(region="cn") as (engine)``: one account on the emulator, fast polling."""

    @asynccontextmanager
    async def build(region: str = "cn", n: int | str = 0, **config: Any) -> AsyncIterator[Engine]:
        sid = session_id(f"{region}-{n}")
        fake_jimeng.add_account(sid, region=region, credits=10_000)
        prefix = "" if region == "cn" else f"{region}-"
        config.setdefault("maintenance", False)
        config.setdefault("timing", QUICK)
        config.setdefault("allow_private_urls", True)
        config.setdefault("upstream_url", fake_jimeng.url)
        engine = Engine(http, EngineConfig(tokens=prefix + sid, **config))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.close()

    return build


class UpstreamProxy:
    """A loopback proxy in front of the emulator. ``replies[path]`` answers that path itself; ``edits[action]`` rewrites
    the JSON reply of an ImageX action. Used only where the emulator has no switch for a reply we must survive."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.url = ""
        self.replies: dict[str, tuple[int, Any]] = {}
        self.edits: dict[str, Callable[[Any], None]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        if request.path in self.replies:
            status, doc = self.replies[request.path]
            return web.json_response(doc, status=status)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as s,
            s.request(request.method, self.target + request.raw_path, headers=headers, data=await request.read()) as r,
        ):
            body, status, ctype = await r.read(), r.status, r.content_type
        edit = self.edits.get(request.query.get("Action", ""))
        if edit is not None and status == 200:
            doc = json.loads(body)
            edit(doc)
            body = json.dumps(doc).encode()
        return web.Response(body=body, status=status, content_type=ctype)


@pytest.fixture
async def upstream_proxy(fake_jimeng: FakeJimeng, aiohttp_server: Any) -> UpstreamProxy:
    proxy = UpstreamProxy(fake_jimeng.url)
    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    server = await aiohttp_server(app)
    proxy.url = str(server.make_url("")).rstrip("/")
    return proxy
