"""Where processes meet, on PostgreSQL (issue #16): ``core.leases.SqliteLeases``'s calls for processes on several hosts.

Same tables (schema 5, ``core.pgschema``), same meaning. Read-then-write calls cannot race across hosts: taking a slot
holds a transaction-scoped advisory lock on its account (``SlotTake``; it rides in the store's batched write
transaction, which takes the locks of all its accounts first, in one order), beginning a claim one on the account and
day, and adoption is one conditional UPDATE of the job's row (a second adopter waits for the first's commit and then
finds the row no longer matches).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from core.jobs import ACTIVE_STATES
from core.leases import Instance

T = TypeVar("T")
Conn = Any
_ACTIVE = sorted(ACTIVE_STATES)
SLOT_LOCKS = 0x510  # advisory lock namespaces (the first int of pg_advisory_xact_lock(int, int))
CLAIM_LOCKS = 0xC1A


class SlotTake:
    """Take one of an account's ``limit`` slots for a job (a unit of the store's write batch)."""

    def __init__(self, account: str, job_id: str, instance: str, limit: int) -> None:
        self.account, self.job_id, self.instance, self.limit = account, job_id, instance, limit

    @staticmethod
    async def lock(conn: Conn, account: str) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", SLOT_LOCKS, account)

    async def __call__(self, conn: Conn) -> bool:
        # Under the account's lock (taken by the batch first): count and insert in one round trip.
        taken = await conn.fetchval(_TAKE_SLOT, self.job_id, self.account, self.instance, time.time(), self.limit)
        return taken is not None


_TAKE_SLOT = (
    "INSERT INTO slots (job_id, account_key, instance, taken_at) SELECT $1, $2, $3, $4 "
    "WHERE (SELECT COUNT(*) FROM slots WHERE account_key = $2 AND job_id != $1) < $5 "
    "ON CONFLICT (job_id) DO UPDATE SET account_key = excluded.account_key, instance = excluded.instance, "
    "taken_at = excluded.taken_at RETURNING 1"
)
_PUT_SLOT = (
    "INSERT INTO slots (job_id, account_key, instance, taken_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (job_id) DO UPDATE SET account_key = excluded.account_key, instance = excluded.instance, "
    "taken_at = excluded.taken_at"
)


class PgLeases:
    """Mixed into ``PgJobStore``."""

    instance: str | None = None  # this process's id: ``save`` writes it into ``jobs.instance``

    if TYPE_CHECKING:

        async def _fetch(self, sql: str, *args: Any) -> list[Any]: ...

        async def _fetchval(self, sql: str, *args: Any) -> Any: ...

        async def _execute(self, sql: str, *args: Any) -> None: ...

        async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T: ...

        async def _write(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> Any: ...

        def _enqueue(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> asyncio.Future[Any]: ...

    # ------------------------------------------------------------------------------------------------ instances

    async def renew_instance(self, instance: str, host: str, pid: int, expires_at: float) -> bool:
        """Register or renew this process's lease; False when its row was gone (written again either way)."""

        async def write(conn: Conn) -> bool:
            renewed = await conn.execute(
                "UPDATE instances SET expires_at = $1, host = $2, pid = $3 WHERE id = $4",
                expires_at,
                host,
                pid,
                instance,
            )
            if renewed != "UPDATE 0":
                return True
            await conn.execute(
                "INSERT INTO instances (id, host, pid, started_at, expires_at) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
                instance,
                host,
                pid,
                time.time(),
                expires_at,
            )
            return False

        return await self._tx(write)

    async def instances(self) -> list[Instance]:
        rows = await self._fetch("SELECT id, host, pid, expires_at FROM instances")
        return [Instance(r["id"], r["host"], r["pid"], r["expires_at"]) for r in rows]

    async def forget_instances(self, dead: Sequence[str]) -> None:
        """Drop dead instances' rows, then every slot that no longer holds anything."""

        async def write(conn: Conn) -> None:
            if dead:
                await conn.execute("DELETE FROM instances WHERE id = ANY($1::text[])", list(dead))
            await conn.execute(
                "DELETE FROM slots WHERE instance NOT IN (SELECT id FROM instances) AND job_id NOT IN "
                "(SELECT id FROM jobs WHERE state = ANY($1::text[]))",
                _ACTIVE,
            )
            await conn.execute(
                "DELETE FROM slots WHERE job_id IN (SELECT id FROM jobs WHERE state IN ('succeeded','failed'))"
            )

        await self._tx(write)

    # ------------------------------------------------------------------------------------------------ slots

    async def take_slot(self, account_key: str, job_id: str, instance: str, limit: int) -> bool:
        """Take one of the account's ``limit`` slots for a job, if fewer than that are held by every process."""
        return bool(await self.take_slot_soon(account_key, job_id, instance, limit))

    def take_slot_soon(self, account_key: str, job_id: str, instance: str, limit: int) -> asyncio.Future[Any]:
        """``take_slot`` queued at once, answered by the writer's next transaction (as on SQLite)."""
        return self._enqueue(SlotTake(account_key, job_id, instance, limit))

    def give_slot(self, job_id: str, instance: str) -> asyncio.Future[Any]:
        """Give back our slot for a job; queued at once, before any take that follows."""
        return self._enqueue("DELETE FROM slots WHERE job_id = $1 AND instance = $2", (job_id, instance))

    async def slots_held(self, account_key: str) -> int:
        return int(await self._fetchval("SELECT COUNT(*) FROM slots WHERE account_key = $1", account_key))

    # ------------------------------------------------------------------------------------------------ jobs

    async def orphans(self, *, terminal: bool) -> dict[str, str | None]:
        """Jobs whose process is gone: active ones, or (``terminal``) finished ones never delivered."""
        gone = "(instance IS NULL OR instance NOT IN (SELECT id FROM instances)) ORDER BY created_at"
        if terminal:
            sql = f"SELECT id, instance FROM jobs WHERE delivered_at IS NULL AND state IN ('succeeded','failed') AND {gone}"
            rows = await self._fetch(sql)
        else:
            rows = await self._fetch(f"SELECT id, instance FROM jobs WHERE state = ANY($1::text[]) AND {gone}", _ACTIVE)
        return {r["id"]: r["instance"] for r in rows}

    async def adopt(self, job_id: str, was: str | None, instance: str, slot_account: str | None) -> bool:
        """Make a dead process's job ours, if no other process adopted it first (its slot moves with it)."""

        async def write(conn: Conn) -> bool:
            moved = await conn.execute(
                "UPDATE jobs SET instance = $1 WHERE id = $2 AND instance IS NOT DISTINCT FROM $3",
                instance,
                job_id,
                was,
            )
            if moved == "UPDATE 0":
                return False
            if slot_account is None:
                await conn.execute("DELETE FROM slots WHERE job_id = $1", job_id)
            else:
                await conn.execute(_PUT_SLOT, job_id, slot_account, instance, time.time())
            return True

        return await self._tx(write)

    async def owners(self, job_ids: Sequence[str]) -> dict[str, str | None]:
        if not job_ids:
            return {}
        rows = await self._fetch("SELECT id, instance FROM jobs WHERE id = ANY($1::text[])", list(job_ids))
        return {r["id"]: r["instance"] for r in rows}

    async def disown(self, job_id: str) -> None:
        await self._execute("UPDATE jobs SET instance = NULL WHERE id = $1", job_id)

    # ------------------------------------------------------------------------------------------------ daily claim

    async def begin_claim(self, account_key: str, day: str, instance: str, expires_at: float) -> bool:
        """The right to claim an account's credits for a day (False: done, or being done by a live claim)."""

        async def write(conn: Conn) -> bool:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", CLAIM_LOCKS, f"{account_key}/{day}")
            row = await conn.fetchrow(
                "SELECT done, expires_at FROM claims WHERE account_key = $1 AND day = $2", account_key, day
            )
            if row is not None and (row["done"] or row["expires_at"] > time.time()):
                return False
            await conn.execute(
                "INSERT INTO claims (account_key, day, instance, done, expires_at) VALUES ($1, $2, $3, 0, $4) "
                "ON CONFLICT (account_key, day) DO UPDATE SET instance = excluded.instance, done = 0, "
                "expires_at = excluded.expires_at",
                account_key,
                day,
                instance,
                expires_at,
            )
            return True

        return await self._tx(write)

    async def end_claim(self, account_key: str, day: str, *, done: bool) -> None:
        sql = (
            "UPDATE claims SET done = 1 WHERE account_key = $1 AND day = $2"
            if done
            else "DELETE FROM claims WHERE account_key = $1 AND day = $2"
        )
        await self._execute(sql, account_key, day)

    # ------------------------------------------------------------------------------------------------ refresh

    async def changed_since(self, table: str, since: float) -> dict[str, dict[str, Any]]:
        """Rows of ``accounts`` or ``timings`` written (by any process) since a time."""
        if table not in ("accounts", "timings"):
            raise ValueError(table)
        rows = await self._fetch(f"SELECT key, data FROM {table} WHERE updated_at >= $1", since)
        return {r["key"]: json.loads(r["data"]) for r in rows if r["data"]}
