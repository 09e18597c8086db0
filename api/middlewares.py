"""Authentication: every route except health checks (and ``/token/check`` in Bearer mode) needs a caller."""

from __future__ import annotations

from aiohttp import web

from api.errors import Handler
from api.keys import AUTH, CALLER, REDACTOR, SERVICES

PUBLIC = frozenset({"/ping", "/healthz", "/readyz"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None or request.path in PUBLIC or request.method == "OPTIONS":
        return await handler(request)
    auth = request.app[AUTH]
    if auth.mode == "bearer" and request.path == "/token/check":
        return await handler(request)
    caller = auth.authenticate(request, request.app[SERVICES].engine)
    redactor = request.app.get(REDACTOR)
    if redactor is not None and caller.tokens:
        redactor.add(*(t.sessionid for t in caller.tokens))
    request[CALLER] = caller
    return await handler(request)
