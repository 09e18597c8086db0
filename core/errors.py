"""One error taxonomy for everything the engine can fail with (STYLE §4).

Every error carries a short message that is safe to show to a user (no session ids, no URLs with signatures), and the
upstream ``ret`` / ``fail_code`` / log id where there is one. Front ends map classes to their own words; they never
parse messages.
"""

from __future__ import annotations

import time
from typing import Any

from core.daily import seconds_to_reset
from core.policy import COOLDOWN_BASE_S, RATE_LIMIT_COOLDOWN_BY_RET, RATE_LIMIT_COOLDOWN_S
from core.wire import RET_CLASSES


class JimengError(Exception):
    """Base class. ``message`` is short and safe to show."""

    kind: str = "error"

    def __init__(
        self,
        message: str,
        *,
        ret: str | None = None,
        fail_code: str | None = None,
        log_id: str | None = None,
        submit_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.ret = ret
        self.fail_code = fail_code
        self.log_id = log_id
        self.submit_id = submit_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": type(self).__name__,
            "message": self.message,
            "ret": self.ret,
            "fail_code": self.fail_code,
            "log_id": self.log_id,
            "submit_id": self.submit_id,
        }


class TransportError(JimengError):
    """Network, DNS, TLS, connection reset, or an HTTP status that carries no Jimeng envelope.

    ``maybe_sent`` is False only when the request provably never reached the server (connection refused, DNS).
    """

    kind = "transport"

    def __init__(self, message: str, *, maybe_sent: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.maybe_sent = maybe_sent


class RequestTimeoutError(TransportError):
    kind = "transport"


class APIError(JimengError):
    """Jimeng answered with a failure (``ret`` != "0")."""

    kind = "api"


class AuthError(APIError):
    """The session id is invalid or expired (ret 1015)."""

    kind = "auth"


class QuotaError(APIError):
    """Out of credits, or not entitled to this model/resolution (ret 1006 and friends). Free credits come back at
    the daily reset: ``retry_after`` is the seconds until then."""

    kind = "quota"

    @property
    def retry_after(self) -> float:
        return seconds_to_reset()


class RateLimitError(APIError):
    """Too many requests or jobs; try again after ``retry_after`` seconds (our cool-down when upstream gave none)."""

    kind = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after: float = RATE_LIMIT_COOLDOWN_S if retry_after is None else retry_after
        self.raised_at = time.time()  # retry_after counts from here: "try again at" is the same wherever it is shown

    @property
    def retry_at(self) -> float:
        return self.raised_at + self.retry_after

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after, "raised_at": self.raised_at}


class RiskControlError(RateLimitError):
    """Upstream risk control (1019 shark, 4013, -4 ...). We back off; we never try to evade it."""

    kind = "risk_control"


class RegionError(APIError):
    """The caller's network region does not match the account's site (ret 3000)."""

    kind = "region"


class ContentRejectedError(APIError):
    """The prompt or an image was refused by moderation (before or after generation)."""

    kind = "content"


class UpstreamRejectedError(APIError):
    """Upstream did not understand or accept the request (1000/1001/1002/5001 ...): a protocol drift or a bug."""

    kind = "rejected"


class UpstreamError(APIError):
    """Upstream fault (5xx, busy); worth retrying later."""

    kind = "upstream"


class InvalidRequestError(JimengError):
    """The caller's request is invalid. ``param`` names the offending parameter; ``code`` is a stable name of the
    problem and ``details`` its values (e.g. ``count_range`` / ``{"count": 9, "allowed": "1–8"}``), so front ends can
    say it in their own language. ``message`` is the English sentence."""

    kind = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.param = param
        self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "param": self.param, "code": self.code, "details": self.details}


class SettingsError(InvalidRequestError):
    """A server or member setting was refused (nothing was saved). ``param`` names the setting, ``code`` the problem
    (``unknown_model``, ``model_not_offered``, ``out_of_range``, ``bad_ratio``…), ``details`` its values."""

    kind = "settings"


