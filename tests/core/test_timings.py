"""The schedule's pure parts (core/timings.py): upstream's line forecast, its drift, and durations in messages."""

from __future__ import annotations

import pytest

from core.policy import LINE_PRIOR_DRIFT
from core.timings import Learned, Timing, Timings, human_duration, line_drift, line_start, next_poll, reread_at

T = Timing()  # production knobs: images poll at least every 0.5 s, at most 1 s apart in a window


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(25.00002, "25 s"), (0.8, "1 s"), (60, "1 min"), (180, "3 min"), (250, "4 min 10 s"), (3600, "1 h"),
     (5400, "1 h 30 min"), (600, "10 min")],
)  # fmt: skip
def test_durations_read_like_a_person_wrote_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_readings_of_an_exact_forecast_show_no_drift_once_the_wait_is_long_enough() -> None:
    # an exact forecast read 12 s apart: its end moves by no more than its whole-second rounding
    exact = line_drift(prev_end=30.0, prev_at=0.0, end=30.4, now=12.0)
    assert exact is not None and exact * 8 / (1 + exact) <= T.max_gap("image")  # an 8 s line: not worth a re-read
    # a short wait cannot prove much: the sample stays at the prior
    assert line_drift(prev_end=3.0, prev_at=0.0, end=3.4, now=1.5) == pytest.approx(LINE_PRIOR_DRIFT)
    # a forecast whose end moved 6 s over a 10 s wait drifts by at least 0.5 per second
    inexact = line_drift(prev_end=20.0, prev_at=0.0, end=26.0, now=10.0)
    assert inexact is not None and inexact >= 0.5
    assert line_drift(prev_end=5.0, prev_at=0.0, end=5.0, now=0.2) is None  # too close together


def test_a_line_is_read_again_only_where_its_forecast_may_miss_the_window() -> None:
    assert reread_at(T, "image", 0.0, read_at=0.0, forecast=60.0) is None  # proved exact: never
    assert reread_at(T, "image", None, read_at=0.0, forecast=3.0) is None  # short line: the window absorbs it
    again = reread_at(T, "image", 0.3, read_at=10.0, forecast=20.0)
    # before the earliest start a 30 % drift allows (20 / 1.3 s after the reading), not before half-way
    assert again is not None and 10.0 + 10.0 < again < 10.0 + 20.0 / 1.3
    assert reread_at(T, "video", 0.3, read_at=0.0, forecast=7.0) is None  # video windows are wider


def test_a_long_line_starts_where_its_countdown_reaches_zero_at_the_pace_measured() -> None:
    # a forecast 25 % long (it counts 1.25 s per second): 60 s said at the submit, 10 s said 40 s later
    start, residual = line_start((0.0, 60.0), 40.0, 10.0, 0.3)
    assert start == pytest.approx(40.0 + 10.0 / (49 / 40))  # ≈ 48.2, not 50: the newest reading alone is 2 s late
    assert residual == pytest.approx(2 / 49)  # the pace is known to ± (1 s rounding) / 40 s waited ...
    assert reread_at(T, "video", residual, read_at=40.0, forecast=10.0) is None  # ... so no look just to re-read it
    assert reread_at(T, "video", 0.3, read_at=40.0, forecast=10.0) is not None  # the model's drift alone: one more
    # an exact forecast stays exact: the readings allow a pace of 1
    assert line_start((0.0, 60.0), 40.0, 20.0, 0.3)[0] == pytest.approx(60.0)
    # one reading, or readings too close together to narrow the pace much: the newest reading, and the drift known
    assert line_start(None, 2.0, 3.0, None) == (5.0, LINE_PRIOR_DRIFT)
    assert line_start((0.0, 7.0), 4.0, 4.0, 0.3) == (8.0, pytest.approx(0.3))  # 3 ± 1 s in 4 s: not yet
    # a countdown faster than the drift known allows: what the countdown shows
    assert line_start((0.0, 50.0), 20.0, 20.0, 0.3)[0] == pytest.approx(20.0 + 20.0 / 1.45)  # 30 ± 1 s in 20 s
    # a forecast that jumped against the drift known (it grew): the newest reading
    assert line_start((0.0, 10.0), 10.0, 20.0, 0.3) == (30.0, 0.0)


def test_drift_is_learned_per_model_and_persisted() -> None:
    saved: dict[str, dict[str, object]] = {}
    timings = Timings(on_change=lambda key, data: saved.__setitem__(key, data))
    keys = ("m|2k|4", "m")
    assert timings.drift(keys) is None
    timings.observe_drift(keys, 0.05)
    timings.observe_drift(keys, 0.3)
    assert timings.drift(keys) == pytest.approx(0.3)  # the most seen among the newest readings
    assert timings.drift(("m|1k|1", "m")) == pytest.approx(0.3)  # another size of the model: same upstream line
    restarted = Timings()
    restarted.load(saved)
    assert restarted.drift(keys) == pytest.approx(0.3)
    entry = restarted.learned("m")
    assert entry is not None and Learned.from_dict(entry.to_dict()).drifts == entry.drifts


def test_a_long_line_costs_a_look_every_half_minute_not_every_few_seconds() -> None:
    # A video behind a 70 s line, nothing learned: until the line ends the schedule only comes back for the place in
    # it. Every 15 s (the old refresh) was four looks, and a 180 s video broke its 8-request budget (issue #11).
    start, now, looks = 70.0, 0.0, []
    while now < start:
        now = next_poll(T, "video", None, start=start, now=now)
        looks.append(now)
    assert looks == [30.0, 60.0, start + T.min_first_poll]


def test_processes_sharing_a_store_keep_each_others_observations_of_the_current_regime() -> None:
    # Each process writes its whole row; another's heartbeat used to REPLACE its own with the last writer's, losing
    # what it had just learned (issue #16). Loading now merges, and a regime change seen by either voids older ones.
    def row(*obs: tuple[float, float, float], since: float = 0.0) -> dict[str, dict[str, object]]:
        return {"m|2k|4": {"obs": [list(o) for o in obs], "since": since}}

    mine = Timings()
    mine.load(row((19.0, 20.0, 100.0), (19.5, 20.5, 110.0)))
    mine.load(row((19.5, 20.5, 110.0), (19.2, 20.1, 120.0)))  # another process: one seen already, one new
    learned = mine.learned("m|2k|4")
    assert learned is not None and [o.at for o in learned.observations] == [100.0, 110.0, 120.0]
    mine.load(row((29.0, 30.0, 130.0), (29.5, 30.2, 140.0), since=130.0))  # it saw the model slow down
    assert [o.at for o in learned.observations] == [130.0, 140.0]
    assert learned.since == 130.0 and Learned.from_dict(learned.to_dict()).since == 130.0
    est = mine.estimate(["m|2k|4"])
    assert est is not None and 29.0 < est.center < 30.5
