"""The budgets of issues #7 and #11 and how each is read from a run's results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    limit: float
    unit: str
    get: Callable[[dict[str, Any]], float | None]
    at_least: bool = False  # the value must reach the limit (else: stay under it)


def _credit(res: dict[str, Any]) -> float | None:
    rows = [row for variant in res.get("core", {}).values() for row in variant.values()]
    return max((r["per_job"]["credit"] for r in rows), default=None)


def _answered(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    """The share of a row's requests answered 200 (a row of refusals measures nothing)."""
    ok, total = _path(*keys, "ok"), _path(*keys, "requests")

    def get(res: dict[str, Any]) -> float | None:
        n = total(res)
        return (ok(res) or 0.0) / n if n else None

    return get


def _ratio(top: tuple[str, ...], bottom: tuple[str, ...]) -> Callable[[dict[str, Any]], float | None]:
    a, b = _path(*top), _path(*bottom)

    def get(res: dict[str, Any]) -> float | None:
        x, y = a(res), b(res)
        return x / y if x is not None and y else None

    return get


def _path(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    def get(res: dict[str, Any]) -> float | None:
        node: Any = res
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return None
            node = node[k]
        return float(node) if node is not None else None

    return get


# Issue #11, per emulator variant: (scenario, field of its row, limit, unit, what it says). A budget holds only if it
# holds for every variant.
CORE_BUDGETS: tuple[tuple[str, str, float, str, str], ...] = (
    ("img20x1", "requests_median", 4, "req", "20 s images, 1 in flight: median requests per job"),
    ("img20x1", "lag_median_s", 0.75, "s", "20 s images, 1 in flight: median lag"),
    ("img20x1", "lag_max_first6_s", 2.0, "s", "20 s images: worst lag over the first six jobs"),
    ("img20x4", "requests_median", 2.5, "req", "20 s images, 4 in flight (2 generating): requests per job"),
    ("img60x1", "requests_median", 6, "req", "60 s images: median requests per job"),
    ("img60x1", "lag_median_s", 1.0, "s", "60 s images: median lag"),
    ("vid60x1", "requests_median", 8, "req", "60 s videos: median requests per job"),
    ("vid60x1", "lag_median_s", 2.0, "s", "60 s videos: median lag"),
    ("vid180x1", "requests_median", 8, "req", "180 s videos: median requests per job"),
    ("vid180x1", "lag_median_s", 2.0, "s", "180 s videos: median lag"),
    ("img3first", "lag_max_s", 1.5, "s", "first 3 s job of a fresh process: lag (worst)"),
    ("discord", "result_s", 6.0, "s", "first 3 s job in Discord: result after the command"),
    ("discord", "status_edits", 1, "edits", "first 3 s job in Discord: status edits before it (at least)"),
)


def _core(variant: str, scenario: str, field: str) -> Callable[[dict[str, Any]], float | None]:
    def get(res: dict[str, Any]) -> float | None:
        if scenario == "discord":
            row = res.get("discord", {}).get(variant)
        else:
            row = res.get("core", {}).get(variant, {}).get(scenario)
        return None if row is None or row.get(field) is None else float(row[field])

    return get


def core_budgets(results: dict[str, Any]) -> list[tuple[str, Budget]]:
    """(variant, budget) for every variant in the results."""
    return [
        (variant, Budget(f"[{variant}] {text}", limit, unit, _core(variant, scenario, field), "at least" in text))
        for variant in dict.fromkeys([*results.get("core", {}), *results.get("discord", {})])
        for scenario, field, limit, unit, text in CORE_BUDGETS
    ]


BUDGETS: tuple[Budget, ...] = (
    Budget("credit requests per job (worst scenario)", 0, "req", _credit),
    Budget("API overhead p50, 1 concurrent", 5, "ms", _path("overhead", "c1", "overhead_p50_ms")),
    Budget("API overhead p50, 50 concurrent", 5, "ms", _path("overhead", "c50", "overhead_p50_ms")),
    Budget("API overhead rows: share answered 200 (at least)", 1.0, "", _answered("overhead", "c50"), at_least=True),
    Budget("server CPU per 60 s job, 1 in flight", 0.05, "s", _path("cpu", "cpu_s_per_job")),
    Budget("server RSS idle", 80, "MiB", _path("cpu", "idle_rss_mib")),
    Budget("server RSS peak, 200 jobs in flight", 120, "MiB", _path("inflight", "peak_rss_mib")),
    Budget("server RSS peak, b64_json 4×4096², 10 concurrent", 300, "MiB", _path("b64", "c10", "peak_rss_mib")),
    # Issue #13 (bench/hostile_bench.py)
    Budget(
        "server RSS peak, 2 requests × 4 × 8000² PNG data URLs", 400, "MiB", _path("hostile", "decode", "peak_rss_mib")
    ),
    # Issue #16 (bench/processes_bench.py): 3 processes, one job in flight each on one account, 20 s images
    Budget(
        "3 processes on one account: median requests per job",
        2.5,
        "req",
        _path("processes", "shared", "requests_median"),
    ),
    Budget(
        "3 processes on one account: polls per job ÷ each polling its own",
        0.6,
        "",
        _ratio(("processes", "shared", "polls_per_job"), ("processes", "apart", "polls_per_job")),
    ),
    Budget("3 processes on one account: median lag", 0.75, "s", _path("processes", "shared", "lag_median_s")),
    Budget("/ping worst while a 20 MB broken body is parsed", 0.5, "s", _path("hostile", "ping", "ping_worst_s")),
    Budget(
        "abandoned queued jobs submitted (10 plain + 10 streamed)",
        0,
        "jobs",
        _path("hostile", "abandon", "submitted_after_leaving"),
    ),
)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for b in [b for _, b in core_budgets(results)] + list(BUDGETS):
        value = b.get(results)
        ok = value is not None and (value >= b.limit - 1e-12 if b.at_least else value <= b.limit + 1e-12)
        status = "SKIP" if value is None else ("PASS" if ok else "FAIL")
        out.append({"budget": b.name, "limit": b.limit, "unit": b.unit, "value": value, "status": status})
    return out
