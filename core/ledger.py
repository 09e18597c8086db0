"""The engine's book-keeping: each job's row in the store, account state, and the writes still in flight.

Every module that moves a job forward saves it through one ``Ledger``, so a job's record is built in one place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from core.accounts import Account
from core.errors import StoreUnavailableError
from core.jobs import Job, JobRecord, JobStore

log = logging.getLogger(__name__)


def record_of(job: Job, *, account_key: str | None = None, body: dict[str, Any] | None = None) -> JobRecord:
    """A job as the store keeps it. ``account_key`` and ``body`` are given when they change (the store keeps the
    earlier values otherwise)."""
    ev = job.last_event
    return JobRecord(
        id=job.id,
        kind=job.kind,
        spec=job.spec.to_dict(),
        owner=job.owner,
        submit_id=job.submit_id,
        state=ev.state.value,
        account_key=account_key,
        history_id=job.history_id,
        body=body,
        result=ev.result.to_dict() if ev.result else None,
        error=ev.error.to_dict() if ev.error else None,
        finished=ev.finished,
        total=ev.total,
        refs=job.refs,
    )


class Ledger:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.stamp_delivered = False  # a terminal row is delivered as written (Engine.serve_from_store)
        self._writes: set[asyncio.Task[None]] = set()  # saves not awaited by anyone: flushed, never cancelled

    async def save(self, job: Job, *, account_key: str | None = None, body: dict[str, Any] | None = None) -> None:
        """Write the job's row; a failing store is logged, not raised (the job itself goes on)."""
        try:
            record = record_of(job, account_key=account_key, body=body)
            if self.stamp_delivered and job.last_event.state.terminal:
                record.delivered_at = time.time()
            await self.store.save(record)
        except StoreUnavailableError as err:  # the database is away (PostgreSQL): the job goes on, one line
            log.warning("could not save job %s: %s", job.id, err.message)
        except Exception:
            log.exception("could not save job %s", job.id)

    def save_soon(self, job: Job) -> None:
        """Queue a save without waiting: the store's single writer commits it before anything queued later."""
        self._track(self.save(job))

    def save_account(self, acc: Account) -> None:
        if acc.pooled:
            self._track(self.store.save_account(acc.key, acc.snapshot()))

    def save_timing(self, key: str, data: dict[str, Any]) -> None:
        self._track(self.store.save_timing(key, data))

    async def flush(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _track(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(write)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, StoreUnavailableError):  # the database is away: the store said so once
            log.debug("a store write was lost: %s", exc.message)
        elif exc is not None:
            log.error("a store write failed", exc_info=exc)
