"""Fixtures for core tests: a client session, engines wired to the emulator, and small real images."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from PIL import Image

from core.engine import Engine, EngineConfig
from core.poller import Timing
from tests.fakes.jimeng import FakeJimeng

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
        engine = Engine(http, EngineConfig(tokens=prefix + sid, upstream_url=fake_jimeng.url, **config))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.close()

    return build
