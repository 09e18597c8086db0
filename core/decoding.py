"""A process-wide budget of decoded pixels (issue #13): reference images are decoded only while their pixels fit.

Decoding is what costs memory (an 8000 px PNG is ~200 MB as pixels, ~400 KB on the wire), so every decode holds its
pixel count from ``DECODE_BUDGET`` for as long as it runs. Waiters are served first in, first out: a burst waits its
turn instead of multiplying the peak. An image larger than the whole budget holds all of it (it runs alone).

The budget keeps no event loop of its own (each waiter's future belongs to the loop that waits), so one instance
serves the process whatever loop it runs in.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.policy import DECODE_BUDGET_PIXELS, MALLOC_MMAP_THRESHOLD_BYTES

log = logging.getLogger(__name__)
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_freed_images_to_the_system() -> bool:
    """Pin glibc's mmap threshold so Pillow's large pixel blocks are mmapped and unmapped when freed. Without it glibc
    raises the threshold after the first big free and keeps every later decode's blocks in per-thread heaps (the
    "1.3 GB stayed held" of issue #13). A no-op off glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


class PixelBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.used = 0
        self.peak = 0  # the most pixels ever held at once (for tests and the bench)
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        n = min(max(1, pixels), self.capacity)
        if self._waiters or self.used + n > self.capacity:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (n, fut)
            self._waiters.append(entry)
            try:
                await fut
            except BaseException:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                elif fut.done() and not fut.cancelled():  # granted, then cancelled before it ran: give it back
                    self._release(n)
                raise
        else:
            self._take(n)
        try:
            yield
        finally:
            self._release(n)

    def _take(self, n: int) -> None:
        self.used += n
        self.peak = max(self.peak, self.used)

    def _release(self, n: int) -> None:
        self.used -= n
        while self._waiters and self.used + self._waiters[0][0] <= self.capacity:
            want, fut = self._waiters.popleft()
            if fut.done():
                continue
            self._take(want)
            fut.set_result(None)


DECODE_BUDGET = PixelBudget(DECODE_BUDGET_PIXELS)
return_freed_images_to_the_system()
