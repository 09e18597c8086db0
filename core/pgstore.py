"""The job store on PostgreSQL (issue #16): what ``core.store.SqliteJobStore`` keeps, for processes on several hosts.

Chosen when the entry points are given ``JIMENG_DATABASE_URL`` (``core.backends.make_store``). Same calls, same tables
(``core.pgschema``), same meaning; the settings and usage calls are ``core.pgextras``, the calls where processes meet
(instances, slots, claims, adoption) ``core.pgleases``, one poller per account ``core.pgpolls``, completion announcements ``core.pgnotify``.

Writes queue and one writer commits everything queued in one transaction, in the order queued (as on SQLite): a job's
saves never overtake each other, and a slot given back is committed before a take queued after it. Reads go through a
small connection pool. A connection problem becomes ``StoreUnavailableError`` (a ``JimengError``: front ends refuse
new jobs with it) and marks the store unavailable until a statement succeeds again; the job itself writes through
``core.ledger``, which logs a failed save and goes on, so jobs in flight finish while the database is away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import asyncpg

from core import filestore
from core.errors import StoreUnavailableError
from core.jobs import ACTIVE_STATES, JobRecord
from core.leases import settle
from core.pgextras import PgExtras
from core.pgleases import PgLeases, SlotTake
from core.pgnotify import Listener, check_channel, mask_url
from core.pgpolls import PgPolls
from core.pgschema import migrate
from core.store import JOB_COLUMNS, dumps, loads, record_from_row, row_of

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0  # an unreachable database is reported after this, not after asyncpg's 60 s
COMMAND_TIMEOUT_S = 30.0  # as SQLite's busy timeout: a statement waits this long for another process's lock
POOL_SIZE = 8
RECHECK_S = 1.0  # a store not heard from for this long is asked (SELECT 1) before a new job is accepted
# What a lost or unreachable server looks like to asyncpg (refused, reset, closed, shutting down, timed out).
LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)
Conn = Any  # an asyncpg connection (asyncpg ships no type information)
Work = str | Callable[[Conn], Awaitable[Any]]
Batch = list[tuple[Work, Sequence[Any], bool, "asyncio.Future[Any]"]]

_ACTIVE = sorted(ACTIVE_STATES)
_SAVE = (
    f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, 19))}) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
    "account_key = COALESCE(excluded.account_key, jobs.account_key), "
    "history_id = COALESCE(excluded.history_id, jobs.history_id), body = COALESCE(excluded.body, jobs.body), "
    "result = excluded.result, error = excluded.error, finished = excluded.finished, total = excluded.total, "
    "delivered_at = COALESCE(excluded.delivered_at, jobs.delivered_at), updated_at = excluded.updated_at, "
    "refs = COALESCE(excluded.refs, jobs.refs), instance = COALESCE(excluded.instance, jobs.instance)"
)
OWNER_IS = "(owner::jsonb -> ${k}) = ${v}::jsonb"  # json_extract(owner, '$.key') = value, typed as JSON


class PgJobStore(PgExtras, PgLeases, PgPolls):
    """Jobs, account state, learned timings, kept files, settings, usage and leases in one PostgreSQL database."""

    def __init__(self, url: str, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self.connect_timeout = connect_timeout
        self.available = True  # False from a connection problem until a statement succeeds again
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._queue: Batch = []
        self._writer: asyncio.Task[None] | None = None
        self._heard_at = 0.0
        self._listener = Listener(url, connect_timeout)

    # ------------------------------------------------------------------------------------------------ plumbing

    async def open(self) -> None:
        async with self._opening:
            if self._pool is not None:
                return
            try:
                pool = await asyncpg.create_pool(
                    self.url,
                    min_size=0,  # no floor to restore: asyncpg would log a traceback for it while the server is away
                    max_size=POOL_SIZE,
                    timeout=self.connect_timeout,
                    command_timeout=COMMAND_TIMEOUT_S,
                )
                try:
                    async with pool.acquire() as conn:
                        await migrate(conn)
                except BaseException:
                    pool.terminate()
                    raise
            except (*LOST, asyncpg.PostgresError) as exc:  # refused, unknown host, bad password, no such database
                self.available = False
                reason = str(exc).strip() or type(exc).__name__
                raise StoreUnavailableError(f"cannot reach the job store at {self.masked_url}: {reason}") from exc
            self._pool = pool
            self.available, self._heard_at = True, time.monotonic()

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._listener.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, *LOST):
                pool.terminate()

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """A connection problem inside becomes ``StoreUnavailableError``; success marks the store reachable."""
        try:
            yield
        except LOST as exc:
            if self.available:
                log.warning("job store %s unreachable: %s", self.masked_url, type(exc).__name__)
            self.available = False
            raise StoreUnavailableError(
                f"the job store is unreachable ({self.masked_url}); new jobs are refused until it is back"
            ) from exc
        if not self.available:
            log.warning("job store %s is reachable again", self.masked_url)
        self.available, self._heard_at = True, time.monotonic()

    async def _ready(self) -> Any:
        if self._pool is None:
            await self.open()
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        pool = await self._ready()
        async with self._guard():
            return list(await pool.fetch(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        pool = await self._ready()
        async with self._guard():
            return await pool.fetchval(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> None:
        pool = await self._ready()
        async with self._guard():
            await pool.execute(sql, *args)

    async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn(conn)`` in one transaction of its own (read-then-write calls)."""
        pool = await self._ready()
        async with self._guard(), pool.acquire() as conn, conn.transaction():
            return await fn(conn)

    async def check(self) -> None:
        """Raise ``StoreUnavailableError`` when the database cannot be reached now (asked at most every second)."""
        if not self.available or time.monotonic() - self._heard_at > RECHECK_S:
            await self._fetchval("SELECT 1")

    async def _write(self, sql: Work, args: Sequence[Any] = (), *, many: bool = False) -> Any:
        return await self._enqueue(sql, args, many=many)

    def _enqueue(self, sql: Work, args: Sequence[Any] = (), *, many: bool = False) -> asyncio.Future[Any]:
        """Queue a statement, or a function of the connection whose answer the future gets, for the writer's next
        transaction. Committed in the order queued."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, args, many, fut))
        if self._writer is None or self._writer.done():  # a few loop steps late, as on SQLite (core.leases.settle)
            self._writer = asyncio.create_task(settle(self._drain()), name="job-store-writer")
        return fut

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                answers = await self._tx(partial(self._commit, batch=batch))
            except Exception as exc:  # report it to every waiting writer
                for fut in (f for *_, f in batch if not f.done()):
                    fut.set_exception(exc)
                continue
            for (*_, fut), answer in zip(batch, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)

    @staticmethod
    async def _commit(conn: Conn, *, batch: Batch) -> list[Any]:
        # Accounts whose slots this batch takes are locked first, in one order, so two hosts' batches cannot deadlock.
        for key in sorted({w.account for w, *_ in batch if isinstance(w, SlotTake)}):
            await SlotTake.lock(conn, key)
        answers: list[Any] = []
        i = 0
        while i < len(batch):
            work, args, many, _ = batch[i]
            if callable(work):
                answers.append(await work(conn))
                i += 1
                continue
            if many:
                await conn.executemany(work, args)
                answers.append(None)
                i += 1
                continue
            # A run of the same statement (saves of many jobs): one pipelined executemany, in order.
            j = i + 1
            while j < len(batch) and batch[j][0] == work and not batch[j][2]:
                j += 1
            if j - i > 1:
                await conn.executemany(work, [item[1] for item in batch[i:j]])
            else:
                await conn.execute(work, *args)
            answers += [None] * (j - i)
            i = j
        return answers

    # ------------------------------------------------------------------------------------------------ announcements

    async def announce(self, channel: str) -> None:
        """Wake every process waiting on ``channel`` (NOTIFY; delivered once committed)."""
        await self._execute("SELECT pg_notify($1, '')", check_channel(channel))

    async def wait_announce(self, channel: str, timeout: float) -> None:  # noqa: ASYNC109 (a wait, not a deadline)
        """Return when ``channel`` is announced, or after ``timeout`` seconds (one LISTEN connection per store)."""
        await self._listener.wait(check_channel(channel), timeout)

    # ------------------------------------------------------------------------------------------------ jobs

    async def save(self, record: JobRecord) -> None:
        record.updated_at = time.time()
        values = row_of(record, self.instance)
        await self._write(_SAVE, values)

    async def get(self, job_id: str) -> JobRecord | None:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return record_from_row(rows[0]) if rows else None

    async def list_owner(self, key: str, value: Any, limit: int = 20) -> list[JobRecord]:
        where = OWNER_IS.format(k=1, v=2)
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY created_at DESC LIMIT $3"
        return [record_from_row(r) for r in await self._fetch(sql, key, dumps(value), limit)]

    async def active(self) -> list[JobRecord]:
        """Every job that has not reached a terminal state, oldest first."""
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = ANY($1::text[]) ORDER BY created_at"
        return [record_from_row(r) for r in await self._fetch(sql, _ACTIVE)]

    async def undelivered(self) -> list[JobRecord]:
        sql = (
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('succeeded','failed') AND delivered_at IS NULL "
            "ORDER BY updated_at"
        )
        return [record_from_row(r) for r in await self._fetch(sql)]

    async def mark_delivered(self, job_id: str) -> None:
        await self._write("UPDATE jobs SET delivered_at = $1 WHERE id = $2", (time.time(), job_id))

    async def count_active(self, *, owner_key: str | None = None, owner_value: Any = None) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE state = ANY($1::text[])"
        if owner_key is None:
            return int(await self._fetchval(sql, _ACTIVE))
        sql += " AND " + OWNER_IS.format(k=2, v=3)
        return int(await self._fetchval(sql, _ACTIVE, owner_key, dumps(owner_value)))

    async def count_since(self, owner_key: str, owner_value: Any, since: float) -> int:
        sql = f"SELECT COUNT(*) FROM jobs WHERE {OWNER_IS.format(k=1, v=2)} AND created_at >= $3"
        return int(await self._fetchval(sql, owner_key, dumps(owner_value), since))

    # ------------------------------------------------------------------------------------------------ accounts

    async def save_account(self, key: str, data: dict[str, Any]) -> None:
        await self._write(
            "INSERT INTO accounts (key, data, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (key, dumps(data), time.time()),
        )

    async def load_accounts(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: loads(r["data"]) for r in await self._fetch("SELECT key, data FROM accounts")}

    # ------------------------------------------------------------------------------------------------ timings

    async def save_timing(self, key: str, data: dict[str, Any]) -> None:
        await self._write(
            "INSERT INTO timings (key, data, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (key, dumps(data), time.time()),
        )

    async def load_timings(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: loads(r["data"]) for r in await self._fetch("SELECT key, data FROM timings")}

    # ------------------------------------------------------------------------------------------------ files

    async def add_file(self, path: str, job_id: str, size: int) -> None:
        await self._write(
            "INSERT INTO files (path, job_id, size, created_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (path) DO UPDATE SET job_id = excluded.job_id, size = excluded.size, "
            "created_at = excluded.created_at",
            (path, job_id, size, time.time()),
        )

    async def files_to_evict(self, *, older_than: float, max_bytes: int) -> list[str]:
        """Files past retention, then the oldest until the total fits under ``max_bytes`` (core.filestore)."""
        return await filestore.walk_async(self._fetch, filestore.plan(older_than=older_than, max_bytes=max_bytes))

    async def forget_files(self, paths: Sequence[str]) -> None:
        if paths:
            await self._write("DELETE FROM files WHERE path = $1", [(p,) for p in paths], many=True)
