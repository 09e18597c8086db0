"""Two ways in, as issue #6 describes.

* **Bearer-session mode** (no ``API_KEYS``; the seed gateway's way): ``Authorization: Bearer <session ids>``,
  comma-separated, with region prefixes and proxies. The request runs on exactly those accounts, never on the
  server's pool.
* **Server mode** (``API_KEYS`` set): the Bearer must be one of the keys (constant-time comparison against stored
  SHA-256 fingerprints; the keys themselves are not kept). Requests use the server's own accounts
  (``JIMENG_SESSION_IDS``). A session id is never accepted in this mode.

Neither a key nor a session id is ever logged or echoed; callers are identified by a fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from api.errors import ApiError
from core import Account, Engine, JimengError, Token, parse_tokens

log = logging.getLogger(__name__)

_BEARER = re.compile(r"^\s*bearer\s+(.+?)\s*$", re.IGNORECASE | re.DOTALL)
Mode = Literal["server", "bearer"]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. ``owner`` (a fingerprint) owns the caller's tasks; ``accounts`` is None in server mode."""

    mode: Mode
    owner: str
    label: str  # safe for logs
    accounts: Sequence[Account] | None = None
    tokens: tuple[Token, ...] = field(default=(), repr=False)

    @property
    def owner_tag(self) -> dict[str, Any]:
        return {"api_owner": self.owner}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, type="invalid_request_error", code="invalid_api_key")


def bearer_value(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    m = _BEARER.match(header)
    return m.group(1) if m else None


class Authenticator:
    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = [_digest(k) for k in keys if k]

    @property
    def mode(self) -> Mode:
        return "server" if self._digests else "bearer"

    def fingerprint(self, secret: str) -> str:
        return hashlib.sha256(b"api-key:" + _digest(secret)).hexdigest()[:24]

    def check_key(self, presented: str) -> bool:
        """Constant time in the key's contents; every stored key is compared, match or not."""
        digest = _digest(presented)
        ok = False
        for stored in self._digests:
            ok |= hmac.compare_digest(digest, stored)
        return ok

    def authenticate(self, request: web.Request, engine: Engine) -> Caller:
        value = bearer_value(request)
        if self.mode == "server":
            if not value:
                raise unauthorized("missing API key: send 'Authorization: Bearer <API key>'")
            if not self.check_key(value):
                raise unauthorized("invalid API key")
            fp = self.fingerprint(value)
            return Caller(mode="server", owner=fp, label=f"key:{fp[:8]}")
        if not value:
            raise unauthorized("missing session id: send 'Authorization: Bearer <Jimeng sessionid>[,<sessionid>...]'")
        try:
            tokens = parse_tokens(value)
        except JimengError as err:  # the message is masked by core
            raise unauthorized(f"invalid session id list: {err.message}") from None
        if not tokens:
            raise unauthorized("the Bearer value holds no session id")
        if any(t.proxy for t in tokens):  # a client must not choose where the server connects
            raise unauthorized(
                "a proxy prefix ('http://...@') is not accepted in the Bearer value; send session ids only"
            )
        try:
            accounts = engine.adhoc_accounts(tokens)
        except JimengError as err:
            raise unauthorized(f"invalid session id list: {err.message}") from None
        owner = hashlib.sha256(("bearer:" + ",".join(sorted(t.key for t in tokens))).encode()).hexdigest()[:24]
        return Caller(mode="bearer", owner=owner, label=f"bearer:{owner[:8]}", accounts=accounts, tokens=tuple(tokens))
