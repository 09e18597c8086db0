"""Optional per-key daily job quota (server mode), counted from the store per Jimeng day (Beijing midnight), so a
restart keeps the count (issue #15); the caller's own usage (``GET /v1/usage``); and the bound on one caller's
unfinished jobs (``ActiveJobs``, both modes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from api.auth import Caller
from api.errors import ApiError
from api.settings import CALLER_FULL_RETRY_S
from core import Engine, Job
from core.errors import DailyQuotaError
from core.quotas import Quotas, QuotaStatus, Ticket
from core.usage import Usage, UsageReport


class DailyQuota:
    """``API_KEY_DAILY_JOBS``: jobs per key per Beijing day. Every job the key started that day counts (failed ones
    too: upstream may bill them), except one cancelled before it was submitted."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._engine: Engine | None = None
        self._quotas: Quotas | None = None

    def _for(self, engine: Engine) -> Quotas:
        if self._quotas is None or self._engine is not engine:
            self._engine = engine
            self._quotas = Quotas(Usage.for_engine(engine, clock=self._clock))
        return self._quotas

    def limit_for(self, caller: Caller) -> int | None:
        """Only keys in server mode are limited (a Bearer caller spends its own accounts)."""
        return self.limit if self.limit > 0 and caller.mode == "server" else None

    @asynccontextmanager
    async def admit(self, caller: Caller, engine: Engine) -> AsyncIterator[Ticket]:
        """Refuse with 429 (``Retry-After``: until Beijing midnight) when today's jobs are used up; otherwise the
        ticket counts the job the block starts. One admission per key at a time."""
        try:
            async with self._for(engine).admit(caller.owner_tag, limit=self.limit_for(caller)) as ticket:
                yield ticket
        except DailyQuotaError as err:
            reset = datetime.fromtimestamp(err.resets_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise ApiError(
                429,
                f"this API key has used its {err.limit} jobs for today; the quota resets at midnight Beijing time "
                f"({reset})",
                type="insufficient_quota",
                code="insufficient_quota",
                retry_after=err.resets_at - self._clock(),
            ) from None

    async def status(self, caller: Caller, engine: Engine) -> QuotaStatus:
        return await self._for(engine).status(caller.owner_tag, limit=self.limit_for(caller))

    async def report(self, caller: Caller, engine: Engine) -> UsageReport:
        """The caller's own usage; never anyone else's (matched on the caller's own fingerprint)."""
        return await self._for(engine).usage.report(caller.owner_tag)


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
