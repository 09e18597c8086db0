"""The fake Discord enforces the limits the bot must respect (issue #12): a test against it cannot pass by accident."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest

from tests.bot.harness import run_bot
from tests.fakes.discord import MAX_REQUEST_BYTES, FakeDiscord, MiB


def _client() -> discord.Client:
    return discord.Client(intents=discord.Intents.default())


def _file(size: int, n: int = 0) -> discord.File:
    return discord.File(io.BytesIO(b"x" * size), filename=f"f{n}.bin")


async def _channel(bot: discord.Client, fake: FakeDiscord) -> discord.TextChannel:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_request_over_25_mib_is_413_even_when_each_file_fits(discord_fake: FakeDiscord) -> None:
    fake = discord_fake
    fake.guild.premium_tier = 3  # 100 MiB per file: only the request cap can refuse
    bot = _client()
    async with run_bot(bot, fake=fake):
        channel = await _channel(bot, fake)
        await channel.send(files=[_file(12 * MiB, n) for n in range(2)])  # 24 MiB: fine
        with pytest.raises(discord.HTTPException) as exc:
            await channel.send(files=[_file(9 * MiB, n) for n in range(3)])  # 27 MiB
    assert (exc.value.status, exc.value.code) == (413, 40005)
    sizes = [c.size for c in fake.calls_matching("POST", "/channels/")]
    assert sizes[0] <= MAX_REQUEST_BYTES < sizes[1]


async def test_more_than_10_files_is_invalid_form_body(discord_fake: FakeDiscord) -> None:
    bot = _client()
    async with run_bot(bot, fake=discord_fake) as fake:
        channel = await _channel(bot, fake)
        await channel.send(files=[_file(10, n) for n in range(10)])
        with pytest.raises(discord.HTTPException) as exc:
            await channel.send(files=[_file(10, n) for n in range(11)])
    assert (exc.value.status, exc.value.code) == (400, 50035)


async def test_pings_follow_the_allowed_mentions_rule(discord_fake: FakeDiscord) -> None:
    fake = discord_fake
    role = fake.create_role(fake.guild, "artists", 0)
    hostile = f"@everyone @here <@&{role.id}> <@{fake.user.id}> cats"
    bot = _client()
    async with run_bot(bot, fake=fake):
        channel = await _channel(bot, fake)
        await channel.send(hostile)  # Discord's default: everything named pings
        await channel.send(hostile, allowed_mentions=discord.AllowedMentions.none())
        only_alice = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(fake.user.id)])
        msg = await channel.send(hostile, allowed_mentions=only_alice)
        await msg.edit(content=hostile + " edited")  # edits never ping
    assert [(p.everyone, p.roles, p.users) for p in fake.pings] == [
        (True, [role.id], [fake.user.id]),
        (False, [], [fake.user.id]),
    ]


async def test_the_sixth_edit_within_5s_is_429_and_retried(discord_fake: FakeDiscord) -> None:
    bot = _client()
    async with run_bot(bot, fake=discord_fake) as fake:
        channel = await _channel(bot, fake)
        msg = await channel.send("0")
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(1, 7):
            await msg.edit(content=str(n))
        took = loop.time() - start
    assert fake.edit_429s == 1 and fake.message(msg.id)["content"] == "6"
    limited = [c for c in fake.calls_matching("PATCH", "/channels/") if c.status == 429]
    assert limited and limited[0].response["retry_after"] > 4 and took > 4
