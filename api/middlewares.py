"""The middlewares, outermost first: errors (every failure becomes an OpenAI error body), then authentication.

Nothing unexpected reaches a client: an unknown exception becomes a generic 500 and a full ``log.exception``. Every
route except health checks (and ``/token/check`` in Bearer mode) needs a caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from api.errors import ApiError, from_core, from_validation
from api.keys import AUTH, CALLER, REDACTOR, SERVICES, STREAMING
from core import JimengError
from core.links import FILES_PATH

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC = frozenset({"/ping", "/healthz", "/readyz"})

_HTTP_CODES = {
    404: ("not_found", "invalid_request_error"),
    405: ("method_not_allowed", "invalid_request_error"),
    413: ("request_too_large", "invalid_request_error"),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if request.get(STREAMING):
            log.warning(
                "%s %s: failed after the response started (%s)", request.method, request.path, type(exc).__name__
            )
            raise
        api_error = _to_api_error(request, exc)
        if api_error is None:
            raise
        status = api_error.status
        return api_error.response()
    finally:
        log.debug("%s %s → %s in %.3fs", request.method, request.path, status, time.monotonic() - started)


def _to_api_error(request: web.Request, exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JimengError):
        caller = request.get(CALLER)
        err = from_core(exc, server_mode=caller is not None and caller.mode == "server")
        if err.status >= 500:
            log.warning("%s %s: %s (%s)", request.method, request.path, exc.message, type(exc).__name__)
        return err
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        code, kind = _HTTP_CODES.get(exc.status, ("http_error", "invalid_request_error"))
        message = exc.reason if exc.status != 413 else "the request body is too large"
        return ApiError(exc.status, message, type=kind, code=code)
    log.error("unexpected error in %s %s", request.method, request.path, exc_info=exc)
    return ApiError(500, "internal server error", type="server_error", code="internal_error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None or request.path in PUBLIC or request.method == "OPTIONS":
        return await handler(request)
    if request.path.startswith(FILES_PATH + "/"):  # signed result links carry their own credential
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
