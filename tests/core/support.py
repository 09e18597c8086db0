"""Helpers for core tests: engines wired to the Jimeng emulator over loopback."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from core import Engine, EngineConfig, Timing
from emulator import FakeJimeng

FAST = Timing(
    image_expected=0.3,
    video_expected=0.5,
    image_interval=0.15,
    video_interval=0.15,
    image_max_gap=0.3,
    video_max_gap=0.3,
    image_cold_min_gap=0.15,
    video_cold_min_gap=0.15,
    min_first_poll=0.05,
    image_deadline=8.0,
    video_deadline=8.0,
    stall_grace=0.6,
    unseen_grace=0.6,
)


def sid(n: int | str) -> str:
    """A realistic 32-hex session id, distinct per ``n``."""
    return hashlib.md5(f"session-{n}".encode()).hexdigest()


@asynccontextmanager
async def engine_for(fake: FakeJimeng, tokens: str, **config: Any) -> AsyncIterator[Engine]:
    config.setdefault("maintenance", False)
    config.setdefault("timing", FAST)
    config.setdefault("allow_private_urls", True)
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, EngineConfig(tokens=tokens, upstream_url=fake.url, **config))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.close()
