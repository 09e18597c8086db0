"""One middleware maps every failure to an OpenAI error body ``{"error": {"message", "type", "param", "code"}}``.

Core errors are classified once, here (STYLE §4). Nothing unexpected reaches a client: an unknown exception becomes a
generic 500 and a full ``log.exception``. Messages of core errors are safe by construction (no secrets, no URLs).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from api.keys import CALLER, STREAMING
from core import (
    AuthError,
    ContentRejectedError,
    DecodeError,
    GenerationFailedError,
    InvalidRequestError,
    JimengError,
    JobTimeoutError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RegionError,
    RequestTimeoutError,
    TransportError,
    UploadError,
    UpstreamError,
    UpstreamRejectedError,
)
from core.accounts import CHINA_TZ

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error we answer with ourselves (auth, 404, body too large, ...)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> web.Response:
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return web.json_response(self.body(), status=self.status, headers=headers)


class UpstreamUploadError(JimengError):
    """A reference image that was fine on our side could not be uploaded to Jimeng (an upstream fault, not the
    caller's): raised by ``api`` when an ``UploadError`` comes out of a running job rather than from validation."""

    kind = "upload_upstream"


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def seconds_to_china_midnight(now: float | None = None) -> float:
    current = datetime.fromtimestamp(now if now is not None else time.time(), CHINA_TZ)
    midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    return (midnight - current).total_seconds()


def from_core(err: JimengError, *, server_mode: bool = False) -> ApiError:
    """The HTTP face of a core error."""
    msg = err.message
    if isinstance(err, InvalidRequestError):
        return ApiError(400, msg, param=err.param, code="invalid_value")
    if isinstance(err, UploadError):
        return ApiError(400, msg, param="image", code="invalid_image")
    if isinstance(err, UpstreamUploadError):
        return ApiError(502, msg, type="upstream_error", code="upload_failed")
    if isinstance(err, ContentRejectedError):
        return ApiError(400, msg, param="prompt", code="content_policy_violation")
    if isinstance(err, AuthError):
        if server_mode:  # the server's own Jimeng session died: not the caller's key
            return ApiError(502, msg, type="upstream_error", code="upstream_session_invalid")
        return ApiError(401, msg, type="invalid_request_error", code="invalid_api_key")
    if isinstance(err, QuotaError):
        return ApiError(
            429, msg, type="insufficient_quota", code="insufficient_quota", retry_after=seconds_to_china_midnight()
        )
    if isinstance(err, RateLimitError):
        return ApiError(
            429,
            msg,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            retry_after=err.retry_after if err.retry_after is not None else 15.0,
        )
    if isinstance(err, NoAccountError):
        return ApiError(503, msg, type="server_error", code="no_account")
    if isinstance(err, RequestTimeoutError | JobTimeoutError):
        return ApiError(504, msg, type="upstream_error", code="upstream_timeout")
    if isinstance(err, GenerationFailedError):
        return ApiError(502, msg, type="upstream_error", code="generation_failed")
    if isinstance(err, RegionError | UpstreamRejectedError | UpstreamError | TransportError | DecodeError):
        return ApiError(502, msg, type="upstream_error", code="upstream_error")
    return ApiError(500, msg, type="server_error", code="internal_error")


def from_validation(exc: ValidationError, *, renames: Mapping[str, str] | None = None) -> ApiError:
    """The first problem of a pydantic validation, naming the parameter and never echoing the value."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = [str(p) for p in first.get("loc", ())]
    param = ".".join(loc) or None
    if param and renames:
        param = renames.get(param, param)
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return bad_request(f"unknown parameter '{param}'", param=param, code="unknown_parameter")
    if kind == "missing":
        return bad_request(f"missing required parameter '{param}'", param=param, code="missing_required_parameter")
    return bad_request(f"invalid value for '{param}': {first.get('msg', 'invalid')}", param=param)


@contextmanager
def renamed_params(renames: Mapping[str, str]) -> Iterator[None]:
    """Report a core ``InvalidRequestError`` under the name the caller used (``duration`` → ``seconds``)."""
    try:
        yield
    except InvalidRequestError as err:
        if err.param is not None and err.param in renames:
            err.param = renames[err.param]
        raise


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
