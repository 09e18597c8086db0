"""What members of image bots expect (issue #12): a ping when a long job is done."""

from __future__ import annotations

import pytest

from tests.bot.conftest import World, run_bot
from tests.bot.support import ephemeral, result
from tests.core.support import sid


async def test_a_long_job_pings_the_requester_and_a_quick_one_does_not(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        quick = await fake.slash("imagine", {"prompt": "quick", "count": 1})
        await result(fake, quick)
        assert fake.pings == []  # the result replaced the status by an edit: no ping, none needed
        slow = await fake.slash("imagine", {"prompt": "slow", "count": 1})
        await slow.wait_callback()
        fake.advance(90)  # the job took a minute and a half (by the bot's clock)
        await result(fake, slow)
        await fake.wait_until(lambda: fake.pings, timeout=5)
    (ping,) = fake.pings
    assert ping.users == [fake.user.id] and not ping.everyone and not ping.roles and ping.route == "followup"


async def test_vary_keeps_the_source_settings(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "a lighthouse", "ratio": "16:9", "count": 2})
        msg = await result(fake, ix)
        job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
        click = await fake.click(msg, f"jimeng:vary:{job_id}:1")
        await click.wait_callback()
        sub = await fake.submit_modal(click, {"prompt": "a lighthouse at night"})
        varied = await result(fake, sub)
    source = await world.engine.store.get(job_id)
    new = await world.engine.store.get(varied["embeds"][0]["footer"]["text"].split()[-1])
    assert source is not None and new is not None and new.kind == "compose"
    keys = ("model", "ratio", "resolution", "count", "sample_strength")
    assert {k: new.spec.get(k) for k in keys} == {k: source.spec.get(k) for k in keys}
    assert new.spec["ratio"] == "16:9" and new.spec["count"] == 2 and new.spec["prompt"] == "a lighthouse at night"


async def test_prompt_flags_set_the_request(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash(
            "imagine", {"prompt": "a red fox in snow --ar 16:9 --no people, text --seed 42 --count 2"}
        )
        msg = await result(fake, ix)
    record = await world.engine.store.get(msg["embeds"][0]["footer"]["text"].split()[-1])
    assert record is not None
    assert {f["name"]: f["value"] for f in msg["embeds"][0]["fields"]}["Seed"] == "42"  # shown on the result
    spec = record.spec
    assert (spec["prompt"], spec["ratio"], spec["negative_prompt"], spec["seed"], spec["count"]) == (
        "a red fox in snow",
        "16:9",
        "people, text",
        42,
        2,
    )


@pytest.mark.parametrize(
    ("prompt", "options", "expected"),
    [
        ("a fox --ar 16:9", {"ratio": "1:1"}, "`--ar` in the prompt contradicts the `ratio` option; keep one of them."),
        ("a fox --stylize 100", {}, "I don't know the flag `--stylize`."),
        ("a fox --count 12", {}, "`--count` can't be `12`; use 1–8."),
        ("a fox --seed", {}, "`--seed` can't be `—`"),
        ("--ar 1:1", {}, "Put the prompt before the flags"),
    ],
)
async def test_bad_or_conflicting_flags_are_clear_ephemeral_errors(
    world: World, prompt: str, options: dict, expected: str
) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": prompt, **options})
        cb = await ix.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64
    assert cb.json["data"]["content"].startswith(expected)
    assert not world.jimeng.jobs


async def test_help_lists_commands_flags_and_this_servers_defaults(world: World) -> None:
    async with run_bot(world.bot(member_jobs=3), fake=world.discord) as fake:
        ix = await fake.slash("help", locale="zh-CN")
        cb = await ix.wait_callback()
    embed = cb.json["data"]["embeds"][0]
    text = " ".join(f["value"] for f in embed["fields"])
    assert cb.json["data"]["flags"] == 64 and "--ar" in text and "--seed" in text and "/画图" in text
    assert world.engine.config.default_image_model in text and "每人同时 3 个任务" in text


async def test_delete_is_for_the_requester_and_moderators_only(world: World) -> None:
    fake = world.discord
    stranger = fake.create_user("mallory")
    fake.add_member(fake.guild, stranger)
    async with run_bot(world.bot(), fake=fake):
        ix = await fake.slash("imagine", {"prompt": "mine", "count": 1})
        msg = await result(fake, ix)
        job_id = msg["embeds"][0]["footer"]["text"].split()[-1]
        theirs = await fake.click(msg, f"jimeng:delete:{job_id}", user=stranger)
        refused = await ephemeral(fake, theirs)
        assert msg["id"] in fake.messages
        mine = await fake.click(msg, f"jimeng:delete:{job_id}")
        await fake.wait_until(lambda: msg["id"] not in fake.messages, timeout=5)
    assert refused["content"].startswith("Only the member who asked for this result")
    assert (await mine.wait_callback()).json["type"] == 6


async def test_a_reencoded_result_says_so(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        small = await fake.slash("imagine", {"prompt": "q", "count": 1}, attachment_size_limit=20_000)
        plain = await fake.slash("imagine", {"prompt": "p", "count": 1})
        shrunk, kept = await result(fake, small), await result(fake, plain)
    notes = {f["name"]: f["value"] for f in shrunk["embeds"][0]["fields"]}
    assert notes["Notes"].startswith("Re-encoded as WebP to fit Discord's upload limit: jimeng_")
    assert "Re-encoded" not in str(kept["embeds"][0])


async def test_after_the_14_minute_deadline_the_status_says_the_result_comes_in_the_channel(world: World) -> None:
    world.jimeng.image_seconds = 0.6
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "slow", "count": 1})
        await ix.wait_callback()
        fake.advance(14 * 60 + 5)  # past the bot's deadline, the token still alive
        post = await fake.wait_for_call("POST", f"/channels/{fake.channel.id}/messages", timeout=10)
    assert post.status == 200 and post.json["embeds"][0]["description"] == "slow"
    assert ix.original is not None
    assert ix.original["content"].startswith("⏳ Still working; Discord no longer lets me update this reply")


async def test_a_long_job_that_fails_pings_the_requester_too(world: World) -> None:
    world.jimeng.image_seconds = 0.6
    world.jimeng.accounts[sid(1)].next_outcomes = [("fail", 30, "2038")]
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "slow and refused", "count": 1})
        await ix.wait_callback()
        fake.advance(90)
        await fake.wait_until(lambda: fake.pings, timeout=10)
    (ping,) = fake.pings
    assert ping.users == [fake.user.id] and ping.content.endswith("your job did not work out ↑")
    assert ix.original is not None and ix.original["content"].startswith("Jimeng refused this prompt")
