"""Several processes on one SQLite data directory (issue #16), at the store: two stores on one file behave as two
processes do (each its own connection). Slots are leases counted across them, a dead process's slots and jobs come
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

from core.jobs import JobRecord
from core.shared import Sharing
from core.store import MIGRATIONS, SqliteJobStore

ROOT = Path(__file__).resolve().parents[2]


def _job(job_id: str, state: str = "generating", account: str = "acc") -> JobRecord:
    body = {"submit_id": f"s-{job_id}"} if state != "queued" else None
    return JobRecord(
        id=job_id, kind="image", spec={}, owner={}, submit_id=f"s-{job_id}", state=state, account_key=account, body=body
    )


async def _two(tmp_path: Path, lease_s: float = 30.0) -> tuple[SqliteJobStore, Sharing, SqliteJobStore, Sharing]:
    a, b = SqliteJobStore(tmp_path / "jobs.sqlite3"), SqliteJobStore(tmp_path / "jobs.sqlite3")
    await a.open()
    await b.open()
    sa, sb = Sharing(a, instance="A", lease_s=lease_s), Sharing(b, instance="B", lease_s=lease_s)
    await a.renew_instance("A", sa.host, 1, time.time() + lease_s)  # pid 1: alive, not ours to check
    await b.renew_instance("B", sb.host, 1, time.time() + lease_s)
    return a, sa, b, sb


async def test_slots_are_counted_across_processes(tmp_path: Path) -> None:
    a, _, b, _ = await _two(tmp_path)
    try:  # a writer in one process waits for the other's short transaction instead of failing "database is locked"
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


async def test_a_dead_process_keeps_its_running_slots_until_a_live_one_adopts_its_jobs_once(tmp_path: Path) -> None:
    a, _, b, sb = await _two(tmp_path, lease_s=30.0)
    c = SqliteJobStore(tmp_path / "jobs.sqlite3")
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
        owner = await b._run(lambda conn: conn.execute("SELECT instance FROM jobs WHERE id = 'running'").fetchone()[0])
        assert owner == ("C" if wins[1] else "B")
        assert not await b.adopt("running", "A", "B", "acc")  # adopted already: never a second time
    finally:
        for s in (a, b, c):
            await s.close()


async def test_a_killed_process_on_this_host_is_noticed_by_its_pid(tmp_path: Path) -> None:
    a, sa, b, sb = await _two(tmp_path)
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


async def test_the_daily_claim_is_begun_once_per_account_and_day(tmp_path: Path) -> None:
    a, _, b, _ = await _two(tmp_path)
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
