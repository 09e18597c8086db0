"""Jobs: state, progress events (an async iterator per listener), results, and the store interface.

Front ends render ``JobEvent``s; ``core`` never formats text for people.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from core.errors import JimengError, JobCancelledError
from core.prefstore import MemoryExtras, UsageRow
from core.results import Asset

JobKind = Literal["image", "compose", "video", "tool"]  # tool: upscale / outpaint / detail (core.tools)
T = TypeVar("T")


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for an account with spare capacity (position known)
    UPLOADING = "uploading"  # reference images going to Jimeng
    SUBMITTING = "submitting"
    PENDING = "pending"  # accepted by Jimeng, waiting in its queue
    GENERATING = "generating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


@dataclass(frozen=True, slots=True)
class JobResult:
    assets: tuple[Asset, ...]
    model: str
    submit_id: str
    history_id: str | None = None
    width: int = 0
    height: int = 0
    elapsed_s: float = 0.0
    partial: bool = False
    notes: tuple[str, ...] = ()
    generation_s: float | None = None  # from Jimeng accepting the job to its result (the rest of elapsed_s is ours)

    @property
    def images(self) -> list[Asset]:
        return [a for a in self.assets if a.kind == "image"]

    @property
    def videos(self) -> list[Asset]:
        return [a for a in self.assets if a.kind == "video"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "assets": [a.to_dict() for a in self.assets],
            "model": self.model,
            "submit_id": self.submit_id,
            "history_id": self.history_id,
            "width": self.width,
            "height": self.height,
            "elapsed_s": self.elapsed_s,
            "partial": self.partial,
            "notes": list(self.notes),
            "generation_s": self.generation_s,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobResult:
        return cls(
            assets=tuple(Asset.from_dict(a) for a in d.get("assets", [])),
            model=d.get("model", ""),
            submit_id=d.get("submit_id", ""),
            history_id=d.get("history_id"),
            width=d.get("width", 0),
            height=d.get("height", 0),
            elapsed_s=d.get("elapsed_s", 0.0),
            partial=d.get("partial", False),
            notes=tuple(d.get("notes", ())),
            generation_s=d.get("generation_s"),
        )


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A snapshot of a job's progress. The last event of a job has ``state.terminal``."""

    job_id: str
    state: JobState
    elapsed_s: float = 0.0
    queue_position: int | None = None  # 1-based position, ours (waiting for an account) or Jimeng's queue
    queue_length: int | None = None
    eta_s: float | None = None  # seconds until the expected finish, when known
    finished: int = 0
    total: int = 0
    result: JobResult | None = None
    error: JimengError | None = None

    @property
    def done(self) -> bool:
        return self.state.terminal


