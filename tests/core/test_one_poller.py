"""One poller per account across processes (issue #16): two engines on one data directory, as two processes run
them, with jobs on one account. The emulator counts the requests: one ``get_history_by_ids`` per tick between them,
all sent by the process holding the account's poll lease; the other's jobs finish from the records it wrote back.
A holder whose own jobs end polls on for the other's; when it goes, the other polls. An engine alone on its store
never touches the poll tables."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from core import Engine, ImageParams, Job, Timing
from core.jobs import JobRecord
from core.poller import AccountPoller
from core.pollstore import Look
from core.store import SqliteJobStore
from core.wire import PATH_GENERATE, PATH_HISTORY_BY_IDS
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory
from tests.pg import StoreFactory


def _poller(engine: Engine) -> AccountPoller:
    (poller,) = engine.dispatcher._pollers.values()
    return poller


async def _submitted(fake: FakeJimeng, n: int) -> None:
    while len(fake.calls(PATH_GENERATE)) < n:
        await asyncio.sleep(0.02)


async def _finish(jobs: list[Job], fake: FakeJimeng) -> list[float]:
    """Wait for every job; each one's lag (in order): when its result was in hand − when the emulator could first
    give it."""

    async def one(job: Job) -> float:
        await job.wait()
        return fake.clock() - fake.ready_at(job.submit_id)

    return list(await asyncio.wait_for(asyncio.gather(*(one(j) for j in jobs)), 30))


async def _holding(engine: Engine, fake: FakeJimeng, prompt: str) -> Job:
    """A job of the engine's, submitted as the account's first: the engine holds its poll lease once it returns."""
    job = await engine.imagine(ImageParams(prompt=prompt))
    await _submitted(fake, 1)
    await asyncio.sleep(0.2)
    return job


def _read_late(engine: Engine, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """The engine reads what the poll-lease holder saw ``delay`` seconds after reading it (a busy machine)."""
    looks = engine.store.looks

    async def late(*args: Any) -> Any:
        out = await looks(*args)
        await asyncio.sleep(delay)
        return out

    monkeypatch.setattr(engine.store, "looks", late)


async def _meet(*engines: Engine) -> None:
    """Every engine's heartbeat once: each knows the others are alive (as within a third of the lease)."""
    for e in engines:
        assert e.shared is not None
        await e.shared.beat()
        assert e.shared.others == len(engines) - 1


