"""Usage and daily quotas from the store (issue #15): figures for a known set of jobs, real prices from the
emulator's credit ledger, a quota refusing the (N+1)-th job until Beijing midnight, across a restart."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from core.daily import CHINA_TZ, china_day
from core.errors import DailyQuotaError, JobCancelledError
from core.jobs import JobRecord, MemoryJobStore
from core.params import ImageParams
from core.preferences import Preferences
from core.quotas import Quotas
from core.registry import Registry
from core.usage import Usage
from core.wire import Region
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, session_id
from tests.pg import BACKENDS, StoreFactory, factory_of

# 10:00 in Beijing on 2026-12-03; the next reset is 2026-12-04 00:00 Beijing
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=CHINA_TZ).timestamp()
MIDNIGHT = datetime(2026, 12, 4, 0, 0, tzinfo=CHINA_TZ).timestamp()
DAY = 86400.0


def rec(
    n: int,
    *,
    at: float,
    user: int = 7,
    guild: int | None = 1,
    state: str = "succeeded",
    images: int = 0,
    videos: int = 0,
    account: str | None = "cn:aaaa",
    cancelled: bool = False,
    owner: dict | None = None,
) -> JobRecord:
    assets = [{"kind": "image"}] * images + [{"kind": "video"}] * videos
    error = {"type": JobCancelledError.__name__, "message": "x"} if cancelled else None
    if state == "failed" and error is None:
        error = {"type": "GenerationFailedError", "message": "x"}
    return JobRecord(
        id=f"j{n}",
        kind="video" if videos else "image",
        spec={"prompt": "secret prompt"},
        owner=owner if owner is not None else {"user_id": user, "guild_id": guild, "channel_id": 3},
        submit_id=f"s{n}",
        state=state,
        account_key=account,
        result={"assets": assets} if state == "succeeded" else None,
        error=error,
        created_at=at,
    )


KNOWN = [
    rec(1, at=NOW - 60, images=4),  # today
    rec(2, at=NOW - 3600 * 9.5, images=2),  # today, 00:30 Beijing (17:30 UTC the day before)
    rec(3, at=NOW - 3600 * 10.5, state="failed"),  # yesterday 23:30 Beijing: not today, but this week
    rec(4, at=NOW - 3 * DAY, videos=1, account="cn:bbbb"),
    rec(5, at=NOW - 10 * DAY, images=1),  # this month only
    rec(6, at=NOW - 40 * DAY, images=4),  # too old
    rec(7, at=NOW - 120, state="queued", account=None),  # active
    rec(8, at=NOW - 100, state="failed", cancelled=True),  # cancelled before submission: never counted
    rec(9, at=NOW - 50, user=8, images=1),  # another member
    rec(10, at=NOW - 40, guild=2, images=1),  # same member, another server
    rec(11, at=NOW - 30, owner={"api_owner": "k1"}, images=1),  # an API key
]


@pytest.mark.parametrize("kind", ["memory", *BACKENDS])
async def test_usage_figures_for_a_known_set_of_jobs(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    store = MemoryJobStore() if kind == "memory" else (await factory_of(kind, request, tmp_path))()
    for r in KNOWN:
        await store.save(r)
    await store.set_credits({"s1": 4, "s2": 2.5, "s3": 1, "s4": 30, "s5": 1, "s6": 4})
    usage = Usage(store, clock=lambda: NOW, labels=lambda: {"cn:aaaa": "abcd…wxyz"})
    try:
        report = await usage.report({"guild_id": 1, "user_id": 7})
        t = report.today
        assert (t.jobs, t.succeeded, t.failed, t.active, t.images, t.videos, t.credits, t.priced) == (
            3, 2, 0, 1, 6, 0, 6.5, 2,
        )  # fmt: skip
        w = report.week
        assert (w.jobs, w.failed, w.images, w.videos, w.credits) == (5, 1, 6, 1, 37.5)
        m = report.month
        assert (m.jobs, m.images, m.credits, m.priced) == (6, 7, 38.5, 5)
        assert len(report.days) == 30 and report.days[-1].day == china_day(NOW)
        assert report.days[-2].totals.jobs == 1 and report.days[-2].totals.failed == 1  # yesterday: job 3
        assert report.days[-4].totals.videos == 1 and report.days[0].totals.jobs == 0
        assert sum(d.totals.jobs for d in report.days) == m.jobs
        assert report.resets_at == MIDNIGHT

        members = await usage.members(1)
        assert [(s.key, s.report.month.jobs) for s in members] == [("7", 6), ("8", 1)]
        accounts = await usage.accounts(1)
        assert [(s.key, s.label, s.report.month.jobs) for s in accounts] == [
            ("cn:aaaa", "abcd…wxyz", 5),  # jobs 1, 2, 3, 5 and 9 (job 7 has no account yet)
            ("cn:bbbb", "cn:bbbb (not configured)", 1),
        ]
        key = await usage.report({"api_owner": "k1"})
        assert (key.today.jobs, key.today.images) == (1, 1)
        assert (await usage.report({"guild_id": 2, "user_id": 7})).month.jobs == 1
    finally:
        await store.close()


async def test_prices_come_from_the_credit_ledger(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        usage = Usage.for_engine(engine)
        owner = {"user_id": 7, "guild_id": 1}
        jobs = [await engine.imagine(ImageParams(prompt=f"p{i}", count=c), owner=owner) for i, c in enumerate((1, 3))]
        for job in jobs:
            await job.wait()
        await engine.ledger.flush()
        assert await usage.refresh_credits() == 2
        report = await usage.report(owner)
        charged = sum(e["amount"] for e in fake_jimeng.ledger(session_id("cn-0")) if e["_type"] == 2)
        assert charged == 4  # the emulator's invented price: 1 credit per image (PROTOCOL.md §12.2)
        assert (report.today.jobs, report.today.images, report.today.credits, report.today.priced) == (2, 4, 4.0, 2)
        assert await usage.refresh_credits() == 0  # nothing left to price
        accounts = await usage.accounts(1)
        assert [s.label for s in accounts] == [engine.accounts()[0].masked]


async def test_member_quota_refuses_the_next_job_until_beijing_midnight(store_backend: StoreFactory) -> None:
    clock = [NOW]
    store = store_backend()
    prefs = Preferences(store, Registry(), lambda: frozenset({Region.CN}))
    await prefs.set_guild(1, quota=2)
    quotas = Quotas(Usage(store, clock=lambda: clock[0]), prefs)
    for n in (1, 2):
        async with quotas.admit_member(1, 7) as ticket:
            await store.save(rec(n, at=clock[0]))
            ticket.count(f"j{n}")
    st = await quotas.member_status(1, 7)
    assert (st.limit, st.used, st.remaining, st.allowed) == (2, 2, 0, False)
    with pytest.raises(DailyQuotaError) as info:
        async with quotas.admit_member(1, 7):
            pytest.fail("admitted past the quota")
    err = info.value
    assert (err.unit, err.limit, err.used, err.resets_at) == ("jobs", 2, 2, MIDNIGHT)
    assert (await quotas.member_status(1, 8)).remaining == 2  # another member is not affected
    await store.close()

    store = store_backend()  # a restart: settings and counts come back from the file or the database
    prefs = Preferences(store, Registry(), lambda: frozenset({Region.CN}))
    quotas = Quotas(Usage(store, clock=lambda: clock[0]), prefs)
    try:
        with pytest.raises(DailyQuotaError):
            await quotas.check({"guild_id": 1, "user_id": 7}, limit=2)
        clock[0] = MIDNIGHT + 1  # a new Beijing day
        async with quotas.admit_member(1, 7) as ticket:
            ticket.count("j3")
        assert (await quotas.member_status(1, 7)).used == 1  # counted at once, before any row is committed
    finally:
        await store.close()


async def test_concurrent_admissions_cannot_all_slip_under_the_quota() -> None:
    quotas = Quotas(Usage(MemoryJobStore(), clock=lambda: NOW))
    admitted: list[int] = []

    async def one(n: int) -> None:
        async with quotas.admit({"api_owner": "k"}, limit=2) as ticket:
            await asyncio.sleep(0.01)  # the job starts; its row is not committed yet
            ticket.count(f"job{n}")
            admitted.append(n)

    results = await asyncio.gather(*(one(n) for n in range(5)), return_exceptions=True)
    assert len(admitted) == 2
    assert sum(isinstance(r, DailyQuotaError) for r in results) == 3


async def test_credit_quota_counts_priced_credits() -> None:
    store = MemoryJobStore()
    for r in KNOWN[:2]:
        await store.save(r)
    await store.set_credits({"s1": 4, "s2": 2.5})
    quotas = Quotas(Usage(store, clock=lambda: NOW))
    member = {"guild_id": 1, "user_id": 7}
    assert (await quotas.check(member, limit=7, unit="credits")).remaining == 0.5
    with pytest.raises(DailyQuotaError) as info:
        await quotas.check(member, limit=6, unit="credits")
    assert info.value.unit == "credits" and info.value.used == 6.5
