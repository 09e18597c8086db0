"""Batched, adaptive polling: one history call per tick per account, every status and fail code, deadlines."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from core import (
    ContentRejectedError,
    GenerationFailedError,
    ImageParams,
    JobState,
    JobTimeoutError,
    QuotaError,
    VideoParams,
)
from emulator import FakeJimeng
from tests.core.support import FAST, engine_for, sid

HISTORY = "/mweb/v1/get_history_by_ids"


@pytest.fixture
async def slow_fake() -> FakeJimeng:
    fake = FakeJimeng(image_seconds=1.2)
    await fake.start()
    yield fake
    await fake.close()


async def test_n_jobs_on_one_account_share_one_history_call_per_tick(slow_fake: FakeJimeng) -> None:
    slow_fake.add_account(sid("a"))
    async with engine_for(slow_fake, sid("a"), account_concurrency=6) as engine:
        jobs = [await engine.imagine(ImageParams(prompt=f"job {i}", count=2)) for i in range(6)]
        results = await asyncio.gather(*(j.wait() for j in jobs))
    assert all(len(r.images) == 2 for r in results)
    polls = slow_fake.calls(HISTORY)
    # every poll asked for all in-flight jobs at once, and there were far fewer polls than jobs × ticks
    assert max(len(p.json["submit_ids"]) for p in polls) == 6
    assert len(polls) <= 12, f"{len(polls)} history calls for 6 jobs"
    assert all(p.json["submit_ids"] for p in polls)


async def test_cold_first_poll_comes_early_whatever_the_configured_guess(slow_fake: FakeJimeng) -> None:
    """Nothing learned: the first poll comes ~min_first_poll after the submit, not at a fraction of the guess."""
    slow_fake.add_account(sid("a"))
    timing = dataclasses.replace(FAST, image_expected=30.0, min_first_poll=0.2)
    async with engine_for(slow_fake, sid("a"), timing=timing) as engine:
        job = await engine.imagine(ImageParams(prompt="patience", count=1))
        await job.wait()
    polls = slow_fake.calls(HISTORY)
    submit = slow_fake.calls("/mweb/v1/aigc_draft/generate")[0]
    assert 0.15 <= polls[0].time - submit.time < 1.0


async def test_progress_events_queue_then_generating_then_done(slow_fake: FakeJimeng) -> None:
    slow_fake.add_account(sid("a"))
    timing = dataclasses.replace(FAST, image_expected=0.1, image_interval=0.1)
    async with engine_for(slow_fake, sid("a"), timing=timing) as engine:
        job = await engine.imagine(ImageParams(prompt="watch me", count=4))
        seen = [ev async for ev in job.events()]
    states = [e.state for e in seen]
    assert states[-1] is JobState.SUCCEEDED and seen[-1].result is not None
    assert JobState.GENERATING in states
    generating = [e for e in seen if e.state is JobState.GENERATING]
    assert generating[-1].total == 4
    assert [e.finished for e in generating] == sorted(e.finished for e in generating)
    assert len(seen[-1].result.images) == 4


async def test_status_45_with_all_items_is_harvested(fake_jimeng: FakeJimeng) -> None:
    """45 is not terminal, but when every item is present the job is done (LOGS-2026-01)."""
    fake_jimeng.add_account(sid("a"))
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="four", count=4))
        result = await job.wait()
    assert len(result.images) == 4 and not result.partial


async def test_stuck_at_45_delivers_partial_results(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a")).next_outcomes = [("stall_45",)]
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="stuck", count=4))
        result = await job.wait()
    assert result.partial and 1 <= len(result.images) < 4


@pytest.mark.parametrize(
    ("outcome", "error", "words"),
    [
        (("fail", 30, "2038"), ContentRejectedError, "2038"),
        (("fail", 30, "1006"), QuotaError, "1006"),
        (("fail", 30, ""), GenerationFailedError, "failed to generate"),
        (("fail", 30, "7777"), GenerationFailedError, "7777"),
        (("fail", 10, ""), ContentRejectedError, "before generation"),
        (("fail", 40, ""), ContentRejectedError, "after generation"),
    ],
)
async def test_failed_statuses_map_to_typed_errors(
    fake_jimeng: FakeJimeng, outcome: tuple, error: type, words: str
) -> None:
    fake_jimeng.add_account(sid("a")).next_outcomes = [outcome]
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="bad", count=1))
        with pytest.raises(error) as exc:
            await job.wait()
        assert words in exc.value.message
        assert exc.value.submit_id == job.submit_id
        assert job.state is JobState.FAILED
        # an accepted job that fails is never resubmitted elsewhere
    assert len(fake_jimeng.calls("/mweb/v1/aigc_draft/generate")) == 1


async def test_deadline_reports_timeout_with_submit_id(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a")).next_outcomes = [("never",)]
    timing = dataclasses.replace(FAST, image_deadline=0.8)
    async with engine_for(fake_jimeng, sid("a"), timing=timing) as engine:
        job = await engine.imagine(ImageParams(prompt="forever", count=1))
        with pytest.raises(JobTimeoutError) as exc:
            await job.wait()
    assert exc.value.submit_id == job.submit_id
    assert "may still finish" in exc.value.message
    assert "within 1 s;" in exc.value.message  # a human duration, not "within 0.0133333 min"


async def test_video_uses_video_deadline(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a")).next_outcomes = [("never",)]
    timing = dataclasses.replace(FAST, image_deadline=0.3, video_deadline=0.9)
    async with engine_for(fake_jimeng, sid("a"), timing=timing) as engine:
        job = await engine.video(VideoParams(prompt="slow video"))
        started = asyncio.get_running_loop().time()
        with pytest.raises(JobTimeoutError):
            await job.wait()
        assert asyncio.get_running_loop().time() - started >= 0.8


async def test_deadline_fires_on_time_even_when_the_next_poll_is_far_away(fake_jimeng: FakeJimeng) -> None:
    """The first poll may wait for a long queue estimate; the deadline must not wait with it."""
    fake_jimeng.add_account(sid("a")).next_outcomes = [("never",)]
    timing = dataclasses.replace(FAST, image_expected=30.0, image_deadline=0.6)
    async with engine_for(fake_jimeng, sid("a"), timing=timing) as engine:
        job = await engine.imagine(ImageParams(prompt="late", count=1))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(JobTimeoutError):
            await job.wait()
        assert loop.time() - started < 3.0
