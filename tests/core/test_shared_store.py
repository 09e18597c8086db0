"""Several processes on one store (issue #16), on both backends (tests/pg.py ``store_backend``): two stores on one
SQLite file or one PostgreSQL database behave as two processes do (each its own connections). Slots are leases counted across them, a dead process's slots and jobs come
back once, the daily claim is made once, and a new data directory is migrated once however many open it at once.
The real processes are in tests/api/test_shared_processes.py."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.jobs import JobRecord
from core.pgschema import PG_MIGRATIONS
from core.shared import Sharing
from core.store import MIGRATIONS, SqliteJobStore
from tests.pg import PgCluster, StoreFactory

ROOT = Path(__file__).resolve().parents[2]


def _job(job_id: str, state: str = "generating", account: str = "acc") -> JobRecord:
    body = {"submit_id": f"s-{job_id}"} if state != "queued" else None
    return JobRecord(
        id=job_id, kind="image", spec={}, owner={}, submit_id=f"s-{job_id}", state=state, account_key=account, body=body
    )


async def _two(new: StoreFactory, lease_s: float = 30.0) -> tuple[Any, Sharing, Any, Sharing]:
    a, b = new(), new()
    await a.open()
    await b.open()
    sa, sb = Sharing(a, instance="A", lease_s=lease_s), Sharing(b, instance="B", lease_s=lease_s)
    await a.renew_instance("A", sa.host, 1, time.time() + lease_s)  # pid 1: alive, not ours to check
    await b.renew_instance("B", sb.host, 1, time.time() + lease_s)
    return a, sa, b, sb


async def test_slots_are_counted_across_processes(store_backend: StoreFactory) -> None:
    a, _, b, _ = await _two(store_backend)
    try:  # a writer in one process waits for the other's short transaction instead of failing "database is locked"
        if isinstance(a, SqliteJobStore):
            assert await a._run(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 30_000
        assert await a.take_slot("acc", "j1", "A", 2)
        assert await b.take_slot("acc", "j2", "B", 2)
        assert not await a.take_slot("acc", "j3", "A", 2)  # two held, one by each: no third anywhere
        assert not await b.take_slot("acc", "j3", "B", 2)
        assert await b.take_slot("other", "j3", "B", 2)  # another account has its own slots
        await b.give_slot("j1", "B")  # not B's to give
        assert not await a.take_slot("acc", "j3", "A", 2)
        await a.give_slot("j1", "A")
        assert await b.take_slot("acc", "j4", "B", 2)
        assert await b.slots_held("acc") == 2
        # Many takers at once, from both: never more than the limit.
        results = await asyncio.gather(
            *(s.take_slot("x", f"k{i}", n, 3) for i, (s, n) in enumerate([(a, "A"), (b, "B")] * 8))
        )
        assert sum(results) == 3 and await a.slots_held("x") == 3
    finally:
        await a.close()
        await b.close()


async def test_a_dead_process_keeps_its_running_slots_until_a_live_one_adopts_its_jobs_once(
    store_backend: StoreFactory,
) -> None:
    a, _, b, sb = await _two(store_backend, lease_s=30.0)
    c = store_backend()
    try:
        a.instance = "A"
        await a.save(_job("running"))  # submitted upstream on "acc"
        await a.save(_job("waiting", state="queued"))  # never submitted
        assert await a.take_slot("acc", "running", "A", 2)
        assert await b.orphans(terminal=False) == {}  # A is alive: nothing to adopt
        # A stops renewing its lease (killed on another host); B's beat notices once it has expired.
        await a.renew_instance("A", "elsewhere", 1, time.time() - 1)
        await sb.reap()
        assert [i.id for i in await b.instances()] == ["B"]
        assert await b.slots_held("acc") == 1  # its job still runs upstream: the slot still counts
        assert await b.orphans(terminal=False) == {"running": "A", "waiting": "A"}
        # Two live processes adopt at once: each job goes to exactly one.
        await c.open()
        wins = await asyncio.gather(
            b.adopt("running", "A", "B", "acc"), c.adopt("running", "A", "C", "acc"), b.adopt("waiting", "A", "B", None)
        )
        assert wins.count(True) == 2 and wins[2] is True
        assert await b.slots_held("acc") == 1  # the slot moved with the job, it was not freed
        await a.save(_job("ended", state="failed"))
        await b.take_slot("acc", "ended", "B", 5)  # its give never reached the store
        await sb.reap()
        assert await b.slots_held("acc") == 1  # the ended job's slot is gone, the adopted one's stays
        assert await b.owners(["running"]) == {"running": "C" if wins[1] else "B"}
        assert not await b.adopt("running", "A", "B", "acc")  # adopted already: never a second time
    finally:
        for s in (a, b, c):
            await s.close()


async def test_a_killed_process_on_this_host_is_noticed_by_its_pid(store_backend: StoreFactory) -> None:
    a, sa, b, sb = await _two(store_backend)
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        await a.renew_instance("A", sa.host, int(gone.stdout), time.time() + 30)  # lease valid, process gone
        await a.take_slot("acc", "done-job", "A", 2)  # a slot whose job is no longer active
        await sb.reap()
        assert [i.id for i in await b.instances()] == ["B"]
        assert await b.slots_held("acc") == 0  # nothing runs for it: the slot comes back at once
        # A process restarted under the same pid (pid 1 in a container): the row with our pid is not us, so gone.
        await a.renew_instance("A", sa.host, os.getpid(), time.time() + 30)
        await sb.reap()
        assert [i.id for i in await b.instances()] == ["B"]
    finally:
        await a.close()
        await b.close()


async def test_the_daily_claim_is_begun_once_per_account_and_day(store_backend: StoreFactory) -> None:
    a, _, b, _ = await _two(store_backend)
    try:
        firsts = await asyncio.gather(
            *(s.begin_claim("acc", "2026-12-03", n, time.time() + 60) for s, n in [(a, "A"), (b, "B")] * 4)
        )
        assert firsts.count(True) == 1
        winner = (a, b)[firsts.index(True) % 2]
        await winner.end_claim("acc", "2026-12-03", done=False)  # failed: another may try
        assert await b.begin_claim("acc", "2026-12-03", "B", time.time() + 60)
        await b.end_claim("acc", "2026-12-03", done=True)
        assert not await a.begin_claim("acc", "2026-12-03", "A", time.time() + 60)
        assert await a.begin_claim("acc", "2026-12-04", "A", time.time() + 60)  # the next day
        # A claimer that died mid-claim: its turn passes once its short lease is over.
        assert await a.begin_claim("crashed", "2026-12-03", "A", time.time() - 1)
        assert await b.begin_claim("crashed", "2026-12-03", "B", time.time() + 60)
    finally:
        await a.close()
        await b.close()


def test_processes_opening_a_new_data_directory_at_once_migrate_it_once(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from core.store import SqliteJobStore\n"
        "async def main():\n"
        "    s = SqliteJobStore(sys.argv[1])\n"
        "    await s.open(); await s.close()\n"
        "asyncio.run(main())\n"
    )
    path = tmp_path / "jobs.sqlite3"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=ROOT, stderr=subprocess.PIPE) for _ in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_processes_opening_a_new_postgresql_database_at_once_migrate_it_once(pg_cluster: PgCluster) -> None:
    """Four processes open one empty database at once: the advisory lock lets one migrate, the others find it done."""
    url = asyncio.run(pg_cluster.new_database())
    code = (
        "import asyncio, sys\n"
        "from core.pgstore import PgJobStore\n"
        "async def main():\n"
        "    s = PgJobStore(sys.argv[1])\n"
        "    await s.open(); await s.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()

    async def version() -> list[Any]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [r["version"] for r in await conn.fetch("SELECT version FROM schema_version")]
        finally:
            await conn.close()

    assert asyncio.run(version()) == [len(PG_MIGRATIONS)]
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)  # every SQLite migration has its PostgreSQL twin


async def test_announcements_wake_a_waiter_in_another_process(store_backend: StoreFactory) -> None:
    a, b = store_backend(), store_backend()
    await a.open()
    await b.open()
    try:
        waiting = asyncio.create_task(b.wait_announce("jobs_acc", 5.0))
        await asyncio.sleep(0.3)  # its LISTEN is in place
        started = time.monotonic()
        await a.announce("jobs_acc")
        await waiting
        took = time.monotonic() - started
        if isinstance(a, SqliteJobStore):  # no channel between processes: the wait is a short poll of its timeout
            assert took > 4
            started = time.monotonic()
            await b.wait_announce("jobs_acc", 0.2)
            assert 0.15 < time.monotonic() - started < 1
        else:
            assert took < 1  # woken by NOTIFY, not by the 5 s timeout
            started = time.monotonic()
            await b.wait_announce("other", 0.3)  # nothing announced there: the timeout
            assert 0.25 < time.monotonic() - started < 2
    finally:
        await a.close()
        await b.close()


async def test_back_from_a_store_outage_a_beat_gives_the_others_time_to_renew_before_reaping(
    store_backend: StoreFactory,
) -> None:
    """While the database was away no process could renew its lease: the first beat back must not take the others
    for dead (and adopt their jobs); the one after does, if they still have not renewed."""
    a, sa, b, _ = await _two(store_backend)
    try:
        await b.renew_instance("B", "elsewhere", 1, time.time() - 1)  # B could not renew during the outage either
        sa.away = True  # A's last beat found the store away
        await sa.beat()
        assert {i.id for i in await a.instances()} == {"A", "B"}
        assert not sa.away
        await sa.beat()  # B never came back: now it is gone
        assert {i.id for i in await a.instances()} == {"A"}
    finally:
        await a.close()
        await b.close()
