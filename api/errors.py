"""The API's error vocabulary: ``ApiError`` (an OpenAI error body ``{"error": {"message", "type", "param", "code"}}``
with its status), and the mapping of core's error classes and of pydantic's validation errors onto it.

Core classifies errors (STYLE §4); this module only maps each class to a status, a type and a code. The middleware
that turns every failure into such a body is ``api.middlewares.error_middleware``. Messages of core errors are safe by
construction (no secrets, no URLs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from core import (
    AuthError,
    ContentRejectedError,
    DecodeError,
    GenerationFailedError,
    InvalidRequestError,
    JimengError,
    JobCancelledError,
    JobTimeoutError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RegionError,
    RequestTimeoutError,
    StoreUnavailableError,
    TransportError,
    UploadError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamUploadError,
)

# Core's validation codes whose OpenAI code is not the generic "invalid_value".
_INVALID_CODES = {"no_images": "missing_required_parameter"}


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
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.close = close  # the connection cannot carry another request (its body was unreadable)
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
        resp = web.json_response(self.body(), status=self.status, headers=headers)
        if self.close:
            resp.force_close()
        return resp


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def from_core(err: JimengError, *, server_mode: bool = False) -> ApiError:
    """The HTTP face of a core error."""
    msg = err.message
    if isinstance(err, InvalidRequestError):
        return ApiError(400, msg, param=err.param, code=_INVALID_CODES.get(err.code or "", "invalid_value"))
    if isinstance(err, UpstreamUploadError):  # before UploadError: it is one, but upstream's fault
        return ApiError(502, msg, type="upstream_error", code="upload_failed")
    if isinstance(err, UploadError):
        return ApiError(400, msg, param="image", code="invalid_image")
    if isinstance(err, ContentRejectedError):
        return ApiError(400, msg, param="prompt", code="content_policy_violation")
    if isinstance(err, AuthError):
        if server_mode:  # the server's own Jimeng session died: not the caller's key
            return ApiError(502, msg, type="upstream_error", code="upstream_session_invalid")
        return ApiError(401, msg, type="invalid_request_error", code="invalid_api_key")
    if isinstance(err, QuotaError):
        return ApiError(429, msg, type="insufficient_quota", code="insufficient_quota", retry_after=err.retry_after)
    if isinstance(err, RateLimitError):
        return ApiError(429, msg, type="rate_limit_error", code="rate_limit_exceeded", retry_after=err.retry_after)
    if isinstance(err, JobCancelledError):  # its caller left; nobody reads this (nginx's "client closed request")
        return ApiError(499, msg, code="job_cancelled")
    if isinstance(err, NoAccountError):
        return ApiError(503, msg, type="server_error", code="no_account")
    if isinstance(err, StoreUnavailableError):  # the database is away: nothing was started (issue #16)
        return ApiError(503, msg, type="server_error", code="store_unavailable", retry_after=5)
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
    """Report a core ``InvalidRequestError`` under the name the caller used (``duration`` → ``seconds``); an unusable
    reference image (``UploadError``, param ``image``) too, when ``image`` is renamed."""
    try:
        yield
    except InvalidRequestError as err:
        if err.param is not None and err.param in renames:
            err.param = renames[err.param]
        raise
    except UploadError as err:
        if isinstance(err, UpstreamUploadError) or "image" not in renames:
            raise
        raise ApiError(400, err.message, param=renames["image"], code="invalid_image") from None
