"""Upload prepared reference images to Jimeng's store (ImageX, PROTOCOL.md §4.1–4.2) and return their URIs.

One upload is ``get_upload_token`` (STS, cached per account) → ``ApplyImageUpload`` (SigV4, GET) → the bytes, POSTed to
the upload node with the store ``Auth`` and ``Content-CRC32`` → ``CommitImageUpload`` (SigV4, POST). Uploading costs
no credits, so the whole flow is retried on transient faults; a signature or key rejection is retried once with a
fresh token. Secrets (STS keys, the store ``Auth``, session ids) never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import string
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from core import sigv4
from core.drafts import UploadedImage
from core.errors import JimengError, UpstreamUploadError
from core.media import PreparedImage, gather_bounded
from core.policy import (
    HTTP_CONNECT_TIMEOUT_S,
    STS_CACHE_TTL_S,
    STS_EXPIRY_MARGIN_S,
    UPLOAD_ATTEMPTS,
    UPLOAD_CONCURRENCY,
    UPLOAD_RETRY_BASE_S,
    UPLOAD_TIMEOUT_S,
)
from core.tokens import Token
from core.transport import Upstream
from core.wire import (
    IMAGEX_ACTION_APPLY,
    IMAGEX_ACTION_COMMIT,
    IMAGEX_RETRY_CODES,
    IMAGEX_SERVICE,
    IMAGEX_TRANSIENT_CODES,
    IMAGEX_URI_STATUS_OK,
    IMAGEX_VERSION,
    PATH_UPLOAD_TOKEN,
    REGIONS,
    UPLOAD_NODE_OK_CODE,
    UPLOAD_NODE_PATH,
    UPLOAD_TOKEN_SCENE_IMAGEX,
    USER_AGENT,
    Region,
)

log = logging.getLogger(__name__)


class UploadAccount(Protocol):
    """What the uploader needs from an account (``core.accounts.Account`` fits)."""

    @property
    def token(self) -> Token: ...

    @property
    def web_id(self) -> str: ...

    @property
    def masked(self) -> str: ...

    @property
    def key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class UploadToken:
    """A parsed ``get_upload_token`` reply (PROTOCOL.md §4.1)."""

    creds: sigv4.Credentials
    service_id: str
    host: str  # ImageX API host
    expires_at: float  # epoch seconds after which we fetch a new one


def crc32_hex(data: bytes) -> str:
    """IEEE CRC-32 of ``data`` as 8 lowercase, zero-padded hex digits (PROTOCOL.md §4.2, §4.4)."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


