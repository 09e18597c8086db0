"""When to poll a job: the knobs (``Timing``), what this installation has learned (``Timings``), and the schedule.

Issue #11. Generation times are learned per model key from INTERVALS: the last poll that saw a job not ready and the
first that saw it ready (PROTOCOL.md §8.1, §8.3), both measured from when generation should have started (the submit
plus upstream's ``forecast_queue_cost``, PROTOCOL.md §10.2). A job found ready at its first poll only bounds its time from above
and teaches nothing (an instant job must not make the next one wait at 1 s). The estimate is the median of the
newest intervals' centres; the window polled tightly around it is sized from the spread those observations show.
Observations live in the store (``timings`` table), so a restarted process starts warm.

The schedule (``next_poll``), all times absolute on the poller's clock:

* nothing learned (cold): ``first_poll`` after the generation start, then gaps of ``cold_fraction`` × the time
  elapsed (at least ``cold_min_gap``) — a job of any length is seen within a small share of its duration;
* learned: the first poll a step Δ into ``[low, high]`` (half a step while fewer than ``TIMING_RECENT`` jobs taught
  it), then every Δ = window / ``WINDOW_POLLS`` (between the interval and the max gap); past the window the gap
  grows again, so a slower-than-usual job costs a few polls, not a flood. A job ready at its first look teaches no
  duration but moves the next window down a step (a late window would otherwise never learn it is late);
* upstream's line (``line_start``, ``reread_at``): the start is upstream's forecast, which may be off. How far it
  moves between two readings of a job's line is learned per model as a DRIFT (an upper bound given its whole-second
  rounding; ``LINE_PRIOR_DRIFT`` until readings prove less): the forecast counts 1 ± drift seconds per second. Two
  readings of the same job w seconds apart narrow that pace to what they show ± 1 s / w, and the start is where the
  countdown reaches 0 at it. While the start may still be off by more than a poll gap, the job is looked at once
  more just before the earliest start allowed, to re-read it; forecasts proved exact, or long lines whose pace the
  status looks (every ``queue_refresh``) measured, cost nothing;
* a model known only under another resolution/count (a coarse estimate): the cold schedule, starting at half of
  the coarse low edge.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.policy import (
    AHEAD_STEPS_MAX,
    FIRST_POLL_S,
    IMAGE_COLD_LAG_FRACTION,
    IMAGE_COLD_MIN_GAP_S,
    IMAGE_DEADLINE_S,
    IMAGE_EXPECTED_S,
    IMAGE_MAX_GAP_S,
    IMAGE_POLL_INTERVAL_S,
    LINE_DRIFT_KEEP,
    LINE_PRIOR_DRIFT,
    LINE_ROUNDING_S,
    MAX_POLL_GAP_S,
    QUEUE_REFRESH_S,
    STALL_45_GRACE_S,
    TIMING_KEEP,
    TIMING_PAD_S,
    TIMING_RECENT,
    VIDEO_COLD_LAG_FRACTION,
    VIDEO_COLD_MIN_GAP_S,
    VIDEO_DEADLINE_S,
    VIDEO_EXPECTED_S,
    VIDEO_MAX_GAP_S,
    VIDEO_POLL_INTERVAL_S,
    WINDOW_POLLS,
)


@dataclass(slots=True)
class Timing:
    """Polling knobs. Defaults come from ``core.policy``; tests and benchmarks pass their own."""

    image_interval: float = IMAGE_POLL_INTERVAL_S
    video_interval: float = VIDEO_POLL_INTERVAL_S
    image_max_gap: float = IMAGE_MAX_GAP_S
    video_max_gap: float = VIDEO_MAX_GAP_S
    image_expected: float = IMAGE_EXPECTED_S
    video_expected: float = VIDEO_EXPECTED_S
    min_first_poll: float = FIRST_POLL_S  # the first poll, this long after generation should have started
    image_cold_fraction: float = IMAGE_COLD_LAG_FRACTION
    video_cold_fraction: float = VIDEO_COLD_LAG_FRACTION
    image_cold_min_gap: float = IMAGE_COLD_MIN_GAP_S
    video_cold_min_gap: float = VIDEO_COLD_MIN_GAP_S
    window_polls: float = WINDOW_POLLS
    image_deadline: float = IMAGE_DEADLINE_S
    video_deadline: float = VIDEO_DEADLINE_S
    stall_grace: float = STALL_45_GRACE_S
    unseen_grace: float = 30.0  # a submit whose reply was lost and that never shows up → resubmit (same submit_id)
    max_backoff: float = MAX_POLL_GAP_S
    queue_refresh: float = QUEUE_REFRESH_S

    def interval(self, kind: str) -> float:
        return self.video_interval if kind == "video" else self.image_interval

    def max_gap(self, kind: str) -> float:
        return max(self.interval(kind), self.video_max_gap if kind == "video" else self.image_max_gap)

    def expected(self, kind: str) -> float:
        return self.video_expected if kind == "video" else self.image_expected

    def deadline(self, kind: str) -> float:
        return self.video_deadline if kind == "video" else self.image_deadline

    def cold_gap(self, kind: str, elapsed: float) -> float:
        fraction, least = (
            (self.video_cold_fraction, self.video_cold_min_gap)
            if kind == "video"
            else (self.image_cold_fraction, self.image_cold_min_gap)
        )
        return min(self.max_backoff, max(least, self.interval(kind), fraction * max(0.0, elapsed)))


@dataclass(frozen=True, slots=True)
class Estimate:
    """Seconds after generation starts: the likely ready time and the window it falls in."""

    center: float
    low: float
    high: float
    samples: int
    coarse: bool = False  # learned under another resolution/count of the model: only a hint


@dataclass(frozen=True, slots=True)
class Observation:
    lo: float  # the last poll that saw the job not ready (seconds after generation start)
    hi: float  # the first poll that saw it ready
    at: float  # wall-clock time it was observed

    @property
    def center(self) -> float:
        return (self.lo + self.hi) / 2

    @property
    def half(self) -> float:
        return (self.hi - self.lo) / 2


class Learned:
    """One key's observations, newest last, and its estimate."""

    def __init__(self, observations: Sequence[Observation] = (), early: int = 0, drifts: Sequence[float] = ()) -> None:
        self.observations: list[Observation] = list(observations)[-TIMING_KEEP:]
        self.early = early  # jobs in a row that were ready at their first poll (the estimate may be too slow)
        self.ahead = 0  # jobs in a row ready at their first look in the window: each moves the next window a step
        # How far upstream's forecast end of the line moved per second waited in it, per reading (0: exact).
        self.drifts: list[float] = list(drifts)[-LINE_DRIFT_KEEP:]
        self.since = 0.0  # the current regime began then (wall clock): older observations, from any process, are void

    def estimate(self) -> Estimate | None:
        obs = self.observations
        if not obs:
            return None
        recent = obs[-TIMING_RECENT:]
        # The centre: the median of the newest, each weighted by how precise its interval is (a first job found by
        # the cold schedule has a wide one; the next, polled in a window, a narrow one).
        center = _weighted_median([(o.center, 1 / max(o.half, TIMING_PAD_S) ** 2) for o in recent])
        # The spread seen: twice the median distance of the precise observations' centres from the estimate (robust
        # to one outlier, about the half-range of uniform jitter), never less than the best interval's half-width.
        best = min(o.half for o in recent)
        precise = [o for o in obs if o.half <= 3 * best + TIMING_PAD_S]
        spread = 2 * statistics.median(abs(o.center - center) for o in precise) if len(precise) > 1 else 0.0
        half = max(spread, best) + max(TIMING_PAD_S, 0.01 * center)
        # A job ready at its first look teaches no duration (it may have been ready long before), so a window that
        # is late would stay late: each such job in a row moves the next window down by a step (a search, not a
        # guess); the next job seen not ready at its first look teaches a true interval and ends it.
        center -= min(self.ahead, AHEAD_STEPS_MAX) * 2 * half / WINDOW_POLLS
        est = Estimate(center, max(0.0, center - half), center + half, len(obs))
        if self.early >= 2:  # jobs keep finishing before the window: look again from well before it
            return Estimate(center, 0.5 * est.low, est.high, len(obs), coarse=True)
        return est

    def observe(self, lo: float, hi: float, at: float) -> None:
        new = Observation(max(0.0, lo), max(lo, hi), at)
        before = self.estimate()
        last = self.observations[-1] if self.observations else None
        self.observations.append(new)
        self.early = self.ahead = 0
        if before is not None and last is not None and len(self.observations) > 2:
            # Two in a row outside the window on the same side: the model's time changed; forget the old regime.
            side = _side(new.center, before)
            if side and side == _side(last.center, before):
                self.observations, self.since = [last, new], last.at
        del self.observations[:-TIMING_KEEP]

    def merge(self, other: Learned) -> None:
        """What another process on the store learned (issue #16): the union of both processes' observations of the
        current regime, newest kept; a regime change seen by either voids the older ones of both."""
        self.since = max(self.since, other.since)
        union = {(round(o.lo, 3), round(o.hi, 3), round(o.at, 1)): o for o in [*other.observations, *self.observations]}
        self.observations = sorted((o for o in union.values() if o.at >= self.since), key=lambda o: o.at)[-TIMING_KEEP:]
        if len(other.drifts) > len(self.drifts):
            self.drifts = list(other.drifts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "obs": [[round(o.lo, 3), round(o.hi, 3), round(o.at, 1)] for o in self.observations],
            "early": self.early,
            "ahead": self.ahead,
            "drift": [round(d, 3) for d in self.drifts],
            "since": round(self.since, 1),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Learned:
        obs = []
        for row in data.get("obs", []):
            try:
                lo, hi, at = (float(x) for x in row)
            except (TypeError, ValueError):
                continue
            if 0 <= lo <= hi < 86400:
                obs.append(Observation(lo, hi, at))
        early = data.get("early", 0)
        drifts = [float(d) for d in data.get("drift", []) if isinstance(d, int | float) and 0 <= d <= 1]
        learned = cls(obs, early if isinstance(early, int) else 0, drifts)
        ahead = data.get("ahead", 0)
        learned.ahead = ahead if isinstance(ahead, int) and ahead >= 0 else 0
        since = data.get("since", 0.0)
        learned.since = float(since) if isinstance(since, int | float) else 0.0
        return learned


def _weighted_median(points: list[tuple[float, float]]) -> float:
    """The value at half of the total weight (points: (value, weight))."""
    ordered = sorted(points)
    total, acc = sum(w for _, w in ordered), 0.0
    for value, weight in ordered:
        acc += weight
        if acc >= total / 2:
            return value
    return ordered[-1][0]


def _side(center: float, est: Estimate) -> int:
    return 1 if center > est.high else (-1 if center < est.low else 0)


class Timings:
    """Learned generation times per key (``model|resolution|count``; ``model`` alone as a coarse fallback)."""

    def __init__(self, on_change: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self._by_key: dict[str, Learned] = {}
        self.on_change = on_change

    def load(self, rows: dict[str, dict[str, Any]]) -> None:
        """Rows of the store: at start, or what other processes wrote since (merged with ours, not replacing it:
        each process writes its whole row, so the last writer's row may lack what another just learned)."""
        for key, data in rows.items():
            if isinstance(data, dict):
                incoming, mine = Learned.from_dict(data), self._by_key.get(key)
                if mine is None:
                    self._by_key[key] = incoming
                else:
                    mine.merge(incoming)

    def learned(self, key: str) -> Learned | None:
        return self._by_key.get(key)

    def estimate(self, keys: Sequence[str]) -> Estimate | None:
        """The estimate of the first key that has one; a later (coarser) key's only as a hint."""
        for i, key in enumerate(keys):
            entry = self._by_key.get(key)
            est = entry.estimate() if entry is not None else None
            if est is not None:
                if i == 0:
                    return est
                return Estimate(est.center, 0.5 * est.low, 1.5 * est.high, est.samples, coarse=True)
        return None

    def observe(self, keys: Sequence[str], lo: float, hi: float) -> None:
        now = time.time()
        for key in keys:
            entry = self._by_key.setdefault(key, Learned())
            entry.observe(lo, hi, now)
            self._changed(key, entry)

    def drift(self, keys: Sequence[str]) -> float | None:
        """How inexact upstream's queue forecasts have proved for this model: the largest drift among the newest
        readings (seconds the forecast end moved per second waited), or None when none was measured yet."""
        for key in keys:
            entry = self._by_key.get(key)
            if entry is not None and entry.drifts:
                return max(entry.drifts)
        return None

    def observe_drift(self, keys: Sequence[str], drift: float) -> None:
        for key in keys:
            entry = self._by_key.setdefault(key, Learned())
            entry.drifts = [*entry.drifts, min(1.0, max(0.0, drift))][-LINE_DRIFT_KEEP:]
            self._changed(key, entry)

    def early(self, keys: Sequence[str]) -> None:
        """A job of a learned key was done before its window began (upstream's finish_time says so): an upper bound
        only, no duration is taught; two in a row and the next job looks from well before the window."""
        entry = self._by_key.get(keys[0]) if keys else None
        if entry is not None and entry.observations:
            entry.early += 1
            self._changed(keys[0], entry)

    def ahead(self, keys: Sequence[str]) -> None:
        """A job of a learned key was ready at its first look in the window: the window may be late."""
        entry = self._by_key.get(keys[0]) if keys else None
        if entry is not None and entry.observations:
            entry.ahead += 1
            self._changed(keys[0], entry)

    def _changed(self, key: str, entry: Learned) -> None:
        if self.on_change is not None:
            self.on_change(key, entry.to_dict())


def next_poll(timing: Timing, kind: str, est: Estimate | None, *, start: float, now: float) -> float:
    """When to look at a job next (absolute), having looked at it ``now`` (or submitted it then). ``start``: when
    generation should have started (the submit plus upstream's queue forecast)."""
    interval = timing.interval(kind)
    elapsed = now - start
    if -elapsed > timing.queue_refresh:  # a long line upstream: come back now and then for the place in it
        return now + timing.queue_refresh
    if est is None or est.coarse:
        begin = est.low if est is not None else timing.min_first_poll
        if elapsed < begin:
            return start + max(begin, timing.min_first_poll)
        return now + timing.cold_gap(kind, elapsed)
    step = min(timing.max_gap(kind), max(interval, (est.high - est.low) / timing.window_polls))
    # The first look: a step into the window, or half a step while few jobs have taught it (less sure of its edge).
    first = step / 2 if est.samples < TIMING_RECENT else step
    if elapsed < est.low + first - interval:
        return start + est.low + first
    if elapsed < est.high:
        return now + step
    overshoot = elapsed - est.high  # slower than anything seen: the gap grows back towards the cold schedule
    return now + max(step, min(step + overshoot / 2, timing.cold_gap(kind, elapsed)))


# ------------------------------------------------------------------------------------ upstream's line (§10.2)


def line_drift(prev_end: float, prev_at: float, end: float, now: float) -> float | None:
    """How inexact upstream's line forecast may be, from two readings of a job's line: its forecast end was
    ``prev_end`` when read at ``prev_at`` and is ``end`` at ``now`` (``end = now``: seen generating before
    ``prev_end``). The forecast comes in whole seconds, so the end moved by |Δ| ± 1 s over the wait: the sample is
    the most drift that is consistent with that (per second waited), but no more than the prior unless the readings
    prove more. A long wait can prove a forecast exact; a short one cannot."""
    waited = now - prev_at
    if waited < 0.5:
        return None  # too close together to tell anything
    moved = abs(end - prev_end)
    most, least = (moved + LINE_ROUNDING_S) / waited, (moved - LINE_ROUNDING_S) / waited
    return min(1.0, max(0.0, least, min(LINE_PRIOR_DRIFT, most)))


def line_start(
    first: tuple[float, float] | None, now: float, forecast: float, drift: float | None
) -> tuple[float, float]:
    """When generation should start, read at ``now`` (``forecast`` seconds of line left), and how far that may still
    be off per second of line left (a drift). Upstream's forecast counts down at its own pace, 1 ± drift seconds per
    second; the job's first reading (``first``: when, and what it said) ``w`` s earlier narrows that pace to the
    countdown seen ± (1 s rounding) / w. Once that is at most half the drift's range (shorter waits: rounding would
    move the start more than it tells), the start is where the countdown reaches 0 at the pace nearest to 1 s per
    second that the readings allow: an exact forecast stays exact, one proved off is corrected as little as they
    allow. Also returned: how far the true pace may be from that one, relative to it (a drift, for ``reread_at``)."""
    d = min(LINE_PRIOR_DRIFT if drift is None else drift, 0.9)
    lo, hi = 1 - d, 1 + d
    waited = now - first[0] if first is not None else 0.0
    if first is not None and forecast > 0 and waited * d >= 2 * LINE_ROUNDING_S:  # known twice as well: use it
        seen = ((first[1] - forecast - LINE_ROUNDING_S) / waited, (first[1] - forecast + LINE_ROUNDING_S) / waited)
        lo, hi = max(lo, seen[0]), min(hi, seen[1])
        if lo > hi:  # the countdown proved the drift known wrong: what it shows, or (it went up) the newest reading
            lo, hi = seen if seen[0] > 0 else (1.0, 1.0)
    pace = min(max(1.0, lo), hi)  # the forecast at its word, unless the readings prove it counts at another pace
    return now + forecast / pace, max(pace - lo, hi - pace) / pace


def reread_at(timing: Timing, kind: str, drift: float | None, *, read_at: float, forecast: float) -> float | None:
    """When to look again at a job in upstream's line to re-read the forecast, or None. Worth it when the forecast
    may be off by more than a poll gap (the drift learned for the model, ``LINE_PRIOR_DRIFT`` while unknown);
    placed just before the earliest start that drift allows, so the new reading has little left to be wrong about.
    Forecasts proved exact cost nothing."""
    d = LINE_PRIOR_DRIFT if drift is None else min(drift, 0.9)
    if forecast <= 0 or d * forecast / (1 + d) <= timing.max_gap(kind):
        return None
    return read_at + forecast / (1 + d) - timing.interval(kind)


def human_duration(seconds: float) -> str:
    """``25 s``, ``3 min``, ``4 min 10 s``, ``1 h 30 min`` (for messages)."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m} min {rest} s" if rest else f"{m} min"
    h, rest = divmod(s, 3600)
    m = round(rest / 60)
    return f"{h} h {m} min" if m else f"{h} h"