async def test_two_processes_send_one_poll_per_tick_between_them(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    fake_jimeng.image_seconds = 4.0  # one's jobs outlast two's: two's finish from one's looks
    async with (
        make_engine(data_dir=tmp_path, account_concurrency=4) as one,
        make_engine(data_dir=tmp_path, account_concurrency=4) as two,
    ):
        await _meet(one, two)
        first = [await one.imagine(ImageParams(prompt=f"one {i}")) for i in range(2)]
        await _submitted(fake_jimeng, 2)
        await asyncio.sleep(0.3)  # one holds the account's poll lease now
        fake_jimeng.image_seconds = 1.5
        second = [await two.imagine(ImageParams(prompt=f"two {i}")) for i in range(2)]
        await _submitted(fake_jimeng, 4)
        watched_from = fake_jimeng.clock() + 0.3  # the holder reads the others' due times every 0.25 s
        lags = await _finish(second, fake_jimeng)
        two_done = fake_jimeng.clock()
        holder, watcher = _poller(one), _poller(two)
        assert watcher.ticks == 0  # two never asked upstream about this account
        polls = fake_jimeng.calls(PATH_HISTORY_BY_IDS)
        for job, lag in zip(second, lags, strict=True):  # ... but read one's look that saw its job ready at once
            ready = fake_jimeng.ready_at(job.submit_id)
            seen = min(r.time for r in polls if job.submit_id in r.json["submit_ids"] and r.time >= ready)
            assert ready + lag - seen < 0.4, (lag, seen - ready)
        await _finish(first, fake_jimeng)

        polls = fake_jimeng.calls(PATH_HISTORY_BY_IDS)
        assert holder.ticks == len(polls) and watcher.ticks == 0
        assert holder.share is not None and holder.share.ticks == len(polls)  # every one sent for both processes
        ones, twos = {j.submit_id for j in first}, {j.submit_id for j in second}
        both = [r for r in polls if watched_from <= r.time <= two_done - 0.1]
        assert both and all(ones <= set(r.json["submit_ids"]) and twos & set(r.json["submit_ids"]) for r in both)
        assert len(polls) <= 8, len(polls)  # what one process alone spends on these 4 jobs


async def test_the_holder_leaving_hands_the_polling_to_the_other(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    fake_jimeng.image_seconds = 2.5
    async with make_engine(data_dir=tmp_path, account_concurrency=4) as two:
        async with make_engine(data_dir=tmp_path, account_concurrency=4) as one:
            await _meet(one, two)
            mine = await one.imagine(ImageParams(prompt="the holder's"))
            await _submitted(fake_jimeng, 1)
            await asyncio.sleep(0.3)
            theirs = await two.imagine(ImageParams(prompt="the watcher's"))
            await _submitted(fake_jimeng, 2)
            await asyncio.sleep(0.5)
            assert _poller(two).ticks == 0 and _poller(one).ticks > 0
        # one closed mid-job: its lease is void at once (its instance row is gone); two polls from its next look
        assert two.shared is not None
        await two.shared.beat()  # ... and adopts one's job (resumed by submit id, never sent again)
        lags = await _finish([theirs], fake_jimeng)
        adopted = two.job(mine.id)
        assert adopted is not None
        await asyncio.wait_for(adopted.wait(), 30)
        assert _poller(two).ticks > 0
        assert lags[0] < 1.5, lags
        assert len(fake_jimeng.calls(PATH_GENERATE)) == 2


async def test_a_holder_that_stops_renewing_is_replaced_within_the_poll_lease(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    """A holder frozen (or killed on another host): its poll lease runs out and the watcher takes over."""
    fake_jimeng.image_seconds = 1.5
    async with (
        make_engine(data_dir=tmp_path, account_concurrency=4) as one,
        make_engine(data_dir=tmp_path, account_concurrency=4) as two,
    ):
        await _meet(one, two)
        mine = await one.imagine(ImageParams(prompt="the holder's"))
        await _submitted(fake_jimeng, 1)
        await asyncio.sleep(0.3)
        frozen = _poller(one)
        assert frozen._task is not None
        frozen._task.cancel()  # the holder stops polling and renewing, and says nothing
        theirs = await two.imagine(ImageParams(prompt="the watcher's"))
        started = time.monotonic()
        await asyncio.sleep(1.0)
        assert _poller(two).ticks == 0  # the frozen holder's poll lease still runs: two waits for its looks
        await _finish([theirs], fake_jimeng)
        assert time.monotonic() - started < 1.5 + 5.0 + 1.5  # the job, the poll lease, a look
        assert _poller(two).ticks > 0
        mine.cancel()


async def test_alone_on_the_store_an_engine_polls_as_before(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never(*args: object, **kw: object) -> None:
        raise AssertionError("a process alone must not touch the poll tables")

    for name in ("poll_lease", "poll_release", "watch", "unwatch", "watched", "report", "looks"):
        monkeypatch.setattr(SqliteJobStore, name, never)
    async with make_engine(data_dir=tmp_path) as alone:
        assert alone.shared is not None and alone.shared.others == 0
        jobs = [await alone.imagine(ImageParams(prompt=f"alone {i}")) for i in range(2)]
        await _finish(jobs, fake_jimeng)
        poller = _poller(alone)
        assert poller.share is not None and poller.share.ticks == 0
        assert poller.ticks == len(fake_jimeng.calls(PATH_HISTORY_BY_IDS))


async def test_poll_store_calls_across_two_stores(store_backend: StoreFactory) -> None:
    a, b = store_backend(), store_backend()  # one SQLite file, or one PostgreSQL database (tests/pg.py)
    await a.open()
    await b.open()
    try:
        now = time.time()
        await a.renew_instance("A", "h", 1, now + 30)
        await b.renew_instance("B", "h", 1, now + 30)
        assert await a.poll_lease("acc", "A", now + 5) == "A"
        assert await b.poll_lease("acc", "B", now + 5) == "A"  # held
        assert await a.poll_lease("acc", "A", now + 6) == "A"  # renewed
        assert await b.poll_lease("other", "B", now + 5) == "B"  # each account its own
        await b.watch("acc", "B", {"s1": ("j1", now + 1, None), "s2": ("j2", now + 2, None)})
        await a.watch("acc", "A", {"s3": ("j3", now + 1, None)})
        holder, watches = await a.watched("acc", "A")
        assert holder == "A" and sorted((w.submit_id, w.due_at) for w in watches) == [("s1", now + 1), ("s2", now + 2)]
        assert await b.looks("acc", ["s1", "s2"]) == ("A", {})
        await a.report({"s1": '{"status":20}', "s2": None}, now + 1.1, None)
        holder, looks = await b.looks("acc", ["s1", "s2"])
        assert holder == "A" and looks == {
            "s1": Look('{"status":20}', None, now + 1.1),
            "s2": Look(None, None, now + 1.1),
        }
        await b.watch("acc", "B", {"s1": ("j1", now + 3, now + 1.1)})  # a new due time keeps the last look
        assert (await b.looks("acc", ["s1"]))[1]["s1"].seen_at == now + 1.1
        assert [(w.due_at, w.basis) for w in (await a.watched("acc", "A"))[1] if w.submit_id == "s1"] == [
            (now + 3, now + 1.1)
        ]
        await a.watch("acc", "A", {"s1": ("j1", now + 3, None)})  # adopted by A: B's looks are not A's
        assert (await a.looks("acc", ["s1"]))[1] == {}
        await b.unwatch(["s2"])
        assert [w.submit_id for w in (await a.watched("acc", "A"))[1]] == []
        await a.forget_instances(["A"])  # A is gone: its lease is void, B takes it
        assert (await b.watched("acc", "B"))[0] is None
        assert await b.poll_lease("acc", "B", now + 5) == "B"
        await b.poll_release("acc", "A")  # not A's any more
        assert (await b.looks("acc", []))[0] == "B"
        await b.poll_release("acc", "B")
        assert (await b.looks("acc", []))[0] is None
        await b.poll_lease("acc", "B", now - 1)  # expired at once
        assert await a.poll_lease("acc", "C", now + 5) == "C"  # free: taken (by a process not yet registered)
        assert (await a.watched("acc", "A"))[0] is None  # ... which is no live holder
        # A row left by a process that died after its job ended goes when the lease is next taken or renewed.
        await a.renew_instance("A", "h", 1, now + 30)
        await a.save(JobRecord(id="j9", kind="image", spec={}, owner={}, submit_id="s9", state="succeeded"))
        await b.watch("acc", "B", {"s9": ("j9", now, None), "s8": ("j8", now, None)})
        await a.poll_lease("acc", "A", now + 5)
        assert [w.submit_id for w in (await a.watched("acc", "A"))[1]] == ["s8"]  # (s1 is A's own now)
    finally:
        await a.close()
        await b.close()


async def test_a_holder_whose_jobs_end_polls_on_for_the_others(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder's jobs end, one after another (a closed loop), while the other process's job runs and its reads of
    the store come late (a busy machine). The holder keeps the poll lease: no tick for a job the last look served."""
    timing = Timing(image_interval=0.5, image_max_gap=0.5, image_cold_min_gap=0.5, min_first_poll=0.5)
    fake_jimeng.image_seconds = 1.2
    async with (
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=timing) as one,
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=timing) as two,
    ):
        await _meet(one, two)
        first = await _holding(one, fake_jimeng, "one 0")
        _read_late(two, monkeypatch, 0.3)
        fake_jimeng.image_seconds = 5.0
        theirs = await two.imagine(ImageParams(prompt="two"))
        await _submitted(fake_jimeng, 2)
        fake_jimeng.image_seconds = 1.2
        await first.wait()
        for i in range(1, 4):  # one's jobs, one after another
            await (await one.imagine(ImageParams(prompt=f"one {i}"))).wait()
        await asyncio.wait_for(theirs.wait(), 30)

        polls = [r.time for r in fake_jimeng.calls(PATH_HISTORY_BY_IDS)]
        assert _poller(two).ticks == 0  # one polled for both, its own jobs ended or not
        # Every look moves every job due within a poll gap of it (AccountPoller._not_ready): no two looks come closer
        # than the shortest gap between polls, save the time a watcher's clock is off by reading late.
        gaps = [b - a for a, b in itertools.pairwise(polls)]
        assert min(gaps) > 0.35, [round(g, 3) for g in gaps]
        share = theirs.submit_id
        asked = sum(
            1.0 / len(r.json["submit_ids"])
            for r in fake_jimeng.calls(PATH_HISTORY_BY_IDS)
            if share in r.json["submit_ids"]
        )
        assert asked <= 6, asked  # its 5 s, at one look per 0.5 s at most, shared with one's jobs


async def test_a_watcher_learns_when_the_holder_looked_not_when_it_read_the_look(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watcher reading the store late (a busy machine) must not count its delay into the job's time: the interval it
    learns ends at the holder's look that saw the job ready, not when the watcher read that look."""
    timing = Timing(image_interval=0.5, image_max_gap=0.5, image_cold_min_gap=0.5, min_first_poll=0.5)
    learned_at: dict[str, float] = {}
    learn = AccountPoller._learn

    def spy(self: AccountPoller, t: Any, now: float) -> None:
        learned_at[t.job.submit_id] = now  # the poller's clock is the emulator's (time.monotonic)
        learn(self, t, now)

    monkeypatch.setattr(AccountPoller, "_learn", spy)
    sparse = Timing(image_interval=0.5, image_max_gap=0.5, image_cold_min_gap=5.0, min_first_poll=5.0)
    async with (  # the holder's own job needs a look every 5 s only: it looks when the watcher's job is due
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=sparse) as one,
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=timing) as two,
    ):
        await _meet(one, two)
        fake_jimeng.image_seconds = 8.0
        first = await _holding(one, fake_jimeng, "the holder's")
        _read_late(two, monkeypatch, 0.6)
        fake_jimeng.image_seconds = 2.5
        theirs = await two.imagine(ImageParams(prompt="the watcher's"))
        await asyncio.wait_for(asyncio.gather(theirs.wait(), first.wait()), 30)
        assert _poller(two).ticks == 0  # the holder looked for it
        sid = theirs.submit_id
        found = min(
            r.time
            for r in fake_jimeng.calls(PATH_HISTORY_BY_IDS)
            if sid in r.json["submit_ids"] and r.time >= fake_jimeng.ready_at(sid)
        )
        assert 0 <= learned_at[sid] - found < 0.3, (learned_at[sid], found)  # not found + the 0.6 s read


async def test_a_holder_polling_for_others_is_not_dropped_as_idle(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    """The pool forgetting a caller's account drops its poller once idle: not while it polls for another process's
    job after its own ended (it would run on, never closed), and once that is over."""
    timing = Timing(image_interval=0.5, image_max_gap=0.5, image_cold_min_gap=0.5, min_first_poll=0.5)
    async with (
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=timing) as one,
        make_engine(data_dir=tmp_path, account_concurrency=4, timing=timing) as two,
    ):
        await _meet(one, two)
        fake_jimeng.image_seconds = 1.0
        mine = await _holding(one, fake_jimeng, "the holder's")
        fake_jimeng.image_seconds = 4.0
        theirs = await two.imagine(ImageParams(prompt="the watcher's"))
        await mine.wait()
        (key,) = one.dispatcher._pollers
        one.dispatcher.forget([key])
        assert key in one.dispatcher._pollers and not len(_poller(one))  # no job of its own, still polling for two
        await asyncio.wait_for(theirs.wait(), 30)
        assert _poller(two).ticks == 0
        for _ in range(100):  # the holder stops once nobody watches
            if _poller(one)._task is None or _poller(one)._task.done():
                break
            await asyncio.sleep(0.05)
        one.dispatcher.forget([key])
        assert key not in one.dispatcher._pollers