class Job:
    """One generation. Create through ``Engine``; listen with ``events()``; or ``await wait()``."""

    def __init__(
        self,
        kind: JobKind,
        spec: Any,
        *,
        owner: dict[str, Any] | None = None,
        job_id: str | None = None,
        submit_id: str | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.id = job_id or uuid.uuid4().hex[:16]
        self.kind: JobKind = kind
        self.spec = spec
        self.owner = owner or {}
        self.submit_id = submit_id or str(uuid.uuid4())
        self.history_id: str | None = None
        self.account: str | None = None  # masked
        self.recovered = False  # started by a previous process; delivered through the engine's delivery handler
        self.created_at = time.time()
        self.finished_at: float | None = None  # wall-clock time of the terminal event
        self.refs: list[dict[str, Any]] | None = None  # where its reference images are kept (data directory)
        self._clock = clock
        self._started = clock()
        self._last = JobEvent(self.id, JobState.QUEUED)
        self._listeners: list[asyncio.Queue[JobEvent]] = []
        self._done: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        self.cancelled = False  # Job.cancel() was accepted: the job will never be submitted
        self._guarded: set[asyncio.Future[Any]] = set()  # its waits that cancel() interrupts (the line for an account)

    @property
    def state(self) -> JobState:
        return self._last.state

    @property
    def last_event(self) -> JobEvent:
        return self._last

    @property
    def elapsed_s(self) -> float:
        return float(self._clock() - self._started)

    def publish(self, state: JobState, **fields: Any) -> JobEvent:
        """Record a new snapshot and hand it to every listener. Ignored once the job is terminal."""
        if self._last.state.terminal:
            return self._last
        event = replace(
            JobEvent(self.id, state),
            elapsed_s=round(self.elapsed_s, 3),
            total=fields.pop("total", self._last.total),
            finished=fields.pop("finished", self._last.finished),
            **fields,
        )
        self._last = event
        if state.terminal:
            self.finished_at = time.time()
        for q in self._listeners:
            q.put_nowait(event)
        if state is JobState.SUCCEEDED and event.result is not None:
            self._done.set_result(event.result)
        elif state is JobState.FAILED:
            self._done.set_exception(event.error or JimengError("the job failed"))
            self._done.exception()  # mark retrieved: a failure nobody awaits is not an "unhandled" error
        return event

    def replace_result(self, result: JobResult) -> None:
        """After success: the same result with local copies attached. No new event (listeners already had it)."""
        if self._last.state is JobState.SUCCEEDED:
            self._last = replace(self._last, result=result)

    async def wait_terminal(self) -> JobEvent:
        """The terminal event, whether the job succeeded or failed (never raises the job's error)."""
        await asyncio.wait([self._done])
        return self._last

    def succeed(self, result: JobResult) -> None:
        self.publish(JobState.SUCCEEDED, result=result, finished=len(result.assets), total=len(result.assets))

    def fail(self, error: JimengError) -> None:
        if error.submit_id is None:
            error.submit_id = self.submit_id
        self.publish(JobState.FAILED, error=error)

    async def events(self) -> AsyncIterator[JobEvent]:
        """Yield the current snapshot, then every change, ending with the terminal event."""
        q: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._listeners.append(q)
        try:
            event = self._last
            yield event
            while not event.state.terminal:
                event = await q.get()
                yield event
        finally:
            self._listeners.remove(q)

    async def wait(self) -> JobResult:
        """The result, or raise the job's ``JimengError``."""
        return await asyncio.shield(self._done)

    def cancel(self) -> bool:
        """Give up on a job that has not been handed to Jimeng yet (queued, or uploading its references): it leaves
        the line at once and fails with ``JobCancelledError``; it is never submitted. Returns False, changing nothing,
        once it was submitted (credits may be spent: it runs to its end) or finished. Front ends call this when a
        synchronous caller goes away; asynchronous tasks (polled later) are not cancelled."""
        if self.cancelled or self._last.state not in (JobState.QUEUED, JobState.UPLOADING):
            return False
        self.cancelled = True
        for fut in list(self._guarded):
            fut.cancel()
        return True

    def check_cancelled(self) -> None:
        """Raise ``JobCancelledError`` if ``cancel`` was accepted (called right before anything is submitted)."""
        if self.cancelled:
            raise JobCancelledError("the job was cancelled before it was submitted (its caller left)")

    async def unless_cancelled(self, aw: Awaitable[T]) -> T:
        """Await ``aw``, interrupted by ``cancel`` (then ``JobCancelledError``)."""
        self.check_cancelled()
        task = asyncio.ensure_future(aw)
        self._guarded.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.cancelled and task.cancelled() and not (current is not None and current.cancelling()):
                self.check_cancelled()
            raise
        finally:
            self._guarded.discard(task)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.kind}, {self.state.value})"


@dataclass(slots=True)
class JobRecord:
    """What a store keeps about a job. ``body`` is the exact generate body, written before it is sent."""

    id: str
    kind: str
    spec: dict[str, Any]
    owner: dict[str, Any]
    submit_id: str
    state: str
    account_key: str | None = None
    history_id: str | None = None
    body: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    finished: int = 0
    total: int = 0
    delivered_at: float | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    refs: list[dict[str, Any]] | None = None  # kept reference images: [{"path", "width", "height", "format"}]


ACTIVE_STATES = frozenset(s.value for s in JobState if not s.terminal)


