"""Signature checks: the web API's ``Sign`` header (PROTOCOL.md §2.3) and AWS SigV4 on ImageX / VOD requests (PROTOCOL.md §4.2)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from . import sigv4
from .records import Sts
from .tables import SIGN_APPVR, SIGN_PF, SIGV4_REGION


def web_sign_ok(request: web.Request) -> bool:
    """``Sign`` = md5("9e2c|<last 7 chars of the path>|pf|appvr|Device-Time|Tdid|11ac")."""
    dt = request.headers.get("Device-Time", "")
    tdid = request.headers.get("Tdid", "")
    src = f"9e2c|{request.path[-7:]}|{SIGN_PF}|{SIGN_APPVR}|{dt}|{tdid}|11ac"
    return bool(dt) and request.headers.get("Sign", "").lower() == hashlib.md5(src.encode()).hexdigest()


@dataclass(frozen=True)
class SigError:
    """Why a SigV4 request was refused, as the OpenAPI error it is answered with."""

    status: int
    code_n: int
    code: str
    message: str
    invented: bool = False  # the CodeN is a guess (switch upload_errors)


def _not_found(access_key_id: str) -> SigError:
    return SigError(
        401,
        100029,
        "CheckAuthenticationError",
        f"CheckAuthenticationError, reason: `The accessKey '{access_key_id}' can not be found`.",
    )


MISMATCH = SigError(
    403,
    100010,  # INVENTED (switch: upload_errors)
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided.",
    invented=True,
)


def verify_sigv4(request: web.Request, body: bytes, service: str, keys: Mapping[str, Sts]) -> Sts | SigError:
    """The STS credentials a request was signed with, or why it is refused."""
    try:
        auth = sigv4.parse_authorization(request.headers.get("Authorization", ""))
    except ValueError:
        return SigError(401, 100024, "InvalidAuthorization", "InvalidAuthorization")
    sts = keys.get(auth.access_key_id)
    if sts is None or sts.expires < time.time():
        return _not_found(auth.access_key_id)
    if auth.region != SIGV4_REGION[sts.region]:
        # PROTOCOL.md §1.3: international STS keys on the CN ImageX region (and vice versa) are "not found" upstream.
        return _not_found(auth.access_key_id)
    amz_date = request.headers.get("X-Amz-Date", "")
    required = {"x-amz-date", "x-amz-security-token"}
    if request.method == "POST":
        required.add("x-amz-content-sha256")
    payload_hash = hashlib.sha256(body).hexdigest()
    if (
        not required <= set(auth.signed_headers)
        or request.headers.get("X-Amz-Security-Token") != sts.token
        or amz_date[:8] != auth.date
        or auth.service != service
        or (request.method == "POST" and request.headers.get("X-Amz-Content-Sha256") != payload_hash)
    ):
        return MISMATCH
    expected = sigv4.expected_signatures(
        secret=sts.secret,
        auth=auth,
        method=request.method,
        query_pairs=list(request.query.items()),
        headers={k.lower(): v for k, v in request.headers.items()},
        payload_hash=payload_hash,
    )
    return sts if auth.signature in expected else MISMATCH
