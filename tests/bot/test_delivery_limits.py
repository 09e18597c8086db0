"""Issue #12's defects: request size, pings from prompts, the per-member pick, the status interval floor."""

from __future__ import annotations

import functools
import io
import os

import pytest
from PIL import Image

from bot.settings import DiscordSettings
from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, result
from tests.fakes.discord import MAX_ATTACHMENTS, MAX_REQUEST_BYTES, MiB


@functools.cache
def noisy_png(seed: str) -> bytes:
    """A 4096 px PNG just under 10 MiB: a noisy 1800 px square (noise does not compress) on a flat ground."""
    im = Image.new("RGB", (4096, 4096), (40, 90, 160))
    im.paste(Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3)), (1000, 1000))
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


async def test_four_large_results_go_out_in_requests_under_25_mib(world: World) -> None:
    world.jimeng.render_image = lambda w, h, seed: noisy_png(seed)  # type: ignore[method-assign]
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "big", "count": 4})
        msg = await result(fake, ix, timeout=60)
        await fake.wait_until(lambda: sum(len(m["attachments"]) for m in [msg, *ix.followups]) == 4, timeout=30)
    uploads = [c for c in ix.calls if c.files]
    sizes = [sum(f.size for f in c.files) for c in uploads]
    assert all(c.status == 200 for c in uploads), [(c.status, c.size) for c in uploads]
    assert all(c.size <= MAX_REQUEST_BYTES and len(c.files) <= MAX_ATTACHMENTS for c in uploads)
    assert all(f.size <= ix.attachment_size_limit for c in uploads for f in c.files)
    assert sum(sizes) > 30 * MiB and len(uploads) >= 2  # it really was too big for one request
    assert not ix.original.get("flags", 0) & 64  # type: ignore[union-attr]


async def test_a_hostile_prompt_pings_nobody(world: World) -> None:
    fake = world.discord
    role = fake.create_role(fake.guild, "artists", 0)
    hostile = f"@everyone @here <@&{role.id}> <@{fake.admin.id}> cats"
    async with run_bot(world.bot(), fake=fake):
        ix = await fake.slash("imagine", {"prompt": hostile, "count": 1})
        await result(fake, ix)
        await fake.message_create(f"{fake.bot_user.mention} {hostile}")
        await fake.wait_until(
            lambda: any(m.get("embeds") for m in fake.messages.values() if m.get("message_reference")), timeout=10
        )
    assert all(not p.everyone and not p.roles and p.users in ([], [fake.user.id]) for p in fake.pings), fake.pings


async def test_picking_an_image_is_per_member_and_leaves_the_shared_message_alone(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "a lighthouse", "count": 2})
        msg = await result(fake, ix)
        job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
        before = custom_ids(fake.message(msg["id"]))
        pick = await fake.click(msg, f"jimeng:pick:{job_id}", values=["2"], user=fake.admin)
        cb = await pick.wait_callback()
        mine = await ephemeral(fake, pick)
    assert cb.json["type"] != 7 and custom_ids(fake.message(msg["id"])) == before
    assert custom_ids(mine) == [
        f"jimeng:vary:{job_id}:2",
        f"jimeng:animate:{job_id}:2",
        f"jimeng:upscale:{job_id}:2",  # the image tools (issue #14)
        f"jimeng:zoom:{job_id}:2",
        f"jimeng:detail:{job_id}:2",
    ]


@pytest.mark.parametrize(("value", "ok"), [(0.5, False), (1.4, False), (1.5, True), (3, True)])
def test_status_interval_floor_is_1_5_s(value: float, ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_STATUS_INTERVAL", str(value))
    if ok:
        assert DiscordSettings(_env_file=None).status_interval == value  # type: ignore[call-arg]
    else:
        with pytest.raises(ValueError, match=r"1\.5"):
            DiscordSettings(_env_file=None)  # type: ignore[call-arg]


async def test_a_late_result_by_dm_carries_every_file(world: World) -> None:
    """Past the interaction's deadline, in a channel the bot may not post in, the result goes by DM: all of it, in
    requests within Discord's cap (the DM path once sent only the first group of files)."""
    world.jimeng.render_image = lambda w, h, seed: noisy_png(seed)  # type: ignore[method-assign]
    world.jimeng.image_seconds = 0.6
    fake = world.discord
    fake.channel_posts_forbidden = True
    async with run_bot(world.bot(), fake=fake):
        ix = await fake.slash("imagine", {"prompt": "big and late", "count": 4})
        await ix.wait_callback()
        fake.advance(14 * 60 + 5)  # past the bot's deadline: the result goes to the channel, which refuses it

        def in_dms() -> list[dict]:
            return [m for m in fake.messages.values() if m["channel_id"] != str(fake.channel.id)]

        await fake.wait_until(lambda: sum(len(m["attachments"]) for m in in_dms()) == 4, timeout=60)
    assert len(in_dms()) >= 2 and in_dms()[0]["embeds"]
