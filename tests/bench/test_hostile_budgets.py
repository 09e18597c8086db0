"""``make bench``'s issue #13 rows read the figures of bench/hostile_bench.py and judge them (no timing here)."""

from __future__ import annotations

from typing import Any

from bench.budgets import verdicts
from bench.hostile_bench import _broken_body
from bench.report import table
from bench.runner import GROUPS


def _results(peak: float, ping: float, submitted: int) -> dict[str, Any]:
    return {
        "hostile": {
            "decode": {"peak_rss_mib": peak},
            "ping": {"ping_worst_s": ping},
            "abandon": {"submitted_after_leaving": submitted},
        }
    }


def _statuses(results: dict[str, Any]) -> dict[str, str]:
    return {
        v["budget"]: v["status"]
        for v in verdicts(results)
        if "8000²" in v["budget"] or "20 MB" in v["budget"] or "abandoned" in v["budget"]
    }


def test_the_three_rows_pass_and_fail_on_their_limits() -> None:
    assert "hostile" in GROUPS
    assert set(_statuses(_results(390, 0.2, 0)).values()) == {"PASS"}
    assert set(_statuses(_results(401, 0.6, 1)).values()) == {"FAIL"}
    assert set(_statuses({}).values()) == {"SKIP"} and len(_statuses({})) == 3
    assert "abandoned queued jobs submitted" in table(_results(390, 0.2, 0))


def test_the_broken_body_is_the_size_of_the_budget() -> None:
    body = _broken_body(20)
    assert 20 * 1024 * 1024 <= len(body) < 20.1 * 1024 * 1024
