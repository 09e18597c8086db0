"""Completion announced between processes on PostgreSQL (issue #16): LISTEN/NOTIFY on one connection per store.

``Listener.wait(channel, timeout)`` returns when a NOTIFY on ``channel`` arrives or after ``timeout``. The connection
is opened on first use and LISTENs to each channel once it has been waited on; a lost connection is opened again at
the next wait (meanwhile waits simply last their timeout: callers read the store after waking anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

_CHANNEL = re.compile(r"[a-z0-9_]{1,63}")
_PASSWORD_PARAM = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


def check_channel(channel: str) -> str:
    """The PostgreSQL channel of an announcement name: itself when it is a plain identifier (a-z, 0-9, _, at most 63),
    else a digest of it (``polls:cn:abcd…`` → ``jimeng_<32 hex>``), the same in every process."""
    if not channel:
        raise ValueError("an announcement needs a channel name")
    if _CHANNEL.fullmatch(channel):
        return channel
    return "jimeng_" + hashlib.sha256(channel.encode()).hexdigest()[:32]


def mask_url(url: str) -> str:
    """A database URL fit for a log line or an error: its password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[1]}"
        query = _PASSWORD_PARAM.sub(r"\1***", parts.query)  # ?password=… (libpq's keyword form)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not even a URL: show only its scheme
        return url.split(":", 1)[0] + "://***"


class Listener:
    def __init__(self, url: str, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._listening: set[str] = set()
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def wait(self, channel: str, timeout: float) -> None:  # noqa: ASYNC109 (a wait, not a deadline)
        event = asyncio.Event()
        self._waiters.setdefault(channel, set()).add(event)
        try:
            async with asyncio.timeout(timeout):
                await self._listen(channel)
                await event.wait()
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(channel)
            if waiters is not None:
                waiters.discard(event)

    async def _listen(self, channel: str) -> None:
        async with self._lock:
            if self._closed:
                return
            try:
                if self._conn is None or self._conn.is_closed():
                    self._listening.clear()
                    self._conn = await asyncpg.connect(self.url, timeout=self.connect_timeout)
                    self._conn.add_termination_listener(self._lost)
                if channel not in self._listening:
                    await self._conn.add_listener(channel, self._notified)
                    self._listening.add(channel)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.debug("LISTEN %s: %s (waiting out the timeout instead)", channel, type(exc).__name__)
                await self._drop()

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        for event in self._waiters.get(channel, ()):
            event.set()

    def _lost(self, conn: Any) -> None:
        if conn is self._conn:
            self._conn = None
            self._listening.clear()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._listening.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
