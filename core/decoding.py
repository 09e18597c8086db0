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

from core.policy import DECODE_BUDGET_PIXELS

log = logging.getLogger(__name__)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def return_freed_memory() -> None:
    """Hand memory freed by a decode back to the system (glibc's ``malloc_trim``; a no-op elsewhere). Without it
    glibc keeps the freed pixel blocks in its per-thread heaps: the "1.3 GB stayed held" of issue #13."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


# glibc's mallopt parameter (malloc.h) and our value: allocations from 1 MiB up get their own mapping, returned to the
# system when freed. By default glibc raises this threshold as large blocks are freed (up to 32 MiB), so Pillow's
# 16 MiB pixel blocks end up in the heaps and stay held until trimmed: the server's peak for two requests of four
# 8000 px PNGs was 390-490 MiB (7 of 16 runs over 400) and 388-389 MiB with the fixed threshold (11 of 11 runs).
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20


def map_large_allocations(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold (False, changing nothing, where there is no glibc). Entry points call it at start."""
    mallopt = getattr(_LIBC, "mallopt", None)
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) if mallopt is not None else False


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
