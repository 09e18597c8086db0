"""Optional per-key daily job quota (server mode): counted in memory per UTC day; and the bound on one caller's
unfinished jobs (``ActiveJobs``, both modes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth import Caller
from api.errors import ApiError
from api.settings import CALLER_FULL_RETRY_S
from core import Job


class DailyQuota:
    def __init__(self, limit: int, *, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._day = ""
        self._used: dict[str, int] = {}

    def _roll(self) -> datetime:
        now = datetime.fromtimestamp(self._clock(), UTC)
        day = now.date().isoformat()
        if day != self._day:
            self._day, self._used = day, {}
        return now

    def check(self, caller: Caller) -> None:
        """Raise 429 when the caller has used up today's jobs (only keys in server mode are limited)."""
        if self.limit <= 0 or caller.mode != "server":
            return
        now = self._roll()
        if self._used.get(caller.owner, 0) >= self.limit:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            raise ApiError(
                429,
                f"this API key has used its {self.limit} jobs for today (UTC)",
                type="insufficient_quota",
                code="insufficient_quota",
                retry_after=(midnight - now).total_seconds(),
            )

    def charge(self, caller: Caller) -> None:
        if self.limit <= 0 or caller.mode != "server":
            return
        self._roll()
        self._used[caller.owner] = self._used.get(caller.owner, 0) + 1

    def used(self, caller: Caller) -> int:
        self._roll()
        return self._used.get(caller.owner, 0)


class ActiveJobs:
    """At most ``limit`` unfinished jobs per caller (API key, or set of session ids): one caller cannot fill the
    engine's line for everyone. Past it: 429 with ``Retry-After``. A job counts until it is terminal."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active: dict[str, int] = {}
        self._watchers: set[asyncio.Future[Any]] = set()

    def check(self, caller: Caller) -> None:
        held = self._active.get(caller.owner, 0)
        if self.limit > 0 and held >= self.limit:
            raise ApiError(
                429,
                f"you already have {held} unfinished jobs (at most {self.limit}); wait for one to finish",
                type="rate_limit_error",
                code="rate_limit_exceeded",
                retry_after=CALLER_FULL_RETRY_S,
            )

    def hold(self, caller: Caller, job: Job) -> None:
        owner = caller.owner
        self._active[owner] = self._active.get(owner, 0) + 1
        watcher = asyncio.ensure_future(job.wait_terminal())
        self._watchers.add(watcher)

        def done(fut: asyncio.Future[Any]) -> None:
            self._watchers.discard(fut)
            left = self._active.get(owner, 1) - 1
            if left > 0:
                self._active[owner] = left
            else:
                self._active.pop(owner, None)

        watcher.add_done_callback(done)

    def count(self, caller: Caller) -> int:
        return self._active.get(caller.owner, 0)
