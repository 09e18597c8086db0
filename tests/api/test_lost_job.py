"""Issue #13: a job whose record upstream has lost fails after a bounded number of polls, not at its deadline."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from core import JobState
from tests.api.conftest import Api


async def test_a_job_lost_upstream_fails_soon_with_a_clear_error(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    bearer_api.fake.image_seconds = 30.0
    call = asyncio.create_task(client.images.generate(prompt="a cat", model="jimeng-4.5", n=1))
    for _ in range(300):  # until the engine has seen upstream's record of it
        jobs = list(bearer_api.engine._jobs.values())
        if jobs and jobs[0].state in (JobState.PENDING, JobState.GENERATING):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the job never reached upstream")
    bearer_api.fake.jobs.clear()  # upstream loses it
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as exc:
        await call
    assert exc.value.code == "generation_failed" and "no longer has a record" in exc.value.message
    assert time.monotonic() - started < 15  # a few polls, not the 600 s deadline
