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
