"""The durable job store: SQLite in the data directory (WAL), used without blocking the event loop.

One connection, used from worker threads one call at a time (an asyncio lock serialises them); several processes
may share the file (core.leases). Schema versions: ``PRAGMA user_version`` and plain forward migrations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from core import filestore
from core.jobs import ACTIVE_STATES as ACTIVE
from core.jobs import JobRecord, MemoryJobStore
from core.leases import MIGRATION_5, SqliteLeases, settle
from core.pollstore import MIGRATION_6, SqlitePolls
from core.prefstore import MIGRATION_4, SqliteExtras

log = logging.getLogger(__name__)
T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0  # how long a statement waits for another process's write transaction
# The writer commits statements or functions of the connection: (work, args, executemany?, its answer).
Work = str | Callable[[sqlite3.Connection], Any]
Batch = list[tuple[Work, Sequence[Any], bool, "asyncio.Future[Any]"]]

ACTIVE_STATES = tuple(sorted(ACTIVE))

MIGRATIONS: list[str] = [
    # 1: jobs and account state
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        spec TEXT NOT NULL,
        owner TEXT NOT NULL,
        submit_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        account_key TEXT,
        history_id TEXT,
        body TEXT,
        result TEXT,
        error TEXT,
        finished INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        delivered_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_account ON jobs(account_key, state);
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE files (
        path TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX files_created ON files(created_at);
    """,
    # 2: reference images kept with compositions and framed videos (reroll, restart before upload)
    """
    ALTER TABLE jobs ADD COLUMN refs TEXT;
    """,
    # 3: learned generation times per model key (core.timings), so a restarted process polls warm (issue #11)
    """
    CREATE TABLE timings (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    MIGRATION_4,  # 4: server and member settings, what each job cost, usage by time (issue #15; core.prefstore)
    MIGRATION_5,  # 5: processes sharing the data dir: instances, slots, daily claims, jobs.instance (core.leases)
    MIGRATION_6,  # 6: one poller per account for every process: poll leases and watched jobs (core.pollstore)
]

JOB_COLUMNS = (
    "id, kind, spec, owner, submit_id, state, account_key, history_id, body, result, error, finished, total, "
    "delivered_at, created_at, updated_at, refs, instance"
)


def loads(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_from_row(row: Any) -> JobRecord:  # a sqlite3.Row or an asyncpg.Record (core.pgstore): read by name
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        spec=loads(row["spec"]) or {},
        owner=loads(row["owner"]) or {},
        submit_id=row["submit_id"],
        state=row["state"],
        account_key=row["account_key"],
        history_id=row["history_id"],
        body=loads(row["body"]),
        result=loads(row["result"]),
        error=loads(row["error"]),
        finished=row["finished"],
        total=row["total"],
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        refs=loads(row["refs"]),
    )


def row_of(record: JobRecord, instance: str | None) -> tuple[Any, ...]:
    """A job's row in ``JOB_COLUMNS`` order, as both stores write it (``record_from_row`` reads it back)."""
    return (
        record.id, record.kind, dumps(record.spec), dumps(record.owner), record.submit_id, record.state,
        record.account_key, record.history_id, dumps(record.body), dumps(record.result), dumps(record.error),
        record.finished, record.total, record.delivered_at, record.created_at, record.updated_at, dumps(record.refs),
        instance,
    )  # fmt: skip


def _answer(batch: Batch, answers: list[Any]) -> None:
    for (*_, fut), answer in zip(batch, answers, strict=True):
        if not fut.done():
            fut.set_result(answer)


