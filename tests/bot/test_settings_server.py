"""/server-settings (issue #15): Manage Server by default and checked again in code; each setting takes effect; bad
input is a specific ephemeral error with nothing half-saved."""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, result
from tests.fakes.discord import FakeDiscord, FakeInteraction, Perm

ADMIN_ONLY = "Only members with Manage Server can do that."


async def said(fake: FakeDiscord, ix: FakeInteraction) -> str:
    return (await ephemeral(fake, ix)).get("content") or ""


async def server_set(fake: FakeDiscord, options: dict[str, Any], **kw: Any) -> FakeInteraction:
    return await fake.slash("server-settings", options, subcommand="set", user=kw.pop("user", fake.admin), **kw)


def description(msg: dict[str, Any]) -> str:
    return str(msg["embeds"][0]["description"])


async def test_server_settings_need_manage_server_in_discord_and_in_code(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        synced = {c["name"]: c for c in fake.commands()}["server-settings"]
        assert synced["default_member_permissions"] == str(Perm.MANAGE_GUILD)  # only a hint...
        assert {o["name"] for o in synced["options"]} == {"show", "set", "reset", "usage"}
        refused = [
            await server_set(fake, {"member_jobs": 1}, user=fake.user),
            # ...that a server can override: Discord then lets alice run it, and the code still refuses
            await server_set(fake, {"quota": 0}, user=fake.user, permissions=Perm.DEFAULT_EVERYONE),
            await fake.slash("server-settings", subcommand="usage", permissions=Perm.DEFAULT_EVERYONE),
            await fake.slash("server-settings", {"setting": "all"}, subcommand="reset"),
        ]
        texts = [await said(fake, ix) for ix in refused]
        allowed = await ephemeral(fake, await fake.slash("server-settings", subcommand="show", user=fake.admin))
    assert texts == [ADMIN_ONLY] * 4
    assert all(ix.original and ix.original["flags"] & 64 for ix in refused)
    settings = await world.bots[0].gate.prefs.get_guild(world.discord.guild.id)
    assert settings.is_empty  # nothing was saved by the refused ones
    assert "**Jobs at once per member**: `2` · *default*" in description(allowed)


async def test_the_channel_allow_list_covers_commands_and_buttons(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg = await result(fake, await fake.slash("imagine", {"prompt": "before", "count": 1}))
        art = fake.create_channel(fake.guild, "art")
        await fake.announce_guild(fake.guild)
        saved = await ephemeral(fake, await server_set(fake, {"channels": f"<#{art.id}>"}))
        assert f"**Channels**: <#{art.id}> · *this server*" in description(saved)
        here = await said(fake, await fake.slash("imagine", {"prompt": "in general", "count": 1}))
        reroll = next(c for c in custom_ids(msg) if c.startswith("jimeng:reroll:"))
        button = await fake.click(msg, reroll)  # on an older result in #general
        pressed = await said(fake, button)
        there = await result(fake, await fake.slash("imagine", {"prompt": "in art", "count": 1}, channel=art))
        fixable = await ephemeral(fake, await fake.slash("server-settings", subcommand="show", user=fake.admin))
    assert here == pressed == f"I only work in: <#{art.id}>."
    assert there["embeds"][0]["description"] == "in art"
    assert fixable["embeds"]  # an admin can still reach the settings from any channel
    assert len(world.jimeng.jobs) == 2


async def test_unknown_channels_roles_and_negative_quotas_are_refused_and_nothing_is_half_saved(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        other = fake.create_guild("Elsewhere")
        foreign_channel = next(iter(other.channels.values()))
        foreign_role = fake.create_role(other, "painters", 0)
        bad = [
            await server_set(fake, {"channels": f"<#{foreign_channel.id}>", "member_jobs": 1}),
            await server_set(fake, {"channels": "#nowhere"}),
            await server_set(fake, {"role": foreign_role, "member_jobs": 1}),
            await server_set(fake, {"quota": -1, "member_jobs": 1}),
            await server_set(fake, {"model": "nanobanana", "member_jobs": 1}),
            await server_set(fake, {"model": "jimeng-video-3.0", "member_jobs": 1}),
        ]
        texts = [await said(fake, ix) for ix in bad]
    assert texts[0] == f"<#{foreign_channel.id}> is not a channel of this server."
    assert texts[1] == "#nowhere is not a channel of this server."
    assert texts[2] == f"That role ({foreign_role.id}) is not a role of this server."
    assert texts[3] == "The daily quota can't be below zero (got -1)."
    assert texts[4].startswith("The model nanobanana is not offered in the Jimeng accounts' regions (")
    assert texts[5] == "I don't know a model called jimeng-video-3.0 for that; nothing was changed."
    settings = await world.bots[0].gate.prefs.get_guild(world.discord.guild.id)
    assert settings.is_empty  # member_jobs=1 beside each bad value was not saved


async def test_the_role_that_may_generate(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        painters = fake.create_role(fake.guild, "painters", 0)
        await fake.announce_guild(fake.guild)
        await ephemeral(fake, await server_set(fake, {"role": painters}))
        refused = await said(fake, await fake.slash("imagine", {"prompt": "no role", "count": 1}))
        fake.add_member(fake.guild, fake.user, roles=[painters])
        ok = await result(fake, await fake.slash("imagine", {"prompt": "with role", "count": 1}))
        by_admin = await result(fake, await fake.slash("imagine", {"prompt": "admin", "count": 1}, user=fake.admin))
    assert refused == f"Only members with the role <@&{painters.id}> can generate here."
    assert ok["embeds"][0]["description"] == "with role" and by_admin["embeds"]


async def test_the_servers_default_model_and_resolution_and_the_members_own_win(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await server_set(fake, {"model": "jimeng-4.0", "resolution": "1k"}))
        server_default = await result(fake, await fake.slash("imagine", {"prompt": "server", "count": 1}))
        await ephemeral(fake, await fake.slash("settings", {"model": "jimeng-4.5"}))
        own = await result(fake, await fake.slash("imagine", {"prompt": "mine", "count": 1}))
    specs = []
    for msg in (server_default, own):
        record = await world.engine.store.get(msg["embeds"][0]["footer"]["text"].split()[-1])
        assert record is not None
        specs.append((record.spec["model"], record.spec["resolution"]))
    # the server's 1k does not exist for jimeng-4.5: that model's own default applies instead of a failing job
    assert specs == [("jimeng-4.0", "1k"), ("jimeng-4.5", "2k")]


async def test_per_member_concurrency_and_line_length_of_the_server(world: World) -> None:
    world.jimeng.image_seconds = 1.0
    async with run_bot(world.bot(member_jobs=2, member_queue=5), fake=world.discord) as fake:
        await ephemeral(fake, await server_set(fake, {"member_jobs": 1, "member_queue": 1}))
        first = await fake.slash("imagine", {"prompt": "one", "count": 1})
        await first.wait_callback()
        second = await fake.slash("imagine", {"prompt": "two", "count": 1})
        await fake.wait_until(lambda: any("Waiting in line" in (c.json or {}).get("content", "") for c in second.calls))
        third = await fake.slash("imagine", {"prompt": "three", "count": 1})
        busy = await fake.wait_until(
            lambda: (
                third.original["content"] if third.original and "already have" in third.original["content"] else None
            )
        )
        await result(fake, first)
        await result(fake, second)
    assert busy == "You already have 2 jobs running or waiting; wait for one to finish."


async def test_the_servers_fallback_language(world: World) -> None:
    async with run_bot(world.bot(locale="en-US"), fake=world.discord) as fake:
        await ephemeral(fake, await server_set(fake, {"locale": "zh-CN"}))
        french = await ephemeral(fake, await fake.slash("settings", locale="fr"))
        english = await ephemeral(fake, await fake.slash("settings", locale="en-GB"))
    assert french["embeds"][0]["title"] == "你在本服务器的即梦设置"
    assert english["embeds"][0]["title"] == "Your Jimeng settings in this server"


async def test_the_servers_admin_channel_gets_the_session_notice(world: World) -> None:
    world.jimeng.accounts[next(iter(world.jimeng.accounts))].fail_generate = ["1015"]
    async with run_bot(world.bot(), fake=world.discord) as fake:
        notices = fake.create_channel(fake.guild, "bot-admins")
        await fake.announce_guild(fake.guild)
        await ephemeral(fake, await server_set(fake, {"admin_channel": notices}))
        await fake.slash("imagine", {"prompt": "x", "count": 1})
        post = await fake.wait_for_call("POST", f"/channels/{notices.id}/messages", timeout=10)
    assert "session expired" in post.json["content"]


async def test_help_shows_this_servers_defaults(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await server_set(fake, {"model": "jimeng-4.0", "member_jobs": 3}))
        shown = await ephemeral(fake, await fake.slash("help"))
    value = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}["This server"]
    assert "`jimeng-4.0`" in value and "jimeng-4.5" not in value and "3 job(s) at once" in value


async def test_an_admin_channel_the_bot_cannot_post_in_is_refused(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        hidden = fake.create_channel(fake.guild, "mods-only")
        bot_role = next(r for r in fake.guild.roles.values() if r.name == "jimeng-bot")
        fake.set_overwrite(hidden, bot_role, deny=Perm.SEND_MESSAGES)
        await fake.announce_guild(fake.guild)
        text = await said(fake, await server_set(fake, {"admin_channel": hidden, "quota": 5}))
    assert text == f"I can't post in <#{hidden.id}>: give me View Channel and Send Messages there first."
    assert (await world.bots[0].gate.prefs.get_guild(world.discord.guild.id)).is_empty
