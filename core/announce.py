"""What every shared store offers (issue #16): the calls where processes meet, and completion announcements.

``LeaseStore`` is what ``core.shared``, ``core.recovery`` and ``core.pollshare`` use of a store that several processes
share: SQLite (``core.leases.SqliteLeases`` + ``core.pollstore.SqlitePolls``) and PostgreSQL (``core.pgleases.PgLeases``
+ ``core.pgpolls.PgPolls``) both have it; ``MemoryJobStore`` has not.
``Announcer`` is the pair of calls that tell other processes something changed: on PostgreSQL a NOTIFY, which a
``wait_announce`` elsewhere returns on at once; on SQLite there is no channel between processes, so ``announce`` does
nothing and ``wait_announce`` is a short sleep after which the caller reads the store again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from core.leases import Instance
    from core.pollstore import Look, Watch


@runtime_checkable
class Announcer(Protocol):
    async def announce(self, channel: str) -> None: ...

    async def wait_announce(self, channel: str, timeout: float) -> None: ...  # noqa: ASYNC109 (a wait, not a deadline)


@runtime_checkable
class LeaseStore(Announcer, Protocol):
    instance: str | None

    async def renew_instance(self, instance: str, host: str, pid: int, expires_at: float) -> bool: ...

    async def instances(self) -> list[Instance]: ...

    async def forget_instances(self, dead: Sequence[str]) -> None: ...

    async def take_slot(self, account_key: str, job_id: str, instance: str, limit: int) -> bool: ...

    def take_slot_soon(self, account_key: str, job_id: str, instance: str, limit: int) -> asyncio.Future[Any]: ...

    def give_slot(self, job_id: str, instance: str) -> asyncio.Future[Any]: ...

    async def slots_held(self, account_key: str) -> int: ...

    async def orphans(self, *, terminal: bool) -> dict[str, str | None]: ...

    async def adopt(self, job_id: str, was: str | None, instance: str, slot_account: str | None) -> bool: ...

    async def owners(self, job_ids: Sequence[str]) -> dict[str, str | None]: ...

    async def disown(self, job_id: str) -> None: ...

    async def begin_claim(self, account_key: str, day: str, instance: str, expires_at: float) -> bool: ...

    async def end_claim(self, account_key: str, day: str, *, done: bool) -> None: ...

    async def changed_since(self, table: str, since: float) -> dict[str, dict[str, Any]]: ...

    # one poller per account for every process (schema 6): core.pollstore.SqlitePolls, core.pgpolls.PgPolls
    async def poll_lease(self, account_key: str, instance: str, expires_at: float) -> str: ...

    async def poll_release(self, account_key: str, instance: str) -> None: ...

    async def watch(
        self, account_key: str, instance: str, dues: Mapping[str, tuple[str, float, float | None]]
    ) -> None: ...

    async def unwatch(self, submit_ids: Sequence[str]) -> None: ...

    async def watched(self, account_key: str, instance: str) -> tuple[str | None, list[Watch]]: ...

    async def report(self, looks: Mapping[str, str | None], seen_at: float, error: str | None) -> None: ...

    async def looks(self, account_key: str, submit_ids: Sequence[str]) -> tuple[str | None, dict[str, Look]]: ...


class SqliteAnnounce:
    """Mixed into ``SqliteJobStore`` (through ``SqliteLeases``): no channel between processes, a short poll instead."""

    async def announce(self, channel: str) -> None:
        return None

    async def wait_announce(self, channel: str, timeout: float) -> None:  # noqa: ASYNC109 (a wait, not a deadline)
        await asyncio.sleep(timeout)
