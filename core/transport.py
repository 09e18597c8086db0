"""The request envelope (PROTOCOL.md §2): query, headers, Sign, cookie, ``ret`` handling, selective retries.

``Upstream`` is the only object that talks HTTP to Jimeng. It takes one shared ``aiohttp.ClientSession`` (STYLE §5),
never reads the environment, and never logs a session id or cookie.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from core.errors import DecodeError, RequestTimeoutError, TransportError, UpstreamError, classify_ret
from core.policy import HTTP_CONNECT_TIMEOUT_S, HTTP_TIMEOUT_S, RETRY_ATTEMPTS, RETRY_BASE_S, RETRY_MAX_S
from core.signing import cookie, sign
from core.tokens import Token
from core.wire import AIGC_FEATURES, BASE_HEADERS, DA_VERSION, REGIONS, RET_OK, WEB_VERSION, Region

log = logging.getLogger(__name__)


class Identity(Protocol):
    """What the transport needs to know about an account."""

    @property
    def token(self) -> Token: ...

    @property
    def web_id(self) -> str: ...


@dataclass(slots=True)
class RequestStats:
    """Counts of upstream requests by path (benchmarks and tests read it)."""

    by_path: dict[str, int] = field(default_factory=dict)

    def add(self, path: str) -> None:
        self.by_path[path] = self.by_path.get(path, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_path.values())


def _retry_delay(attempt: int, rng: random.Random) -> float:
    base: float = min(RETRY_MAX_S, RETRY_BASE_S * (2**attempt))
    return base / 2 + rng.uniform(0, base / 2)


class Upstream:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        upstream_url: str | None = None,
        clock: Any = time.time,
        rng: random.Random | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.http = http
        self._override = urlsplit(upstream_url.rstrip("/")) if upstream_url else None
        self._clock = clock
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=HTTP_CONNECT_TIMEOUT_S)
        self.stats = RequestStats()

    # ---------------------------------------------------------------------------------------------------------- URLs

    def rewrite(self, url: str) -> str:
        """Send an absolute upstream URL (API, ImageX, upload node, CDN) to the override base when one is set."""
        if self._override is None:
            return url
        parts = urlsplit(url if "://" in url else f"https://{url}")
        o = self._override
        return urlunsplit((o.scheme, o.netloc, (o.path + parts.path) if o.path else parts.path, parts.query, ""))

    def base(self, region: Region, *, commerce: bool = False) -> str:
        info = REGIONS[region]
        return self.rewrite(info.commerce_base if commerce else info.api_base)

    # ---------------------------------------------------------------------------------------------------------- envelope

    @staticmethod
    def default_query(ident: Identity) -> dict[str, str]:
        info = REGIONS[ident.token.region]
        q = {"aid": str(info.aid), "device_platform": "web", "region": info.region_query}
        if info.sends_web_id:
            q["webId"] = ident.web_id
        q.update({"da_version": DA_VERSION, "web_version": WEB_VERSION, "aigc_features": AIGC_FEATURES})
        return q

    def headers(self, ident: Identity, path: str, *, commerce: bool, referer: str | None) -> dict[str, str]:
        region = ident.token.region
        info = REGIONS[region]
        now = int(self._clock())
        origin = info.commerce_base if commerce else info.api_base
        h = dict(BASE_HEADERS)
        h.update(
            {
                "appid": str(info.aid),
                "lan": info.lan,
                "loc": info.loc,
                "origin": origin,
                "referer": referer or f"{info.web_origin}/ai-tool/generate",
                "device-time": str(now),
                "sign": sign(path, now),
                "cookie": cookie(ident.token.sessionid, ident.web_id),
                "content-type": "application/json",
            }
        )
        return h

    async def call(
        self,
        ident: Identity,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        commerce: bool = False,
        query: Mapping[str, str] | None = None,
        default_query: bool = True,
        referer: str | None = None,
        submit: bool = False,
    ) -> Any:
        """POST a JSON body, check the envelope, return ``data``.

        Reads are retried on transport faults and 5xx/429 with capped, jittered backoff. A ``submit`` spends credits, so
        it is retried only when the connection provably never reached the server (connect refused / DNS).
        """
        q: dict[str, str] = self.default_query(ident) if default_query else {}
        if query:
            q.update(query)
        url = self.base(ident.token.region, commerce=commerce) + path
        payload = json.dumps(body if body is not None else {}, ensure_ascii=False, separators=(",", ":")).encode()
        attempt = 0
        while True:
            headers = self.headers(ident, path, commerce=commerce, referer=referer)
            try:
                return await self._once(ident, url, path, q, headers, payload)
            except TransportError as exc:
                retryable = not submit or not exc.maybe_sent
                if not retryable or attempt + 1 >= RETRY_ATTEMPTS:
                    raise
            except UpstreamError as exc:
                if submit or exc.ret is not None or attempt + 1 >= RETRY_ATTEMPTS:
                    raise
            delay = _retry_delay(attempt, self._rng)
            attempt += 1
            log.warning("retrying %s for %s in %.1fs (attempt %d)", path, ident.token.masked, delay, attempt + 1)
            await asyncio.sleep(delay)

    async def _once(
        self, ident: Identity, url: str, path: str, query: dict[str, str], headers: dict[str, str], payload: bytes
    ) -> Any:
        started = time.monotonic()
        self.stats.add(path)
        try:
            async with self.http.post(
                url, params=query, data=payload, headers=headers, timeout=self._timeout, proxy=_http_proxy(ident.token)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise RequestTimeoutError(f"Jimeng did not answer {path} in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(f"could not connect to Jimeng ({type(exc).__name__})", maybe_sent=False) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"lost the connection to Jimeng ({type(exc).__name__})") from exc
        log.debug("POST %s [%s] → %s in %.0f ms", path, ident.token.masked, status, (time.monotonic() - started) * 1000)
        if status == 429 or status >= 500:
            raise UpstreamError(f"Jimeng answered HTTP {status} on {path}")
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise DecodeError(f"Jimeng answered HTTP {status} with a body that is not JSON on {path}") from exc
        return unwrap(doc, path)

    # ---------------------------------------------------------------------------------------------------------- raw I/O

    @asynccontextmanager
    async def fetch(self, url: str, *, token: Token | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET an absolute URL (CDN result, upload node), rewritten to the override base when set."""
        target = self.rewrite(url)
        self.stats.add("cdn")
        try:
            async with self.http.get(target, timeout=self._timeout, proxy=_http_proxy(token)) as resp:
                yield resp
        except TimeoutError as exc:
            raise RequestTimeoutError("download timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"download failed ({type(exc).__name__})") from exc


def unwrap(doc: Any, path: str = "") -> Any:
    """Envelope first, payload second (STYLE §3): ``ret`` "0" → ``data``; other ``ret`` → our error."""
    if not isinstance(doc, dict):
        raise DecodeError(f"unexpected reply shape on {path}")
    if "ret" not in doc:
        return doc  # passport-style replies have no envelope
    ret = str(doc.get("ret"))
    if ret == RET_OK:
        return doc.get("data")
    raw = doc.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    fail_code = str(data.get("fail_code") or "") or None
    log_id = doc.get("logid") or doc.get("log_id")
    raise classify_ret(ret, str(doc.get("errmsg") or ""), log_id=log_id, fail_code=fail_code)


def _http_proxy(token: Token | None) -> str | None:
    if token is None or not token.proxy:
        return None
    if token.proxy.lower().startswith(("http://", "https://")):
        return token.proxy
    return None  # socks proxies are rejected when the account is configured (core.accounts)
