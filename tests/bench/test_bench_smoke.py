"""The benchmark harness still works: its smallest core scenario end to end (no timing assertions: figures belong to
``make bench``)."""

from __future__ import annotations

from bench.budgets import verdicts
from bench.core_bench import CoreScenario, run_core
from bench.emulator import start_emulator
from bench.report import table
from tests.core.support import FAST


async def test_smallest_core_scenario_runs_and_reports() -> None:
    fake = await start_emulator(0.3, jitter_s=0.2)
    try:
        row = await run_core(CoreScenario(0.3, 2, 2), fake, timing=FAST, tag="smoke")
    finally:
        await fake.close()
    assert row["jobs"] == 4 and row["images_ok"]
    assert row["requests"]["submit"] == 4 and row["requests"]["history"] >= 1
    results = {"core": {row["name"]: row}}
    assert "core 0.3s x2" in table(results)
    assert {v["status"] for v in verdicts(results)} <= {"PASS", "FAIL", "SKIP"}
