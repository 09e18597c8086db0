"""Every core error becomes a specific, actionable message: a job's failure replaces its public status message (and
/jobs repeats it); validation errors are ephemeral; unexpected ones get an apology and a log."""

from __future__ import annotations

import dataclasses
import logging
import re
import time

import pytest

from core.daily import seconds_to_reset
from core.policy import COOLDOWN_BASE_S
from tests.bot.conftest import World, run_bot
from tests.bot.support import ephemeral
from tests.core.support import FAST, sid


def account(world: World):
    return world.jimeng.accounts[sid(1)]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            lambda a: (setattr(a, "fail_generate", ["1006"]), setattr(a, "receive_fault", "-4")),
            "Out of credits for today. Free credits come back <t:{reset}:t> (<t:{reset}:R>); a server admin can check /credits.",
        ),
        (
            lambda a: setattr(a, "fail_generate", ["1015"]),
            "The Jimeng account needs a new session; an admin has been told.",
        ),
        (
            lambda a: setattr(a, "fail_generate", ["4013"]),
            "Jimeng's risk control refused this for now; please try again <t:{risk}:R>.",
        ),
        (
            lambda a: setattr(a, "next_outcomes", [("fail", 30, "2038")]),
            "Jimeng refused this prompt; rephrase it and try again.",
        ),
    ],
    ids=["quota", "session", "risk", "moderation"],
)
async def test_job_errors_replace_the_public_status_and_show_in_jobs(world: World, setup, expected: str) -> None:
    setup(account(world))
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "trouble", "count": 1})
        head = expected.split("{")[0][:20]
        text = await fake.wait_until(
            lambda: ix.original["content"] if ix.original and ix.original["content"].startswith(head) else None,
            timeout=10,
        )
        jobs = await fake.slash("jobs")
        listed = await ephemeral(fake, jobs)
    stamps = [int(s) for s in re.findall(r"<t:(\d+):", text)]
    if "{reset}" in expected:  # the daily reset, from core's QuotaError.retry_after
        assert abs(stamps[0] - (time.time() + seconds_to_reset())) < 30
        expected = expected.format(reset=stamps[0])
    if "{risk}" in expected:  # about the cool-down from now
        assert 0 < stamps[0] - time.time() <= COOLDOWN_BASE_S + 30
        expected = expected.format(risk=stamps[0])
    assert text == expected
    assert not ix.original.get("flags", 0) & 64 and not ix.followups  # type: ignore[union-attr]  # public, in place
    assert expected in listed["embeds"][0]["description"]


async def test_session_expiry_is_posted_to_the_admin_channel(world: World, caplog: pytest.LogCaptureFixture) -> None:
    account(world).fail_generate = ["1015"]
    admin_channel = world.discord.create_channel(world.discord.guild, "admins")
    bot = world.bot(admin_channel_id=admin_channel.id)
    async with run_bot(bot, fake=world.discord) as fake:
        await fake.slash("imagine", {"prompt": "x", "count": 1})
        post = await fake.wait_for_call("POST", f"/channels/{admin_channel.id}/messages", timeout=10)
    assert "session expired" in post.json["content"] and sid(1) not in post.json["content"]
    assert "JIMENG_SESSION_IDS" in caplog.text and sid(1) not in caplog.text


async def test_timeout_names_the_job(world: World) -> None:
    # the engine has run no job yet, so its poller picks up this shorter deadline
    world.engine.config.timing = dataclasses.replace(FAST, image_deadline=0.6)
    account(world).next_outcomes = [("never",)]
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "forever", "count": 1})
        msg = await fake.wait_until(
            lambda: ix.original if ix.original and ix.original["content"].startswith("Jimeng did not") else None,
            timeout=15,
        )
    (record,) = await world.engine.store.list_owner("user_id", world.discord.user.id)
    assert msg["content"].startswith(f"Jimeng did not finish in time (job `{record.id}`)")


async def test_invalid_options_are_refused_before_the_defer(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "x", "model": "jimeng-3.0", "resolution": "4k"})
        cb = await ix.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64
    assert cb.json["data"]["content"] == "That request isn't valid: model “jimeng-3.0” does not do 4k; it does 1k"


async def test_core_validation_reasons_are_translated_for_zh_cn_members(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "x", "model": "jimeng-4.5", "count": 9}, locale="zh-CN")
        cb = await ix.wait_callback()
        vid = await fake.slash("video", {"prompt": "海浪", "duration": 7}, locale="zh-CN")
        vcb = await vid.wait_callback()
    assert cb.json["data"]["content"] == "请求无效：“jimeng-4.5”的张数必须是 1–8，不能是 9"
    assert vcb.json["data"]["content"] == "请求无效：“jimeng-video-3.5-pro”只能生成 5, 10, 12 秒的视频，不能是 7 秒"


async def test_unexpected_errors_get_an_apology_and_a_log(world: World, caplog: pytest.LogCaptureFixture) -> None:
    bot = world.bot()

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    async with run_bot(bot, fake=world.discord) as fake:
        bot.engine.refresh_credits = broken  # type: ignore[method-assign]
        ix = await fake.slash("credits", user=fake.admin)
        msg = await ephemeral(fake, ix)
    assert msg["content"] == "Sorry, something went wrong on my side. It has been logged."
    record = next(r for r in caplog.records if r.levelno == logging.ERROR and "unexpected error" in r.getMessage())
    assert "credits" in record.getMessage() and str(world.discord.admin.id) in record.getMessage()
    assert record.exc_info is not None


async def test_an_error_after_another_process_acked_is_not_a_second_ack(world: World) -> None:
    """Two processes on one token: the loser's error reply would be a second ack (40060); it is only logged."""
    first, second = world.bot(), world.bot()
    async with run_bot(first, fake=world.discord) as fake, run_bot(second, fake=fake):
        ix = await fake.slash("imagine", {"prompt": "x", "model": "nope"})
        await fake.wait_for_call("POST", f"/interactions/{ix.id}/", count=2)
    assert sorted(c.status for c in ix.callbacks) == [200, 400]
    assert {c.error_code for c in ix.callbacks} == {None, 40060}


async def test_channel_allow_list(world: World) -> None:
    other = world.discord.create_channel(world.discord.guild, "jimeng")
    bot = world.bot(channel_ids=(other.id,))
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "x"})
        cb = await ix.wait_callback()
        ok = await fake.slash("imagine", {"prompt": "x", "count": 1}, channel=other)
        assert (await ok.wait_callback()).json == {"type": 5}
    assert cb.json["data"]["content"] == f"I only work in: <#{other.id}>." and cb.json["data"]["flags"] == 64
