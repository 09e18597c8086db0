"""``/ping``, ``/healthz`` (the process answers) and ``/readyz`` (it can take jobs)."""

from __future__ import annotations

from aiohttp import web

from api.keys import AUTH, SERVICES
from core.backends import accepting
from core.errors import StoreUnavailableError


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="pong")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not services.ready:
        return web.json_response({"status": "starting"}, status=503)
    try:  # the job store (PostgreSQL) away: no new job can be kept, send callers to another process
        await accepting(services.engine.store)
    except StoreUnavailableError as err:
        return web.json_response({"status": "store_unavailable", "message": err.message}, status=503)
    if request.app[AUTH].mode == "bearer":
        return web.json_response({"status": "ready", "mode": "bearer"})
    states = [s.state for s in services.engine.status()]
    usable = sum(1 for s in states if s == "ok")
    body = {
        "status": "ready" if usable else "no_usable_account",
        "mode": "server",
        "accounts": len(states),
        "usable": usable,
    }
    return web.json_response(body, status=200 if usable else 503)
