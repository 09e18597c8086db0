"""Optional per-key daily job quota (server mode): counted in memory per UTC day."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from api.auth import Caller
from api.errors import ApiError


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