class DailyQuotaError(QuotaError):
    """Our own daily quota (a server's per-member quota, an API key's daily jobs) is used up until ``resets_at``
    (Beijing midnight). Not Jimeng's credits: front ends say which quota and when it resets."""

    kind = "daily_quota"

    def __init__(
        self, message: str, *, unit: str = "jobs", limit: int = 0, used: float = 0, resets_at: float = 0.0, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.unit = unit
        self.limit = limit
        self.used = used
        self.resets_at = resets_at

    @property
    def retry_after(self) -> float:
        return max(0.0, self.resets_at - time.time()) if self.resets_at else seconds_to_reset()


class GenerationFailedError(JimengError):
    """The job was accepted but ended in a failed state (status 30 without a more specific reason)."""

    kind = "generation_failed"

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status


class JobTimeoutError(JimengError):
    """The job did not finish before its deadline; ``submit_id`` is kept so it can be looked up later."""

    kind = "timeout"


class UploadError(JimengError):
    """A reference image could not be used (not an image, too large, unreachable URL...): the caller's to fix.
    ``index`` says which one (0-based)."""

    kind = "upload"

    def __init__(self, message: str, *, index: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.index = index


class UpstreamUploadError(UploadError):
    """A reference image that was fine on our side could not be uploaded to Jimeng's image store (no upload token,
    ImageX refused or failed): upstream's fault, not the caller's. Raised inside a running job."""


class DecodeError(JimengError):
    """A reply did not have the shape we expect."""

    kind = "decode"


class JobCancelledError(JimengError):
    """The job was cancelled (``Job.cancel``) before it was handed to Jimeng: nothing was submitted, no credits spent."""

    kind = "cancelled"


class StoreUnavailableError(JimengError):
    """The job store (PostgreSQL) cannot be reached: new jobs are refused until it is back (jobs in flight go on)."""

    kind = "store"


class NoAccountError(JimengError):
    """No configured account can serve this request (none configured, or none offers the model)."""

    kind = "no_account"


_CLASS_BY_KIND: dict[str, type[APIError]] = {
    "auth": AuthError,
    "quota": QuotaError,
    "rate": RateLimitError,
    "risk": RiskControlError,
    "region": RegionError,
    "content": ContentRejectedError,
    "param": UpstreamRejectedError,
    "upstream": UpstreamError,
}

_SAFE_MESSAGES: dict[str, str] = {
    "auth": "the Jimeng session is invalid or expired",
    "quota": "not enough Jimeng credits",
    "rate": "Jimeng is busy; try again shortly",
    "risk": "Jimeng risk control refused the request; backing off",
    "region": "Jimeng refused the request from this network region",
    "content": "Jimeng's moderation refused the prompt or image",
    "param": "Jimeng did not accept the request",
    "upstream": "Jimeng failed to process the request",
}


def classify_ret(ret: str, errmsg: str = "", *, log_id: str | None = None, fail_code: str | None = None) -> APIError:
    """Turn an upstream ``ret`` (or job ``fail_code``) into the right error class."""
    code = ret.strip()
    group = RET_CLASSES.get(code, "upstream")
    cls = _CLASS_BY_KIND[group]
    detail = f" (ret {code}"
    if errmsg:
        detail += f": {errmsg[:120]}"
    detail += ")"
    message = _SAFE_MESSAGES[group] + detail
    kw: dict[str, Any] = {"ret": code, "log_id": log_id, "fail_code": fail_code or None}
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=RATE_LIMIT_COOLDOWN_BY_RET.get(code, RATE_LIMIT_COOLDOWN_S), **kw)
    if cls is RiskControlError:
        return RiskControlError(message, retry_after=COOLDOWN_BASE_S, **kw)
    return cls(message, **kw)


def error_from_dict(data: dict[str, Any]) -> JimengError:
    """Rebuild a stored error (``to_dict``) as the same class, for jobs that failed before a restart."""
    classes = {cls.__name__: cls for cls in _all_subclasses(JimengError)}
    cls = classes.get(str(data.get("type")), JimengError)
    kw: dict[str, Any] = {k: data.get(k) for k in ("ret", "fail_code", "log_id", "submit_id")}
    try:
        err = cls(str(data.get("message") or "the job failed"), **kw)
    except TypeError:
        err = JimengError(str(data.get("message") or "the job failed"), **kw)
    if isinstance(err, InvalidRequestError):
        err.param = data.get("param")
        err.code = data.get("code")
        err.details = data.get("details") or {}
    if isinstance(err, RateLimitError) and data.get("retry_after") is not None:
        err.retry_after = float(data["retry_after"])
    if isinstance(err, RateLimitError) and isinstance(data.get("raised_at"), int | float):
        err.raised_at = float(data["raised_at"])
    return err


def _all_subclasses(cls: type[JimengError]) -> list[type[JimengError]]:
    out: list[type[JimengError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out
