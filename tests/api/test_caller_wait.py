"""A synchronous caller's wait (``api.handlers.common.wait_for_caller``, issue #7): the caller is looked for on a
timer only while its job is in our line, where leaving still cancels it; a submitted job wakes its handler at its
events only, and a job put back in line after a refused submit is watched on the timer again.

Real app, real engine, the emulator upstream.
"""

from __future__ import annotations

import asyncio

import pytest

import api.handlers.common as common
from core import JobState
from core.wire import PATH_GENERATE as GENERATE
from tests.api.conftest import USER_SID, ApiFactory


async def test_a_submitted_job_does_not_wake_its_handler_on_the_timer(
    make_api: ApiFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[float] = []
    real = common.caller_gone

    def counting(request: object) -> bool:
        looks.append(asyncio.get_running_loop().time())
        return real(request)  # type: ignore[arg-type]

    monkeypatch.setattr(common, "caller_gone", counting)
    async with make_api(disconnect_check_s=0.02) as api:
        api.fake.image_seconds = 1.5
        assert await api.post_image(30) == 200
        job = next(iter(api.engine._jobs.values()))
        assert job.state is JobState.SUCCEEDED and len(api.fake.calls(GENERATE)) == 1
        # On the timer it would have looked ≈ 75 times in 1.5 s; at the job's events (queued, submitting, pending,
        # each poll's progress) only a handful.
        assert 0 < len(looks) <= 20, len(looks)


async def test_a_job_back_in_line_after_a_refused_submit_is_cancelled_when_its_caller_leaves(
    make_api: ApiFactory,
) -> None:
    async with make_api(disconnect_check_s=0.05) as api:
        api.fake.accounts[USER_SID].fail_generate = ["1010"]  # rate limited: the account cools down 15 s
        leaver = asyncio.create_task(api.post_image(30))
        for _ in range(200):  # refused once, then back in our line waiting for the account
            job = next(iter(api.engine._jobs.values()), None)
            if job is not None and len(api.fake.calls(GENERATE)) == 1 and job.state is JobState.QUEUED:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the refused job never went back in line")
        leaver.cancel()  # the caller hangs up while the job waits in line
        await asyncio.gather(leaver, return_exceptions=True)
        for _ in range(100):  # the handler notices within disconnect_check_s
            if job.cancelled:
                break
            await asyncio.sleep(0.02)
        assert job.cancelled and job.state is JobState.FAILED
        assert len(api.fake.calls(GENERATE)) == 1  # never submitted again
