"""Daily quotas and usage (issue #15): the (N+1)-th job is refused with when the quota resets; settings and counts
survive a restart; admins see usage as an embed with a chart attached."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import aiohttp
from PIL import Image

from bot.bot import JimengBot
from core import Engine, EngineConfig
from core.daily import next_reset
from emulator import FakeJimeng
from tests.bot.conftest import TEST_CONFIG, World, run_bot
from tests.bot.harness import run_bot as run
from tests.bot.support import ephemeral, result
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord


async def test_the_quota_refuses_the_next_job_and_says_when_it_resets(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await fake.slash("server-settings", {"quota": 2}, subcommand="set", user=fake.admin))
        for n in range(2):
            await result(fake, await fake.slash("imagine", {"prompt": f"job {n}", "count": 1}))
        refused = await fake.slash("imagine", {"prompt": "one too many", "count": 1})
        cb = await refused.wait_callback()
        shown = await ephemeral(fake, await fake.slash("settings"))
        others = await result(fake, await fake.slash("imagine", {"prompt": "admin's own", "count": 1}, user=fake.admin))
        fake.advance(next_reset(fake.now()) - fake.now() + 60)  # past Beijing midnight by the bot's clock
        next_day = await result(fake, await fake.slash("imagine", {"prompt": "a new day", "count": 1}))
    reset = next_reset(world.discord.now() - 3600)
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64  # ephemeral, before any defer
    assert cb.json["data"]["content"] == (
        f"You have used your daily quota in this server (2 jobs). It resets <t:{round(reset)}:t> (<t:{round(reset)}:R>)."
    )
    quota = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}["Daily quota"]
    assert quota == f"0 of 2 jobs left today; it resets <t:{round(reset)}:R>."
    assert others["embeds"] and next_day["embeds"]  # the quota is per member; a new day starts afresh
    assert len(world.jimeng.jobs) == 4


async def test_a_quota_of_zero_lets_nobody_generate(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await fake.slash("server-settings", {"quota": 0}, subcommand="set", user=fake.admin))
        text = (await ephemeral(fake, await fake.slash("imagine", {"prompt": "x", "count": 1})))["content"]
        zh = await ephemeral(fake, await fake.slash("imagine", {"prompt": "x", "count": 1}, locale="zh-CN"))
    assert text.startswith("You have used your daily quota in this server (0 jobs).")
    assert zh["content"].startswith("你今天在本服务器的配额（0 个任务）已用完，将于 <t:")
    assert not world.jimeng.jobs


async def _engine(http: aiohttp.ClientSession, jimeng: FakeJimeng, data_dir: Path) -> Engine:
    config = EngineConfig(tokens=sid(1), upstream_url=jimeng.url, timing=FAST, maintenance=False, data_dir=data_dir)
    engine = Engine(http, config)
    await engine.start()
    return engine


async def test_a_restart_keeps_settings_and_counts(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        engine = await _engine(http, jimeng_fake, tmp_path)
        bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        try:
            async with run(bot, fake=discord_fake) as fake:
                opts = {"quota": 1, "member_jobs": 1}
                await ephemeral(fake, await fake.slash("server-settings", opts, subcommand="set", user=fake.admin))
                await ephemeral(fake, await fake.slash("settings", {"ratio": "16:9"}))
                await result(fake, await fake.slash("imagine", {"prompt": "before the restart", "count": 1}))
        finally:
            await engine.close()

        engine2 = await _engine(http, jimeng_fake, tmp_path)
        bot2 = JimengBot(engine=engine2, config=replace(TEST_CONFIG), data_dir=tmp_path, clock=discord_fake.clock)
        try:
            async with run(bot2, fake=discord_fake) as fake:
                refused = await ephemeral(fake, await fake.slash("imagine", {"prompt": "after", "count": 1}))
                mine = await ephemeral(fake, await fake.slash("settings"))
                server = await ephemeral(fake, await fake.slash("server-settings", subcommand="show", user=fake.admin))
        finally:
            await engine2.close()
    assert refused["content"].startswith("You have used your daily quota in this server (1 jobs).")
    assert "**Ratio**: `16:9` · *yours*" in mine["embeds"][0]["description"]
    desc = server["embeds"][0]["description"]
    assert "**Daily quota per member**: `1` · *this server*" in desc
    assert "**Jobs at once per member**: `1` · *this server*" in desc
    assert len(jimeng_fake.jobs) == 1


async def test_admins_see_usage_per_member_and_account_with_a_chart(world: World) -> None:
    world.jimeng.accounts[sid(1)].next_outcomes = [("ok",), ("fail", 30, "2038")]
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await result(fake, await fake.slash("imagine", {"prompt": "ok", "count": 2}))
        failed = await fake.slash("imagine", {"prompt": "refused", "count": 1})
        await fake.wait_until(lambda: failed.original and "refused this prompt" in failed.original["content"])
        await result(fake, await fake.slash("imagine", {"prompt": "admin", "count": 1}, user=fake.admin))
        ix = await fake.slash("server-settings", subcommand="usage", user=fake.admin)
        msg = await ephemeral(fake, ix)
        one = await ephemeral(fake, await fake.slash("server-settings", {"member": fake.user}, subcommand="usage",
                                                     user=fake.admin))  # fmt: skip
    embed = msg["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Today"].startswith("3 jobs · 3 images · 0 videos") and fields["Today"].endswith("1 failed")
    members = fields["Members (30 days)"].splitlines()
    assert members[0].startswith(f"<@{world.discord.user.id}> · 2 jobs") and str(world.discord.admin.id) in members[1]
    (account,) = fields["Jimeng accounts (30 days)"].splitlines()
    assert sid(1) not in account and account.startswith(f"`{sid(1)[:4]}") and "3 jobs" in account
    assert embed["image"]["url"] == "attachment://usage.png"
    post = next(c for c in ix.calls if c.method == "POST" and c.files)
    (chart,) = post.files
    assert chart.filename == "usage.png" and chart.size < 100_000
    with Image.open(io.BytesIO(chart.data)) as im:
        assert im.format == "PNG" and im.size == (640, 240)
    assert re.match(r"Jimeng usage of ", one["embeds"][0]["title"])
    assert {f["name"]: f["value"] for f in one["embeds"][0]["fields"]}["Today"].startswith("2 jobs")


async def test_a_quota_in_credits_counts_what_the_accounts_ledger_charged(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        opts = {"quota": 1, "quota_unit": "credits"}
        await ephemeral(fake, await fake.slash("server-settings", opts, subcommand="set", user=fake.admin))
        await result(fake, await fake.slash("imagine", {"prompt": "priced", "count": 1}))
        fake.advance(31)  # the ledgers are read at most every 30 s
        refused = await ephemeral(fake, await fake.slash("imagine", {"prompt": "over", "count": 1}))
        shown = await ephemeral(fake, await fake.slash("settings"))
    assert refused["content"].startswith("You have used your daily quota in this server (1 credits).")
    today = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}["Today"]
    assert today.startswith("1 jobs · 1 images") and " 0 credits" not in today
    assert len(world.jimeng.jobs) == 1
