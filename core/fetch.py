"""Fetching reference images from http(s) URLs without letting a caller reach what it should not.

Downloads stream with a size cap, timeouts and a redirect limit, and refuse loopback, private, link-local, multicast
and reserved addresses (checked after DNS resolution, on every hop, and the connection is pinned to the address that
was checked) unless the owner allows them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from core.policy import (
    DOWNLOAD_CONNECT_TIMEOUT_S,
    DOWNLOAD_MAX_BYTES,
    DOWNLOAD_MAX_REDIRECTS,
    DOWNLOAD_READ_TIMEOUT_S,
    DOWNLOAD_TOTAL_TIMEOUT_S,
)

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "jimeng-bot/0.1 (reference image fetch)"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How URLs may be fetched. ``allowed_networks``: CIDRs exempt from the private-address refusal."""

    allow_private: bool = False
    max_bytes: int = DOWNLOAD_MAX_BYTES
    connect_timeout: float = DOWNLOAD_CONNECT_TIMEOUT_S
    read_timeout: float = DOWNLOAD_READ_TIMEOUT_S
    total_timeout: float = DOWNLOAD_TOTAL_TIMEOUT_S
    max_redirects: int = DOWNLOAD_MAX_REDIRECTS
    allowed_networks: tuple[str, ...] = ()


class ImageRefused(Exception):
    """A reason to refuse one reference; becomes an ``UploadError`` naming it."""


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _forbidden(mapped)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def _resolve(host: str, port: int, policy: FetchPolicy) -> list[str]:
    """Addresses of ``host``; every one must be allowed (a name with one private address is refused as a whole)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addrs = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP),
                policy.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise ImageRefused(f"could not resolve {host}") from exc
        addrs = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addrs:
            raise ImageRefused(f"could not resolve {host}")
    if policy.allow_private:
        return addrs
    nets = [ipaddress.ip_network(n, strict=False) for n in policy.allowed_networks]
    for a in addrs:
        ip = ipaddress.ip_address(a.split("%", 1)[0])
        if _forbidden(ip) and not any(ip in n for n in nets):
            raise ImageRefused(f"{host} resolves to a private or reserved address, which is not allowed")
    return addrs


async def fetch_url(url: str, *, http: aiohttp.ClientSession, policy: FetchPolicy) -> bytes:
    """Download an image URL under ``policy``. Raises ``ImageRefused`` with a reason that is safe to show."""
    try:
        async with asyncio.timeout(policy.total_timeout):
            return await _fetch(url, http, policy)
    except TimeoutError as exc:
        raise ImageRefused("the download timed out") from exc


async def _fetch(url: str, http: aiohttp.ClientSession, policy: FetchPolicy) -> bytes:
    current = URL(url)
    timeout = aiohttp.ClientTimeout(total=None, connect=policy.connect_timeout, sock_read=policy.read_timeout)
    for hop in range(policy.max_redirects + 1):
        if current.scheme not in ("http", "https") or not current.host:
            raise ImageRefused("a redirect led to something that is not an http(s) URL")
        port = current.port or (443 if current.scheme == "https" else 80)
        addrs = await _resolve(current.host, port, policy)
        resp_data = await _get_pinned(current, addrs, http, policy, timeout)
        status, location, body = resp_data
        if status in _REDIRECTS:
            if not location:
                raise ImageRefused(f"the server answered HTTP {status} without a Location")
            if hop >= policy.max_redirects:
                break
            try:
                current = current.join(URL(location))
                _ = current.port  # a malformed port in a redirect raises here, not deep in the client
            except ValueError as exc:
                raise ImageRefused("a redirect led to a malformed URL") from exc
            continue
        if status != 200:
            raise ImageRefused(f"the server answered HTTP {status}")
        assert body is not None
        return body
    raise ImageRefused(f"too many redirects (more than {policy.max_redirects})")


async def _get_pinned(
    url: URL, addrs: list[str], http: aiohttp.ClientSession, policy: FetchPolicy, client_timeout: aiohttp.ClientTimeout
) -> tuple[int, str | None, bytes | None]:
    """GET ``url`` connecting to one of the checked ``addrs`` (no second DNS lookup), without following redirects."""
    host = url.host or ""
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if url.is_default_port() else f"{bracketed}:{url.port}"
    headers = {"Host": host_header, "User-Agent": _USER_AGENT, "Accept": "image/*,*/*;q=0.5"}
    last: Exception | None = None
    for addr in addrs:
        target = url.with_host(addr.split("%", 1)[0])
        extra: dict[str, Any] = {"server_hostname": host} if url.scheme == "https" else {}
        try:
            async with http.get(
                target, headers=headers, allow_redirects=False, timeout=client_timeout, **extra
            ) as resp:
                if resp.status in _REDIRECTS:
                    return resp.status, resp.headers.get("Location"), None
                if resp.status != 200:
                    return resp.status, None, None
                declared = resp.content_length
                if declared is not None and declared > policy.max_bytes:
                    raise ImageRefused(too_large(policy.max_bytes))
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    buf += chunk
                    if len(buf) > policy.max_bytes:
                        raise ImageRefused(too_large(policy.max_bytes))
                return resp.status, None, bytes(buf)
        except aiohttp.ClientConnectorError as exc:
            last = exc
            continue
        except TimeoutError as exc:
            raise ImageRefused("the download timed out") from exc
        except aiohttp.ClientError as exc:
            raise ImageRefused(f"the download failed ({type(exc).__name__})") from exc
    raise ImageRefused(f"could not connect to {host}") from last


def too_large(limit: int) -> str:
    return f"the image is larger than {limit / 1024 / 1024:g} MB"
