"""One poller per account across processes, on PostgreSQL (issue #16): ``core.pollstore.SqlitePolls``'s calls.

Schema 6 (``PG_MIGRATION_6``, the twin of ``core.pollstore.MIGRATION_6``): ``poll_leases`` and ``poll_watches``. Taking
the poll lease is one ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` (free, expired, its process gone, or ours), so two
hosts cannot both take it: the second waits on the row the first wrote and then finds the condition false.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from core.pollstore import Look, Watch

T = TypeVar("T")
Conn = Any

PG_MIGRATION_6 = """
    CREATE TABLE poll_leases (
        account_key TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE poll_watches (
        submit_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        account_key TEXT NOT NULL,
        instance TEXT NOT NULL,
        due_at DOUBLE PRECISION NOT NULL,
        basis DOUBLE PRECISION,
        record TEXT,
        error TEXT,
        seen_at DOUBLE PRECISION
    );
    CREATE INDEX poll_watches_account ON poll_watches(account_key);
"""

_HOLDER = (
    "SELECT instance FROM poll_leases WHERE account_key = $1 AND expires_at >= $2 "
    "AND instance IN (SELECT id FROM instances)"
)


async def _holder(conn: Conn, account_key: str) -> str | None:
    found = await conn.fetchval(_HOLDER, account_key, time.time())
    return None if found is None else str(found)


class PgPolls:
    """Mixed into ``PgJobStore``."""

    if TYPE_CHECKING:

        async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T: ...

        async def _write(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> Any: ...

    async def poll_lease(self, account_key: str, instance: str, expires_at: float) -> str:
        """Take or renew the account's poll lease when it is free or ours; the holder afterwards."""

        async def write(conn: Conn) -> str:
            taken = await conn.fetchval(
                "INSERT INTO poll_leases (account_key, instance, expires_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (account_key) DO UPDATE SET instance = excluded.instance, expires_at = excluded.expires_at "
                "WHERE poll_leases.instance = excluded.instance OR poll_leases.expires_at < $4 "
                "OR poll_leases.instance NOT IN (SELECT id FROM instances) RETURNING instance",
                account_key,
                instance,
                expires_at,
                time.time(),
            )
            if taken is None:
                return await _holder(conn, account_key) or instance  # gone meanwhile: the next call takes it
            # Rows of jobs that ended (their process died before it could delete them) are of no use to anyone.
            await conn.execute(
                "DELETE FROM poll_watches WHERE account_key = $1 AND job_id IN "
                "(SELECT id FROM jobs WHERE state IN ('succeeded','failed'))",
                account_key,
            )
            return str(taken)

        return str(await self._write(write))

    async def poll_release(self, account_key: str, instance: str) -> None:
        await self._write("DELETE FROM poll_leases WHERE account_key = $1 AND instance = $2", (account_key, instance))

    async def watch(self, account_key: str, instance: str, dues: Mapping[str, tuple[str, float, float | None]]) -> None:
        """Ask the account's poller to look at these jobs by their due times: {submit_id: (job_id, due_at, basis)}
        (``basis``: the ``seen_at`` of the newest look used to compute ``due_at``)."""
        if not dues:
            return
        rows = [
            (sid, job_id, account_key, instance, float(due), None if basis is None else float(basis))
            for sid, (job_id, due, basis) in dues.items()
        ]
        await self._write(
            "INSERT INTO poll_watches (submit_id, job_id, account_key, instance, due_at, basis) "
            "VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (submit_id) DO UPDATE SET job_id = excluded.job_id, account_key = excluded.account_key, "
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
            await self._write("DELETE FROM poll_watches WHERE submit_id = ANY($1::text[])", (list(submit_ids),))

    async def watched(self, account_key: str, instance: str) -> tuple[str | None, list[Watch]]:
        """The poller's read: the account's live poll-lease holder, and the jobs other live processes want looked at."""

        async def read(conn: Conn) -> tuple[str | None, list[Watch]]:
            rows = await conn.fetch(
                "SELECT submit_id, due_at, basis FROM poll_watches WHERE account_key = $1 AND instance != $2 "
                "AND instance IN (SELECT id FROM instances)",
                account_key,
                instance,
            )
            watches = [Watch(r["submit_id"], r["due_at"], r["basis"]) for r in rows]
            return await _holder(conn, account_key), watches

        return await self._tx(read)

    async def report(self, looks: Mapping[str, str | None], seen_at: float, error: str | None) -> None:
        """What the poller saw at ``seen_at``: each job's record (JSON text, None: not visible), or the error."""
        if looks:
            await self._write(
                "UPDATE poll_watches SET record = $1, error = $2, seen_at = $3 WHERE submit_id = $4",
                [(rec, error, float(seen_at), sid) for sid, rec in looks.items()],
                many=True,
            )

    async def looks(self, account_key: str, submit_ids: Sequence[str]) -> tuple[str | None, dict[str, Look]]:
        """A watcher's read: the account's live poll-lease holder, and the latest look at each of these jobs."""

        async def read(conn: Conn) -> tuple[str | None, dict[str, Look]]:
            rows = await conn.fetch(
                "SELECT submit_id, record, error, seen_at FROM poll_watches WHERE submit_id = ANY($1::text[]) "
                "AND seen_at IS NOT NULL",
                list(submit_ids),
            )
            found = {r["submit_id"]: Look(r["record"], r["error"], r["seen_at"]) for r in rows}
            return await _holder(conn, account_key), found

        return await self._tx(read)
