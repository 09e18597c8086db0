"""One poller per account across processes (issue #16): the engine's side of ``core.pollstore``.

Alone on its store (no other live instance, as ``core.shared`` counts them at each heartbeat) a process polls as it
always has: ``AccountShare.turn`` answers False at once, with no store access. With others alive, the process that
holds an account's poll lease (taken by the first process with jobs there that finds it free; kept while any process
has a job there, so it does not change hands at the end of each of the holder's own) polls that account for every
process: each tick is ONE ``get_history_by_ids`` for its own jobs and every job the others watch, at the earliest due
time of them all, and it writes back what it saw. The others never call upstream for that account: they write when
each of their jobs is due, read back the records the poller saw and run the poller's own update on them (publishing,
learning, settling), exactly as if they had polled. A holder that dies stops renewing its lease (on this host its instance row goes at the next heartbeat); the next
watcher that looks takes the lease over and polls for everyone.

On SQLite nothing is announced between processes, so the waiting side polls the store: the holder reads the due
times every ``SHARED_WATCH_S``, a watcher the looks as often (each may move its schedule, which the holder then needs)
and every ``SHARED_LOOK_S`` while one of its jobs is overdue. A watch row says which look its due time was computed
after (``basis``), so the holder never polls again for a due time its latest look has already moved. A store with
``wait_announce`` (PostgreSQL's NOTIFY) wakes them at once. This module drives ``AccountPoller`` from the inside
(its tracked jobs, ``_tick``, ``_update``): it is the poller's other half, kept apart for size.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import AuthError, JimengError, error_from_dict
from core.policy import POLL_LEASE_S, SHARED_LOOK_S, SHARED_WATCH_S

if TYPE_CHECKING:
    from core.poller import AccountPoller, Tracked
    from core.pollstore import SqlitePolls
    from core.shared import Sharing

log = logging.getLogger(__name__)


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def masked(self) -> str: ...


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class AccountShare:
    """One account's polling among the processes on the store: this process polls it for all, or watches."""

    def __init__(self, store: SqlitePolls, sharing: Sharing, account: _Keyed) -> None:
        self.store = store
        self.sharing = sharing
        self.key = account.key
        self.masked = account.masked
        self.holding = False  # this process holds the account's poll lease (until ``lease_until``, epoch seconds)
        self.lease_until = 0.0
        self.written: dict[str, tuple[float, float | None]] = {}  # watcher: submit_id → (due time, basis) written
        self.seen: dict[str, float] = {}  # watcher: submit_id → the holder's look already used (its seen_at)
        self.looked: dict[str, float] = {}  # holder: submit_id → when we last looked at it for its process
        self.offset = 0.0  # epoch seconds − the poller's clock, fixed at the first turn (due times compare exactly)
        self.broken_until = 0.0  # the store failed: poll directly until then (monotonic)
        self.ticks = 0  # requests sent for every process (tests, bench)

    async def turn(self, p: AccountPoller) -> bool:
        """One step of the poller's loop when other processes are alive: False (nothing done) when it should poll on
        its own, as a process alone on the store does."""
        if not self.sharing.others or time.monotonic() < self.broken_until:
            if self.holding or self.written:  # back to polling alone: leave nothing behind that others wait on
                await self._leave()
            return False
        if not self.offset:
            self.offset = time.time() - p._clock()
        try:
            if self.holding:
                # Its own jobs ended, it goes on polling for the others while they watch: a lease handed over at the
                # end of each job left the next holder polling again for jobs the last look had served.
                while await self._hold(p) and not p._tracked and self.sharing.others:
                    pass
            else:
                await self._watch(p)
            if not p._tracked:
                await self._leave()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is unwell: poll directly (one request per process) for a while
            log.warning("polls of %s through the store failed (%s); polling directly for now", self.masked, exc)
            self.broken_until = time.monotonic() + POLL_LEASE_S
            self.holding = False
            return False
        return True

    # ------------------------------------------------------------------------------------------------ holder

    async def _hold(self, p: AccountPoller) -> bool:
        """One step of the holder: wait for the earliest due time, or poll. True while other processes watch jobs."""
        me = self.sharing.id
        holder, watches = await self.store.watched(self.key, me)
        if (holder != me or self.lease_until - time.time() < POLL_LEASE_S / 2) and not await self._take():
            return False  # another process polls it now (ours expired while we were slow): watch from the next turn
        now = p._clock()
        # A look at a job due within a gap moves its schedule (as AccountPoller._not_ready does): its due time counts
        # again once its process has used that look (``basis``), or if it lay further ahead than a gap.
        gap = p.timing.max_gap("image")
        pending = [
            w.due_at - self.offset
            for w in watches
            if w.submit_id not in self.looked
            or (w.basis is not None and w.basis >= self.looked[w.submit_id])
            or w.due_at > self.looked[w.submit_id] + gap
        ]
        due = [*(min(t.next_poll_at, t.deadline_at) for t in p._tracked.values()), *pending]
        next_at = min(due, default=now + SHARED_WATCH_S)  # none due: read the watches again in a while
        if next_at > now:
            await self._wait(p, f"polls:{self.key}", min(next_at - now, SHARED_WATCH_S))
            return bool(watches)
        ids = [w.submit_id for w in watches]
        self.ticks += 1
        out = await p._tick(ids)
        seen = time.time()
        self.looked = dict.fromkeys(ids, seen)
        if not ids:
            return False
        if isinstance(out, JimengError):
            await self.store.report(dict.fromkeys(ids), seen, _dumps(out.to_dict()))
        else:
            await self.store.report({s: None if out.get(s) is None else _dumps(out[s]) for s in ids}, seen, None)
        await self._announce(f"looks:{self.key}")
        return True

    async def _take(self) -> bool:
        until = time.time() + POLL_LEASE_S
        self.holding = await self.store.poll_lease(self.key, self.sharing.id, until) == self.sharing.id
        if self.holding:
            self.lease_until = until
            self.seen.clear()
            if self.written:  # we poll our own jobs now
                await self.store.unwatch(list(self.written))
                self.written.clear()
        return self.holding

    # ------------------------------------------------------------------------------------------------ watcher

    async def _watch(self, p: AccountPoller) -> None:
        holder, looks = await self.store.looks(self.key, list(p._tracked))
        now = p._clock()
        failed: list[Tracked] = []
        error: JimengError | None = None
        for sid, look in looks.items():
            t = p._tracked.get(sid)
            if t is None or look.seen_at <= self.seen.get(sid, 0.0):
                continue
            self.seen[sid] = look.seen_at
            at = min(now, look.seen_at - self.offset)  # when the holder saw it, on our clock
            if look.error is not None:
                failed.append(t)
                error = error_from_dict(json.loads(look.error))
            else:
                record = json.loads(look.record) if look.record is not None else None
                p._update(t, record, at, t.next_poll_at <= at + 0.05)
        if error is not None:
            _failed(p, failed, error, now)
        p._check_deadlines(now)
        await self._write_dues(p)
        if not p._tracked:
            return
        if holder in (None, self.sharing.id) and await self._take():
            log.info("polling %s for every process on the store", self.masked)
            return
        # Read the holder's looks soon after it makes them (each may move our schedule, which it then needs), and
        # often while one of ours is overdue.
        next_at = min(min(t.next_poll_at, t.deadline_at) for t in p._tracked.values())
        now = p._clock()
        await self._wait(p, f"looks:{self.key}", min(next_at - now, SHARED_WATCH_S) if next_at > now else SHARED_LOOK_S)

    async def _write_dues(self, p: AccountPoller) -> None:
        """Tell the holder when each of our jobs is due (only what changed), and forget the jobs that ended."""
        gone = [sid for sid in self.written if sid not in p._tracked]
        if gone:
            await self.store.unwatch(gone)
            for sid in gone:
                self.written.pop(sid, None)
                self.seen.pop(sid, None)
        dues = {
            sid: (t.job.id, t.next_poll_at + self.offset, self.seen.get(sid))
            for sid, t in p._tracked.items()
            if self.written.get(sid) != (t.next_poll_at + self.offset, self.seen.get(sid))
        }
        if not dues:
            return
        earlier = any(due < self.written.get(sid, (math.inf,))[0] for sid, (_, due, _) in dues.items())
        await self.store.watch(self.key, self.sharing.id, dues)
        self.written.update({sid: (due, basis) for sid, (_, due, basis) in dues.items()})
        if earlier:
            await self._announce(f"polls:{self.key}")

    # ------------------------------------------------------------------------------------------------ both

    async def _leave(self) -> None:
        holding, written = self.holding, list(self.written)
        self.holding = False
        self.written.clear()
        self.seen.clear()
        self.looked.clear()
        try:
            if holding:
                await self.store.poll_release(self.key, self.sharing.id)
            if written:
                await self.store.unwatch(written)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the rows expire or are ignored once stale
            log.info("could not clear %s's poll rows: %s", self.masked, exc)

    async def _wait(self, p: AccountPoller, channel: str, seconds: float) -> None:
        """For ``seconds``, until a new job of ours (the poller's wake), or an announcement on ``channel``."""
        p._wake.clear()
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(p._wake.wait())]
        wait_announce = getattr(self.store, "wait_announce", None)  # the PostgreSQL backend's LISTEN
        if wait_announce is not None:
            waits.append(asyncio.ensure_future(wait_announce(channel, seconds)))
        try:
            await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _announce(self, channel: str) -> None:
        announce = getattr(self.store, "announce", None)  # NOTIFY on PostgreSQL; nothing to do on SQLite
        if announce is not None:
            result = announce(channel)
            if isinstance(result, Awaitable):
                await result


def _failed(p: AccountPoller, batch: Sequence[Tracked], err: JimengError, now: float) -> None:
    """The holder's request failed: what ``AccountPoller._tick`` does with its own jobs (an invalid session fails
    them; otherwise the due ones back off)."""
    if isinstance(err, AuthError):
        for t in batch:
            p._settle(t, error=err)
        return
    for t in batch:
        if t.next_poll_at <= now:
            t.errors += 1
            t.next_poll_at = now + min(p.timing.max_backoff, p.timing.interval(t.kind) * 2**t.errors)
