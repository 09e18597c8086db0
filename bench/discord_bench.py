"""The first job of a fresh bot in Discord (issue #11): from the slash command to the result, and the status edits.

The real discord.py client (``bot.JimengBot``) runs against the loopback fake Discord of the test suite
(``tests/fakes/discord.py``) and a fresh engine with production ``Timing`` on the emulator; the job takes 3 s
(+ U(0, 1) s). Measured: result PATCH − command, and the status edits before it (default status interval, 3 s).
"""

from __future__ import annotations

import tempfile
from typing import Any

import aiohttp

from bench.emulator import add_accounts, start_emulator
from bot.bot import JimengBot
from bot.settings import BotConfig
from core import Engine, EngineConfig, Timing
from tests.bot.harness import run_bot
from tests.bot.support import patches, status_patches
from tests.fakes.discord import FakeDiscord


async def first_job(switches: dict[str, Any], base_s: float = 3.0, jitter_s: float = 1.0) -> dict[str, Any]:
    fake = await start_emulator(base_s, jitter_s, **switches)
    discord = FakeDiscord()
    await discord.start()
    try:
        (account,) = add_accounts(fake, ["discord-first"])
        with tempfile.TemporaryDirectory() as tmp:
            async with aiohttp.ClientSession() as http:
                config = EngineConfig(tokens=account, upstream_url=fake.url, timing=Timing(), allow_private_urls=True)
                engine = Engine(http, config)
                await engine.start()
                try:
                    bot = JimengBot(engine=engine, config=BotConfig(), data_dir=tmp, clock=discord.clock)
                    async with run_bot(bot, fake=discord):
                        ix = await discord.slash("imagine", {"prompt": "a first job", "count": 4})
                        await discord.wait_until(
                            lambda: ix.original if ix.original and ix.original.get("embeds") else None, timeout=60
                        )
                finally:
                    await engine.close()
        final = next(c for c in patches(ix) if c.files or (c.json or {}).get("embeds"))
        statuses = [c for c in status_patches(ix) if c.time <= final.time]
        return {
            "result_s": final.time - ix.created_at,
            "status_edits": len(statuses),
            "first_status_s": statuses[0].time - ix.created_at if statuses else None,
        }
    finally:
        await discord.stop()
        await fake.close()


async def every_variant(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``first_job`` per emulator variant, one after another (``jitter_s`` is the variant's jitter)."""
    out = {}
    for name, switches in variants.items():
        switches = dict(switches)
        jitter = switches.pop("jitter_s", 1.0)
        out[name] = await first_job(switches, jitter_s=jitter)
    return out
