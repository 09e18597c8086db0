"""/settings (issue #15): a member's own defaults take effect when an option is left out; options and prompt flags
still win; shown and reset from the same command, with the member's usage and remaining quota."""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import World, run_bot
from tests.bot.support import ephemeral, result
from tests.fakes.discord import FakeDiscord, FakeInteraction


def fields(msg: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in msg["embeds"][0].get("fields", [])}


async def spec_of(world: World, msg: dict[str, Any]) -> dict[str, Any]:
    job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
    record = await world.engine.store.get(job_id)
    assert record is not None
    return dict(record.spec)


async def said(fake: FakeDiscord, ix: FakeInteraction) -> str:
    msg = await ephemeral(fake, ix)
    return msg.get("content") or ""


async def test_member_defaults_apply_when_options_are_left_out_and_options_and_flags_still_win(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("settings", {"model": "jimeng-4.0", "ratio": "16:9", "count": 1, "negative": "text"})
        shown = await ephemeral(fake, ix)
        assert shown["content"] == "✅ Saved."
        desc = shown["embeds"][0]["description"]
        assert "**Image model**: `jimeng-4.0` · *yours*" in desc and "**Ratio**: `16:9` · *yours*" in desc

        plain = await result(fake, await fake.slash("imagine", {"prompt": "a fox"}))
        by_option = await result(fake, await fake.slash("imagine", {"prompt": "a fox", "ratio": "1:1", "count": 2}))
        by_flag = await result(fake, await fake.slash("imagine", {"prompt": "a fox --ar 4:3 --no blur"}))
        other = await result(fake, await fake.slash("imagine", {"prompt": "a fox", "count": 1}, user=fake.admin))
    spec = await spec_of(world, plain)
    assert (spec["model"], spec["ratio"], spec["count"], spec["negative_prompt"]) == ("jimeng-4.0", "16:9", 1, "text")
    assert fields(plain)["Model"] == "jimeng-4.0"
    spec = await spec_of(world, by_option)
    assert (spec["model"], spec["ratio"], spec["count"]) == ("jimeng-4.0", "1:1", 2)
    spec = await spec_of(world, by_flag)
    assert (spec["ratio"], spec["negative_prompt"]) == ("4:3", "blur")
    spec = await spec_of(world, other)  # another member: the server's (here the environment's) defaults
    assert (spec["model"], spec["negative_prompt"]) == ("jimeng-4.5", "")


async def test_settings_are_shown_and_reset_from_the_same_command(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await fake.slash("settings", {"ratio": "16:9", "count": 2}))
        one = await ephemeral(fake, await fake.slash("settings", {"reset": "ratio"}))
        assert "**Ratio**: — · *default*" in one["embeds"][0]["description"]
        assert "**Images per job**: `2` · *yours*" in one["embeds"][0]["description"]
        shown = await ephemeral(fake, await fake.slash("settings"))
        assert not shown.get("content")  # only shown, nothing saved
        every = await ephemeral(fake, await fake.slash("settings", {"reset": "all"}))
        assert "*yours*" not in every["embeds"][0]["description"]
        msg = await result(fake, await fake.slash("imagine", {"prompt": "back to defaults"}))
    spec = await spec_of(world, msg)
    assert spec["ratio"] == "1:1" and spec["model"] == "jimeng-4.5"


async def test_settings_show_the_members_usage_and_that_there_is_no_quota(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await result(fake, await fake.slash("imagine", {"prompt": "one", "count": 2}))
        shown = await ephemeral(fake, await fake.slash("settings"))
    f = fields(shown)
    assert f["Today"].startswith("1 jobs · 2 images · 0 videos")
    assert f["Daily quota"] == "No daily quota in this server."


async def test_a_model_the_regions_do_not_offer_is_refused_and_nothing_is_saved(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("settings", {"model": "nanobanana", "ratio": "16:9"})
        text = await said(fake, ix)
        shown = await ephemeral(fake, await fake.slash("settings"))
    assert text.startswith("The model nanobanana is not offered in the Jimeng accounts' regions (")
    assert "nothing was changed" in text
    assert "*yours*" not in shown["embeds"][0]["description"]  # the ratio beside it was not saved either


async def test_the_members_language_setting_wins_over_their_discord_language(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("settings", {"language": "zh-CN"})
        shown = await ephemeral(fake, ix)
        assert shown["content"] == "✅ 已保存。" and shown["embeds"][0]["title"] == "你在本服务器的即梦设置"
        job = await fake.slash("imagine", {"prompt": "狐狸", "count": 1})  # the member's Discord is in English
        msg = await result(fake, job)
    assert fields(msg)["模型"] == "jimeng-4.5"


async def test_errors_answer_in_the_members_language_setting(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await fake.slash("settings", {"language": "zh-CN"}))
        text = await said(fake, await fake.slash("server-settings", subcommand="show"))  # alice is no admin
    assert text == "只有拥有“管理服务器”权限的成员可以这样做。"
