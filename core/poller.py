"""Batched polling (PROTOCOL.md §8.1): one poller per account, ONE ``get_history_by_ids`` per tick for all its jobs.

Each job has its own next-poll time, from ``core.timings.next_poll``: early and then growing gaps while nothing is
learned for its model, a window sized from the observed spread once something is. A tick fires at the earliest
next-poll time and asks for every in-flight job of the account at once; a job that was not due but is seen not ready
counts as polled (its next poll moves on), so jobs in flight together cost one request per tick, not one each.
What is learned is an interval (last "not ready" while generating … first "ready", measured from the generation
start); a job found ready at its first look teaches no duration. The start is upstream's line forecast at the pace it
counts down between readings (``line_start``), re-read once before it may end while that may be off by more than a
poll gap (``reread_at``). Status 45 with every item present is harvested at once (PROTOCOL.md §10.3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
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
from core.policy import VANISHED_POLLS
from core.pollshare import AccountShare
from core.results import Asset, RecordView, parse_record
from core.timings import Estimate, Timing, Timings, human_duration, line_drift, line_start, next_poll, reread_at
from core.transport import Identity, Upstream
from core.wire import PATH_HISTORY_BY_IDS, RET_OK, STATUS_FAILED, STATUS_QUEUED, STATUS_SUCCESS, TaskStatus

__all__ = ["AccountPoller", "Resubmit", "Timing", "Tracked", "failure_error"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Tracked:
    job: Job
    kind: Literal["image", "video"]
    keys: tuple[str, ...]  # where its timing is learned: the exact key first, then the model's
    expected_total: int  # images expected (video: 1)
    submitted_at: float
    deadline_at: float
    start_at: float  # when generation should start: the submit plus upstream's queue forecast (PROTOCOL.md §10.2)
    next_poll_at: float
    estimate: Estimate | None
    teach: bool = True  # False for jobs resumed after a restart or with a lost submit reply (no known start)
    unconfirmed: bool = False  # the submit reply was lost: not yet known whether upstream has the job
    not_ready_at: float | None = None  # the last poll that saw it not ready (the lower bound of its ready time)
    server_s: float | None = None  # upstream's finish_time − created_time, when the record carries them
    seen: bool = False
    progress_at: float = 0.0  # when the number of finished items last changed
    progress: int = 0
    polls: int = 0
    looked: float = 0.0  # the latest look (a watcher's: when the holder made it, core.pollshare): ready then, learned
    errors: int = 0
    missing: int = 0  # polls in a row that found no record after one was seen (issue #13: upstream lost it)
    last: RecordView | None = None
    queued_at: float | None = None  # the last look that saw it in upstream's line (its start is later)
    generating_at: float | None = None  # the first look that saw it out of the line (its start is earlier)
    read_at: float = 0.0  # the latest reading of upstream's forecast of the line (PROTOCOL.md §10.2) ...
    forecast: float = 0.0  # ... and the seconds it said were left (0: no line, or none read)
    rereads: int = 0  # looks scheduled only to re-read that forecast (one per job)
    line0: tuple[float, float] | None = None  # the first reading of its line: when, and the seconds it said
    future: asyncio.Future[tuple[list[Asset], RecordView | None, bool]] | None = field(default=None)

    def eta(self, now: float) -> float | None:
        """Seconds until the expected finish (learned timings), or until the queue ends (upstream's forecast)."""
        if self.estimate is not None and not self.estimate.coarse:
            return round(max(0.0, self.start_at + self.estimate.center - now), 1)
        return round(self.start_at - now, 1) if self.start_at > now else None


class Resubmit(Exception):
    """Raised into a tracked job whose lost submit never appeared upstream: the engine submits again."""


Finish = Callable[[Tracked], Awaitable[None]]


class AccountPoller:
    def __init__(
        self,
        upstream: Upstream,
        account: Identity,
        timing: Timing,
        timings: Timings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.account = account
        self.timing = timing
        self.timings = timings
        self._clock = clock
        self._tracked: dict[str, Tracked] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.share: AccountShare | None = None  # set when other processes share the store (core.pollshare)

    def __len__(self) -> int:
        return len(self._tracked)

    def track(
        self,
        job: Job,
        *,
        kind: Literal["image", "video"],
        keys: Sequence[str],
        expected_total: int,
        answer: RecordView | None = None,
        unconfirmed: bool = False,
        teach: bool = True,
    ) -> asyncio.Future[tuple[list[Asset], RecordView | None, bool]]:
        """Start polling a submitted job (``answer``: the record the submit answered with) and publish it as
        PENDING. The future resolves to (assets, last record, partial) or raises."""
        now = self._clock()
        estimate = self.timings.estimate(keys)
        start = now + ((answer.queue_eta_s or 0.0) if answer is not None else 0.0)
        t = Tracked(
            job=job,
            kind=kind,
            keys=tuple(keys),
            expected_total=expected_total,
            submitted_at=now,
            deadline_at=now + self.timing.deadline(kind),
            start_at=start,
            next_poll_at=now,
            estimate=estimate,
            teach=teach and not unconfirmed,
            unconfirmed=unconfirmed,
        )
        if answer is not None and answer.status in STATUS_QUEUED:
            t.queued_at, t.read_at, t.forecast, t.line0 = now, now, start - now, (now, start - now)
        elif answer is not None:
            t.generating_at = now
        self._schedule(t, next_poll(self.timing, kind, estimate, start=start, now=now), now)
        if unconfirmed:  # the submit reply was lost: find out soon whether upstream has the job
            t.next_poll_at = now + self.timing.min_first_poll
        future: asyncio.Future[tuple[list[Asset], RecordView | None, bool]] = asyncio.get_running_loop().create_future()
        t.future = future
        self._tracked[job.submit_id] = t
        pos, length = _queue_place(answer)
        job.publish(JobState.PENDING, queue_position=pos, queue_length=length, eta_s=t.eta(now), total=expected_total)
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
                if self.share is not None and await self.share.turn(self):  # polled by one process for all
                    continue
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

    async def _tick(self, watched: Sequence[str] = ()) -> dict[str, object] | JimengError:
        self.ticks += 1  # ONE request for the account's jobs and ``watched`` (others' jobs: core.pollshare)
        batch = list(self._tracked.values())
        now = self._clock()
        try:
            data = await self.upstream.call(
                self.account, PATH_HISTORY_BY_IDS, {"submit_ids": [*(t.job.submit_id for t in batch), *watched]}
            )
        except AuthError as err:
            for t in batch:
                self._settle(t, error=err)
            return err
        except JimengError as err:
            log.warning("poll failed for %s: %s", getattr(self.account, "masked", "?"), err.message)
            for t in batch:
                if t.next_poll_at <= now:
                    t.errors += 1
                    t.next_poll_at = now + min(self.timing.max_backoff, self.timing.interval(t.kind) * 2**t.errors)
            self._check_deadlines(now)
            return err
        records = data if isinstance(data, dict) else {}
        now = self._clock()
        for t in batch:
            due = t.next_poll_at <= now + 0.05
            self._update(t, records.get(t.job.submit_id), now, due)
        self._check_deadlines(now)
        return records

    def _check_deadlines(self, now: float) -> None:
        for t in list(self._tracked.values()):
            if now >= t.deadline_at:
                within = human_duration(self.timing.deadline(t.kind))
                self._settle(
                    t,
                    error=JobTimeoutError(
                        f"the job did not finish within {within}; it may still finish on Jimeng",
                        submit_id=t.job.submit_id,
                    ),
                )

    def _update(self, t: Tracked, record: object, now: float, due: bool) -> None:
        """One look at a job (due, or along with another job's poll): settle it, or publish and schedule."""
        t.errors, t.looked = 0, now
        t.polls += 1
        if record is None:  # not visible yet (PROTOCOL.md §10.1)
            if t.unconfirmed:
                if now - t.submitted_at >= self.timing.unseen_grace:
                    self._settle(t, error=Resubmit())
                elif due:
                    t.next_poll_at = now + self.timing.interval(t.kind)
                return
            if t.seen or now - t.submitted_at >= self.timing.unseen_grace:  # it had one, or should have by now
                t.missing += 1
                if t.missing >= VANISHED_POLLS:
                    self._settle(
                        t, error=GenerationFailedError("Jimeng no longer has a record of this job (lost upstream)")
                    )
                    return
            self._not_ready(t, now, due)
            return
        t.missing = 0
        view = parse_record(record, t.kind)
        t.server_s = _server_duration(record)
        t.seen = True
        t.unconfirmed = False
        t.last = view
        if view.history_id and not t.job.history_id:
            t.job.history_id = view.history_id
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
            expected = t.start_at + (t.estimate.high if t.estimate else self.timing.expected(t.kind))
            if now >= max(expected, t.progress_at) + self.timing.stall_grace:  # no new item for a while
                log.warning("job %s stuck at 45 with %d/%d results; delivering them", t.job.id, len(view.assets), want)
                self._settle(t, assets=list(view.assets), view=view, partial=True)
                return
        start = t.start_at
        if status in STATUS_QUEUED:  # upstream's forecast of the wait (PROTOCOL.md §10.2): generation starts after it
            self._line(t, now, now + (view.queue_eta_s or 0.0))
            pos, length = _queue_place(view)
            t.job.publish(
                JobState.PENDING, queue_position=pos, queue_length=length, eta_s=t.eta(now), total=want, finished=0
            )
        else:
            if t.generating_at is None:  # it is generating: it did not start later than now
                self._line(t, now, None)
            t.job.publish(JobState.GENERATING, eta_s=t.eta(now), total=want, finished=min(view.finished, want))
        moved = status in STATUS_QUEUED or abs(t.start_at - start) > self.timing.interval(t.kind) / 2
        self._not_ready(t, now, due, moved=moved)

    def _line(self, t: Tracked, now: float, end: float | None) -> None:
        """A look at the job's line upstream: in it until ``end`` (upstream's forecast), or out of it (None). Readings
        teach how far forecasts drift; the start follows the newest at the pace measured since the first (core.timings)."""
        before = t.read_at + t.forecast
        if t.forecast > 0 and (end is not None or now < before):
            sample = line_drift(before, t.read_at, now if end is None else end, now)
            if sample is not None:
                self.timings.observe_drift(t.keys, sample)
        if end is None:
            t.generating_at, t.start_at = now, min(t.start_at, now)
        else:
            start, _ = line_start(t.line0, now, end - now, self.timings.drift(t.keys))
            t.queued_at, t.read_at, t.forecast, t.start_at = now, now, end - now, start
            t.line0 = t.line0 or (now, end - now)

    def _schedule(self, t: Tracked, at: float, now: float) -> None:
        """Poll at ``at`` (the schedule), or earlier to re-read the forecast of a line that may be off by more than
        a poll gap (``reread_at``: learned per model, so an upstream with exact forecasts pays nothing)."""
        if t.generating_at is None and t.forecast > 0 and not t.rereads:
            _, drift = line_start(t.line0, t.read_at, t.forecast, self.timings.drift(t.keys))
            again = reread_at(self.timing, t.kind, drift, read_at=t.read_at, forecast=t.start_at - t.read_at)
            if again is not None and again < at:
                # Another job's poll from half-way on reads this line too: one request for both.
                half = (t.read_at + t.start_at) / 2
                shared = [
                    o.next_poll_at for o in self._tracked.values() if o is not t and half <= o.next_poll_at <= again
                ]
                at, t.rereads = max(max(shared, default=again), now + self.timing.interval(t.kind)), 1
        t.next_poll_at = at

    def _not_ready(self, t: Tracked, now: float, due: bool, *, moved: bool = False) -> None:
        """Seen not ready at ``now``: a lower bound of its ready time, and when to look next. A job seen along with
        another's poll shortly before its own was due takes that look as its poll: its schedule moves earlier by
        the difference, so jobs in flight together keep polling in the same requests. A look that moved its start
        (a new reading of its line) schedules it afresh."""
        t.not_ready_at = now
        ahead = t.next_poll_at - now
        if not due and ahead > self.timing.max_gap(t.kind):
            if not moved:
                return  # looked at long before its time: it stays on its own schedule
            at = now
        else:
            at = max(now, t.next_poll_at)
        upcoming = next_poll(self.timing, t.kind, t.estimate, start=t.start_at, now=at) - (at - now)
        self._schedule(t, max(upcoming, now + self.timing.interval(t.kind)), now)

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
        if not partial and t.teach:  # a stalled job says nothing about how long the next one takes
            self._learn(t, t.looked or self._clock())
        t.future.set_result((assets or [], view, partial))

    def _learn(self, t: Tracked, now: float) -> None:
        """The job was ready at ``now``: teach the interval it became ready in, if there is one (see module doc). A
        look that saw it still in upstream's line is no lower bound of its generation time."""
        if t.not_ready_at is None or t.generating_at is None or t.not_ready_at < t.generating_at:
            # ready at its first look since it left the line: an upper bound only, never a duration
            done = t.submitted_at + t.server_s + 1.0 - t.start_at if t.server_s is not None else None
            if done is not None and t.estimate is not None and done < t.estimate.low:
                self.timings.early(t.keys)  # upstream's own clock says it was done before the window began
            if t.estimate is not None and not t.estimate.coarse:  # the window may be late: move the next one
                self.timings.ahead(t.keys)
            return
        lo, hi = t.not_ready_at - t.start_at, now - t.start_at
        if t.server_s is not None:  # upstream's finish_time has whole seconds: ready no later than its next second
            hi = max(lo, min(hi, t.submitted_at + t.server_s + 1.0 - t.start_at))
        self.timings.observe(t.keys, max(0.0, lo), hi)


def _queue_place(view: RecordView | None) -> tuple[int | None, int | None]:
    """Upstream's place in line and line length (``queue_info``, PROTOCOL.md §10.2), when it reports a line. Whether
    ``queue_idx`` counts from 0 or 1 is unknown: the place shown is at least 1 and never past the length."""
    if view is None or not view.queue_length or view.status not in STATUS_QUEUED:
        return None, None
    pos = max(1, view.queue_position or 0)
    return pos, max(view.queue_length, pos)


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
