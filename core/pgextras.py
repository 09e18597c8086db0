"""Settings, prices and usage rows on PostgreSQL (issue #15's calls of ``core.prefstore.SqliteExtras``, issue #16).

Owner matches read inside the owner's JSON (``owner::jsonb -> key``), compared as JSON as SQLite's ``json_extract``
compares them; the asset counts of a usage row come from the result's JSON in the query, so no result is parsed here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.prefstore import CANCELLED_TYPE, UsageRow

_COUNT = "COALESCE(jsonb_array_length(jsonb_path_query_array(result::jsonb, '$.assets[*] ? (@.kind == \"{}\")')), 0)"


def match_sql(match: Mapping[str, Any], first: int) -> tuple[str, list[Any]]:
    """`` AND ...`` clauses for an owner with every key/value of ``match`` (None: absent or null), placeholders from
    ``$first``; and their arguments."""
    clauses: list[str] = []
    args: list[Any] = []
    for key, value in match.items():
        n = first + len(args)
        if value is None:
            clauses.append(f"COALESCE(owner::jsonb -> ${n}, 'null'::jsonb) = 'null'::jsonb")
            args.append(key)
        else:
            clauses.append(f"(owner::jsonb -> ${n}) = ${n + 1}::jsonb")
            args += [key, json.dumps(value, ensure_ascii=False)]
    return "".join(f" AND {c}" for c in clauses), args


class PgExtras:
    """Mixed into ``PgJobStore``."""

    if TYPE_CHECKING:

        async def _fetch(self, sql: str, *args: Any) -> list[Any]: ...

        async def _write(self, sql: Any, args: Sequence[Any] = (), *, many: bool = False) -> Any: ...

    async def load_settings(self, scope: str, subject: str) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT data FROM settings WHERE scope = $1 AND subject = $2", scope, subject)
        return json.loads(rows[0]["data"]) if rows else None

    async def save_settings(self, scope: str, subject: str, data: Mapping[str, Any] | None) -> None:
        """Replace the whole row (``None`` or empty: delete it)."""
        if not data:
            await self._write("DELETE FROM settings WHERE scope = $1 AND subject = $2", (scope, subject))
            return
        raw = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))
        await self._write(
            "INSERT INTO settings (scope, subject, data, updated_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (scope, subject) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (scope, subject, raw, time.time()),
        )

    async def set_credits(self, prices: Mapping[str, float]) -> None:
        """Record what jobs cost, by submit id (from the credit ledger)."""
        if prices:
            rows = [(float(v), k) for k, v in prices.items()]
            await self._write("UPDATE jobs SET credits = $1 WHERE submit_id = $2", rows, many=True)

    async def usage_rows(self, match: Mapping[str, Any], since: float) -> list[UsageRow]:
        """Jobs created at or after ``since`` whose owner has every key/value of ``match`` (None: key absent/null)."""
        where, args = match_sql(match, 2)
        rows = await self._fetch(
            "SELECT id, kind, state, owner, submit_id, account_key, created_at, credits, "
            f"error::jsonb ->> 'type' AS etype, {_COUNT.format('image')} AS images, {_COUNT.format('video')} AS videos "
            f"FROM jobs WHERE created_at >= $1{where} ORDER BY created_at",
            since,
            *args,
        )
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
