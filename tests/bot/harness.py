"""Run a real discord.py client against :class:`tests.fakes.discord.FakeDiscord`.

``run_bot`` patches discord.py's two process-global entry points (RESEARCH.md §3.2) for the
duration of the block and restores them afterwards::

    async with run_bot(bot, fake=discord_fake) as fake:
        ix = await fake.slash("ping")
        await fake.wait_for_call("PATCH", "/messages/@original")

It starts ``bot.start(token)`` as a task, waits for ``bot.is_ready()``, and on exit closes the bot,
awaits the task and (if it created the fake) stops the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from tests.fakes.discord import FakeDiscord

__all__ = ["patched_discord", "run_bot"]


@contextlib.contextmanager
def patched_discord(fake: FakeDiscord) -> Any:
    """Point discord.py's REST base and default gateway at ``fake``; restore them on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def _no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    return None


@contextlib.asynccontextmanager
async def run_bot(
    bot: discord.Client,
    *,
    fake: FakeDiscord | None = None,
    token: str | None = None,
    ready_timeout: float = 5.0,
    allow_unmatched: bool = False,
) -> AsyncIterator[FakeDiscord]:
    """Start ``bot`` against ``fake`` and yield the fake once the bot is ready. When ``fake`` is None or
    not started yet, ``run_bot`` starts it and stops it on exit (its records stay readable).

    * ``guild_ready_timeout`` is lowered to 0.05 s (discord.py waits that long after the last
      GUILD_CREATE before READY), and AutoShardedClient's 5 s pause before each IDENTIFY is removed.
    * ``allow_unmatched=False`` fails the block if the bot made a REST call the fake has no route for.
    * A bot is started once: discord.py clients cannot be restarted after ``close()``; to model a
      restart, run a second bot instance on the same fake.
    """
    fake = fake or FakeDiscord()
    own_fake = fake.port == 0  # not started yet: start it here and stop it on exit
    if own_fake:
        await fake.start()
    conn = bot._connection
    conn.guild_ready_timeout = min(conn.guild_ready_timeout, 0.05)
    if isinstance(bot, discord.AutoShardedClient):
        bot.before_identify_hook = _no_identify_delay  # type: ignore[method-assign]
    unmatched_before = len(fake.unmatched_calls)
    try:
        with patched_discord(fake):
            task = asyncio.create_task(bot.start(token or fake.token), name=f"run_bot:{type(bot).__name__}")
            try:
                async with asyncio.timeout(ready_timeout):
                    while not bot.is_ready():
                        if task.done():
                            task.result()  # raises the startup error (LoginFailure, PrivilegedIntentsRequired, ...)
                            raise RuntimeError("bot.start() returned before the bot became ready")
                        await asyncio.sleep(0.005)
                yield fake
            finally:
                await bot.close()
                try:
                    async with asyncio.timeout(5):
                        await asyncio.shield(task)
                except TimeoutError:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                except (asyncio.CancelledError, discord.DiscordException, OSError):
                    pass
        unmatched = fake.unmatched_calls[unmatched_before:]
        if unmatched and not allow_unmatched:
            raise AssertionError(
                "the bot called routes the fake does not serve: " + ", ".join(c.route for c in unmatched)
            )
    finally:
        if own_fake:
            await fake.stop()
