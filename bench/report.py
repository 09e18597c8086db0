"""The printed table and the JSON file."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.budgets import CORE_BUDGETS, verdicts
from bench.processes_bench import table as processes_table

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
    if core or results.get("discord"):
        lines.append("Jimeng API requests per job and delivery lag, per emulator variant (core, production Timing;")
        lines.append(
            "requests: submit + polls (a poll for k jobs counts 1/k) + video renditions; lag: result in hand −"
        )
        lines.append("when the emulator could first give it; an instant job first, left out)")
        hdr = f"{'variant':<20}{'scenario':<11}{'jobs':>5}{'req med':>8}{'req max':>8}{'hist/job':>9}"
        hdr += f"{'lag med':>8}{'lag p95':>8}{'lag max':>8}{'max 1st6':>9}"
        lines += [hdr, "-" * len(hdr)]
        for variant, rows in core.items():
            for name, r in rows.items():
                row = f"{variant:<20}{name:<11}{r['jobs']:>5}{_f(r['requests_median']):>8}{_f(r['requests_max']):>8}"
                row += f"{_f(r['per_job']['history']):>9}{_f(r['lag_median_s']):>8}{_f(r['lag_p95_s']):>8}"
                row += f"{_f(r['lag_max_s']):>8}{_f(r['lag_max_first6_s']):>9}"
                lines.append(row)
        lines.append("")
        lines += budget_matrix(results)
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
    if "processes" in results:  # issue #16: N processes sharing one account's polling
        lines += [*processes_table(results["processes"]), ""]
    lines.append("Budgets")
    for v in verdicts(results):
        if v["budget"].startswith("["):
            continue  # in the matrix above
        val = "—" if v["value"] is None else f"{v['value']:.3f}".rstrip("0").rstrip(".")
        lines.append(f"  {v['status']:<5} {v['budget']:<66} {val:>9} ≤ {v['limit']:g} {v['unit']}")
    return "\n".join(lines)


def budget_matrix(results: dict[str, Any]) -> list[str]:
    """One line per core budget, one column per variant: the value and PASS/FAIL."""
    variants = list(dict.fromkeys([*results.get("core", {}), *results.get("discord", {})]))
    head = f"{'budget (issue #11)':<62}{'limit':>9}" + "".join(f"{v[:18]:>20}" for v in variants)
    lines = [head, "-" * len(head)]
    by_name = {v["budget"]: v for v in verdicts(results)}
    for _scenario, _field, limit, unit, text in CORE_BUDGETS:
        cells = []
        for variant in variants:
            v = by_name.get(f"[{variant}] {text}")
            cells.append("—" if v is None or v["value"] is None else f"{v['value']:.2f} {v['status']}")
        lines.append(f"{text:<62}{f'{limit:g} {unit}':>9}" + "".join(f"{c:>20}" for c in cells))
    return lines


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
