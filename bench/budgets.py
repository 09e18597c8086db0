"""The budgets of issue #7 and how each is read from a run's results."""

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


def _core(name: str, field: str) -> Callable[[dict[str, Any]], float | None]:
    def get(res: dict[str, Any]) -> float | None:
        row = res.get("core", {}).get(name)
        return None if row is None else row[field]

    return get


def _max_core(inflight: int, field: str) -> Callable[[dict[str, Any]], float | None]:
    def get(res: dict[str, Any]) -> float | None:
        rows = [r for r in res.get("core", {}).values() if r["inflight"] == inflight]
        return max((r[field] for r in rows), default=None)

    return get


def _credit(res: dict[str, Any]) -> float | None:
    rows = list(res.get("core", {}).values())
    return max((r["per_job"]["credit"] for r in rows), default=None)


def _path(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    def get(res: dict[str, Any]) -> float | None:
        node: Any = res
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return None
            node = node[k]
        return float(node) if node is not None else None

    return get


BUDGETS: tuple[Budget, ...] = (
    Budget("20 s job, 1 in flight: upstream requests per job", 5, "req", _core("core 20s x1", "per_job_total")),
    Budget("20 s job, 1 in flight: median delivery lag", 0.75, "s", _core("core 20s x1", "lag_median_s")),
    Budget("60 s job, 1 in flight: upstream requests per job", 8, "req", _core("core 60s x1", "per_job_total")),
    Budget("60 s job, 1 in flight: median delivery lag", 1.0, "s", _core("core 60s x1", "lag_median_s")),
    Budget("3 s job, 1 in flight: upstream requests per job", 4, "req", _core("core 3s x1", "per_job_total")),
    Budget("3 s job, 1 in flight: median delivery lag", 0.75, "s", _core("core 3s x1", "lag_median_s")),
    Budget(
        "4 in flight on one account: requests per job (worst of 3/20/60 s)", 2.5, "req", _max_core(4, "per_job_total")
    ),
    Budget("credit requests per job (worst scenario)", 0, "req", _credit),
    Budget("API overhead p50, 1 concurrent", 5, "ms", _path("overhead", "c1", "overhead_p50_ms")),
    Budget("API overhead p50, 50 concurrent", 5, "ms", _path("overhead", "c50", "overhead_p50_ms")),
    Budget("server CPU per 60 s job, 1 in flight", 0.05, "s", _path("cpu", "cpu_s_per_job")),
    Budget("server RSS idle", 80, "MiB", _path("cpu", "idle_rss_mib")),
    Budget("server RSS peak, 200 jobs in flight", 120, "MiB", _path("inflight", "peak_rss_mib")),
    Budget("server RSS peak, b64_json 4×4096², 10 concurrent", 300, "MiB", _path("b64", "c10", "peak_rss_mib")),
)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for b in BUDGETS:
        value = b.get(results)
        status = "SKIP" if value is None else ("PASS" if value <= b.limit + 1e-12 else "FAIL")
        out.append({"budget": b.name, "limit": b.limit, "unit": b.unit, "value": value, "status": status})
    return out
