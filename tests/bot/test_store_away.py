"""The job store on PostgreSQL lost while the bot runs (issue #16): /imagine is refused with an ephemeral message
(nothing deferred, nothing sent to Jimeng) until the database is back; then it works again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from core import Engine, EngineConfig
from emulator import FakeJimeng
from tests.bot.conftest import TEST_CONFIG, run_bot
from tests.bot.support import ephemeral, result
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord
from tests.pg import PgCluster, need_postgres


async def test_imagine_is_refused_ephemerally_while_the_database_is_away(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    from bot.bot import JimengBot

    cluster = PgCluster(need_postgres())  # a server of its own: this test stops it
    try:
        await asyncio.to_thread(cluster.start)
        config = EngineConfig(
            tokens=sid(1),
            upstream_url=jimeng_fake.url,
            timing=FAST,
            maintenance=False,
            database_url=await cluster.new_database(),
            data_dir=tmp_path / "data",
        )
        async with aiohttp.ClientSession() as http, Engine(http, config) as engine:
            bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path / "data", clock=discord_fake.clock)
            async with run_bot(bot, fake=discord_fake) as fake:
                await asyncio.to_thread(cluster.stop, "immediate")
                refused = await fake.slash("imagine", {"prompt": "a red fox", "count": 1})
                msg = await ephemeral(fake, refused)
                assert msg["content"].startswith("The bot cannot reach its job store right now"), msg
                assert not jimeng_fake.jobs  # nothing was sent upstream

                await asyncio.to_thread(cluster.start)
                ix = await fake.slash("imagine", {"prompt": "a red fox", "count": 1})
                done = await result(fake, ix)
                assert done["embeds"][0]["description"] == "a red fox"
    finally:
        await asyncio.to_thread(cluster.destroy)
