"""The account pool: session id rotation, health, credits and the daily free-credit claim (PROTOCOL.md §3).

Selection is deterministic: among healthy accounts of a region that offers the model, with spare capacity, the least
busy one first (accounts known to have no credits last). When none has capacity the caller waits in a FIFO queue and
can see its position. No random pick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from core.accounts import (
    Account,
    AccountState,
    ClaimResult,
    Credits,
    china_today,
    parse_credits,
)
from core.errors import (
    AuthError,
    JimengError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RegionError,
    RiskControlError,
)
from core.policy import (
    COOLDOWN_BASE_S,
    COOLDOWN_MAX_S,
    DEFAULT_ACCOUNT_CONCURRENCY,
    MAX_ADHOC_ACCOUNTS,
    MAX_COOLDOWN_WAIT_S,
    MAX_QUEUED_PER_ACCOUNT,
    QUEUE_FULL_RETRY_S,
    RATE_LIMIT_COOLDOWN_S,
    SLOT_POLL_S,
)
from core.tokens import Token
from core.transport import Upstream
from core.wire import (
    CREDIT_RECEIVE_TIME_ZONE,
    PATH_CREDIT_RECEIVE,
    PATH_USER_CREDIT,
    REGIONS,
    RET_NO_CREDITS,
    RET_SESSION_INVALID,
    Region,
)

if TYPE_CHECKING:
    from core.shared import Sharing

log = logging.getLogger(__name__)


class _Waiter:
    __slots__ = ("taking", "wants")

    def __init__(self, wants: Callable[[Account], bool]) -> None:
        self.wants = wants
        self.taking = False  # has picked an account and is asking the store: those behind it need not wait


class AccountPool:
    def __init__(
        self,
        upstream: Upstream,
        *,
        limit: int = DEFAULT_ACCOUNT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        today: Callable[[], date] = china_today,
        max_adhoc: int = MAX_ADHOC_ACCOUNTS,
    ) -> None:
        self.upstream = upstream
        self.limit = limit
        self.max_adhoc = max_adhoc  # callers' own accounts (API Bearer mode) remembered at once
        self._clock = clock
        self._today = today
        self._accounts: dict[str, Account] = {}
        self._cond = asyncio.Condition()
        self._waiters: list[_Waiter] = []
        self.on_change: Callable[[Account], None] | None = None  # persistence hook (the engine saves state)
        self.on_evict: Callable[[list[str]], None] | None = None  # forgotten caller accounts (the engine drops pollers)
        # Other processes on the data directory (issue #16): a slot is a lease in the store too, and the daily claim
        # is made by one process per account and day. None: this process is alone (no data directory).
        self.shared: Sharing | None = None
        self._taking: dict[str, asyncio.Future[Any]] = {}  # holder → its take queued without waiting (``confirm``)

    # ------------------------------------------------------------------------------------------------ membership

    def add(self, token: Token, *, pooled: bool = True) -> Account:
        acc = self._accounts.get(token.key)
        if acc is None:
            acc = Account(token, limit=self.limit, pooled=pooled)
            acc.last_used = self._clock()
            self._accounts[token.key] = acc
            if not pooled:
                self._evict_adhoc(keep=acc)
        elif pooled and not acc.pooled:
            acc.pooled = True
        acc.last_used = self._clock()
        return acc

    def _evict_adhoc(self, keep: Account) -> list[str]:
        """Keep at most ``max_adhoc`` callers' accounts (API Bearer mode): forget the least recently used idle
        ones, so memory does not grow with every distinct caller."""
        adhoc = [a for a in self._accounts.values() if not a.pooled]
        excess = len(adhoc) - self.max_adhoc
        gone: list[str] = []
        idle = [a for a in adhoc if a.in_flight == 0 and a is not keep]
        for acc in sorted(idle, key=lambda a: a.last_used)[: max(0, excess)]:
            self._accounts.pop(acc.key, None)
            gone.append(acc.key)
        if gone and self.on_evict is not None:
            self.on_evict(gone)
        return gone

    def accounts(self, *, pooled_only: bool = True) -> list[Account]:
        return [a for a in self._accounts.values() if a.pooled or not pooled_only]

    def regions(self) -> frozenset[Region]:
        return frozenset(a.region for a in self.accounts())

    def get(self, key: str) -> Account | None:
        return self._accounts.get(key)

    # ------------------------------------------------------------------------------------------------ health

    def _refresh_state(self, acc: Account) -> None:
        now = self._clock()
        if acc.state is AccountState.COOLDOWN and now >= acc.cooldown_until:
            acc.state = AccountState.OK
        if acc.state is AccountState.NO_CREDITS and acc.no_credits_day != self._today():
            acc.state = AccountState.OK

    def usable(self, acc: Account) -> bool:
        self._refresh_state(acc)
        return acc.state is AccountState.OK

    def _changed(self, acc: Account) -> None:
        if self.on_change is not None:
            self.on_change(acc)

    def note_refusal(self, acc: Account, err: JimengError) -> None:
        """Update an account after upstream refused it something."""
        acc.last_error = err.message
        self._note_refusal(acc, err)
        self._changed(acc)

    def _note_refusal(self, acc: Account, err: JimengError) -> None:
        if isinstance(err, AuthError):
            acc.state = AccountState.INVALID
            log.warning("account %s: session invalid or expired (ret %s); set a new session id", acc.masked, err.ret)
        elif isinstance(err, QuotaError):
            acc.state = AccountState.NO_CREDITS
            acc.no_credits_day = self._today()
            log.warning("account %s: out of credits until the next daily reset", acc.masked)
        elif isinstance(err, RiskControlError | RegionError):
            delay = min(COOLDOWN_MAX_S, COOLDOWN_BASE_S * (2**acc.cooldown_level))
            acc.cooldown_level += 1
            self._cool(acc, delay)
            log.warning("account %s: %s; cooling down for %.0fs", acc.masked, err.message, delay)
        elif isinstance(err, RateLimitError):
            self._cool(acc, err.retry_after or RATE_LIMIT_COOLDOWN_S)
            log.warning("account %s: rate limited; pausing %.0fs", acc.masked, err.retry_after or RATE_LIMIT_COOLDOWN_S)

    def _cool(self, acc: Account, delay: float) -> None:
        acc.state = AccountState.COOLDOWN
        acc.cooldown_until = self._clock() + delay

    def note_success(self, acc: Account) -> None:
        if acc.cooldown_level or acc.last_error:
            acc.cooldown_level = 0
            acc.last_error = None
            self._changed(acc)

    # ------------------------------------------------------------------------------------------------ capacity

    def _candidates(
        self, regions: frozenset[Region], among: Sequence[Account] | None, exclude: set[str]
    ) -> list[Account]:
        pool = list(among) if among is not None else self.accounts()
        return [a for a in pool if a.region in regions and a.key not in exclude]

    def _pick(self, candidates: Iterable[Account]) -> Account | None:
        ready = [a for a in candidates if self.usable(a) and a.in_flight < a.limit]
        if not ready:
            return None
        order = {id(a): i for i, a in enumerate(ready)}
        return min(ready, key=lambda a: (a.credits is not None and a.credits.total <= 0, a.in_flight, order[id(a)]))

    def unavailable_error(self, candidates: Sequence[Account], last: JimengError | None) -> JimengError:
        """The most useful error when no candidate can take a job."""
        if last is not None:
            return last
        if not candidates:
            return NoAccountError("no Jimeng account is configured for this model's site")
        states = {a.state for a in candidates}
        if states == {AccountState.INVALID}:
            return AuthError(
                "every Jimeng session id is invalid or expired; log in to Jimeng again for a new sessionid",
                ret=RET_SESSION_INVALID,
            )
        if AccountState.COOLDOWN in states and AccountState.OK not in states:
            wait = max(
                0.0, min(a.cooldown_until for a in candidates if a.state is AccountState.COOLDOWN) - self._clock()
            )
            return RiskControlError(
                f"every Jimeng account is cooling down; try again in {wait:.0f} s", retry_after=wait
            )
        return QuotaError("every Jimeng account is out of credits for today", ret=RET_NO_CREDITS)

    async def acquire(
        self,
        regions: frozenset[Region],
        *,
        among: Sequence[Account] | None = None,
        exclude: set[str] | None = None,
        last_error: JimengError | None = None,
        on_queue: Callable[[int, int], None] | None = None,
        holder: str = "",
    ) -> Account:
        """Reserve a slot on an account; wait in line (FIFO) while every healthy one is busy.

        A waiter may take an account only if no one ahead of it in line could use that account. With other processes
        on the store, the slot is also a lease there for ``holder`` (the job): an account whose slots other processes
        hold is skipped, and the line looks at the store again every ``SLOT_POLL_S``.
        """
        excluded = exclude or set()
        ticket = _Waiter(lambda a: a.region in regions and a.key not in excluded and (among is None or a in among))
        async with self._cond:
            self._waiters.append(ticket)
            try:
                last_pos = -1
                full: set[str] = set()  # accounts whose slots other processes hold (this look)
                while True:
                    candidates = self._candidates(regions, among, excluded)
                    if not any(self.usable(a) for a in candidates):
                        soon = self._cooldown_left(candidates)
                        if soon is None or soon > MAX_COOLDOWN_WAIT_S:
                            raise self.unavailable_error(candidates, last_error)
                    pos = self._waiters.index(ticket)
                    ahead = [w for w in self._waiters[:pos] if not w.taking]
                    acc = self._pick(a for a in candidates if a.key not in full and not any(w.wants(a) for w in ahead))
                    if acc is not None:
                        acc.in_flight += 1  # reserved while the store is asked, the line free meanwhile
                        if self.shared is None:
                            return acc
                        if self.shared.alone:  # the store's answer comes with the job's next commit (``confirm``)
                            self._taking[holder] = self.shared.take_soon(acc, holder)
                            return acc
                        ticket.taking = True
                        try:
                            if await self._unlocked(self.shared.take(acc, holder)):
                                return acc
                        except BaseException:  # cancelled (or the store failed): a take may still commit after
                            acc.in_flight -= 1
                            self.shared.give(holder)
                            raise
                        finally:
                            ticket.taking = False
                        acc.in_flight -= 1
                        full.add(acc.key)
                        self._cond.notify_all()
                        continue
                    if last_pos < 0:  # about to join the line: bounded per account (issue #13)
                        self._check_room(candidates, ahead)
                    if on_queue is not None and pos != last_pos:
                        on_queue(pos + 1, len(self._waiters))
                        last_pos = pos
                    wake = self._next_wake()
                    if full:
                        wake = min(wake or SLOT_POLL_S, SLOT_POLL_S)
                        full.clear()
                    try:
                        await asyncio.wait_for(self._cond.wait(), timeout=wake)
                    except TimeoutError:
                        pass  # a cool-down ended, or another process may have given a slot back: look again
            finally:
                self._waiters.remove(ticket)
                self._cond.notify_all()

    async def _unlocked(self, work: Awaitable[bool]) -> bool:
        """Await the store without holding the line's lock (other jobs' takes join the same transaction), then hold
        it again even when cancelled, as ``Condition.wait`` does."""
        self._cond.release()
        try:
            return await work
        finally:
            cancelled = False
            while True:
                try:
                    await self._cond.acquire()
                    break
                except asyncio.CancelledError:
                    cancelled = True
            if cancelled:
                raise asyncio.CancelledError

    def _check_room(self, candidates: Sequence[Account], ahead: Sequence[_Waiter]) -> None:
        """Refuse to queue behind ``MAX_QUEUED_PER_ACCOUNT`` waiters per account this job could use: past that, a
        caller is told to come back (``RateLimitError`` with ``retry_after``) instead of waiting without limit.

        Only for accounts callers bring (``pooled=False``: the API's Bearer mode, where anyone can queue on a
        session id). The owner's pool is admitted by its front end (the bot's per-user queue, the API's
        ``API_MAX_ACTIVE_JOBS`` per key), which may deliberately queue many jobs of its own."""
        if any(a.pooled for a in candidates):
            return
        limit = MAX_QUEUED_PER_ACCOUNT * max(1, len(candidates))
        waiting = sum(1 for w in ahead if any(w.wants(a) for a in candidates))
        if waiting >= limit:
            raise RateLimitError(
                f"{waiting} jobs are already waiting for this account; try again later",
                retry_after=QUEUE_FULL_RETRY_S,
            )

    def _cooldown_left(self, candidates: Sequence[Account]) -> float | None:
        """Seconds until the first cooling-down candidate is usable again (None if none is cooling down)."""
        now = self._clock()
        ends = [a.cooldown_until - now for a in candidates if a.state is AccountState.COOLDOWN]
        return max(0.0, min(ends)) if ends else None

    def _next_wake(self) -> float | None:
        now = self._clock()
        ends = [a.cooldown_until - now for a in self._accounts.values() if a.state is AccountState.COOLDOWN]
        future = [e for e in ends if e > 0]
        return max(0.05, min(future)) if future else None

    async def confirm(self, holder: str) -> bool:
        """Whether the store granted the slot ``acquire`` queued for ``holder`` without waiting, awaited before anything
        leaves for the account. False: another process holds them; release it and acquire again (each take waited)."""
        take = self._taking.pop(holder, None)
        if take is None or await asyncio.shield(take):
            return True
        assert self.shared is not None
        self.shared.refused()
        return False

    async def release(self, acc: Account, holder: str = "") -> None:
        self._taking.pop(holder, None)
        if self.shared is not None:
            self.shared.give(holder)  # queued before any take that follows; not waited for
        async with self._cond:
            acc.in_flight = max(0, acc.in_flight - 1)
            self._cond.notify_all()

    async def wake(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------------------------------------ credits

    async def refresh_credits(self, acc: Account) -> Credits:
        info = REGIONS[acc.region]
        referer = f"{info.web_origin}/ai-tool/image/generate" if acc.region is Region.CN else f"{info.web_origin}/"
        try:
            data = await self.upstream.call(
                acc, PATH_USER_CREDIT, {}, commerce=True, default_query=False, referer=referer
            )
        except JimengError as err:
            acc.last_error = err.message
            if isinstance(err, AuthError):
                self.note_refusal(acc, err)
            raise
        acc.credits = parse_credits(data)
        acc.credits_checked_at = self._clock()
        self._changed(acc)
        if acc.credits.total > 0 and acc.state is AccountState.NO_CREDITS:
            acc.state = AccountState.OK
            await self.wake()
        return acc.credits

    def claimed_today(self, acc: Account) -> bool:
        return acc.last_claim_day == self._today()

    async def claim_daily(self, acc: Account, *, force: bool = False) -> ClaimResult:
        """Claim the daily free credits once a day (PROTOCOL.md §3.2). Honest about ``-4 shark check reject``."""
        if self.claimed_today(acc) and not force:
            return ClaimResult(acc.masked, ok=True, already=True, message="already claimed today")
        day = self._today()
        if self.shared is not None and acc.pooled and not await self.shared.begin_claim(acc, day) and not force:
            # Another process claimed it today (or is claiming it now): once per account and day (issue #16).
            return ClaimResult(acc.masked, ok=True, already=True, message="already claimed today by another process")
        result = await self._claim(acc)
        if self.shared is not None and acc.pooled:
            await self.shared.end_claim(acc, day, done=result.ok)
        return result

    async def _claim(self, acc: Account) -> ClaimResult:
        info = REGIONS[acc.region]
        referer = f"{info.web_origin}/ai-tool/home" if acc.region is Region.CN else f"{info.web_origin}/"
        try:
            data = await self.upstream.call(
                acc, PATH_CREDIT_RECEIVE, {"time_zone": CREDIT_RECEIVE_TIME_ZONE}, commerce=True, referer=referer
            )
        except JimengError as err:
            acc.last_claim_ok = False
            acc.last_claim_message = err.message
            if isinstance(err, AuthError):
                self.note_refusal(acc, err)
            log.warning("account %s: daily credit claim failed: %s", acc.masked, err.message)
            self._changed(acc)
            return ClaimResult(acc.masked, ok=False, message=err.message)
        granted = int((data or {}).get("receive_quota") or 0) if isinstance(data, dict) else 0
        acc.last_claim_day = self._today()
        acc.last_claim_ok = True
        acc.last_claim_message = f"received {granted} credits" if granted else "nothing more to claim today"
        log.info("account %s: daily claim %s", acc.masked, acc.last_claim_message)
        if granted and acc.state is AccountState.NO_CREDITS:
            acc.state = AccountState.OK
        self._changed(acc)
        return ClaimResult(acc.masked, ok=True, granted=granted, already=granted == 0, message=acc.last_claim_message)
