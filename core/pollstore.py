"""One poller per account across processes (issue #16): the store's part. Schema 6 of ``core.store``.

``poll_leases``: which process polls an account for every process sharing the store, until when (renewed while it
polls). ``poll_watches``: one row per job a process runs on an account whose poller is another process: when it wants
the job looked at (``due_at``, computed after the poller's look at ``basis``), and what the poller saw at its latest
look (the history record as JSON, or the error of the request, and ``seen_at``). The engine's side is ``core.pollshare``; the calls are listed for the PostgreSQL
backend in /work/coord/s4/onepoller-store.md. Times are wall-clock epoch seconds: processes share no monotonic clock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

MIGRATION_6 = """
    CREATE TABLE poll_leases (
        account_key TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE poll_watches (
        submit_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        account_key TEXT NOT NULL,
        instance TEXT NOT NULL,
        due_at REAL NOT NULL,
        basis REAL,
        record TEXT,
        error TEXT,
        seen_at REAL
    );
    CREATE INDEX poll_watches_account ON poll_watches(account_key)
"""

_HOLDER = (
    "SELECT instance FROM poll_leases WHERE account_key = ? AND expires_at >= ? "
    "AND instance IN (SELECT id FROM instances)"
)


@dataclass(frozen=True, slots=True)
class Watch:
    """Another process's job on an account this process polls: look at it by ``due_at`` (epoch seconds), a time
    its process computed after using the look made at ``basis`` (None: before any look)."""

    submit_id: str
    due_at: float
    basis: float | None = None


@dataclass(frozen=True, slots=True)
class Look:
    """The poller's latest look at a watched job: the record (JSON text, None: not visible), or its request's error."""

    record: str | None
    error: str | None
    seen_at: float


def _holder(conn: sqlite3.Connection, account_key: str) -> str | None:
    row = conn.execute(_HOLDER, (account_key, time.time())).fetchone()
    return str(row[0]) if row else None


class SqlitePolls:
    """Mixed into ``SqliteJobStore`` (its ``_run`` / ``_write``: one statement or one transaction each)."""

    if TYPE_CHECKING:

        async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> Any: ...

    async def poll_lease(self, account_key: str, instance: str, expires_at: float) -> str:
        """Take or renew the account's poll lease when it is free (none, expired, its process gone) or ours. Returns
        the holder afterwards: ``instance`` when taken, else the live holder's id."""

        def write(conn: sqlite3.Connection) -> str:
            holder = _holder(conn, account_key)
            if holder is not None and holder != instance:
                return holder
            conn.execute(
                "INSERT INTO poll_leases (account_key, instance, expires_at) VALUES (?, ?, ?) ON CONFLICT(account_key) "
                "DO UPDATE SET instance = excluded.instance, expires_at = excluded.expires_at",
                (account_key, instance, expires_at),
            )
            # Rows of jobs that ended (their process died before it could delete them) are of no use to anyone.
            conn.execute(
                "DELETE FROM poll_watches WHERE account_key = ? AND job_id IN "
                "(SELECT id FROM jobs WHERE state IN ('succeeded','failed'))",
                (account_key,),
            )
            return instance

        return str(await self._write(write))  # BEGIN IMMEDIATE: read and write under the write lock

    async def poll_release(self, account_key: str, instance: str) -> None:
        await self._write("DELETE FROM poll_leases WHERE account_key = ? AND instance = ?", (account_key, instance))

    async def watch(self, account_key: str, instance: str, dues: Mapping[str, tuple[str, float, float | None]]) -> None:
        """Ask the account's poller to look at these jobs by their due times: {submit_id: (job_id, due_at, basis)}
        (``basis``: the ``seen_at`` of the newest look used to compute ``due_at``). A row another process wrote for
        the job (before adopting it here) loses what was seen for that process."""
        if not dues:
            return
        rows = [(sid, job_id, account_key, instance, due, basis) for sid, (job_id, due, basis) in dues.items()]
        await self._write(
            "INSERT INTO poll_watches (submit_id, job_id, account_key, instance, due_at, basis) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(submit_id) DO UPDATE SET job_id = excluded.job_id, account_key = excluded.account_key, "
            "due_at = excluded.due_at, basis = excluded.basis, "
            "record = CASE WHEN poll_watches.instance = excluded.instance THEN poll_watches.record END, "
            "error = CASE WHEN poll_watches.instance = excluded.instance THEN poll_watches.error END, "
            "seen_at = CASE WHEN poll_watches.instance = excluded.instance THEN poll_watches.seen_at END, "
            "instance = excluded.instance",
            rows,
            many=True,
        )

    async def unwatch(self, submit_ids: Sequence[str]) -> None:
        if submit_ids:
            await self._write("DELETE FROM poll_watches WHERE submit_id = ?", [(s,) for s in submit_ids], many=True)

    async def watched(self, account_key: str, instance: str) -> tuple[str | None, list[Watch]]:
        """The poller's read: the account's live poll-lease holder, and the jobs other live processes want looked at."""

        def read(conn: sqlite3.Connection) -> tuple[str | None, list[Watch]]:
            rows = conn.execute(
                "SELECT submit_id, due_at, basis FROM poll_watches WHERE account_key = ? AND instance != ? "
                "AND instance IN (SELECT id FROM instances)",
                (account_key, instance),
            ).fetchall()
            return _holder(conn, account_key), [Watch(r[0], r[1], r[2]) for r in rows]

        return await self._run(read)

    async def report(self, looks: Mapping[str, str | None], seen_at: float, error: str | None) -> None:
        """What the poller saw at ``seen_at``: each job's record (JSON text, None: not visible), or the request's
        error for all of them."""
        if looks:
            await self._write(
                "UPDATE poll_watches SET record = ?, error = ?, seen_at = ? WHERE submit_id = ?",
                [(rec, error, seen_at, sid) for sid, rec in looks.items()],
                many=True,
            )

    async def looks(self, account_key: str, submit_ids: Sequence[str]) -> tuple[str | None, dict[str, Look]]:
        """A watcher's read: the account's live poll-lease holder, and the latest look at each of these jobs."""

        def read(conn: sqlite3.Connection) -> tuple[str | None, dict[str, Look]]:
            marks = ",".join("?" * len(submit_ids))
            rows = conn.execute(
                f"SELECT submit_id, record, error, seen_at FROM poll_watches WHERE submit_id IN ({marks}) "
                "AND seen_at IS NOT NULL",
                list(submit_ids),
            ).fetchall()
            return _holder(conn, account_key), {r[0]: Look(r[1], r[2], r[3]) for r in rows}

        return await self._run(read)
