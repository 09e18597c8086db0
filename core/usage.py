"""Who used what (issue #15): jobs, images, videos, credits and failures per member, per account or per API key —
today, the last 7 and 30 days, and a per-day series for charts. Days are Jimeng's days (Beijing midnight,
``core.daily``). Everything is counted from the store, so it survives restarts and is shared by every process.

A job cancelled before it was submitted (``JobCancelledError``) is not counted: nothing was sent, nothing spent.
Credits are the real prices from the credit ledger (``core.spending``); ``priced`` says how many jobs they cover.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from core.daily import china_day, day_start, next_reset
from core.jobs import ACTIVE_STATES, JobStore
from core.prefstore import UsageRow

if TYPE_CHECKING:
    from core.engine import Engine
    from core.spending import Spending

WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Totals:
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    active: int = 0
    images: int = 0
    videos: int = 0
    credits: float = 0.0
    priced: int = 0  # jobs whose price the ledger has shown (``credits`` sums over these)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "active": self.active,
            "images": self.images,
            "videos": self.videos,
            "credits": self.credits,
            "priced": self.priced,
        }


def totals(rows: Iterable[UsageRow]) -> Totals:
    jobs = succeeded = failed = active = images = videos = priced = 0
    credits = 0.0
    for r in rows:
        jobs += 1
        succeeded += r.state == "succeeded"
        failed += r.state == "failed"
        active += r.state in ACTIVE_STATES
        images += r.images
        videos += r.videos
        if r.credits is not None:
            credits += r.credits
            priced += 1
    return Totals(jobs, succeeded, failed, active, images, videos, credits, priced)


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date  # Beijing date
    totals: Totals


@dataclass(frozen=True, slots=True)
class UsageReport:
    today: Totals
    week: Totals  # the last 7 Beijing days, today included
    month: Totals  # the last 30
    days: tuple[DayUsage, ...]  # 30 entries, oldest first, zero-filled: a chart's series
    resets_at: float  # the next Beijing midnight (epoch seconds)


@dataclass(frozen=True, slots=True)
class Subject:
    """One member or one account in a list of usage."""

    key: str
    label: str
    report: UsageReport


def build_report(rows: Iterable[UsageRow], now: float) -> UsageReport:
    today = china_day(now)
    first = today - timedelta(days=WINDOW_DAYS - 1)
    by_day: dict[date, list[UsageRow]] = {first + timedelta(days=i): [] for i in range(WINDOW_DAYS)}
    for r in rows:
        day = china_day(r.created_at)
        if day in by_day:
            by_day[day].append(r)
    days = tuple(DayUsage(d, totals(rs)) for d, rs in by_day.items())
    week_from = today - timedelta(days=6)
    return UsageReport(
        today=days[-1].totals,
        week=totals(r for d, rs in by_day.items() if d >= week_from for r in rs),
        month=totals(r for rs in by_day.values() for r in rs),
        days=days,
        resets_at=next_reset(now),
    )


class Usage:
    def __init__(
        self,
        store: JobStore,
        *,
        clock: Callable[[], float] = time.time,
        spending: Spending | None = None,
        labels: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.spending = spending
        self._labels = labels or dict

    @classmethod
    def for_engine(cls, engine: Engine, *, clock: Callable[[], float] = time.time) -> Usage:
        from core.spending import Spending  # the ledger reader needs the engine's transport and pool

        spending = Spending(engine.upstream, engine.pool, engine.store, clock=clock)
        return cls(
            engine.store, clock=clock, spending=spending, labels=lambda: {a.key: a.masked for a in engine.accounts()}
        )

    async def refresh_credits(self, *, force: bool = True) -> int:
        """Read the credit ledgers now (``force``) or if the last read is old enough; returns jobs newly priced."""
        return await self.spending.refresh(force=force) if self.spending is not None else 0

    async def rows(self, match: Mapping[str, Any], *, since: float, credits: bool = True) -> list[UsageRow]:
        """Counted jobs (not cancelled ones) created since ``since`` whose owner matches ``match``."""
        if credits:
            await self.refresh_credits(force=False)
        return [r for r in await self.store.usage_rows(match, since) if not r.cancelled]

    def _since(self, now: float) -> float:
        return day_start(china_day(now) - timedelta(days=WINDOW_DAYS - 1))

    async def report(self, match: Mapping[str, Any], *, now: float | None = None) -> UsageReport:
        """One owner's usage: ``{"guild_id": g, "user_id": u}`` for a member, ``{"api_owner": fp}`` for an API key."""
        now = self.clock() if now is None else now
        return build_report(await self.rows(match, since=self._since(now)), now)

    async def members(self, guild_id: int | None, *, now: float | None = None) -> list[Subject]:
        """Every member with jobs in the server in the last 30 days, most jobs first."""
        now = self.clock() if now is None else now
        groups: dict[str, list[UsageRow]] = {}
        for r in await self.rows({"guild_id": guild_id}, since=self._since(now)):
            user = r.owner.get("user_id")
            if user is not None:
                groups.setdefault(str(user), []).append(r)
        return self._subjects(groups, {}, now)

    async def accounts(self, guild_id: int | None = None, *, now: float | None = None) -> list[Subject]:
        """Per Jimeng account (label: the masked session id), for one server's jobs or (None) every job."""
        now = self.clock() if now is None else now
        match = {"guild_id": guild_id} if guild_id is not None else {}
        groups: dict[str, list[UsageRow]] = {}
        for r in await self.rows(match, since=self._since(now)):
            if r.account_key:
                groups.setdefault(r.account_key, []).append(r)
        labels = dict(self._labels())
        return self._subjects(groups, {k: labels.get(k, f"{k[:12]} (not configured)") for k in groups}, now)

    @staticmethod
    def _subjects(groups: dict[str, list[UsageRow]], labels: Mapping[str, str], now: float) -> list[Subject]:
        out = [Subject(k, labels.get(k, k), build_report(rs, now)) for k, rs in groups.items()]
        return sorted(out, key=lambda s: (-s.report.month.jobs, s.key))
