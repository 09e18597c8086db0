"""AWS Signature Version 4 as ImageX and VOD take it (PROTOCOL.md §4.2), client side.

Pure functions: no I/O, no clock unless you pass none. ``sign`` returns the headers to send plus every intermediate
(canonical request, string to sign) so the test vectors can check each step. Secrets never appear in a ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from core.wire import IMAGEX_SIGNED_HEADERS_GET, IMAGEX_SIGNED_HEADERS_POST, SIGV4_ALGORITHM

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    """Temporary STS credentials from ``get_upload_token`` (PROTOCOL.md §4.1)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Signed:
    """The result of signing one request."""

    headers: dict[str, str]  # x-amz-date, x-amz-security-token, [x-amz-content-sha256], authorization
    canonical_request: str
    string_to_sign: str
    signature: str

    @property
    def authorization(self) -> str:
        return self.headers["authorization"]


def amz_date(now: datetime | float | None = None) -> str:
    """``YYYYMMDD'T'HHMMSS'Z'`` in UTC."""
    if now is None:
        moment = datetime.now(UTC)
    elif isinstance(now, datetime):
        moment = now.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rfc3986(s: str) -> str:
    return quote(s, safe="-_.~")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Sorted by key (byte order), RFC 3986-encoded ``k=v`` pairs joined by ``&``.

    IPTAG sends the raw values; for the alphanumeric values of this protocol both forms are identical (PROTOCOL.md §4.2).
    """
    pairs = sorted((_rfc3986(k), _rfc3986(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
    *,
    path: str = "/",
) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    names = sorted({h.lower() for h in signed_headers})
    missing = [n for n in names if n not in lower]
    if missing:
        raise ValueError(f"signed header(s) not present: {', '.join(missing)}")
    block = "".join(f"{n}:{' '.join(lower[n].split())}\n" for n in names)
    return "\n".join([method.upper(), path or "/", canonical_query(query), block, ";".join(names), payload_hash])


def scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(x_amz_date: str, credential_scope: str, canon_request: str) -> str:
    return "\n".join([SIGV4_ALGORITHM, x_amz_date, credential_scope, sha256_hex(canon_request.encode())])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret).encode(), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def sign(
    method: str,
    query: Sequence[tuple[str, str]],
    creds: Credentials,
    *,
    region: str,
    service: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    signed_headers: Sequence[str] | None = None,
    x_amz_date: str | None = None,
) -> Signed:
    """Sign a request to ``/`` of an ImageX or VOD host.

    ``headers`` are extra headers the request will carry (e.g. ``content-type``, ``host``); only those named in
    ``signed_headers`` enter the signature. Defaults: GET signs ``x-amz-date;x-amz-security-token``; a request with a
    body also sends and signs ``x-amz-content-sha256`` (the IPTAG sets, PROTOCOL.md §4.2).
    """
    method = method.upper()
    stamp = x_amz_date or amz_date()
    payload_hash = sha256_hex(body) if body is not None else EMPTY_SHA256
    out: dict[str, str] = {"x-amz-date": stamp, "x-amz-security-token": creds.session_token}
    if body is not None:
        out["x-amz-content-sha256"] = payload_hash
    if signed_headers is None:
        signed_headers = IMAGEX_SIGNED_HEADERS_POST if body is not None else IMAGEX_SIGNED_HEADERS_GET
    all_headers = {**{k.lower(): v for k, v in (headers or {}).items()}, **out}
    names = sorted({h.lower() for h in signed_headers})
    creq = canonical_request(method, query, all_headers, names, payload_hash)
    cscope = scope(stamp[:8], region, service)
    sts = string_to_sign(stamp, cscope, creq)
    sig = hmac.new(signing_key(creds.secret_access_key, stamp[:8], region, service), sts.encode(), hashlib.sha256)
    signature = sig.hexdigest()
    out["authorization"] = (
        f"{SIGV4_ALGORITHM} Credential={creds.access_key_id}/{cscope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return Signed(headers=out, canonical_request=creq, string_to_sign=sts, signature=signature)
