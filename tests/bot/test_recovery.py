"""A restart of the bot process mid-job: the engine resumes the job and the new bot delivers it to the channel."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import aiohttp

from bot.bot import JimengBot
from core import Engine, EngineConfig
from emulator import FakeJimeng
from tests.bot.conftest import TEST_CONFIG
from tests.bot.harness import run_bot
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord


async def _engine(http: aiohttp.ClientSession, fake: FakeJimeng, data_dir: Path) -> Engine:
    engine = Engine(
        http,
        EngineConfig(tokens=sid(1), upstream_url=fake.url, timing=FAST, maintenance=False, data_dir=data_dir),
    )
    await engine.start()
    return engine


async def test_job_running_at_shutdown_is_delivered_by_the_next_process(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    jimeng_fake.image_seconds = 2.0
    async with aiohttp.ClientSession() as http:
        engine = await _engine(http, jimeng_fake, tmp_path)
        bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        async with run_bot(bot, fake=discord_fake) as fake:
            ix = await fake.slash("imagine", {"prompt": "survive the restart", "count": 1})
            await ix.wait_callback()
            async with asyncio.timeout(10):
                while not jimeng_fake.jobs:
                    await asyncio.sleep(0.05)
        await engine.close()  # the process stops while Jimeng is still generating
        posts_before = len(discord_fake.calls_matching("POST", "/channels/"))

        engine2 = await _engine(http, jimeng_fake, tmp_path)
        bot2 = JimengBot(engine=engine2, config=replace(TEST_CONFIG), data_dir=tmp_path, clock=discord_fake.clock)
        try:
            async with run_bot(bot2, fake=discord_fake) as fake:
                post = await fake.wait_for_call("POST", "/channels/", count=posts_before + 1, timeout=15)
        finally:
            await engine2.close()
    assert f"<@{fake.user.id}>" in post.json["content"]
    assert post.json["embeds"][0]["description"] == "survive the restart"
    assert len(post.files) == 1 and post.files[0].size > 0
    assert len(jimeng_fake.calls("/mweb/v1/aigc_draft/generate")) == 1  # resumed, never resubmitted


async def test_reroll_of_a_composition_after_a_restart_uses_the_kept_references(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    from io import BytesIO

    from PIL import Image

    from tests.bot.support import result

    buf = BytesIO()
    Image.new("RGB", (64, 64), "purple").save(buf, "PNG")
    async with aiohttp.ClientSession() as http:
        engine = await _engine(http, jimeng_fake, tmp_path)
        try:
            bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
            async with run_bot(bot, fake=discord_fake) as fake:
                ix = await fake.slash(
                    "compose",
                    {"prompt": "in watercolor"},
                    attachments={"image1": ("cat.png", buf.getvalue(), "image/png")},
                )
                msg = await result(fake, ix)
            job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
            restarted = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
            async with run_bot(restarted, fake=discord_fake) as fake:  # no references in the new bot's memory
                click = await fake.click(msg, f"jimeng:reroll:{job_id}")
                again = await result(fake, click)
        finally:
            await engine.close()
    assert again["embeds"][0]["description"] == "in watercolor"
    blends = [j for j in jimeng_fake.jobs.values() if j.kind == "blend"]
    assert len(blends) == 2 and all(len(j.references) == 1 for j in blends)
