"""Before its submit a job costs one commit of the store (the API's overhead, issue #7, regressed with the shared store
of issue #16): alone on the store, a process queues a job's slot take without waiting for it, so its QUEUED row, its
slot and its write-ahead body ride in one transaction, and the take's answer is known before the request leaves.
With another live process the take is waited for, in the transaction of the job's row (two commits). A take refused
because a process not yet noticed holds the slots sends nothing: the job goes back in line."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from core import Engine, ImageParams, JobState
from core.jobs import JobRecord
from core.pgstore import PgJobStore
from core.store import SqliteJobStore
from core.wire import PATH_GENERATE
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory


def _what(work: Any, args: Any) -> str:
    if callable(work):
        return str(getattr(work, "__qualname__", "?")).split(".")[1]  # SqliteLeases.take_slot_soon.<locals>.write
    if str(work).startswith("INSERT INTO jobs"):
        return f"job {args[5]}"  # the row's state: queued, submitting (the write-ahead body)…
    return " ".join(str(work).split()[:3])


def _count_commits(engine: Engine, fake: FakeJimeng) -> list[tuple[list[str], int]]:
    """Each transaction of the engine's SQLite store: what it held, and the generate requests sent before it."""
    store = engine.store
    assert isinstance(store, SqliteJobStore) and engine.shared is not None
    commits: list[tuple[list[str], int]] = []

    def commit(conn: sqlite3.Connection, batch: list[Any]) -> list[Any]:
        commits.append(([_what(w, a) for w, a, *_ in batch], len(fake.calls(PATH_GENERATE))))
        return SqliteJobStore._commit(conn, batch)

    store._commit = commit  # type: ignore[method-assign]
    return commits


async def _run(engine: Engine, prompt: str) -> None:
    job = await engine.imagine(ImageParams(prompt=prompt))
    assert await engine.settled(job.id) is not None
    await engine.ledger.flush()  # the job's last writes (its end, the slot given back, the kept files)


async def test_alone_a_jobs_row_slot_and_body_are_one_commit_before_its_submit(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    async with make_engine(data_dir=tmp_path) as engine:
        commits = _count_commits(engine, fake_jimeng)
        assert engine.shared is not None and engine.shared.alone
        for sent_before, prompt in enumerate(("a lighthouse", "a harbour")):  # cold, then with a learned timing
            commits.clear()
            await _run(engine, prompt)
            before_submit = [held for held, sent in commits if sent == sent_before]
            assert before_submit == [["job queued", "take_slot_soon", "job submitting"]], commits


async def test_with_another_process_the_slot_is_waited_for_in_the_rows_transaction(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    async with make_engine(data_dir=tmp_path) as engine:
        assert engine.shared is not None
        other = SqliteJobStore(tmp_path / "jobs.sqlite3")
        await other.open()
        try:
            await other.renew_instance("B", engine.shared.host, 1, time.time() + 30)  # pid 1: alive
            await engine.shared.reap()
            assert engine.shared.others == 1 and not engine.shared.alone
            commits = _count_commits(engine, fake_jimeng)
            await _run(engine, "a lighthouse")
            before_submit = [held for held, sent in commits if sent == 0]
            assert before_submit == [["job queued", "take_slot_soon"], ["job submitting"]], commits
        finally:
            await other.close()


async def test_a_take_refused_as_if_alone_sends_nothing_until_a_slot_is_free(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, shared_place: dict[str, Any]
) -> None:
    async with make_engine(**shared_place) as engine:
        assert engine.shared is not None and engine.shared.alone
        url = shared_place.get("database_url")
        other = PgJobStore(url) if url else SqliteJobStore(shared_place["data_dir"] / "jobs.sqlite3")
        await other.open()
        try:
            # A process started since this one's last beat (not noticed yet) holds every slot of the account.
            await other.renew_instance("B", engine.shared.host, 1, time.time() + 30)
            acc = engine.pool.accounts()[0]
            for i in range(acc.limit):
                assert await other.take_slot(acc.key, f"theirs-{i}", "B", acc.limit)
            job = await engine.imagine(ImageParams(prompt="a lighthouse"))
            for _ in range(100):
                await asyncio.sleep(0.01)
                if not engine.shared.alone:
                    break
            assert not engine.shared.alone  # refused: each take is waited for until the next reap
            await asyncio.sleep(0.3)
            assert fake_jimeng.calls(PATH_GENERATE) == []  # nothing left for the account without its slot
            assert job.state is JobState.QUEUED
            await engine.ledger.flush()
            row = await other.get(job.id)
            assert row is not None and row.state == "queued"  # never submitted: a restart runs it from the start
            await other.give_slot("theirs-0", "B")
            assert await engine.settled(job.id) is not None
            assert len(fake_jimeng.calls(PATH_GENERATE)) == 1
        finally:
            await other.close()


async def test_a_write_returns_once_committed_not_once_the_writer_task_runs_again(tmp_path: Path) -> None:
    """The writer thread wakes the waiting writers itself after its COMMIT: the write-ahead save resumes its job at the
    loop's next step instead of after the executor's future, its shield and the writer task have each taken one."""
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    held = asyncio.Event()
    real = store._in_thread

    async def writer_held_after_the_thread(fn: Any, *args: Any) -> Any:
        out = await real(fn, *args)
        await held.wait()  # the writer task does not run again until the test lets it
        return out

    store._in_thread = writer_held_after_the_thread  # type: ignore[method-assign]
    try:
        job = JobRecord(id="j", kind="image", spec={}, owner={}, submit_id="s", state="submitting", body={"b": 1})
        await asyncio.wait_for(store.save(job), 5)
        held.set()
        row = await store.get("j")
        assert row is not None and row.body == {"b": 1}
    finally:
        held.set()
        await store.close()
