"""/credits (admins only, checked at run time too) with its buttons, and /jobs."""

from __future__ import annotations

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, result
from tests.core.support import sid
from tests.fakes.discord import Perm


async def test_credits_refuses_a_member_without_manage_server(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        synced = {c["name"]: c for c in fake.commands()}["credits"]
        assert synced["default_member_permissions"] == str(Perm.MANAGE_GUILD)  # only a hint...
        # ...that a server can override: Discord then lets alice run it, and the runtime check still refuses
        ix = await fake.slash("credits")
        cb = await ix.wait_callback()
        forced = await fake.slash("credits", permissions=Perm.DEFAULT_EVERYONE)
        cb2 = await forced.wait_callback()
    for c in (cb, cb2):
        assert c.json == {
            "type": 4,
            "data": {
                "content": "Only members with Manage Server can do that.",
                "flags": 64,
                "tts": False,
                "allowed_mentions": {"parse": []},  # the client-wide default: nothing pings
            },
        }


async def test_credits_for_an_admin_with_claim_and_refresh(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("credits", user=fake.admin)
        assert (await ix.wait_callback()).json == {"type": 5, "data": {"flags": 64}}
        msg = await ephemeral(fake, ix)
        text = msg["embeds"][0]["description"]
        assert sid(1) not in text and sid(1)[:4] in text  # masked
        assert "Credits: 100 (gift 100, purchased 0, VIP 0)" in text and "Jobs in flight: 0/" in text
        assert custom_ids(msg) == ["jimeng:credits:claim", "jimeng:credits:refresh"]

        claim = await fake.click(msg, "jimeng:credits:claim", user=fake.admin)
        assert (await claim.wait_callback()).json["type"] == 6
        claimed = await fake.wait_until(lambda: fake.message(msg["id"])["embeds"][0].get("fields"))
        assert "+66 credits" in claimed[0]["value"]
        assert "Credits: 166" in fake.message(msg["id"])["embeds"][0]["description"]

        denied = await fake.click(msg, "jimeng:credits:refresh", user=fake.user)  # a non-admin presses it
        cb = await denied.wait_callback()
        assert cb.json["data"]["content"] == "Only members with Manage Server can do that."
    assert len(world.jimeng.calls("/commerce/v1/benefits/credit_receive")) == 1


async def test_jobs_lists_the_members_own_jobs(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "mine", "count": 1})
        await result(fake, ix)
        await fake.slash("imagine", {"prompt": "not mine", "count": 1}, user=fake.admin)
        jobs = await fake.slash("jobs")
        msg = await ephemeral(fake, jobs)
    (record,) = await world.engine.store.list_owner("user_id", world.discord.user.id)
    text = msg["embeds"][0]["description"]
    assert f"`{record.id}` image · done" in text and "mine" in text and "not mine" not in text


async def test_a_members_third_job_waits_in_line_and_sees_its_position(world: World) -> None:
    world.jimeng.image_seconds = 0.8
    async with run_bot(world.bot(member_jobs=1), fake=world.discord) as fake:
        first = await fake.slash("imagine", {"prompt": "one", "count": 1})
        await first.wait_callback()
        second = await fake.slash("imagine", {"prompt": "two", "count": 1})
        waiting = await fake.wait_until(
            lambda: next(
                (
                    c
                    for c in second.calls
                    if c.method == "PATCH" and "Waiting in line" in (c.json or {}).get("content", "")
                ),
                None,
            )
        )
        assert "position 1 of 1" in waiting.json["content"]
        assert len(world.jimeng.jobs) == 1  # the second has not reached Jimeng yet
        await result(fake, first)
        await result(fake, second)
    assert len(world.jimeng.jobs) == 2