class _Fault(Exception):
    """One failed attempt. ``reason`` is safe to show; ``transient`` says whether another attempt may work."""

    def __init__(self, reason: str, *, transient: bool, fresh_token: bool = False, ret: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.fresh_token = fresh_token
        self.ret = ret


def parse_upload_token(data: Any, region: Region, *, now: float) -> UploadToken:
    if not isinstance(data, dict):
        raise _Fault("get_upload_token returned no credentials", transient=True)
    ak, secret, token = data.get("access_key_id"), data.get("secret_access_key"), data.get("session_token")
    if not (isinstance(ak, str) and isinstance(secret, str) and isinstance(token, str) and ak and secret and token):
        raise _Fault("get_upload_token returned incomplete credentials", transient=True)
    info = REGIONS[region]
    service_id = str(data.get("space_name") or data.get("service_id") or info.imagex_service_id)
    host = str(data.get("upload_domain") or info.imagex_host)
    expires = now + STS_CACHE_TTL_S
    expired_time = data.get("expired_time")
    if isinstance(expired_time, int | float) and expired_time > 0:
        expires = min(expires, float(expired_time) - STS_EXPIRY_MARGIN_S)
    return UploadToken(sigv4.Credentials(ak, secret, token), service_id, host, expires)


def _random_s(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _openapi_result(doc: Any, status: int, step: str) -> dict[str, Any]:
    """``{"ResponseMetadata": {..., "Error"?}, "Result": {...}}`` → Result, or a classified ``_Fault``."""
    meta = doc.get("ResponseMetadata") if isinstance(doc, dict) else None
    error = meta.get("Error") if isinstance(meta, dict) else None
    if isinstance(error, dict) and (error.get("Code") or error.get("CodeN")):
        code = str(error.get("Code") or "")
        code_n = error.get("CodeN")
        label = f"{code} ({code_n})" if code_n else code
        if code in IMAGEX_RETRY_CODES:
            raise _Fault(f"{step} was refused: {label}", transient=True, fresh_token=True, ret=code)
        transient = code in IMAGEX_TRANSIENT_CODES or status >= 500 or status == 429
        raise _Fault(f"{step} failed: {label}", transient=transient, ret=code)
    if status >= 500 or status == 429:
        raise _Fault(f"{step} answered HTTP {status}", transient=True)
    result = doc.get("Result") if isinstance(doc, dict) else None
    if status >= 400 or not isinstance(result, dict):
        raise _Fault(f"{step} answered HTTP {status} without a result", transient=False)
    return result


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, list) and v else None


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


class ImageUploader:
    """Uploads prepared references for one engine. One instance is shared by all jobs (it caches STS per account)."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        concurrency: int = UPLOAD_CONCURRENCY,
        attempts: int = UPLOAD_ATTEMPTS,
        retry_base_s: float = UPLOAD_RETRY_BASE_S,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.upstream = upstream
        self.concurrency = concurrency
        self.attempts = max(1, attempts)
        self.retry_base_s = retry_base_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._tokens: dict[str, UploadToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_S, connect=HTTP_CONNECT_TIMEOUT_S)

    # ------------------------------------------------------------------------------------------------ public

    async def upload_all(self, account: UploadAccount, prepared: Sequence[PreparedImage]) -> list[UploadedImage]:
        """Upload every image (bounded parallelism), results in input order. The first failing reference by position
        is raised as ``UpstreamUploadError``."""

        def factory(img: PreparedImage) -> Callable[[], Awaitable[UploadedImage]]:
            return lambda: self.upload(account, img)

        return await gather_bounded([factory(p) for p in prepared], self.concurrency)

    async def upload(self, account: UploadAccount, image: PreparedImage) -> UploadedImage:
        """Upload one image; raises ``UpstreamUploadError`` naming the reference (``index`` 0-based, message
        1-based)."""
        stale: UploadToken | None = None  # a token upstream refused; never reused
        fresh_used = False
        attempt = 0
        while True:
            token: UploadToken | None = None
            try:
                token = await self._token(account, stale=stale)
                uploaded = await self._once(account, image, token)
            except _Fault as fault:
                retry = fault.transient and attempt + 1 < self.attempts and not (fault.fresh_token and fresh_used)
                if not retry:
                    raise UpstreamUploadError(
                        f"reference image {image.index + 1} could not be uploaded: {fault.reason}",
                        index=image.index,
                        ret=fault.ret,
                    ) from None
                if fault.fresh_token:
                    stale, fresh_used = token, True
                delay = self.retry_base_s * (2**attempt) * (0.75 + self._rng.random() / 2)
                attempt += 1
                log.warning(
                    "upload of reference %d for %s: %s; retrying in %.1fs (attempt %d/%d)",
                    image.index + 1,
                    account.masked,
                    fault.reason,
                    delay,
                    attempt + 1,
                    self.attempts,
                )
                await asyncio.sleep(delay)
                continue
            log.debug("reference %d uploaded for %s (%dx%d %s)", image.index + 1, account.masked, *_dims(uploaded))
            return uploaded

    # ------------------------------------------------------------------------------------------------ STS

    async def _token(self, account: UploadAccount, *, stale: UploadToken | None = None) -> UploadToken:
        """The account's cached STS, or a new one when there is none, it expired, or it is ``stale`` (refused)."""
        lock = self._locks.setdefault(account.key, asyncio.Lock())
        async with lock:  # one get_upload_token per account at a time, even with parallel uploads
            cached = self._tokens.get(account.key)
            if cached is not None and cached is not stale and cached.expires_at > self._clock():
                return cached  # still valid, or a parallel upload already replaced the refused one
            try:
                data = await self.upstream.call(account, PATH_UPLOAD_TOKEN, {"scene": UPLOAD_TOKEN_SCENE_IMAGEX})
            except JimengError as err:
                transient = err.kind in ("transport", "upstream")
                raise _Fault(f"no upload token ({err.message})", transient=transient, ret=err.ret) from None
            token = parse_upload_token(data, account.token.region, now=self._clock())
            self._tokens[account.key] = token
            return token

    # ------------------------------------------------------------------------------------------------ one attempt

    async def _once(self, account: UploadAccount, image: PreparedImage, token: UploadToken) -> UploadedImage:
        region = account.token.region
        info = REGIONS[region]
        web_headers = {
            "accept": "*/*",
            "origin": info.web_origin,
            "referer": f"{info.web_origin}/",
            "sec-fetch-site": "cross-site",
            "user-agent": USER_AGENT,
        }
        # 1. ApplyImageUpload
        query = [
            ("Action", IMAGEX_ACTION_APPLY),
            ("Version", IMAGEX_VERSION),
            ("ServiceId", token.service_id),
            ("FileSize", str(len(image.data))),
            ("s", _random_s(self._rng)),
        ]
        if region.is_international:
            query.append(("device_platform", "web"))
        signed = sigv4.sign("GET", query, token.creds, region=info.aws_region, service=IMAGEX_SERVICE)
        status, doc = await self._request("GET", token.host, query, {**web_headers, **signed.headers}, None, "apply")
        result = _openapi_result(doc, status, "ApplyImageUpload")
        addr = _dict(result.get("UploadAddress"))
        store = _dict(_first(addr.get("StoreInfos")))
        hosts = addr.get("UploadHosts") if isinstance(addr.get("UploadHosts"), list) else []
        upload_host = addr.get("UploadHost") or (hosts[0] if hosts else None)
        store_uri, auth, session_key = store.get("StoreUri"), store.get("Auth"), addr.get("SessionKey")
        if not (upload_host and store_uri and auth and session_key):
            raise _Fault("ApplyImageUpload returned an incomplete upload address", transient=True)

        # 2. The bytes, to the upload node
        await self._put_bytes(str(upload_host), str(store_uri), str(auth), image.data, web_headers)

        # 3. CommitImageUpload
        body = json.dumps({"SessionKey": session_key}, separators=(",", ":")).encode()
        query = [("Action", IMAGEX_ACTION_COMMIT), ("Version", IMAGEX_VERSION), ("ServiceId", token.service_id)]
        signed = sigv4.sign("POST", query, token.creds, region=info.aws_region, service=IMAGEX_SERVICE, body=body)
        headers = {**web_headers, **signed.headers, "content-type": "application/json"}
        status, doc = await self._request("POST", token.host, query, headers, body, "commit")
        result = _openapi_result(doc, status, "CommitImageUpload")
        first = _dict(_first(result.get("Results")))
        uri = first.get("Uri")
        uri_status = _int(first.get("UriStatus"))
        if not uri or uri_status != IMAGEX_URI_STATUS_OK:
            # 2001: upstream could not take the file (not an image it reads); retrying the same bytes will not help.
            raise _Fault(f"Jimeng did not accept the file (UriStatus {uri_status or 'missing'})", transient=False)
        plugin = _dict(_first(result.get("PluginResult")))
        return UploadedImage(
            uri=str(uri),
            width=_int(plugin.get("ImageWidth")) or image.width,
            height=_int(plugin.get("ImageHeight")) or image.height,
            format=str(plugin.get("ImageFormat") or image.format),
        )

    async def _put_bytes(self, host: str, store_uri: str, auth: str, data: bytes, web_headers: dict[str, str]) -> None:
        url = self.upstream.rewrite(f"https://{host}{UPLOAD_NODE_PATH}{store_uri}")
        headers = {
            **web_headers,
            "authorization": auth,
            "content-crc32": crc32_hex(data),
            "content-type": "application/octet-stream",
            "content-disposition": 'attachment; filename="undefined"',
        }
        self.upstream.stats.add("imagex:upload")
        try:
            async with self.upstream.http.post(url, data=data, headers=headers, timeout=self._timeout) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            raise _Fault("the upload node timed out", transient=True) from None
        except aiohttp.ClientError as exc:
            raise _Fault(f"the upload node connection failed ({type(exc).__name__})", transient=True) from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        code = _int(doc.get("code")) if isinstance(doc, dict) else 0
        if code == UPLOAD_NODE_OK_CODE or (200 <= status < 300 and not code):
            return
        # Every upload-node failure is worth a new attempt: a 5xx, a CRC mismatch (bytes damaged on the way), or a
        # stale Auth — the retry applies for a new store.
        raise _Fault(f"the upload node refused the bytes (HTTP {status}, code {code or 'none'})", transient=True)

    async def _request(
        self,
        method: str,
        host: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes | None,
        step: str,
        service: str = "ImageX",
    ) -> tuple[int, Any]:
        """One signed call to ImageX (or VOD, core.vod: same signing, same answers). Faults name ``service``."""
        # Encode the query exactly as it was signed (RFC 3986) and stop yarl from re-quoting it.
        target = self.upstream.rewrite(f"https://{host}/?{urlencode(query, safe='-_.~', quote_via=quote)}")
        self.upstream.stats.add(f"{service.lower()}:{step}")
        try:
            async with self.upstream.http.request(
                method, URL(target, encoded=True), data=body, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            raise _Fault(f"{service} {step} timed out", transient=True) from None
        except aiohttp.ClientError as exc:
            raise _Fault(f"{service} {step} connection failed ({type(exc).__name__})", transient=True) from None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None


def _dims(img: UploadedImage) -> tuple[int, int, str]:
    return img.width, img.height, img.format
