"""What each job really cost: read from the accounts' credit ledger and kept with the job (issue #15).

The ledger (``user_credit_history``, PROTOCOL.md §3.3) is the only place the real price of a job shows; each charge
names the job's ``submit_id`` and appears with a delay. Prices are never hard-coded (§3.5). ``Spending.refresh``
reads the spending pages of each pooled account that has unpriced jobs of the last 30 days and records the sum of
the charges per submit id (``store.set_credits``). A job the ledger does not show yet counts no credits until then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from core.accounts import Account
from core.errors import JimengError
from core.jobs import ACTIVE_STATES, JobStore
from core.pool import AccountPool
from core.transport import Upstream
from core.wire import CREDIT_HISTORY_SPENDING, PATH_USER_CREDIT_HISTORY, REGIONS, Region

log = logging.getLogger(__name__)

LOOKBACK_S = 31 * 86400  # usage reports 30 Beijing days
PAGE_SIZE = 50
MAX_PAGES = 6  # per account and refresh: at most 300 charges
REFRESH_EVERY_S = 30.0  # a usage or credit-quota question reads the ledgers at most this often


def _amount(value: Any) -> float:
    try:
        return abs(float(value))
    except (TypeError, ValueError):
        return 0.0


class Spending:
    def __init__(
        self,
        upstream: Upstream,
        pool: AccountPool,
        store: JobStore,
        *,
        clock: Callable[[], float] = time.time,
        every: float = REFRESH_EVERY_S,
    ) -> None:
        self.upstream = upstream
        self.pool = pool
        self.store = store
        self._clock = clock
        self.every = every
        self._last = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> int:
        """Record the prices the ledgers show for unpriced jobs; returns how many jobs got a price. Without
        ``force`` it does nothing when the last refresh was less than ``every`` seconds ago."""
        async with self._lock:
            now = self._clock()
            if not force and now - self._last < self.every:
                return 0
            self._last = now
            rows = await self.store.usage_rows({}, now - LOOKBACK_S)
            wanted: dict[str, set[str]] = defaultdict(set)
            for r in rows:
                if r.credits is None and r.account_key and not r.cancelled and r.state not in ACTIVE_STATES:
                    wanted[r.account_key].add(r.submit_id)
            prices: dict[str, float] = {}
            for acc in self.pool.accounts():
                if acc.key in wanted:
                    try:
                        prices.update(await self._read(acc, wanted[acc.key]))
                    except JimengError as err:
                        log.warning("credit ledger of %s: %s", acc.masked, err.message)
            await self.store.set_credits(prices)
            return len(prices)

    async def _read(self, acc: Account, submit_ids: set[str]) -> dict[str, float]:
        info = REGIONS[acc.region]
        referer = f"{info.web_origin}/ai-tool/image/generate" if acc.region is Region.CN else f"{info.web_origin}/"
        found: dict[str, float] = defaultdict(float)
        cursor = "0"
        for _ in range(MAX_PAGES):
            body = {"count": PAGE_SIZE, "cursor": cursor, "history_type": CREDIT_HISTORY_SPENDING}
            data = await self.upstream.call(
                acc, PATH_USER_CREDIT_HISTORY, body, commerce=True, default_query=False, referer=referer
            )
            records = data.get("records") if isinstance(data, dict) else None
            if not isinstance(records, list) or not records:
                break
            for rec in records:
                sid = rec.get("submit_id") if isinstance(rec, dict) else None
                if isinstance(sid, str) and sid in submit_ids:
                    found[sid] += _amount(rec.get("amount"))
            # the order of the pages is not documented (PROTOCOL.md §3.3): read until every job is found or the end
            if (
                submit_ids <= found.keys()
                or not data.get("has_more")
                or str(data.get("new_cursor") or "") in ("", cursor)
            ):
                break
            cursor = str(data["new_cursor"])
        return dict(found)
