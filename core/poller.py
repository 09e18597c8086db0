"""Batched, adaptive polling (§7): one poller per account, ONE ``get_history_by_ids`` per tick for all its jobs.

Each job has its own next-poll time. Once this process has seen a model finish, the first poll comes at the start of
a short window around the expected finish (upstream's queue estimate plus the generation time learned for the
model) and polls inside the window come every ``interval``; outside it they back off geometrically. Before anything
is learned the first poll comes at ``first_poll_fraction`` of the configured guess, then backs off the same way.
What is learned is when the result became READY (bracketed between the last "not yet" and the first "done" poll,
or upstream's own ``finish_time − created_time``), never when we happened to poll, so a late poll does not teach
the next job to be late too. A tick fires at the earliest next-poll time and asks for every in-flight job of the
account at once, so extra jobs cost no extra requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from core.errors import (
    AuthError,
    ContentRejectedError,
    DecodeError,
    GenerationFailedError,
    JimengError,
    JobTimeoutError,
    UpstreamError,
    classify_ret,
)
from core.jobs import Job, JobState
from core.policy import (
    BACKOFF_FRACTION,
    FIRST_POLL_FRACTION,
    IMAGE_DEADLINE_S,
    IMAGE_EXPECTED_S,
    IMAGE_POLL_INTERVAL_S,
    MIN_FIRST_POLL_S,
    STALL_45_GRACE_S,
    VIDEO_DEADLINE_S,
    VIDEO_EXPECTED_S,
    VIDEO_POLL_INTERVAL_S,
    WINDOW_FRACTION,
)
from core.results import Asset, RecordView, parse_record
from core.transport import Identity, Upstream
from core.wire import PATH_HISTORY_BY_IDS, RET_OK, STATUS_FAILED, STATUS_QUEUED, STATUS_SUCCESS, TaskStatus

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Timing:
    """Polling knobs. Defaults come from ``core.wire``; tests and benchmarks pass their own."""

    image_interval: float = IMAGE_POLL_INTERVAL_S
    video_interval: float = VIDEO_POLL_INTERVAL_S
    image_expected: float = IMAGE_EXPECTED_S
    video_expected: float = VIDEO_EXPECTED_S
    first_poll_fraction: float = FIRST_POLL_FRACTION
    min_first_poll: float = MIN_FIRST_POLL_S
    window_fraction: float = WINDOW_FRACTION
    backoff_fraction: float = BACKOFF_FRACTION
    image_deadline: float = IMAGE_DEADLINE_S
    video_deadline: float = VIDEO_DEADLINE_S
    stall_grace: float = STALL_45_GRACE_S
    unseen_grace: float = 30.0  # a submit whose reply was lost and that never shows up → resubmit (same submit_id)
    max_backoff: float = 30.0

    def interval(self, kind: str) -> float:
        return self.video_interval if kind == "video" else self.image_interval

    def expected(self, kind: str) -> float:
        return self.video_expected if kind == "video" else self.image_expected

    def deadline(self, kind: str) -> float:
        return self.video_deadline if kind == "video" else self.image_deadline


class Durations:
    """Generation times per model (EWMA of when results became ready, queue wait excluded), to place first polls."""

    def __init__(self, alpha: float = 0.3) -> None:
        self._alpha = alpha
        self._by_model: dict[str, float] = {}

    def get(self, model_key: str) -> float | None:
        return self._by_model.get(model_key)

    def observe(self, model_key: str, seconds: float) -> None:
        prev = self._by_model.get(model_key)
        self._by_model[model_key] = seconds if prev is None else prev + self._alpha * (seconds - prev)


@dataclass(slots=True)
class Tracked:
    job: Job
    kind: Literal["image", "video"]
    model_key: str
    expected_total: int  # images expected (video: 1)
    submitted_at: float
    deadline_at: float
    expected_s: float
    next_poll_at: float
    learned: bool = False  # expected_s comes from finished jobs, not from the configured guess
    queue_eta: float = 0.0  # upstream's queue estimate at submit (not part of the learned generation time)
    pending_at: float = 0.0  # last time a poll showed the job not ready yet (a lower bound of its ready time)
    server_s: float | None = None  # upstream's finish_time − created_time, when the record carries them
    unconfirmed: bool = False  # the submit reply was lost: not yet known whether upstream has the job
    seen: bool = False
    progress_at: float = 0.0  # when the number of finished items last changed
    progress: int = 0
    polls: int = 0
    errors: int = 0
    last: RecordView | None = None
    future: asyncio.Future[tuple[list[Asset], RecordView | None, bool]] | None = None

    @property
    def expected_at(self) -> float:
        return self.submitted_at + self.expected_s


class Resubmit(Exception):
    """Raised into a tracked job whose lost submit never appeared upstream: the engine submits again."""


Finish = Callable[[Tracked], Awaitable[None]]


class AccountPoller:
    def __init__(
        self,
        upstream: Upstream,
        account: Identity,
        timing: Timing,
        durations: Durations,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.account = account
        self.timing = timing
        self.durations = durations
        self._clock = clock
        self._tracked: dict[str, Tracked] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def __len__(self) -> int:
        return len(self._tracked)

    def track(
        self,
        job: Job,
        *,
        kind: Literal["image", "video"],
        model_key: str,
        expected_total: int,
        queue_eta_s: float | None = None,
        unconfirmed: bool = False,
    ) -> asyncio.Future[tuple[list[Asset], RecordView | None, bool]]:
        """Start polling a submitted job. The future resolves to (assets, last record, partial) or raises."""
        now = self._clock()
        observed = self.durations.get(model_key)
        queue = queue_eta_s or 0.0
        expected = (observed if observed is not None else self.timing.expected(kind)) + queue
        if observed is not None:
            first = now + max(self.timing.min_first_poll, self._window(kind, expected)[0])
        else:
            first = now + max(self.timing.min_first_poll, expected * self.timing.first_poll_fraction)
        if unconfirmed:
            first = now + self.timing.min_first_poll
        t = Tracked(
            job=job,
            kind=kind,
            model_key=model_key,
            expected_total=expected_total,
            submitted_at=now,
            deadline_at=now + self.timing.deadline(kind),
            expected_s=expected,
            next_poll_at=first,
            unconfirmed=unconfirmed,
            learned=observed is not None,
            queue_eta=queue,
        )
        future: asyncio.Future[tuple[list[Asset], RecordView | None, bool]] = asyncio.get_running_loop().create_future()
        t.future = future
        self._tracked[job.submit_id] = t
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"poller:{getattr(self.account, 'masked', '?')}")
        return future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for t in self._tracked.values():
            if t.future is not None and not t.future.done():
                t.future.cancel()
        self._tracked.clear()

    # ------------------------------------------------------------------------------------------------ loop

    async def _run(self) -> None:
        try:
            while self._tracked:
                now = self._clock()
                # Wake for the next poll, or a deadline, whichever comes first (a last poll, then the timeout).
                next_at = min(min(t.next_poll_at, t.deadline_at) for t in self._tracked.values())
                if next_at > now:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=next_at - now)
                    except TimeoutError:
                        pass
                    continue
                await self._tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not strand jobs silently
            log.exception("poller for %s crashed", getattr(self.account, "masked", "?"))
            for t in list(self._tracked.values()):
                self._settle(t, error=JimengError(f"internal error while polling ({type(exc).__name__})"))

    async def _tick(self) -> None:
        self.ticks += 1
        batch = list(self._tracked.values())
        now = self._clock()
        try:
            data = await self.upstream.call(
                self.account, PATH_HISTORY_BY_IDS, {"submit_ids": [t.job.submit_id for t in batch]}
            )
        except AuthError as err:
            for t in batch:
                self._settle(t, error=err)
            return
        except JimengError as err:
            log.warning("poll failed for %s: %s", getattr(self.account, "masked", "?"), err.message)
            for t in batch:
                if t.next_poll_at <= now:
                    t.errors += 1
                    t.next_poll_at = now + min(self.timing.max_backoff, self.timing.interval(t.kind) * 2**t.errors)
            self._check_deadlines(now)
            return
        records = data if isinstance(data, dict) else {}
        now = self._clock()
        for t in batch:
            due = t.next_poll_at <= now + 0.05
            self._update(t, records.get(t.job.submit_id), now, due)
        self._check_deadlines(now)

    def _check_deadlines(self, now: float) -> None:
        for t in list(self._tracked.values()):
            if now >= t.deadline_at:
                minutes = self.timing.deadline(t.kind) / 60
                self._settle(
                    t,
                    error=JobTimeoutError(
                        f"the job did not finish within {minutes:g} min; it may still finish on Jimeng",
                        submit_id=t.job.submit_id,
                    ),
                )

    def _update(self, t: Tracked, record: object, now: float, due: bool) -> None:
        t.errors = 0
        if record is None:
            t.pending_at = now
            if due:
                t.polls += 1
                if t.unconfirmed and now - t.submitted_at >= self.timing.unseen_grace:
                    self._settle(t, error=Resubmit())
                    return
                t.next_poll_at = now + self.timing.interval(t.kind)
            return
        view = parse_record(record, t.kind)
        t.server_s = _server_duration(record)
        t.seen = True
        t.unconfirmed = False
        t.last = view
        if view.history_id and not t.job.history_id:
            t.job.history_id = view.history_id
        if due:
            t.polls += 1
        status = view.status
        if len(view.assets) != t.progress:
            t.progress, t.progress_at = len(view.assets), now
        if status in STATUS_FAILED:
            self._settle(t, error=failure_error(view))
            return
        want = max(view.total, t.expected_total if t.kind == "image" else 1)
        if status == STATUS_SUCCESS:
            if not view.assets:
                self._settle(t, error=DecodeError("Jimeng finished the job but returned no result"))
            else:
                self._settle(t, assets=list(view.assets), view=view)
            return
        if status == TaskStatus.PARTIAL_SUCCESS and view.assets:
            if len(view.assets) >= want:
                self._settle(t, assets=list(view.assets), view=view)
                return
            if now >= max(t.expected_at, t.progress_at) + self.timing.stall_grace:  # no new item for a while
                log.warning("job %s stuck at 45 with %d/%d results; delivering them", t.job.id, len(view.assets), want)
                self._settle(t, assets=list(view.assets), view=view, partial=True)
                return
        t.pending_at = now
        eta = max(0.0, t.expected_at - now)
        if status in STATUS_QUEUED:
            pos = view.queue_position + 1 if view.queue_position is not None and view.queue_length else None
            t.job.publish(
                JobState.PENDING,
                queue_position=pos,
                queue_length=view.queue_length or None,
                eta_s=round(eta, 1),
                total=want,
                finished=0,
            )
        else:
            t.job.publish(JobState.GENERATING, eta_s=round(eta, 1), total=want, finished=min(view.finished, want))
        if due:
            t.next_poll_at = now + self._next_delay(t, view, now)

    def _next_delay(self, t: Tracked, view: RecordView, now: float) -> float:
        interval = self.timing.interval(t.kind)
        if view.status in STATUS_QUEUED and view.queue_eta_s:
            # Still queued upstream: come back near the end of the queue wait (bounded).
            return max(interval, min(view.queue_eta_s * self.timing.first_poll_fraction, self.timing.max_backoff))
        elapsed = now - t.submitted_at
        if t.learned:
            start, end = self._window(t.kind, t.expected_s)
            if elapsed < start - interval:  # an early poll (e.g. an unconfirmed submit): come back at the window
                return start - elapsed
            if elapsed < end:
                return interval
        elif elapsed < t.expected_s * self.timing.first_poll_fraction - interval:
            return t.expected_s * self.timing.first_poll_fraction - elapsed
        return min(self.timing.max_backoff, max(interval, self.timing.backoff_fraction * elapsed))

    def _window(self, kind: str, expected: float) -> tuple[float, float]:
        """Seconds after submit between which a job with a learned ``expected`` finish is polled every interval."""
        spread = self.timing.window_fraction * expected + self.timing.interval(kind) / 2
        return expected - spread, expected + spread + self.timing.interval(kind)

    def _ready_estimate(self, t: Tracked, now: float) -> float:
        """When the finished job's result became ready, in seconds after submit (see the module docstring)."""
        hi = now - t.submitted_at
        lo = max(0.0, t.pending_at - t.submitted_at) if t.pending_at else 0.0
        if t.server_s is not None:
            return min(hi, max(lo, t.server_s + 0.5))  # finish_time has whole seconds: the middle of its second
        return (lo + hi) / 2 if lo > 0 else hi

    def _settle(
        self,
        t: Tracked,
        *,
        assets: list[Asset] | None = None,
        view: RecordView | None = None,
        partial: bool = False,
        error: BaseException | None = None,
    ) -> None:
        self._tracked.pop(t.job.submit_id, None)
        if t.future is None or t.future.done():
            return
        if error is not None:
            t.future.set_exception(error)
            return
        if not partial:  # a stalled job says nothing about how long the next one takes
            ready = self._ready_estimate(t, self._clock())
            self.durations.observe(t.model_key, max(0.0, ready - t.queue_eta))
        t.future.set_result((assets or [], view, partial))


