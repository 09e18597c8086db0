"""Daily quotas (issue #15): a server's quota per member (jobs or credits) and an API key's daily jobs.

Counted from the store (``core.usage``) per Jimeng day, so a restart keeps the count; the day ends at Beijing
midnight (``core.daily.next_reset``), which is when a refused owner may come back. Every job created that day
counts, failed ones too (a failed job may be billed, PROTOCOL.md §3.5), except jobs cancelled before they were
submitted. ``admit`` holds a per-owner lock from the check until the job is counted, so concurrent requests cannot
all slip under the limit; ``Ticket.count`` counts a job at once, before its row is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.daily import china_day, day_start, next_reset
from core.errors import DailyQuotaError
from core.usage import Usage

if TYPE_CHECKING:
    from core.jobs import Job
    from core.preferences import Preferences

_Key = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    unit: str  # "jobs" | "credits"
    limit: int | None  # None: no quota
    used: float  # jobs created / credits spent today (Beijing day)
    resets_at: float  # epoch seconds of the next Beijing midnight
    retry_after: float  # seconds from the time of the check to resets_at

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.used)

    @property
    def allowed(self) -> bool:
        return self.limit is None or self.used < self.limit


class Ticket:
    """Handed out by ``Quotas.admit``: ``count(job)`` once the job exists."""

    def __init__(self, quotas: Quotas, key: _Key, now: float) -> None:
        self._quotas, self._key, self._now = quotas, key, now

    def count(self, job: Job | str) -> None:
        job_id = job if isinstance(job, str) else job.id
        self._quotas._pending.setdefault(self._key, {})[job_id] = self._now


class Quotas:
    def __init__(self, usage: Usage, prefs: Preferences | None = None) -> None:
        self.usage = usage
        self.prefs = prefs
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._pending: dict[_Key, dict[str, float]] = {}  # jobs admitted whose row may not be committed yet

    async def status(
        self, match: Mapping[str, Any], *, limit: int | None, unit: str = "jobs", now: float | None = None
    ) -> QuotaStatus:
        """Today's use by the owner(s) ``match`` selects (see ``Usage.report``), against ``limit``."""
        now = self.usage.clock() if now is None else now
        since = day_start(china_day(now))
        rows = await self.usage.rows(match, since=since, credits=unit == "credits")
        key = _key(match)
        pending = self._pending.get(key, {})
        seen = {r.id for r in rows}
        for job_id in [j for j, t in pending.items() if j in seen or t < since]:
            del pending[job_id]  # committed by now, or admitted on an earlier day
        if not pending:
            self._pending.pop(key, None)
        used = float(len(rows) + len(pending)) if unit != "credits" else sum(r.credits or 0.0 for r in rows)
        resets = next_reset(now)
        return QuotaStatus(unit, limit, used, resets, max(0.0, resets - now))

    async def check(
        self, match: Mapping[str, Any], *, limit: int | None, unit: str = "jobs", now: float | None = None
    ) -> QuotaStatus:
        """The status, or ``DailyQuotaError`` (with ``resets_at`` / ``retry_after``) when today's quota is used up."""
        st = await self.status(match, limit=limit, unit=unit, now=now)
        if not st.allowed:
            assert st.limit is not None
            raise DailyQuotaError(
                f"the daily quota of {st.limit} {unit} is used up ({st.used:g} used today); it resets at midnight, "
                "Beijing time",
                unit=unit,
                limit=st.limit,
                used=st.used,
                resets_at=st.resets_at,
            )
        return st

    @asynccontextmanager
    async def admit(
        self, match: Mapping[str, Any], *, limit: int | None, unit: str = "jobs", now: float | None = None
    ) -> AsyncIterator[Ticket]:
        """``async with quotas.admit(...) as ticket: job = await start(); ticket.count(job)`` — raises
        ``DailyQuotaError`` on entry when the quota is used up; one admission per owner at a time."""
        key = _key(match)
        if limit is None:  # no quota: nothing to check, nobody to wait for
            yield Ticket(self, key, self.usage.clock() if now is None else now)
            return
        async with self._locks.setdefault(key, asyncio.Lock()):
            now = self.usage.clock() if now is None else now
            await self.check(match, limit=limit, unit=unit, now=now)
            yield Ticket(self, key, now)

    # ------------------------------------------------------------------------------------------------ members

    async def member_status(self, guild_id: int | None, user_id: int, *, now: float | None = None) -> QuotaStatus:
        """A member's use today against the server's quota (the environment's when the server set none)."""
        limit, unit = await self._member_limit(guild_id, user_id)
        return await self.status(_member(guild_id, user_id), limit=limit, unit=unit, now=now)

    @asynccontextmanager
    async def admit_member(
        self, guild_id: int | None, user_id: int, *, now: float | None = None
    ) -> AsyncIterator[Ticket]:
        """``admit`` with the server's quota for this member."""
        limit, unit = await self._member_limit(guild_id, user_id)
        async with self.admit(_member(guild_id, user_id), limit=limit, unit=unit, now=now) as ticket:
            yield ticket

    async def _member_limit(self, guild_id: int | None, user_id: int) -> tuple[int | None, str]:
        if self.prefs is None:
            return None, "jobs"
        eff = await self.prefs.effective(guild_id, user_id)
        return eff.quota, eff.quota_unit


def _member(guild_id: int | None, user_id: int) -> dict[str, Any]:
    return {"guild_id": guild_id, "user_id": user_id}


def _key(match: Mapping[str, Any]) -> _Key:
    return tuple(sorted(match.items()))
