"""The benchmark harness still works: its smallest core scenario end to end (no timing assertions: figures belong to
``make bench``)."""

from __future__ import annotations

from bench.budgets import verdicts
from bench.core_bench import CoreScenario, run_core
from bench.discord_bench import first_job
from bench.emulator import start_emulator
from bench.report import table
from tests.core.support import FAST


async def test_smallest_core_scenario_runs_and_reports() -> None:
    fake = await start_emulator(0.3, jitter_s=0.2, items_during_45=False)
    try:
        row = await run_core(CoreScenario("img20x4", 0.3, inflight=2, rounds=2), fake, timing=FAST, tag="smoke")
    finally:
        await fake.close()
    assert row["jobs"] == 4 and row["images_ok"]
    assert row["requests"]["submit"] == 4 and row["requests"]["history"] >= 1  # the instant job is left out
    assert 1 < row["requests_median"] <= row["requests_max"]
    results = {"core": {"items-only-with-50": {row["name"]: row}}}
    text = table(results)
    assert "items-only-with-50" in text and "img20x4" in text
    statuses = {v["budget"]: v["status"] for v in verdicts(results)}
    assert statuses["[items-only-with-50] 20 s images, 4 in flight (2 generating): requests per job"] in (
        "PASS",
        "FAIL",
    )
    assert set(statuses.values()) <= {"PASS", "FAIL", "SKIP"}


async def test_the_discord_scenario_runs_and_reports() -> None:
    row = await first_job({"status_45": False}, base_s=0.5, jitter_s=0.2)
    assert row["result_s"] > 0.5 and row["first_status_s"] is not None  # a status went out before the result
    results = {"discord": {"45-skipped": row}}
    statuses = {v["budget"]: v["status"] for v in verdicts(results)}
    assert statuses["[45-skipped] first 3 s job in Discord: status edits before it (at least)"] == "PASS"
    assert "45-skipped" in table(results)