class JobStore(Protocol):
    """Where jobs and account state survive a restart. ``MemoryJobStore`` keeps them for the process only;
    ``core.store.SqliteJobStore`` on disk."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def save(self, record: JobRecord) -> None: ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list_owner(self, key: str, value: Any, limit: int = 20) -> list[JobRecord]: ...

    async def active(self) -> list[JobRecord]: ...

    async def undelivered(self) -> list[JobRecord]: ...

    async def mark_delivered(self, job_id: str) -> None: ...

    async def count_active(self, *, owner_key: str | None = None, owner_value: Any = None) -> int: ...

    async def count_since(self, owner_key: str, owner_value: Any, since: float) -> int: ...

    async def save_account(self, key: str, data: dict[str, Any]) -> None: ...

    async def load_accounts(self) -> dict[str, dict[str, Any]]: ...

    async def save_timing(self, key: str, data: dict[str, Any]) -> None: ...

    async def load_timings(self) -> dict[str, dict[str, Any]]: ...

    async def add_file(self, path: str, job_id: str, size: int) -> None: ...

    async def files_to_evict(self, *, older_than: float, max_bytes: int) -> list[str]: ...

    async def forget_files(self, paths: Sequence[str]) -> None: ...

    # settings, prices and usage (issue #15): core.prefstore
    async def load_settings(self, scope: str, subject: str) -> dict[str, Any] | None: ...

    async def save_settings(self, scope: str, subject: str, data: Mapping[str, Any] | None) -> None: ...

    async def set_credits(self, prices: Mapping[str, float]) -> None: ...

    async def usage_rows(self, match: Mapping[str, Any], since: float) -> list[UsageRow]: ...


class MemoryJobStore(MemoryExtras):
    """Default store when no data directory is given: everything lives in memory (lost on restart)."""

    def __init__(self, keep: int = 5000) -> None:
        self._records: dict[str, JobRecord] = {}
        self._accounts: dict[str, dict[str, Any]] = {}
        self._timings: dict[str, dict[str, Any]] = {}
        self._files: dict[str, tuple[str, int, float]] = {}
        self._keep = keep

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def save(self, record: JobRecord) -> None:
        record.updated_at = time.time()
        old = self._records.get(record.id)
        if old is not None:
            record.body = record.body or old.body
            record.account_key = record.account_key or old.account_key
            record.history_id = record.history_id or old.history_id
            record.delivered_at = record.delivered_at or old.delivered_at
            record.refs = record.refs or old.refs
            record.created_at = old.created_at
        self._records[record.id] = record
        if len(self._records) > self._keep:
            done = [r for r in self._records.values() if r.state not in ACTIVE_STATES]
            if done:
                self._records.pop(min(done, key=lambda r: r.updated_at).id, None)

    async def get(self, job_id: str) -> JobRecord | None:
        return self._records.get(job_id)

    async def list_owner(self, key: str, value: Any, limit: int = 20) -> list[JobRecord]:
        hits = [r for r in self._records.values() if r.owner.get(key) == value]
        return sorted(hits, key=lambda r: r.created_at, reverse=True)[:limit]

    async def active(self) -> list[JobRecord]:
        return sorted((r for r in self._records.values() if r.state in ACTIVE_STATES), key=lambda r: r.created_at)

    async def undelivered(self) -> list[JobRecord]:
        return [r for r in self._records.values() if r.state not in ACTIVE_STATES and r.delivered_at is None]

    async def mark_delivered(self, job_id: str) -> None:
        if job_id in self._records:
            self._records[job_id].delivered_at = time.time()

    async def count_active(self, *, owner_key: str | None = None, owner_value: Any = None) -> int:
        return sum(
            1
            for r in self._records.values()
            if r.state in ACTIVE_STATES and (owner_key is None or r.owner.get(owner_key) == owner_value)
        )

    async def count_since(self, owner_key: str, owner_value: Any, since: float) -> int:
        return sum(1 for r in self._records.values() if r.owner.get(owner_key) == owner_value and r.created_at >= since)

    async def save_account(self, key: str, data: dict[str, Any]) -> None:
        self._accounts[key] = dict(data)

    async def load_accounts(self) -> dict[str, dict[str, Any]]:
        return dict(self._accounts)

    async def save_timing(self, key: str, data: dict[str, Any]) -> None:
        self._timings[key] = dict(data)

    async def load_timings(self) -> dict[str, dict[str, Any]]:
        return dict(self._timings)

    async def add_file(self, path: str, job_id: str, size: int) -> None:
        self._files[path] = (job_id, size, time.time())

    async def files_to_evict(self, *, older_than: float, max_bytes: int) -> list[str]:
        rows = sorted(self._files.items(), key=lambda kv: kv[1][2])
        total = sum(size for _, (_, size, _) in rows)
        out: list[str] = []
        for path, (_, size, created) in rows:
            if created < older_than or total > max_bytes:
                out.append(path)
                total -= size
        return out

    async def forget_files(self, paths: Sequence[str]) -> None:
        for p in paths:
            self._files.pop(p, None)
