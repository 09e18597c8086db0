"""Two engines on one store (issue #16; a data directory, or PostgreSQL: tests/pg.py), as two processes would run
them: what one learns and changes, the other reads from the store at its next heartbeat; the daily claim is sent
once; a job waiting for a slot the other holds starts when that slot is given back, without anyone waking it here.
Real processes: tests/api/."""

from __future__ import annotations

import asyncio
from typing import Any

from core import ImageParams
from core.accounts import AccountState
from core.dispatch import timing_keys
from core.errors import RiskControlError
from core.wire import PATH_CREDIT_RECEIVE, PATH_GENERATE
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory


async def test_timings_account_state_and_the_daily_claim_are_shared(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, shared_place: dict[str, Any]
) -> None:
    async with make_engine(**shared_place) as one, make_engine(**shared_place) as two:
        assert one.shared is not None and two.shared is not None and one.shared.id != two.shared.id
        await asyncio.gather(one.claim_daily(), two.claim_daily())
        assert len(fake_jimeng.calls(PATH_CREDIT_RECEIVE)) == 1

        job = await one.imagine(ImageParams(prompt="a lighthouse"))
        await job.wait_terminal()
        key = timing_keys(job.spec)[0]  # type: ignore[arg-type]
        learned = one.timings.learned(key)
        assert learned is not None and learned.observations  # the cold schedule saw it not ready, then ready
        acc1, acc2 = one.pool.accounts()[0], two.pool.accounts()[0]
        one.pool.note_refusal(acc1, RiskControlError("shark", ret="1019"))
        await one.ledger.flush()
        assert two.timings.learned(key) is None and acc2.state is AccountState.OK

        await two.shared.beat()  # the heartbeat's short poll of the store
        seen = two.timings.learned(key)
        assert seen is not None and seen.to_dict() == learned.to_dict()
        assert acc2.state is AccountState.COOLDOWN and acc2.cooldown_until == acc1.cooldown_until


async def test_a_job_waits_for_a_slot_the_other_process_holds(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, shared_place: dict[str, Any]
) -> None:
    fake_jimeng.image_seconds = 1.2
    async with (
        make_engine(**shared_place, account_concurrency=1) as one,
        make_engine(**shared_place, account_concurrency=1) as two,
    ):
        first = await one.imagine(ImageParams(prompt="first"))
        while not fake_jimeng.calls(PATH_GENERATE):
            await asyncio.sleep(0.02)
        second = await two.imagine(ImageParams(prompt="second"))
        await asyncio.sleep(0.4)
        assert len(fake_jimeng.calls(PATH_GENERATE)) == 1  # the account's one slot is the other engine's
        await asyncio.wait_for(asyncio.gather(first.wait_terminal(), second.wait_terminal()), 15)
        assert first.last_event.result is not None and second.last_event.result is not None
        assert len(fake_jimeng.calls(PATH_GENERATE)) == 2


async def test_a_process_back_from_a_pause_lets_go_of_the_jobs_another_adopted(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, shared_place: dict[str, Any]
) -> None:
    fake_jimeng.image_seconds = 1.5
    async with make_engine(**shared_place) as one, make_engine(**shared_place) as two:
        assert one.shared is not None and two.shared is not None
        job = await one.imagine(ImageParams(prompt="a lighthouse"))
        while not fake_jimeng.calls(PATH_GENERATE):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # its row says generating, on one's slot
        await two.store.forget_instances([one.shared.id])  # as two's beat does once one's lease has expired
        await two.shared.beat()  # two adopts it, with its slot
        adopted = two.job(job.id)
        assert adopted is not None and adopted.recovered

        await one.shared.beat()  # one is back: its lease was gone, the job is two's now
        assert job.state.value == "failed" and "took this job over" in (job.last_event.error or Exception()).args[0]
        assert one.job(job.id) is None  # one answers from the store from now on
        await asyncio.wait_for(adopted.wait_terminal(), 15)
        assert adopted.last_event.result is not None
        await two.ledger.flush()
        await asyncio.sleep(0.2)
        rec = await one.job_record(job.id)
        assert rec is not None and rec.state == "succeeded"  # one wrote nothing over two's outcome
        assert len(fake_jimeng.calls(PATH_GENERATE)) == 1
