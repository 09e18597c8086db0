"""``/token/check``, ``/token/points``, ``/token/receive`` (the seed gateway's account helpers; Bearer mode only).

In server mode the accounts belong to the operator and callers never hand in session ids, so these answer 403.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.body import read_input
from api.errors import ApiError
from api.handlers.common import caller_of, engine_of, parse
from api.keys import AUTH
from api.schemas import TokenCheckRequest
from core import AccountStatus, ClaimResult


def _server_mode_refusal() -> ApiError:
    return ApiError(
        403,
        "the token endpoints take session ids, which this server does not accept (it runs on its own accounts)",
        type="permission_error",
        code="session_ids_not_accepted",
    )


def _row(status: AccountStatus) -> dict[str, Any]:
    credits = status.credits.to_dict() if status.credits is not None else None
    return {
        "token": status.masked,
        "region": status.region,
        "state": status.state,
        "credits": credits,
        "error": status.last_error,
    }


async def check(request: web.Request) -> web.Response:
    if request.app[AUTH].mode == "server":
        raise _server_mode_refusal()
    req = parse(TokenCheckRequest, (await read_input(request)).fields)
    live = await engine_of(request).check_token(req.token)
    return web.json_response({"live": live})


async def points(request: web.Request) -> web.Response:
    caller = caller_of(request)
    if caller.mode == "server":
        raise _server_mode_refusal()
    rows = await engine_of(request).refresh_credits(caller.accounts)
    return web.json_response({"object": "list", "data": [_row(r) for r in rows]})


async def receive(request: web.Request) -> web.Response:
    caller = caller_of(request)
    if caller.mode == "server":
        raise _server_mode_refusal()
    engine = engine_of(request)
    claims: list[ClaimResult] = await engine.claim_daily(caller.accounts)
    statuses = engine.status(caller.accounts)
    data = []
    for claim, status in zip(claims, statuses, strict=True):
        row = _row(status)
        row["claim"] = {"ok": claim.ok, "granted": claim.granted, "already": claim.already, "message": claim.message}
        data.append(row)
    return web.json_response({"object": "list", "data": data})
