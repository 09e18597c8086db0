"""Daily upkeep: the live model catalogue, the daily free credits, credit balances, and eviction of kept results."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.accounts import Account
from core.daily import china_today, seconds_to_reset
from core.errors import JimengError
from core.policy import CREDIT_REFRESH_S
from core.pool import AccountPool
from core.registry import Registry
from core.transport import Upstream
from core.wire import PATH_COMMON_CONFIG, Region

log = logging.getLogger(__name__)


async def load_catalogue(upstream: Upstream, pool: AccountPool, registry: Registry, default_image_model: str) -> None:
    """Merge the live model catalogue (PROTOCOL.md §7.4) over the static table, once per configured site."""
    by_region: dict[Region, Account] = {}
    for acc in pool.accounts():
        if pool.usable(acc):
            by_region.setdefault(acc.region, acc)
    for region, acc in by_region.items():
        try:
            data = await upstream.call(acc, PATH_COMMON_CONFIG, {})
        except JimengError as err:
            log.info("model catalogue unavailable on %s (%s); using the built-in table", region.value, err.message)
            continue
        registry.merge_catalogue(region, data)
        listed = {m.get("model_req_key") for m in (data or {}).get("model_list", []) if isinstance(m, dict)}
        default = registry.get(default_image_model)
        if default and region in default.regions and listed and default.key not in listed:
            log.warning(
                "the default image model %s is not in the %s catalogue; keeping it, but upstream may refuse it",
                default.name,
                region.value,
            )


Step = Callable[[], Awaitable[object]]


async def maintain_forever(daily: list[Step], refresh_credits: Step) -> None:
    """Run the ``daily`` steps now, then again every ``CREDIT_REFRESH_S`` or just after midnight China time (when
    Jimeng's daily credits reset), whichever comes first; the steps are cheap when there is nothing to do (the claim
    happens once a day per account). Balances are refreshed before each round that is not the first of a day. A
    failing step is logged; the loop goes on."""
    while True:
        try:
            for step in daily:
                await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("daily maintenance failed")
        day = china_today()
        await asyncio.sleep(min(CREDIT_REFRESH_S, seconds_to_reset() + 60))
        if china_today() == day:
            await refresh_credits()
