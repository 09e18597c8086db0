"""Where processes meet (issue #16): the store's part of several processes sharing one SQLite data directory.

Schema 5 of ``core.store``: ``instances`` (one row per running process, its lease renewed by a heartbeat),
``slots`` (an account's concurrency slots, one row per job holding one), ``claims`` (the daily credit claim, one row
per account and Beijing day) and ``jobs.instance`` (the process running a job). Every call is one short transaction;
those that must read and then write (taking a slot, adopting a job, beginning a claim) run in ``BEGIN IMMEDIATE``
transactions, so two processes cannot both see room for one more. Taking and giving slots ride in the store's
batched write transaction (one thread hop for all the jobs of a moment). The engine side (heartbeat, adoption) is ``core.shared``.

An instance is alive while its lease has not expired; a process that stops cleanly deletes its row at once. A slot
of a dead instance still counts while its job is active (the job is still running upstream) until a live process
adopts the job (the slot moves with it) or the job ends; then it is reaped.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from core.announce import SqliteAnnounce
from core.jobs import ACTIVE_STATES

T = TypeVar("T")
_ACTIVE = tuple(sorted(ACTIVE_STATES))
_MARKS = ",".join("?" * len(_ACTIVE))

MIGRATION_5 = """
    CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE slots (
        job_id TEXT PRIMARY KEY,
        account_key TEXT NOT NULL,
        instance TEXT NOT NULL,
        taken_at REAL NOT NULL
    );
    CREATE INDEX slots_account ON slots(account_key);
    CREATE TABLE claims (
        account_key TEXT NOT NULL,
        day TEXT NOT NULL,
        instance TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        expires_at REAL NOT NULL,
        PRIMARY KEY (account_key, day)
    );
    ALTER TABLE jobs ADD COLUMN instance TEXT
