"""Token strings (PROTOCOL.md §1.2): ``[proxy-url@][us-|hk-|jp-|sg-]sessionid``, comma-separated; and masking."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from core.errors import InvalidRequestError
from core.wire import PROXY_SCHEMES, TOKEN_REGION_PREFIXES, Region

_BEARER = re.compile(r"^\s*bearer\s+", re.IGNORECASE)
_SID_CHARS = re.compile(r"^[A-Za-z0-9_\-]{8,256}$")


def mask(secret: str | None) -> str:
    """The only form of a session id (or any secret) that may reach a log or a message: ``abcd…wxyz``."""
    if not secret:
        return "∅"
    if len(secret) <= 10:
        return secret[:2] + "…"
    return f"{secret[:4]}…{secret[-4:]}"


def fingerprint(secret: str) -> str:
    """A stable, non-reversible id for a secret (used as a storage key instead of the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Token:
    sessionid: str
    region: Region = Region.CN
    proxy: str | None = None
    key: str = field(init=False, repr=False, compare=False)  # identity: region + session id fingerprint

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.region.value}:{fingerprint(self.sessionid)}")

    @property
    def masked(self) -> str:
        prefix = "" if self.region is Region.CN else f"{self.region.value}-"
        return prefix + mask(self.sessionid)

    def __repr__(self) -> str:  # never print the secret, even by accident
        proxy = " via proxy" if self.proxy else ""
        return f"Token({self.masked}{proxy})"

    __str__ = __repr__


def parse_token(raw: str) -> Token:
    """Parse one token. Raises InvalidRequestError with a message that never contains the secret."""
    text = raw.strip()
    proxy: str | None = None
    if text.lower().startswith(PROXY_SCHEMES):
        at = text.rfind("@")
        if 0 < at < len(text) - 1:
            proxy, text = text[:at], text[at + 1 :].strip()
    region = Region.CN
    lowered = text.lower()
    for prefix, reg in TOKEN_REGION_PREFIXES.items():
        if lowered.startswith(prefix):
            region, text = reg, text[len(prefix) :]
            break
    if not _SID_CHARS.match(text):
        raise InvalidRequestError(f"malformed session id {mask(text)!s}", param="token")
    return Token(sessionid=text, region=region, proxy=proxy)


def parse_tokens(raw: str | None) -> list[Token]:
    """Parse a comma-separated list (an ``Authorization: Bearer`` value is accepted too). Duplicates are dropped."""
    if not raw:
        return []
    text = _BEARER.sub("", raw)
    out: list[Token] = []
    seen: set[str] = set()
    for piece in text.split(","):
        if not piece.strip():
            continue
        tok = parse_token(piece)
        if tok.key not in seen:
            seen.add(tok.key)
            out.append(tok)
    return out
