"""``python -m bench [--quick] [--runs N] [--only GROUP ...]``: benchmarks against the Jimeng emulator (loopback).

Prints one table (every measurement and PASS/FAIL per budget of issue #7) and writes
``bench/results/<timestamp>.json`` and ``bench/results/latest.json``. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from bench.report import merge_runs, table, write
from bench.runner import FULL, GROUPS, QUICK, run_once


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: short jobs, few of them (≈ 1 min)")
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole plan N times and report medians")
    ap.add_argument("--only", action="append", choices=GROUPS, help="run only this group (repeatable)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    plan = QUICK if args.quick else FULL
    only = set(args.only or GROUPS)
    started = time.monotonic()
    runs = []
    for i in range(max(1, args.runs)):
        print(f"run {i + 1}/{max(1, args.runs)} ({'quick' if args.quick else 'full'})", flush=True)
        res = asyncio.run(run_once(plan, only, log=lambda m: print("  " + m, flush=True)))
        res["cpu_base_s"] = plan.cpu_base_s
        runs.append(res)
    merged = merge_runs(runs) if len(runs) > 1 else runs[0]
    merged["runs"] = len(runs)
    merged["mode"] = "quick" if args.quick else "full"
    merged["wall_s"] = time.monotonic() - started
    print()
    print(table(merged))
    path = write(merged)
    print(f"\n{len(runs)} run(s) in {merged['wall_s']:.0f} s; results: {path} (and bench/results/latest.json)")
    print("Requests per job and lag are measured on the core directly (the API adds no upstream request for url")
    print("replies); lag = result in the caller's hands − the emulator's done time (started + duration).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
