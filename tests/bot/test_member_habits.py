"""What members of image bots expect (issue #12): a ping when a long job is done."""

from __future__ import annotations

from tests.bot.conftest import World, run_bot
from tests.bot.support import result


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
