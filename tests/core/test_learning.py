"""Learned timings (issue #11), against every variant of what the emulator invents about a job's timeline.

What is asserted is what the emulator's request log and the engine's learned state show (polls per job, what was
learned), never wall-clock budgets: those live in ``make bench``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core import ImageParams, Job, JobState, Timing
from core.dispatch import timing_keys
from core.timings import Learned
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

HISTORY = "/mweb/v1/get_history_by_ids"
JOB_S = 2.0
# Production timing scaled down ×5 (production: first poll 1 s, gaps ≥ 1 s, window steps 0.5–1 s).
T = Timing(
    image_interval=0.1,
    video_interval=0.1,
    image_max_gap=0.2,
    video_max_gap=0.2,
    min_first_poll=0.2,
    image_cold_min_gap=0.2,
    video_cold_min_gap=0.2,
    image_deadline=30.0,
    video_deadline=30.0,
    stall_grace=2.0,
    unseen_grace=2.0,
)
VARIANTS: dict[str, dict[str, Any]] = {
    "as-emulated": {},
    "items-only-with-50": {"items_during_45": False},
    "45-skipped": {"status_45": False},
    "queue-with-positions": {"queue": "positions"},
    "jitter-10pct": {"jitter": 0.1},
}


@pytest.fixture(params=list(VARIANTS))
async def variant(request: pytest.FixtureRequest) -> AsyncIterator[FakeJimeng]:
    fake = FakeJimeng(image_seconds=JOB_S, seed=11, **VARIANTS[request.param])
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def polls_of(fake: FakeJimeng, job: Job) -> int:
    return sum(1 for r in fake.calls(HISTORY) if job.submit_id in r.json["submit_ids"])


async def run(engine: Any, prompt: str) -> Job:
    job = await engine.imagine(ImageParams(prompt=prompt, count=4))
    await job.wait()
    return job


async def test_an_instant_job_teaches_nothing(variant: FakeJimeng) -> None:
    variant.add_account(sid("a")).next_outcomes = [("instant",)]
    async with engine_for(variant, sid("a"), timing=T) as engine:
        instant = await run(engine, "instant")
        keys = timing_keys(instant.spec)
        assert polls_of(variant, instant) == 1  # ready at its first poll: an upper bound only
        assert engine.timings.estimate(keys) is None
        job = await run(engine, "a real one")
        est = engine.timings.estimate(keys)
    assert est is not None and est.samples == 1
    gen = variant.ready_at(job.submit_id) - variant.jobs[job.submit_id].started
    assert 0.5 * gen < est.center < 1.5 * gen  # what the real job took, not the instant job's first poll


async def test_after_one_job_the_next_ones_poll_in_a_window(variant: FakeJimeng) -> None:
    variant.add_account(sid("a"))
    async with engine_for(variant, sid("a"), timing=T) as engine:
        jobs = [await run(engine, f"job {i}") for i in range(3)]
    cold, *warm = (polls_of(variant, j) for j in jobs)
    assert cold >= 6, "the first job is found by polling often"
    assert all(p <= 5 for p in warm), (cold, warm)
    assert sum(warm) <= cold


async def test_a_restarted_engine_polls_on_persisted_timings(variant: FakeJimeng, tmp_path: Path) -> None:
    variant.add_account(sid("a"))
    async with engine_for(variant, sid("a"), timing=T, data_dir=tmp_path) as engine:
        first = await run(engine, "before the restart")
    keys = timing_keys(first.spec)
    async with engine_for(variant, sid("a"), timing=T, data_dir=tmp_path) as engine:
        est = engine.timings.estimate(keys)
        assert est is not None and not est.coarse, "learned timings were loaded at start"
        job = await run(engine, "after the restart")
    assert polls_of(variant, job) <= 5 < polls_of(variant, first)
    submit = next(r for r in variant.calls("/aigc_draft/generate") if r.json["submit_id"] == job.submit_id)
    first_poll = next(r for r in variant.calls(HISTORY) if job.submit_id in r.json["submit_ids"])
    assert first_poll.time - submit.time >= est.low  # not the cold schedule's early first poll


async def test_learned_timings_give_an_eta(variant: FakeJimeng) -> None:
    variant.add_account(sid("a"))
    async with engine_for(variant, sid("a"), timing=T) as engine:
        await run(engine, "teach")
        job = await engine.imagine(ImageParams(prompt="with an eta", count=4))
        events = [ev async for ev in job.events()]
    upstream = [e for e in events if e.state in (JobState.PENDING, JobState.GENERATING)]
    assert upstream and all(e.eta_s is not None for e in upstream)


async def test_upstream_queue_positions_reach_the_events() -> None:
    fake = FakeJimeng(image_seconds=3.0, queue="positions", seed=5)
    await fake.start()
    try:
        fake.add_account(sid("q"))
        async with engine_for(fake, sid("q"), timing=T) as engine:
            job = await engine.imagine(ImageParams(prompt="in line", count=1))
            events = [ev async for ev in job.events()]
    finally:
        await fake.close()
    queued = [e for e in events if e.state is JobState.PENDING and e.queue_position]
    assert queued, [e.state for e in events]
    assert all(1 <= e.queue_position <= (e.queue_length or 0) for e in queued if e.queue_position)
    assert events[-1].state is JobState.SUCCEEDED


def test_a_changed_model_time_is_followed_after_two_jobs() -> None:
    """Drift: two observations in a row outside the window on the same side drop the old regime."""
    learned = Learned()
    for c in (20.2, 20.6, 20.4, 20.5):
        learned.observe(c - 0.2, c + 0.2, 0)
    before = learned.estimate()
    assert before is not None and before.low < 20.5 < before.high
    learned.observe(25.0, 25.4, 0)
    one = learned.estimate()
    assert one is not None and one.center < 21  # one slow job is an outlier
    learned.observe(25.2, 25.6, 0)
    two = learned.estimate()
    assert two is not None and 25 < two.center < 25.5 and two.high - two.low < 2


def test_the_window_is_sized_from_the_spread_seen() -> None:
    steady, jittery = Learned(), Learned()
    for i in range(6):
        steady.observe(20.0 + 0.05 * (i % 2), 20.2 + 0.05 * (i % 2), 0)
        jittery.observe(19.0 + 2.0 * (i % 2), 19.2 + 2.0 * (i % 2), 0)
    a, b = steady.estimate(), jittery.estimate()
    assert a is not None and b is not None
    assert a.high - a.low < 1.0 < b.high - b.low


def test_jobs_that_keep_finishing_before_the_window_widen_it_down() -> None:
    learned = Learned()
    learned.observe(19.8, 20.2, 0)
    learned.early += 2  # two jobs ready at their first poll: the estimate may be too slow now
    est = learned.estimate()
    assert est is not None and est.coarse and est.low < 12


@pytest.mark.parametrize("drift", [0.0, 0.3])
async def test_a_line_is_read_again_only_when_its_forecast_proved_inexact(drift: float) -> None:
    """Upstream's line forecast places the window. Proved exact (drift 0), a job is not looked at while in its line;
    proved inexact, once, before the earliest start that drift allows (a look in the line is what re-reads it)."""
    fake = FakeJimeng(image_seconds=6.0, queue="positions", seed=3)
    await fake.start()
    try:
        fake.add_account(sid("l"))
        async with engine_for(fake, sid("l"), timing=T) as engine:
            teach = await run(engine, "teach")
            for key in timing_keys(teach.spec):
                entry = engine.timings.learned(key)
                assert entry is not None
                entry.drifts = [drift]  # as if earlier readings had shown it
            jobs = [await run(engine, f"job {i}") for i in range(2)]
            learned = engine.timings.drift(timing_keys(teach.spec))
    finally:
        await fake.close()
    lined = [j for j in jobs if round(fake.jobs[j.submit_id].queue_s * fake.jobs[j.submit_id].queue_bias) >= 1]
    assert lined, "the seed gives lines of a second or more"
    for job in lined:
        fj = fake.jobs[job.submit_id]
        in_line = [
            r for r in fake.calls(HISTORY) if job.submit_id in r.json["submit_ids"] and r.time < fj.started + fj.queue_s
        ]
        assert len(in_line) == (0 if drift == 0 else 1), (drift, fj.queue_s, fj.queue_bias, len(in_line))
    assert learned is not None and (learned == 0 if drift == 0 else learned > 0)


async def test_a_long_line_is_placed_by_the_pace_its_forecast_counts_down_at() -> None:
    """queue=positions, a line of 21 s whose forecast says 22 % too much (seed 20), read when the job is submitted
    and every 8 s (``queue_refresh``): upstream's forecast counts down at its own pace, and readings far apart
    measure it. The start is where that countdown reaches 0, so the job is not looked at again just to re-read the
    line (the newest reading alone would put the start 1–3 s late and ask for one more look before it)."""
    fake = FakeJimeng(image_seconds=60.0, jitter=0.0, queue="positions", seed=20)
    await fake.start()
    try:
        fake.add_account(sid("p"))
        async with engine_for(fake, sid("p"), timing=Timing(queue_refresh=8.0)) as engine:
            job = await engine.imagine(ImageParams(prompt="a long line", count=1))
            expected: list[float] = []
            async for ev in job.events():
                if ev.state is JobState.GENERATING:
                    break
                if ev.state is JobState.PENDING and ev.eta_s is not None:
                    expected.append(time.monotonic() + ev.eta_s)
    finally:
        await fake.close()
    fj = fake.jobs[job.submit_id]
    start = fj.started + fj.queue_s
    assert fj.queue_s > 20 and fj.queue_bias > 1.2, "the seed gives a long line with a long forecast"
    in_line = [r for r in fake.calls(HISTORY) if job.submit_id in r.json["submit_ids"] and r.time < start]
    assert len(in_line) == 2, [round(r.time - fj.started, 1) for r in in_line]  # the two refreshes, nothing more
    assert abs(expected[-1] - start) < 0.75, [round(e - fj.started, 2) for e in expected]
