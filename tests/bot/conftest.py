"""Fixtures for end-to-end tests of discord.py bots against the loopback fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bot import JimengBot
from bot.settings import BotConfig
from core import Engine, EngineConfig
from emulator import FakeJimeng
from tests.bot.harness import run_bot
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord

__all__ = ["World", "discord_fake", "run_bot"]

TEST_CONFIG = BotConfig(status_interval=0.2)


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with no bot connected; start bots on it with ``run_bot(bot, fake=discord_fake)``."""
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def jimeng_fake() -> AsyncIterator[FakeJimeng]:
    """The Jimeng emulator with short generation times and one CN account with credits."""
    fake = FakeJimeng(image_seconds=0.3, video_seconds=0.5)
    await fake.start()
    fake.add_account(sid(1))
    try:
        yield fake
    finally:
        await fake.close()


@dataclass
class World:
    """A fake Discord, the Jimeng emulator, and one Engine against it; ``bot()`` builds a JimengBot on them."""

    discord: FakeDiscord
    jimeng: FakeJimeng
    engine: Engine
    data_dir: Path
    bots: list[JimengBot] = field(default_factory=list)

    def bot(self, **config: Any) -> JimengBot:
        bot = JimengBot(
            engine=self.engine,
            config=replace(TEST_CONFIG, **config),
            data_dir=self.data_dir,
            clock=self.discord.clock,
        )
        self.bots.append(bot)
        return bot


@pytest.fixture
async def world(discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path) -> AsyncIterator[World]:
    async with aiohttp.ClientSession() as http:
        engine = Engine(
            http,
            EngineConfig(
                tokens=sid(1), upstream_url=jimeng_fake.url, timing=FAST, maintenance=False, allow_private_urls=True
            ),
        )
        await engine.start()
        try:
            yield World(discord_fake, jimeng_fake, engine, tmp_path / "data")
        finally:
            await engine.close()
