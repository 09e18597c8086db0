"""The printed table and the JSON file."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.budgets import verdicts
from bench.emulator import CATEGORIES

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every number over the runs; anything else (per-job rows) from the first run."""
    first = runs[0]
    if isinstance(first, dict):
        out: dict[str, Any] = {}
        for key in first:
            values = [r[key] for r in runs if isinstance(r, dict) and key in r]
            out[key] = merge_runs(values)
        return out
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    nums = [r for r in runs if isinstance(r, int | float) and not isinstance(r, bool)]
    return statistics.median(nums) if nums else first


def _f(v: Any, nd: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    core = results.get("core", {})
    if core:
        lines.append("Upstream requests per finished job and delivery lag (core, production Timing, 4 × 2048² images)")
        hdr = f"{'scenario':<16}{'jobs':>5}" + "".join(f"{c:>9}" for c in CATEGORIES)
        hdr += f"{'total':>8}{'1st job polls':>14}{'lag med s':>10}{'lag p95 s':>10}{'vs ready med/p95':>18}"
        lines += [hdr, "-" * len(hdr)]
        for name, r in core.items():
            row = f"{name:<16}{r['jobs']:>5}" + "".join(f"{_f(r['per_job'][c]):>9}" for c in CATEGORIES)
            row += f"{_f(r['per_job_total']):>8}{_f(r['first_job_polls'], 0):>14}"
            row += f"{_f(r['lag_median_s']):>10}{_f(r['lag_p95_s']):>10}"
            row += f"{_f(r['lag_vs_ready_median_s']) + ' / ' + _f(r['lag_vs_ready_p95_s']):>18}"
            lines.append(row)
        lines.append("")
    api = []
    if "cpu" in results:
        c = results["cpu"]
        api.append(("server RSS idle", f"{_f(c['idle_rss_mib'], 1)} MiB"))
        api.append(
            (
                f"server CPU per job ({c['jobs']} × {results.get('cpu_base_s', 60):g} s jobs, 1 in flight)",
                f"{_f(c['cpu_s_per_job'], 3)} s",
            )
        )
        api.append(
            ("delivery lag over HTTP (same jobs), median / p95", f"{_f(c['lag_median_s'])} / {_f(c['lag_p95_s'])} s")
        )
    for key, label in (("overhead", "keep results (default)"), ("overhead_no_copy", "JIMENG_KEEP_RESULTS=false")):
        if key in results:
            for conc in ("c1", "c50"):
                o = results[key][conc]
                api.append(
                    (
                        f"API overhead {conc[1:]} concurrent, {label}: p50 / p99",
                        f"{_f(o['overhead_p50_ms'], 1)} / {_f(o['overhead_p99_ms'], 1)} ms"
                        f"  (before submit {_f(o['before_submit_p50_ms'], 1)}, after last poll "
                        f"{_f(o['after_last_poll_p50_ms'], 1)}; {o['ok']}/{o['requests']} ok)",
                    )
                )
    if "inflight" in results:
        i = results["inflight"]
        api.append((f"server RSS peak, {i['jobs']} jobs in flight", f"{_f(i['peak_rss_mib'], 1)} MiB ({i['ok']} ok)"))
    for b in results.get("b64", {}).values():
        api.append(
            (
                f"server RSS peak, b64_json 4×4096² at {b['concurrent']} concurrent",
                f"{_f(b['peak_rss_mib'], 1)} MiB (reply {_f(b['reply_mib'], 1)} MiB, {b['ok']} ok)",
            )
        )
    if api:
        lines.append("API server (python -m api, separate process)")
        width = max(len(k) for k, _ in api) + 2
        lines += [f"{k:<{width}}{v}" for k, v in api]
        lines.append("")
    lines.append("Budgets")
    for v in verdicts(results):
        val = "—" if v["value"] is None else f"{v['value']:.3f}".rstrip("0").rstrip(".")
        lines.append(f"  {v['status']:<5} {v['budget']:<66} {val:>9} ≤ {v['limit']:g} {v['unit']}")
    return "\n".join(lines)


def write(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = dict(results)
    doc["budgets"] = verdicts(results)
    text = json.dumps(doc, indent=1, default=str)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path
