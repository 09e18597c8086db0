"""The bot's own line: at most N running jobs per member, and a fair (round-robin) order across members.

A member's third job waits behind their own two; when a slot frees up, the waiting job of the member who has been
served least in this busy period goes first (ties: who asked first), so one member's pile never starves the others.
Every waiting job can see its position.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.render import BotError

log = logging.getLogger(__name__)

PositionCallback = Callable[[int, int], None]


@dataclass(eq=False)
class _Ticket:
    member: int
    seq: int
    future: asyncio.Future[None]
    on_position: PositionCallback | None = None
    limit: int | None = None  # this member's concurrency in the server the job came from (None: the line's)
    last_seen: tuple[int, int] | None = field(default=None)


class FairQueue:
    """``async with queue.slot(member_id, on_position=cb):`` runs the block when it is this job's turn."""

    def __init__(self, per_member: int = 2, *, capacity: Callable[[], int] | int = 0, max_waiting: int = 5) -> None:
        self.per_member = per_member
        self._capacity = capacity
        self.max_waiting = max_waiting
        self._running: dict[int, int] = {}
        self._served: dict[int, int] = {}  # jobs started per member since the line was last idle
        self._waiting: list[_Ticket] = []
        self._seq = itertools.count()

    @property
    def capacity(self) -> int:
        """Jobs that may run at once across members (0: no limit beyond the per-member one)."""
        cap = self._capacity() if callable(self._capacity) else self._capacity
        return max(0, int(cap))

    def running(self, member: int | None = None) -> int:
        return sum(self._running.values()) if member is None else self._running.get(member, 0)

    def waiting(self, member: int | None = None) -> int:
        return len(self._waiting) if member is None else sum(1 for w in self._waiting if w.member == member)

    def _order(self) -> list[_Ticket]:
        """Waiting tickets in the order they will start: round-robin across members, oldest first within one."""
        nth: dict[int, int] = {}
        keyed = []
        for w in self._waiting:  # already in arrival order
            k = nth.get(w.member, 0)
            nth[w.member] = k + 1
            keyed.append((self._served.get(w.member, 0) + k, w.seq, w))
        keyed.sort(key=lambda x: (x[0], x[1]))
        return [w for _, _, w in keyed]

    def position(self, member: int) -> int | None:
        """1-based place of the member's first waiting job, or None."""
        for i, w in enumerate(self._order(), 1):
            if w.member == member:
                return i
        return None

    def _can_start(self, member: int, limit: int | None = None) -> bool:
        if self._running.get(member, 0) >= (self.per_member if limit is None else limit):
            return False
        cap = self.capacity
        return not cap or self.running() < cap

    def _pump(self) -> None:
        self._waiting = [w for w in self._waiting if not w.future.done()]  # cancelled waiters leave the line
        started = True
        while started:
            started = False
            for w in self._order():
                if self._can_start(w.member, w.limit):
                    self._waiting.remove(w)
                    self._start(w.member)
                    w.future.set_result(None)
                    started = True
                    break
        order = self._order()
        for i, w in enumerate(order, 1):
            seen = (i, len(order))
            if w.on_position is not None and seen != w.last_seen:
                w.last_seen = seen
                try:
                    w.on_position(*seen)
                except Exception:
                    log.exception("queue position callback failed")

    def _start(self, member: int) -> None:
        self._running[member] = self._running.get(member, 0) + 1
        self._served[member] = self._served.get(member, 0) + 1

    def _release(self, member: int) -> None:
        left = self._running.get(member, 0) - 1
        if left > 0:
            self._running[member] = left
        else:
            self._running.pop(member, None)
        self._pump()
        if not self._running and not self._waiting:
            self._served.clear()

    @asynccontextmanager
    async def slot(
        self,
        member: int,
        *,
        on_position: PositionCallback | None = None,
        limit: int | None = None,
        max_waiting: int | None = None,
    ) -> AsyncIterator[None]:
        """``limit`` / ``max_waiting``: the member's server's own numbers (/server-settings), else the line's."""
        if not self._waiting and self._can_start(member, limit):
            self._start(member)
        else:
            if self.waiting(member) >= (self.max_waiting if max_waiting is None else max_waiting):
                raise BotError("e_member_busy", n=self.running(member) + self.waiting(member))
            future = asyncio.get_running_loop().create_future()
            ticket = _Ticket(member, next(self._seq), future, on_position, limit)
            self._waiting.append(ticket)
            self._pump()
            try:
                await ticket.future
            except asyncio.CancelledError:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    self._pump()
                elif ticket.future.done() and not ticket.future.cancelled():
                    self._release(member)
                raise
        try:
            yield
        finally:
            self._release(member)
