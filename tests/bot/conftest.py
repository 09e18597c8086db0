"""Fixtures for end-to-end tests of discord.py bots against the loopback fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bot.harness import run_bot
from tests.fakes.discord import FakeDiscord

__all__ = ["discord_fake", "run_bot"]


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with no bot connected; start bots on it with ``run_bot(bot, fake=discord_fake)``."""
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
