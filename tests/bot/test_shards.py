"""Discord at scale (issue #16): the bot is an AutoShardedBot; servers on every shard are served.

The fake Discord routes each server's events to the connection of the shard that owns it
(``(guild_id >> 22) % shards``, as Discord does), so an /imagine in a server is answered only if the bot runs
that server's shard.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.bot import JimengBot
from bot.settings import DiscordSettings
from core import Engine, EngineConfig
from core.settings import MissingSettingError
from tests.bot.conftest import TEST_CONFIG, World, run_bot
from tests.bot.support import result
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord, Guild


def _guild_on(fake: FakeDiscord, shard: int, shards: int = 2) -> Guild:
    """A new server (with alice as a member) whose id puts it on ``shard``."""
    for _ in range(200):
        guild = fake.create_guild(f"Server on shard {shard}")
        if (guild.id >> 22) % shards == shard:
            fake.add_member(guild, fake.user)
            return guild
        time.sleep(0.0011)  # the shard follows the id's millisecond
    raise AssertionError("no server id landed on that shard")


def _shard_of(guild_id: int, shards: int = 2) -> int:
    return (guild_id >> 22) % shards


async def _imagine_in(fake: FakeDiscord, guild: Guild, prompt: str) -> str:
    ix = await fake.slash("imagine", {"prompt": prompt}, guild=guild, user=fake.user)
    msg = await result(fake, ix, timeout=20)
    assert msg["embeds"][0]["description"] == prompt
    return str(msg["embeds"][0]["footer"]["text"].split()[-1])


@pytest.fixture
async def two_shards(world: World) -> AsyncIterator[World]:
    world.discord.shards = 2  # what GET /gateway/bot recommends
    yield world


async def test_the_bot_runs_the_shards_discord_recommends_and_serves_servers_on_both(two_shards: World) -> None:
    world = two_shards
    fake = world.discord
    servers = {shard: _guild_on(fake, shard) for shard in (0, 1)}
    bot = world.bot()
    async with run_bot(bot, fake=fake):
        assert fake.calls_matching("GET", "/gateway/bot")
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        for shard, guild in servers.items():
            found = bot.get_guild(guild.id)
            assert found is not None and found.shard_id == shard
        jobs = [await _imagine_in(fake, g, f"a lighthouse on shard {s}") for s, g in servers.items()]
    for job_id, (shard, guild) in zip(jobs, servers.items(), strict=True):
        record = await world.engine.store.get(job_id)
        assert record is not None and record.state == "succeeded"
        assert record.owner["guild_id"] == guild.id and _shard_of(guild.id) == shard
    assert len(fake.command_syncs) == 1  # commands are the application's, synced once whatever the shard count


async def test_two_processes_split_the_shards_and_each_serves_its_own_servers(two_shards: World) -> None:
    """DISCORD_SHARD_COUNT=2 with DISCORD_SHARD_IDS=0 in one process and 1 in another, on one shared data directory:
    no /gateway/bot, each connects its own shard, only the process with shard 0 syncs the commands."""
    world = two_shards
    fake = world.discord
    servers = {shard: _guild_on(fake, shard) for shard in (0, 1)}
    data_dir = world.data_dir / "shared"
    async with aiohttp.ClientSession() as http:
        engines = [  # one per process: its own pool and instance id, the same store file
            Engine(
                http,
                EngineConfig(
                    tokens=sid(1),
                    upstream_url=world.jimeng.url,
                    timing=FAST,
                    maintenance=False,
                    allow_private_urls=True,
                    data_dir=data_dir,
                ),
            )
            for _ in range(2)
        ]
        for engine in engines:
            await engine.start()
        try:
            first, second = (
                JimengBot(
                    engine=engine,
                    config=replace(TEST_CONFIG, shard_count=2, shard_ids=(shard,)),
                    data_dir=data_dir,
                    clock=fake.clock,
                )
                for shard, engine in enumerate(engines)
            )
            async with run_bot(first, fake=fake), run_bot(second, fake=fake):
                assert not fake.calls_matching("GET", "/gateway/bot")
                assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
                assert first.get_guild(servers[0].id) and not first.get_guild(servers[1].id)
                assert second.get_guild(servers[1].id) and not second.get_guild(servers[0].id)
                assert (first.synced, second.synced, len(fake.command_syncs)) == (["global"], [], 1)
                jobs = [await _imagine_in(fake, g, f"a harbour on shard {s}") for s, g in servers.items()]
            for engine in engines:  # one store: each process sees both jobs, each run by the shard's own process
                records = [await engine.store.get(j) for j in jobs]
                assert all(r is not None and r.state == "succeeded" for r in records)
            owners = await engines[0].store.owners(jobs)  # type: ignore[attr-defined]
            assert [owners[j] for j in jobs] == [e.shared.id for e in engines if e.shared is not None]
        finally:
            for engine in engines:
                await engine.close()


@pytest.mark.parametrize(
    ("count", "ids", "says"),
    [
        (None, "0,1", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
        (2, "2", "from 0 to 1"),
        (2, "1,1", "distinct"),
        (4, "one", "comma-separated shard numbers"),
    ],
)
def test_bad_shard_settings_are_named(count: int | None, ids: str, says: str) -> None:
    settings = DiscordSettings(token="t", shard_count=count, shard_ids=ids, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(MissingSettingError, match=says):
        settings.bot_config()


def test_shard_settings_reach_the_bot_config() -> None:
    config = DiscordSettings(token="t", shard_count=4, shard_ids="2, 3", _env_file=None).bot_config()  # type: ignore[call-arg]
    assert (config.shard_count, config.shard_ids) == (4, (2, 3))
    default = DiscordSettings(token="t", _env_file=None).bot_config()  # type: ignore[call-arg]
    assert (default.shard_count, default.shard_ids) == (None, ())


def test_the_example_env_file_loads_as_written() -> None:
    """``cp .env.example .env`` leaves DISCORD_ADMIN_CHANNEL_ID= and the shard settings empty: that means unset (it
    stopped the bot with "DISCORD_ADMIN_CHANNEL_ID is invalid" before)."""
    example = Path(__file__).resolve().parents[2] / ".env.example"
    assert "\nDISCORD_ADMIN_CHANNEL_ID=\n" in example.read_text() and "\nDISCORD_SHARD_COUNT=\n" in example.read_text()
    config = DiscordSettings(_env_file=example).bot_config()  # type: ignore[call-arg]
    assert (config.admin_channel_id, config.shard_count, config.shard_ids) == (None, None, ())