class SqliteJobStore(SqliteExtras, SqliteLeases, SqlitePolls):
    """Jobs, account state, learned timings, retained result files, settings and usage in one SQLite database."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        # Writes queue here; one writer commits all that is queued in one transaction (one thread hop): 50 at once
        # cost one commit, not 50 in a row. A write returns once committed.
        self._queue: Batch = []
        self._writer: asyncio.Task[None] | None = None
        self._busy: set[asyncio.Future[Any]] = set()  # thread work in flight (close waits for it)

    # ------------------------------------------------------------------------------------------------ plumbing

    async def open(self) -> None:
        if self._conn is None:
            self._conn = await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")  # other processes write too (issue #16)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")  # the version is read under the write lock: two processes migrate it once
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, sql.split(";")):  # no migration has a ";" inside a statement
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
                log.info("job store %s migrated to schema %d", self.path, number)
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise
        conn.execute("COMMIT")
        return conn

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        async with self._lock:
            if self._busy:  # a query whose caller was cancelled still runs in its thread
                await asyncio.gather(*self._busy, return_exceptions=True)
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await asyncio.to_thread(conn.close)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking SQLite work in a worker thread. A cancelled caller cannot stop the thread, so the work is shielded
        and tracked, and ``close`` waits for it: closing the connection under a running query crashed the process
        (SIGSEGV inside sqlite3), e.g. when the engine closed during its first retention pass (issue #13)."""
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        self._busy.add(fut)
        fut.add_done_callback(self._settled)
        return await asyncio.shield(fut)

    def _settled(self, fut: asyncio.Future[Any]) -> None:
        self._busy.discard(fut)
        if not fut.cancelled():
            fut.exception()  # retrieved: a caller that was cancelled no longer awaits it

    async def _write(self, sql: Work, args: Sequence[Any] = (), *, many: bool = False) -> Any:
        await self.open()
        return await self._enqueue(sql, args, many=many)

    def _enqueue(self, sql: Work, args: Sequence[Any] = (), *, many: bool = False) -> asyncio.Future[Any]:
        """Queue a statement, or a function of the connection whose answer the future gets (a slot taken or not),
        for the writer's next transaction (the store is open). Committed in the order queued."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, args, many, fut))
        if self._writer is None or self._writer.done():  # it starts a few loop steps later (core.leases.settle)
            self._writer = asyncio.create_task(settle(self._drain()), name="job-store-writer")
        return fut

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            async with self._lock:
                conn = self._conn
                assert conn is not None
                try:
                    answers = await self._in_thread(self._commit_and_answer, conn, batch, asyncio.get_running_loop())
                except Exception as exc:  # report it to every waiting writer
                    for fut in (f for *_, f in batch if not f.done()):
                        fut.set_exception(exc)
                    continue
            _answer(batch, answers)  # done from the thread already, unless the loop ran this first

    def _commit_and_answer(self, conn: sqlite3.Connection, batch: Batch, loop: asyncio.AbstractEventLoop) -> list[Any]:
        """Commit, and wake the writers from this thread: they resume at the loop's next step (issue #7)."""
        answers = self._commit(conn, batch)
        loop.call_soon_threadsafe(_answer, batch, answers)
        return answers

    @staticmethod
    def _commit(conn: sqlite3.Connection, batch: Batch) -> list[Any]:
        conn.execute("BEGIN IMMEDIATE")  # a short write transaction; busy_timeout waits for another process's
        try:
            answers = [
                sql(conn) if callable(sql) else (conn.executemany if many else conn.execute)(sql, args) and None
                for sql, args, many, _ in batch
            ]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return answers

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        await self.open()
        async with self._lock:
            conn = self._conn
            assert conn is not None
            return await self._in_thread(fn, conn)

    # ------------------------------------------------------------------------------------------------ jobs

    async def save(self, record: JobRecord) -> None:
        record.updated_at = time.time()
        values = row_of(record, self.instance)  # the process running it (core.leases)
        await self._write(
            f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * 18)}) "
            "ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
            "account_key=COALESCE(excluded.account_key, jobs.account_key), "
            "history_id=COALESCE(excluded.history_id, jobs.history_id), body=COALESCE(excluded.body, jobs.body), "
            "result=excluded.result, error=excluded.error, finished=excluded.finished, total=excluded.total, "
            "delivered_at=COALESCE(excluded.delivered_at, jobs.delivered_at), updated_at=excluded.updated_at, "
            "refs=COALESCE(excluded.refs, jobs.refs), instance=COALESCE(excluded.instance, jobs.instance)",
            values,
        )

    async def get(self, job_id: str) -> JobRecord | None:
        def read(conn: sqlite3.Connection) -> JobRecord | None:
            row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return record_from_row(row) if row else None

        return await self._run(read)

    async def list_owner(self, key: str, value: Any, limit: int = 20) -> list[JobRecord]:
        def read(conn: sqlite3.Connection) -> list[JobRecord]:
            rows = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE json_extract(owner, ?) = ? ORDER BY created_at DESC LIMIT ?",
                (f"$.{key}", value, limit),
            ).fetchall()
            return [record_from_row(r) for r in rows]

        return await self._run(read)

    async def active(self) -> list[JobRecord]:
        """Every job that has not reached a terminal state, oldest first."""

        def read(conn: sqlite3.Connection) -> list[JobRecord]:
            marks = ",".join("?" * len(ACTIVE_STATES))
            rows = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY created_at", ACTIVE_STATES
            ).fetchall()
            return [record_from_row(r) for r in rows]

        return await self._run(read)

    async def undelivered(self) -> list[JobRecord]:
        """Terminal jobs whose result or failure the front end has not confirmed as delivered."""

        def read(conn: sqlite3.Connection) -> list[JobRecord]:
            rows = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('succeeded','failed') AND delivered_at IS NULL "
                "ORDER BY updated_at"
            ).fetchall()
            return [record_from_row(r) for r in rows]

        return await self._run(read)

    async def mark_delivered(self, job_id: str) -> None:
        await self._write("UPDATE jobs SET delivered_at = ? WHERE id = ?", (time.time(), job_id))

    async def count_active(self, *, owner_key: str | None = None, owner_value: Any = None) -> int:
        def read(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(ACTIVE_STATES))
            sql = f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})"
            args: list[Any] = list(ACTIVE_STATES)
            if owner_key is not None:
                sql += " AND json_extract(owner, ?) = ?"
                args += [f"$.{owner_key}", owner_value]
            return int(conn.execute(sql, args).fetchone()[0])

        return await self._run(read)

    async def count_since(self, owner_key: str, owner_value: Any, since: float) -> int:
        """Jobs an owner created since a time (per-key daily quotas)."""
        return await self._run(
            lambda c: int(
                c.execute(
                    "SELECT COUNT(*) FROM jobs WHERE json_extract(owner, ?) = ? AND created_at >= ?",
                    (f"$.{owner_key}", owner_value, since),
                ).fetchone()[0]
            )
        )

    # ------------------------------------------------------------------------------------------------ accounts

    async def save_account(self, key: str, data: dict[str, Any]) -> None:
        raw = dumps(data)
        now = time.time()
        await self._write(
            "INSERT INTO accounts (key, data, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (key, raw, now),
        )

    async def load_accounts(self) -> dict[str, dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            return {row["key"]: loads(row["data"]) for row in conn.execute("SELECT key, data FROM accounts")}

        return await self._run(read)

    # ------------------------------------------------------------------------------------------------ timings

    async def save_timing(self, key: str, data: dict[str, Any]) -> None:
        await self._write(
            "INSERT INTO timings (key, data, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (key, dumps(data), time.time()),
        )

    async def load_timings(self) -> dict[str, dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            return {row["key"]: loads(row["data"]) for row in conn.execute("SELECT key, data FROM timings")}

        return await self._run(read)

    # ------------------------------------------------------------------------------------------------ files

    async def add_file(self, path: str, job_id: str, size: int) -> None:
        now = time.time()
        await self._write(
            "INSERT OR REPLACE INTO files (path, job_id, size, created_at) VALUES (?, ?, ?, ?)",
            (path, job_id, size, now),
        )

    async def files_to_evict(self, *, older_than: float, max_bytes: int) -> list[str]:
        """Files past retention, then the oldest until the total fits under ``max_bytes`` (core.filestore)."""
        steps = filestore.plan(older_than=older_than, max_bytes=max_bytes)
        return await self._run(lambda conn: filestore.walk(lambda sql, args: conn.execute(sql, args).fetchall(), steps))

    async def forget_files(self, paths: Sequence[str]) -> None:
        if paths:
            await self._write("DELETE FROM files WHERE path = ?", [(p,) for p in paths], many=True)


class DiskTimingsStore(MemoryJobStore):
    """Jobs in memory, learned timings in the SQLite store at ``path``: the admin CLI's one-shot jobs stay out of a
    running service's store, yet it polls on the timings the service has learned and teaches it back."""

    def __init__(self, path: str | Path | SqliteJobStore | Any) -> None:  # or a PostgreSQL store (core.backends)
        super().__init__()
        self._disk = SqliteJobStore(path) if isinstance(path, str | Path) else path

    async def open(self) -> None:
        await self._disk.open()

    async def close(self) -> None:
        await self._disk.close()

    async def save_timing(self, key: str, data: dict[str, Any]) -> None:
        await self._disk.save_timing(key, data)

    async def load_timings(self) -> dict[str, dict[str, Any]]:
        return await self._disk.load_timings()
