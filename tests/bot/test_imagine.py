"""/imagine end to end: defer, throttled status edits, the multipart result, buttons, limits, late results."""

from __future__ import annotations

import io
import itertools
import re

from PIL import Image

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, patches, result, status_patches


async def test_imagine_defers_at_once_edits_status_then_uploads_the_images(world: World) -> None:
    world.jimeng.image_seconds = 1.0
    bot = world.bot(status_interval=0.25)
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "a red fox in snow", "count": 2})
        cb = await ix.wait_callback()
        assert (cb.status, cb.json) == (200, {"type": 5})
        assert cb.time - ix.created_at < 1.0  # well within Discord's 3 s
        msg = await result(fake, ix)

    statuses = status_patches(ix)
    texts = [c.json["content"] for c in statuses]
    assert len(texts) >= 2, texts
    assert all(a != b for a, b in itertools.pairwise(texts))  # only when the text changed
    gaps = [b.time - a.time for a, b in itertools.pairwise(statuses)]
    assert all(g >= 0.2 for g in gaps), gaps  # at most one edit per interval (0.25 s; slack for loopback jitter)
    assert all("a red fox in snow" in t for t in texts)
    assert any("Generating" in t or "Jimeng's queue" in t for t in texts)

    final = patches(ix)[-1]
    assert [f.filename.rsplit(".", 1)[1] for f in final.files] == ["webp", "webp"]
    assert all(f.size <= ix.attachment_size_limit for f in final.files)
    assert final.json["content"] is None
    embed = msg["embeds"][0]
    assert embed["description"] == "a red fox in snow"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Model"] == "jimeng-4.5" and fields["Size"] == "2048×2048"
    job_id = embed["footer"]["text"].split()[-1]
    assert custom_ids(msg) == [
        f"jimeng:pick:{job_id}",
        f"jimeng:reroll:{job_id}",
        f"jimeng:vary:{job_id}:1",
        f"jimeng:animate:{job_id}:1",
        f"jimeng:delete:{job_id}",
        f"jimeng:upscale:{job_id}:1",  # the image tools (issue #14), on a row of their own
        f"jimeng:zoom:{job_id}:1",
        f"jimeng:detail:{job_id}:1",
    ]
    assert len(msg["attachments"]) == 2
    record = await world.engine.store.get(job_id)
    assert record is not None and record.owner["user_id"] == world.discord.user.id
    assert record.owner["channel_id"] == world.discord.channel.id and record.owner["locale"] == "en-US"


async def test_image_over_the_limit_is_reencoded_then_resized(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        quality = await fake.slash("imagine", {"prompt": "q", "count": 1}, attachment_size_limit=20_000)
        await result(fake, quality)
        smaller = await fake.slash("imagine", {"prompt": "s", "count": 1}, attachment_size_limit=4_000)
        await result(fake, smaller)
    for ix, limit in ((quality, 20_000), (smaller, 4_000)):
        (f,) = patches(ix)[-1].files
        assert f.size <= limit and f.filename.endswith(".webp")
        with Image.open(io.BytesIO(f.data)) as im:
            assert im.format == "WEBP"
            size = im.size
        if limit == 20_000:
            assert size == (2048, 2048)  # quality was enough
        else:
            assert size[0] < 2048  # it had to shrink


async def test_image_that_cannot_fit_is_sent_as_a_link(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "tiny limit", "count": 1}, attachment_size_limit=300)
        msg = await result(fake, ix)
    assert not patches(ix)[-1].files and not msg["attachments"]
    fields = {f["name"]: f["value"] for f in msg["embeds"][0]["fields"]}
    link = fields["Too large to upload here"]
    assert world.jimeng.url in link and "link expires <t:" in link


async def test_result_after_15_minutes_goes_to_the_channel_with_a_mention(world: World) -> None:
    world.jimeng.image_seconds = 0.6
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "slow", "count": 1})
        await ix.wait_callback()
        fake.advance(15 * 60)  # by the injected clock the token is now dead
        post = await fake.wait_for_call("POST", f"/channels/{fake.channel.id}/messages", timeout=10)
    assert post.status == 200
    assert post.json["content"].startswith(fake.user.mention)
    assert [str(u) for u in post.json["allowed_mentions"]["users"]] == [str(fake.user.id)]
    assert len(post.files) == 1 and post.json["embeds"][0]["description"] == "slow"
    assert custom_ids(fake.message(post.response["id"]))[0].startswith("jimeng:reroll:")
    assert not [c for c in patches(ix) if c.files]  # it never tried to edit with the result after the deadline


async def test_missing_channel_permissions_are_said_when_the_job_starts(world: World) -> None:
    from tests.fakes.discord import Perm

    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        bot_role = next(r for r in fake.guild.roles.values() if r.name == "jimeng-bot")
        fake.set_overwrite(fake.channel, bot_role, deny=Perm.ATTACH_FILES)
        ix = await fake.slash("imagine", {"prompt": "perm", "count": 1})
        await result(fake, ix)
    assert "missing: Attach Files" in status_patches(ix)[0].json["content"]


async def test_the_status_moves_while_upstream_says_nothing_new(world: World) -> None:
    """First status right after the defer (not "waiting for a free account" when one is free), then edits as the
    time waited moves even while the job's upstream state stays the same; the result's Time splits generation."""
    world.jimeng.image_seconds = 4.0
    world.jimeng.switches.status_45 = False  # 42 all along: upstream has nothing new to say until the end
    bot = world.bot(status_interval=0.3)
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "a slow fox", "count": 1})
        cb = await ix.wait_callback()
        msg = await result(fake, ix)

    statuses = status_patches(ix)
    texts = [c.json["content"] for c in statuses]
    assert statuses[0].time - cb.time < 1.0
    assert "free Jimeng account" not in texts[0], texts[0]
    same_state = [re.sub(r" · \d+ s", "", t) for t in texts if "Generating" in t]
    assert len(same_state) >= 3 and len(set(same_state)) == 1, texts  # only the clock moved
    fields = {f["name"]: f["value"] for f in msg["embeds"][0]["fields"]}
    assert "generation" in fields["Time"], fields["Time"]