def _server_duration(record: object) -> float | None:
    """``task.finish_time − created_time`` of a finished record (upstream's own clock), else None."""
    if not isinstance(record, dict):
        return None
    task = record.get("task")
    finish = task.get("finish_time") if isinstance(task, dict) else None
    created = record.get("created_time")
    if not isinstance(finish, int | float) or not isinstance(created, int | float) or finish <= 0 or created <= 0:
        return None
    spent = float(finish) - float(created)
    return spent if 0 <= spent < 86400 else None


def failure_error(view: RecordView) -> JimengError:
    """Terminal failure → error: a known fail_code maps through the ret table; 10/40 are moderation refusals."""
    code = view.fail_code
    detail = f": {view.fail_message}" if view.fail_message else ""
    if code and code != RET_OK:
        err = classify_ret(code, view.fail_message or "", fail_code=code)
        if not isinstance(err, UpstreamError):  # anything more specific than "upstream failed"
            return err
    if view.status in (TaskStatus.PRE_CHECK_REJECT, TaskStatus.POST_CHECK_REJECT):
        stage = "before" if view.status == TaskStatus.PRE_CHECK_REJECT else "after"
        return ContentRejectedError(f"Jimeng's moderation refused the job {stage} generation{detail}", fail_code=code)
    if view.status == TaskStatus.DELETED:
        return GenerationFailedError("the job was deleted on Jimeng", status=view.status, fail_code=code)
    suffix = f" (fail code {code})" if code else ""
    return GenerationFailedError(f"Jimeng failed to generate{suffix}{detail}", status=view.status, fail_code=code)
