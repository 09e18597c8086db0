"""``GET /v1/usage``: the caller's own jobs and credits per Jimeng day (Beijing midnight), and its daily quota.

Only the caller's own jobs: they are matched on the fingerprint of the caller's key (or session ids), never on
anything the request says. Credits are the prices the accounts' credit ledger showed (``priced`` jobs of ``jobs``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.errors import bad_request
from api.handlers.common import caller_of, engine_of
from api.keys import QUOTA
from core.usage import WINDOW_DAYS, Totals


def _totals(t: Totals) -> dict[str, Any]:
    return t.to_dict()


async def usage(request: web.Request) -> web.Response:
    raw = request.query.get("days", str(WINDOW_DAYS))
    if not raw.isdigit() or not 1 <= int(raw) <= WINDOW_DAYS:
        raise bad_request(f"days must be a whole number from 1 to {WINDOW_DAYS}", param="days")
    days = int(raw)
    caller, engine, quota = caller_of(request), engine_of(request), request.app[QUOTA]
    report = await quota.report(caller, engine)
    status = await quota.status(caller, engine)
    return web.json_response(
        {
            "object": "list",
            "owner": caller.label,
            "day_starts": "00:00 Asia/Shanghai",
            "today": _totals(report.today),
            "last_7_days": _totals(report.week),
            "last_30_days": _totals(report.month),
            "quota": None
            if status.limit is None
            else {
                "unit": status.unit,
                "limit": status.limit,
                "used": status.used,
                "remaining": status.remaining,
                "resets_at": round(status.resets_at),
            },
            "resets_at": round(report.resets_at),
            "data": [
                {"object": "usage.day", "date": d.day.isoformat(), **_totals(d.totals)} for d in report.days[-days:]
            ],
        }
    )