"""


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    host: str
    pid: int
    expires_at: float


async def settle(work: Awaitable[T], steps: int = 3) -> T:
    """Start the store's writer a few steps of the event loop late. A job just launched queues its row at once and
    its account slot two steps later (its task, then the pool's): the writer then takes both into one transaction,
    one commit fewer before the submit than when the slot waited for the row's commit (issue #16)."""
    for _ in range(steps):
        await asyncio.sleep(0)
    return await work


def _immediate(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """One read-then-write transaction holding the database's write lock from its first statement."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return out


class SqliteLeases(SqliteAnnounce):
    """Mixed into ``SqliteJobStore``; every call goes through its read lock (one statement or one transaction).
    Announcements (``core.announce``): none between processes on SQLite, a short poll instead."""

    instance: str | None = None  # this process's id: ``save`` writes it into ``jobs.instance``

    if TYPE_CHECKING:

        async def open(self) -> None: ...

        async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> Any: ...

        def _enqueue(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> asyncio.Future[Any]: ...

    # ------------------------------------------------------------------------------------------------ instances

    async def renew_instance(self, instance: str, host: str, pid: int, expires_at: float) -> bool:
        """Register or renew this process's lease. False when its row was gone (another process found it expired
        and may have adopted its jobs): the row is written again either way."""

        def write(conn: sqlite3.Connection) -> bool:
            renewed = conn.execute(
                "UPDATE instances SET expires_at = ?, host = ?, pid = ? WHERE id = ?", (expires_at, host, pid, instance)
            )
            if renewed.rowcount:
                return True
            conn.execute(
                "INSERT INTO instances (id, host, pid, started_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (instance, host, pid, time.time(), expires_at),
            )
            return False

        return await self._run(write)

    async def instances(self) -> list[Instance]:
        def read(conn: sqlite3.Connection) -> list[Instance]:
            rows = conn.execute("SELECT id, host, pid, expires_at FROM instances").fetchall()
            return [Instance(r["id"], r["host"], r["pid"], r["expires_at"]) for r in rows]

        return await self._run(read)

    async def forget_instances(self, dead: Sequence[str]) -> None:
        """Drop dead instances' rows, then every slot that no longer holds anything: its instance is gone and its
        job is not active, or its job has ended."""

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM instances WHERE id = ?", [(d,) for d in dead])
            conn.execute(
                "DELETE FROM slots WHERE instance NOT IN (SELECT id FROM instances) AND job_id NOT IN "
                f"(SELECT id FROM jobs WHERE state IN ({_MARKS}))",
                _ACTIVE,
            )
            # A slot whose job has ended is stale whoever holds it (a give that never reached the store).
            conn.execute(
                "DELETE FROM slots WHERE job_id IN (SELECT id FROM jobs WHERE state IN ('succeeded','failed'))"
            )

        await self._run(lambda c: _immediate(c, write))

    # ------------------------------------------------------------------------------------------------ slots

    async def take_slot(self, account_key: str, job_id: str, instance: str, limit: int) -> bool:
        """Take one of the account's ``limit`` slots for a job, if fewer than that are held by every process."""
        await self.open()
        return bool(await self.take_slot_soon(account_key, job_id, instance, limit))

    def take_slot_soon(self, account_key: str, job_id: str, instance: str, limit: int) -> asyncio.Future[Any]:
        """``take_slot`` queued at once (the store is open): answered by the writer's next transaction, the one that
        also commits what the job queues meanwhile — its row, its write-ahead body (a process alone, core.pool)."""

        def write(conn: sqlite3.Connection) -> bool:
            held = conn.execute(
                "SELECT COUNT(*) FROM slots WHERE account_key = ? AND job_id != ?", (account_key, job_id)
            ).fetchone()[0]
            if held >= limit:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO slots (job_id, account_key, instance, taken_at) VALUES (?, ?, ?, ?)",
                (job_id, account_key, instance, time.time()),
            )
            return True

        return self._enqueue(write)  # in the writer's next transaction, with the jobs' saves

    def give_slot(self, job_id: str, instance: str) -> asyncio.Future[Any]:
        """Give back our slot for a job (never one another process holds for it since it adopted the job). Queued at
        once, before any take that follows, so the job that frees a slot does not wait for the commit."""
        return self._enqueue("DELETE FROM slots WHERE job_id = ? AND instance = ?", (job_id, instance))

    async def slots_held(self, account_key: str) -> int:
        return await self._run(
            lambda c: int(c.execute("SELECT COUNT(*) FROM slots WHERE account_key = ?", (account_key,)).fetchone()[0])
        )

    # ------------------------------------------------------------------------------------------------ jobs

    async def orphans(self, *, terminal: bool) -> dict[str, str | None]:
        """Jobs whose process is gone (no live instance row): active ones, or (``terminal``) finished ones never
        delivered. {job id: the instance that had it (None: written before schema 5)}."""
        where = "delivered_at IS NULL AND state IN ('succeeded','failed')" if terminal else f"state IN ({_MARKS})"

        def read(conn: sqlite3.Connection) -> dict[str, str | None]:
            rows = conn.execute(
                f"SELECT id, instance FROM jobs WHERE {where} AND "
                "(instance IS NULL OR instance NOT IN (SELECT id FROM instances)) ORDER BY created_at",
                () if terminal else _ACTIVE,
            ).fetchall()
            return {r["id"]: r["instance"] for r in rows}

        return await self._run(read)

    async def adopt(self, job_id: str, was: str | None, instance: str, slot_account: str | None) -> bool:
        """Make a dead process's job ours, if no other process adopted it first. With ``slot_account`` (the job
        runs upstream on that account) its slot becomes ours; without, the slot it may have held is given back."""

        def write(conn: sqlite3.Connection) -> bool:
            moved = conn.execute("UPDATE jobs SET instance = ? WHERE id = ? AND instance IS ?", (instance, job_id, was))
            if not moved.rowcount:
                return False
            if slot_account is None:
                conn.execute("DELETE FROM slots WHERE job_id = ?", (job_id,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO slots (job_id, account_key, instance, taken_at) VALUES (?, ?, ?, ?)",
                    (job_id, slot_account, instance, time.time()),
                )
            return True

        return await self._run(lambda c: _immediate(c, write))

    async def owners(self, job_ids: Sequence[str]) -> dict[str, str | None]:
        """The process each of these jobs belongs to now."""

        def read(conn: sqlite3.Connection) -> dict[str, str | None]:
            marks = ",".join("?" * len(job_ids))
            rows = conn.execute(f"SELECT id, instance FROM jobs WHERE id IN ({marks})", list(job_ids)).fetchall()
            return {r["id"]: r["instance"] for r in rows}

        return await self._run(read) if job_ids else {}

    async def disown(self, job_id: str) -> None:
        """A finished job this process cannot deliver (no delivery handler): any process that can may take it."""
        await self._run(lambda c: c.execute("UPDATE jobs SET instance = NULL WHERE id = ?", (job_id,)))

    # ------------------------------------------------------------------------------------------------ daily claim

    async def begin_claim(self, account_key: str, day: str, instance: str, expires_at: float) -> bool:
        """The right to claim an account's credits for a day: False when it was done, or is being done by a live
        claim (one whose own short lease has not expired)."""

        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT done, expires_at FROM claims WHERE account_key = ? AND day = ?", (account_key, day)
            ).fetchone()
            if row is not None and (row["done"] or row["expires_at"] > time.time()):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO claims (account_key, day, instance, done, expires_at) VALUES (?, ?, ?, 0, ?)",
                (account_key, day, instance, expires_at),
            )
            return True

        return await self._run(lambda c: _immediate(c, write))

    async def end_claim(self, account_key: str, day: str, *, done: bool) -> None:
        """A claim that succeeded stays done for the day; one that failed is forgotten (it may be tried again)."""
        sql = (
            "UPDATE claims SET done = 1 WHERE account_key = ? AND day = ?"
            if done
            else "DELETE FROM claims WHERE account_key = ? AND day = ?"
        )
        await self._run(lambda c: c.execute(sql, (account_key, day)))

    # ------------------------------------------------------------------------------------------------ refresh

    async def changed_since(self, table: str, since: float) -> dict[str, dict[str, Any]]:
        """Rows of ``accounts`` or ``timings`` written (by any process) since a time."""
        if table not in ("accounts", "timings"):
            raise ValueError(table)

        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute(f"SELECT key, data FROM {table} WHERE updated_at >= ?", (since,)).fetchall()
            return {r["key"]: json.loads(r["data"]) for r in rows if r["data"]}

        return await self._run(read)
