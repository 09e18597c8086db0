"""The bot says core's rules in its own words instead of keeping copies: the number of references, the replay of a
stored job, and one channel surface for results no interaction can carry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.bot import JimengBot
from core import Engine, EngineConfig
from emulator import FakeJimeng
from tests.bot.conftest import TEST_CONFIG, World, run_bot
from tests.bot.support import result
from tests.bot.test_compose import png
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord

TOO_MANY = "Too many images: 11. This model takes at most 10."


async def test_the_message_menu_refuses_more_images_than_the_model_takes_before_the_form(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        src = fake.add_message("many", attachments=[(f"{i}.png", png()) for i in range(11)])
        ix = await fake.context_menu_message("Compose with Jimeng", src)
        cb = await ix.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64  # no modal
    assert cb.json["data"]["content"] == TOO_MANY


async def test_a_reply_with_more_images_than_the_model_takes_is_refused_in_the_bots_words(world: World) -> None:
    async with run_bot(world.bot(message_content=True), fake=world.discord) as fake:
        theirs = await fake.message_create(
            "pics", author=fake.admin, attachments=[(f"{i}.png", png()) for i in range(11)]
        )
        await fake.message_create(f"{fake.bot_user.mention} blend them", reference=theirs)
        reply = await fake.wait_for_call("POST", f"/channels/{fake.channel.id}/messages", timeout=10)
    assert reply.json["content"] == TOO_MANY
    assert not world.jimeng.jobs


async def test_reroll_of_a_framed_video_asks_core_for_the_same_request(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash(
            "video", {"prompt": "the sun rises", "duration": 10}, attachments={"first_frame": ("a.png", png("black"))}
        )
        msg = await result(fake, ix)
        job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
        click = await fake.click(msg, f"jimeng:reroll:{job_id}")
        again = await result(fake, click)
    new_id = again["embeds"][0]["footer"]["text"].split()[-1]
    old, new = await world.engine.store.get(job_id), await world.engine.store.get(new_id)
    assert old is not None and new is not None and new_id != job_id
    for key in ("model", "prompt", "duration", "ratio", "resolution", "frames"):
        assert new.spec[key] == old.spec[key], key
    assert new.spec["frames"] == 1 and new.spec["seed"] != old.spec["seed"]
    videos = [j for j in world.jimeng.jobs.values() if j.kind == "video"]
    assert len(videos) == 2 and all(len(j.references) == 1 for j in videos)


async def test_a_job_that_failed_while_the_bot_was_down_is_reported_in_its_channel(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    jimeng_fake.image_seconds = 2.0
    jimeng_fake.accounts[sid(1)].next_outcomes = [("fail", 30, "2038")]  # moderation refuses it, later
    config = EngineConfig(
        tokens=sid(1), upstream_url=jimeng_fake.url, timing=FAST, maintenance=False, data_dir=tmp_path
    )
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, config)
        await engine.start()
        bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        async with run_bot(bot, fake=discord_fake) as fake:
            ix = await fake.slash("imagine", {"prompt": "refused later", "count": 1})
            await ix.wait_callback()
            async with asyncio.timeout(10):
                while not jimeng_fake.jobs:
                    await asyncio.sleep(0.05)
        await engine.close()
        posts_before = len(discord_fake.calls_matching("POST", "/channels/"))

        engine2 = Engine(http, config)
        await engine2.start()
        bot2 = JimengBot(engine=engine2, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        try:
            async with run_bot(bot2, fake=discord_fake) as fake:
                post = await fake.wait_for_call("POST", "/channels/", count=posts_before + 1, timeout=15)
        finally:
            await engine2.close()
    assert post.json["content"] == f"<@{fake.user.id}> Jimeng refused this prompt; rephrase it and try again."
    assert [str(u) for u in post.json["allowed_mentions"]["users"]] == [str(fake.user.id)]
