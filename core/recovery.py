"""After a restart: resume the jobs a previous process left unfinished, and hand over the ones never delivered.

A job whose generate request may have left (state ``submitting``) is looked up by its submit_id before anything is
sent again; one that never reached Jimeng runs again from the start (with its kept reference images, if it needs
any); one that cannot be resumed fails with the reason. Jobs that outlived the process that started them are given to
the front end's delivery handler once they are terminal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from core.dispatch import Dispatcher, ResumeMode, needs_refs, total_items
from core.errors import JimengError, error_from_dict
from core.jobs import Job, JobRecord, JobResult, JobState, JobStore
from core.params import spec_from_dict
from core.pool import AccountPool
from core.registry import Registry
from core.retention import ResultKeeper

if TYPE_CHECKING:
    from core.shared import Sharing

log = logging.getLogger(__name__)

DeliveryHandler = Callable[[Job], Awaitable[None]]
Spawn = Callable[[Job, Coroutine[Any, Any, JobResult]], None]


class Deliveries:
    """Who delivers jobs that outlived the process that started them. Jobs that end before a handler is set wait."""

    def __init__(self, store: JobStore, track: Callable[[asyncio.Task[Any]], None]) -> None:
        self.store = store
        self._track = track
        self._handler: DeliveryHandler | None = None
        self._waiting: list[Job] = []
        self.shared: Sharing | None = None
        self.rescan: Callable[[], Coroutine[Any, Any, None]] | None = None  # the recovery scan (core.shared)

    @property
    def has_handler(self) -> bool:
        return self._handler is not None

    def set_handler(self, handler: DeliveryHandler | None) -> None:
        self._handler = handler
        if handler is not None and self.shared is not None and self.shared.started and self.rescan is not None:
            self._track(asyncio.create_task(self.rescan(), name="recovery-scan"))  # finished jobs of gone processes
        if handler is not None and self._waiting:
            pending, self._waiting = self._waiting, []
            for job in pending:
                self.hand_over_soon(job)

    def hand_over_soon(self, job: Job) -> None:
        if self._handler is None:
            self._waiting.append(job)
            return
        self._track(asyncio.create_task(self.hand_over(job), name=f"deliver:{job.id}"))

    async def hand_over(self, job: Job) -> None:
        if self._handler is None:
            self._waiting.append(job)
            if self.shared is not None:  # a process that can deliver it (the bot) may take it over
                await self.shared.store.disown(job.id)
            return
        try:
            await self._handler(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering recovered job %s failed; it stays undelivered", job.id)
            return
        await self.store.mark_delivered(job.id)


class Recovery:
    def __init__(
        self,
        store: JobStore,
        registry: Registry,
        pool: AccountPool,
        dispatcher: Dispatcher,
        keeper: ResultKeeper | None,
        deliveries: Deliveries,
        jobs: dict[str, Job],
        spawn: Spawn,
    ) -> None:
        self.store = store
        self.registry = registry
        self.pool = pool
        self.dispatcher = dispatcher
        self.keeper = keeper
        self.deliveries = deliveries
        self.jobs = jobs  # the engine's live jobs, by id
        self.spawn = spawn

    async def recover(self) -> None:
        """Resume every job a previous process left unfinished; hand finished-but-undelivered ones over again.

        With other processes on the store (``deliveries.shared``) this runs at start and on every heartbeat, and
        takes only jobs whose process is gone (its lease expired, or its pid on this host), each adopted in one
        transaction so that no two processes resume the same job; finished ones only when this process has a
        delivery handler (the bot), since one without (the API) could only hold them."""
        for rec in await self._orphans(terminal=False):
            await self._resume_record(rec)
        if self.deliveries.shared is not None and not self.deliveries.has_handler:
            return
        for rec in await self._orphans(terminal=True):
            done = self._job_from_terminal(rec)
            if done is not None:
                self.jobs[done.id] = done
                await self.deliveries.hand_over(done)

    async def _orphans(self, *, terminal: bool) -> list[JobRecord]:
        """The jobs to take over (active, or finished and undelivered) that this process does not have yet."""
        shared = self.deliveries.shared
        if shared is None:  # alone on the store: every one
            found = await (self.store.undelivered() if terminal else self.store.active())
            return [r for r in found if r.id not in self.jobs]
        out: list[JobRecord] = []
        for job_id, was in (await shared.store.orphans(terminal=terminal)).items():
            rec = None if job_id in self.jobs else await self.store.get(job_id)
            if rec is None or (rec.state in ("succeeded", "failed")) != terminal:
                continue
            runs_upstream = rec.body is not None and rec.state in ("submitting", "pending", "generating")
            if await shared.store.adopt(job_id, was, shared.id, rec.account_key if runs_upstream else None):
                if was is not None:
                    log.info("job %s: adopted from process %s, which is gone", job_id, was)
                out.append(rec)
        return out

    async def _resume_record(self, rec: JobRecord) -> None:
        try:
            spec = spec_from_dict(rec.kind, rec.spec, self.registry)
        except JimengError as err:
            await self._fail_record(rec, err)
            return
        job = Job(rec.kind, spec, owner=rec.owner, job_id=rec.id, submit_id=rec.submit_id)  # type: ignore[arg-type]
        job.recovered, job.history_id = True, rec.history_id
        total = total_items(spec)
        if rec.body is not None and rec.state in ("submitting", "pending", "generating"):
            acc = self.pool.get(rec.account_key) if rec.account_key else None
            if acc is None or not acc.pooled:
                reason = "the service restarted and the account that ran this job is no longer configured"
                await self._fail_record(rec, JimengError(reason))
                return
            self.jobs[job.id] = job
            acc.in_flight += 1  # the slot it held before the restart
            job.account = acc.masked
            mode: ResumeMode = "unconfirmed" if rec.state == "submitting" else "confirmed"
            job.publish(JobState.PENDING, total=total)
            self.spawn(job, self.dispatcher.resume(job, acc, spec, rec.body, mode))
        elif not needs_refs(spec) or (kept := await self._kept_refs(rec)):
            # Never submitted (nothing was charged): run it from the start, with its kept references if any.
            self.jobs[job.id] = job
            job.refs = rec.refs
            job.publish(JobState.QUEUED, total=total)
            refs = kept if needs_refs(spec) else []
            self.spawn(job, self.dispatcher.run(job, spec, among=None, refs=refs))
        else:
            reason = "the service restarted before the reference images were uploaded; nothing was charged"
            await self._fail_record(rec, JimengError(reason))

    async def _kept_refs(self, rec: JobRecord) -> list[Any]:
        if not rec.refs or self.keeper is None:
            return []
        return await self.keeper.load_refs(rec.refs) or []

    async def _fail_record(self, rec: JobRecord, err: JimengError) -> None:
        if self.deliveries.shared is not None:
            self.deliveries.shared.give(rec.id)  # the slot adoption gave it, if it had one
        err.submit_id = rec.submit_id
        rec.state, rec.error = JobState.FAILED.value, err.to_dict()
        await self.store.save(rec)
        log.warning("job %s could not be resumed: %s", rec.id, err.message)
        job = self._job_from_terminal(rec)
        if job is not None:
            self.jobs[job.id] = job
            self.deliveries.hand_over_soon(job)

    def _job_from_terminal(self, rec: JobRecord) -> Job | None:
        try:
            spec = spec_from_dict(rec.kind, rec.spec, self.registry)
        except JimengError:
            return None
        job = Job(rec.kind, spec, owner=rec.owner, job_id=rec.id, submit_id=rec.submit_id)  # type: ignore[arg-type]
        job.recovered, job.history_id = True, rec.history_id
        if rec.state == JobState.SUCCEEDED.value and rec.result:
            job.succeed(JobResult.from_dict(rec.result))
        else:
            job.fail(error_from_dict(rec.error or {}))
        return job
