"""AWS SigV4 as used by ImageX / VOD (PROTOCOL.md §4.2), server side: recompute and compare.

Written from the PROTOCOL text only. The emulator recomputes the signature of an incoming request from the
headers the client says it signed (``SignedHeaders``) and compares it with ``Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<sh>[^,\s]+),\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse ``AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex``."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        raise ValueError("malformed authorization header")
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise ValueError("malformed credential scope")
    signed = tuple(h.strip().lower() for h in m.group("sh").split(";") if h.strip())
    return ParsedAuthorization(parts[0], parts[1], parts[2], parts[3], signed, m.group("sig").lower())


def _rfc3986(s: str) -> str:
    return quote(s, safe="-_.~")


def canonical_query(pairs: Iterable[tuple[str, str]], *, encode: bool = True) -> str:
    """Sorted ``k=v`` joined by ``&``. ``encode=True``: RFC 3986 (AICF); ``False``: raw values (IPTAG)."""
    items = [(_rfc3986(k), _rfc3986(v)) if encode else (k, v) for k, v in pairs]
    items.sort()
    return "&".join(f"{k}={v}" for k, v in items)


def canonical_request(
    method: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
    *,
    path: str = "/",
    encode_query: bool = True,
) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    names = sorted(h.lower() for h in signed_headers)
    canon_headers = "".join(f"{n}:{' '.join(lower.get(n, '').strip().split())}\n" for n in names)
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query_pairs, encode=encode_query),
            canon_headers,
            ";".join(names),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canon_request: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canon_request.encode()).hexdigest()])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def signature(secret: str, date: str, region: str, service: str, sts: str) -> str:
    return hmac.new(signing_key(secret, date, region, service), sts.encode(), hashlib.sha256).hexdigest()


def expected_signatures(
    *,
    secret: str,
    auth: ParsedAuthorization,
    method: str,
    query_pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
    path: str = "/",
) -> set[str]:
    """All signatures the emulator accepts: RFC 3986-encoded and raw canonical query (they coincide for
    the alphanumeric values used by the protocol)."""
    lower = {k.lower(): v for k, v in headers.items()}
    amz_date = lower.get("x-amz-date", "")
    out = set()
    for encode in (True, False):
        creq = canonical_request(
            method, query_pairs, lower, auth.signed_headers, payload_hash, path=path, encode_query=encode
        )
        sts = string_to_sign(amz_date, auth.scope, creq)
        out.add(signature(secret, auth.date, auth.region, auth.service, sts))
    return out


def sign_request(
    *,
    access_key_id: str,
    secret: str,
    method: str,
    query_pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
    region: str,
    service: str,
) -> str:
    """Client-side helper for the emulator's own tests: returns an ``authorization`` header value."""
    lower = {k.lower(): v for k, v in headers.items()}
    amz_date = lower["x-amz-date"]
    names = sorted(h.lower() for h in signed_headers)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    creq = canonical_request(method, query_pairs, lower, names, payload_hash)
    sig = signature(secret, date, region, service, string_to_sign(amz_date, scope, creq))
    return f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
