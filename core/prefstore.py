"""The store's part of issue #15: server and member settings, and the rows usage and quotas are counted from.

Two mixins with the same four calls, one per store: ``SqliteExtras`` (schema 4 of ``core.store``: table ``settings``,
column ``jobs.credits``) and ``MemoryExtras`` (``core.jobs.MemoryJobStore``). Each settings change is one statement,
so one transaction: a change is saved whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from core.jobs import JobRecord

T = TypeVar("T")

# Schema 4 (core.store.MIGRATIONS): settings per scope ("guild", "member") and subject (its id); the credits each job
# cost, from the accounts' credit ledger (PROTOCOL.md §3.3), NULL until the ledger shows it; usage reads by time.
MIGRATION_4 = """
    CREATE TABLE settings (
        scope TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (scope, subject)
    );
    ALTER TABLE jobs ADD COLUMN credits REAL;
    CREATE INDEX jobs_created ON jobs(created_at);
"""

CANCELLED_TYPE = "JobCancelledError"  # a job cancelled before it was submitted: nothing was spent, nothing counts


@dataclass(frozen=True, slots=True)
class UsageRow:
    """What usage and quotas need of one job (no prompt, no result URLs)."""

    id: str
    kind: str
    state: str
    owner: dict[str, Any]
    submit_id: str
    account_key: str | None
    created_at: float
    images: int
    videos: int
    credits: float | None
    cancelled: bool


def _match_sql(match: Mapping[str, Any]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for key, value in match.items():
        if value is None:
            clauses.append("json_extract(owner, ?) IS NULL")
            args.append(f"$.{key}")
        else:
            clauses.append("json_extract(owner, ?) = ?")
            args += [f"$.{key}", value]
    return "".join(f" AND {c}" for c in clauses), args


def _matches(owner: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    return all(owner.get(k) == v for k, v in match.items())


class SqliteExtras:
    """Mixed into ``SqliteJobStore``; uses its single writer and its read lock."""

    if TYPE_CHECKING:

        async def _write(self, sql: str, args: Any, *, many: bool = False) -> None: ...

        async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def load_settings(self, scope: str, subject: str) -> dict[str, Any] | None:
        def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT data FROM settings WHERE scope = ? AND subject = ?", (scope, subject)).fetchone()
            return json.loads(row[0]) if row else None

        return await self._run(read)

    async def save_settings(self, scope: str, subject: str, data: Mapping[str, Any] | None) -> None:
        """Replace the whole row (``None`` or empty: delete it)."""
        if not data:
            await self._write("DELETE FROM settings WHERE scope = ? AND subject = ?", (scope, subject))
            return
        raw = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))
        await self._write(
            "INSERT INTO settings (scope, subject, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(scope, subject) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (scope, subject, raw, time.time()),
        )

    async def set_credits(self, prices: Mapping[str, float]) -> None:
        """Record what jobs cost, by submit id (from the credit ledger)."""
        if prices:
            rows = [(float(v), k) for k, v in prices.items()]
            await self._write("UPDATE jobs SET credits = ? WHERE submit_id = ?", rows, many=True)

    async def usage_rows(self, match: Mapping[str, Any], since: float) -> list[UsageRow]:
        """Jobs created at or after ``since`` whose owner has every key/value of ``match`` (None: key absent/null)."""
        where, args = _match_sql(match)

        def read(conn: sqlite3.Connection) -> list[UsageRow]:
            rows = conn.execute(
                "SELECT id, kind, state, owner, submit_id, account_key, created_at, credits, "
                "json_extract(error, '$.type') AS etype, "
                "(SELECT COUNT(*) FROM json_each(result, '$.assets') WHERE json_extract(value, '$.kind') = 'image') "
                "AS images, "
                "(SELECT COUNT(*) FROM json_each(result, '$.assets') WHERE json_extract(value, '$.kind') = 'video') "
                f"AS videos FROM jobs WHERE created_at >= ?{where} ORDER BY created_at",
                [since, *args],
            ).fetchall()
            return [
                UsageRow(
                    id=r["id"],
                    kind=r["kind"],
                    state=r["state"],
                    owner=json.loads(r["owner"]) if r["owner"] else {},
                    submit_id=r["submit_id"],
                    account_key=r["account_key"],
                    created_at=r["created_at"],
                    images=int(r["images"] or 0),
                    videos=int(r["videos"] or 0),
                    credits=r["credits"],
                    cancelled=r["etype"] == CANCELLED_TYPE,
                )
                for r in rows
            ]

        return await self._run(read)


class MemoryExtras:
    """Mixed into ``MemoryJobStore`` (settings and prices live as long as the process)."""

    _records: dict[str, JobRecord]

    def _extras(self) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, float]]:
        if not hasattr(self, "_settings_rows"):
            self._settings_rows: dict[tuple[str, str], dict[str, Any]] = {}
            self._prices: dict[str, float] = {}
        return self._settings_rows, self._prices

    async def load_settings(self, scope: str, subject: str) -> dict[str, Any] | None:
        row = self._extras()[0].get((scope, subject))
        return json.loads(json.dumps(row)) if row is not None else None

    async def save_settings(self, scope: str, subject: str, data: Mapping[str, Any] | None) -> None:
        rows = self._extras()[0]
        if not data:
            rows.pop((scope, subject), None)
        else:
            rows[(scope, subject)] = json.loads(json.dumps(dict(data)))

    async def set_credits(self, prices: Mapping[str, float]) -> None:
        self._extras()[1].update({k: float(v) for k, v in prices.items()})

    async def usage_rows(self, match: Mapping[str, Any], since: float) -> list[UsageRow]:
        prices = self._extras()[1]
        out: list[UsageRow] = []
        for r in sorted(self._records.values(), key=lambda r: r.created_at):
            if r.created_at < since or not _matches(r.owner, match):
                continue
            assets = (r.result or {}).get("assets") or []
            out.append(
                UsageRow(
                    id=r.id,
                    kind=r.kind,
                    state=r.state,
                    owner=dict(r.owner),
                    submit_id=r.submit_id,
                    account_key=r.account_key,
                    created_at=r.created_at,
                    images=sum(1 for a in assets if isinstance(a, dict) and a.get("kind") == "image"),
                    videos=sum(1 for a in assets if isinstance(a, dict) and a.get("kind") == "video"),
                    credits=prices.get(r.submit_id),
                    cancelled=(r.error or {}).get("type") == CANCELLED_TYPE,
                )
            )
        return out
