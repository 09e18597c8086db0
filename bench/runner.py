"""Runs the scenarios (concurrently where they do not interfere) and collects one results dict."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench import api_bench, discord_bench, hostile_bench, processes_bench
from bench.core_bench import VARIANTS, CoreScenario, run_core
from bench.emulator import payload_size, start_emulator, use_realistic_images
from bench.processes_bench import ProcScenario
from core import Timing
from emulator import FakeJimeng

GROUPS = ("core", "discord", "cpu", "overhead", "inflight", "b64", "hostile", "processes")


@dataclass(frozen=True, slots=True)
class Plan:
    core: tuple[CoreScenario, ...]
    cpu_jobs: int
    cpu_base_s: float
    overhead_sequential: int
    overhead_concurrent: int
    overhead_rounds: int
    inflight_jobs: int
    b64_concurrent: tuple[int, ...]
    processes: ProcScenario  # issue #16: N processes sharing the data directory and one account


FULL = Plan(
    core=(
        CoreScenario("img20x1", 20, rounds=6),
        CoreScenario("img20x4", 20, inflight=4, rounds=3, slots=2),
        CoreScenario("img60x1", 60, rounds=4),
        CoreScenario("vid60x1", 60, kind="video", rounds=3, jitter_s=3.0),
        CoreScenario("vid180x1", 180, kind="video", rounds=3, jitter_s=3.0),
        CoreScenario("img3first", 3, rounds=1, instant_first=False, fresh_engines=3),
    ),
    cpu_jobs=3,
    cpu_base_s=60,
    overhead_sequential=30,
    overhead_concurrent=50,
    overhead_rounds=2,
    inflight_jobs=200,
    b64_concurrent=(1, 10),
    processes=ProcScenario(3, 20.0, rounds=6, seeds=(7, 11, 13)),
)

QUICK = Plan(
    core=(
        CoreScenario("img20x1", 5, rounds=4),
        CoreScenario("img20x4", 5, inflight=4, rounds=2, slots=2),
        CoreScenario("img60x1", 10, rounds=3),
        CoreScenario("vid60x1", 10, kind="video", rounds=3, jitter_s=1.0),
        CoreScenario("img3first", 3, rounds=1, instant_first=False, fresh_engines=2),
    ),
    cpu_jobs=2,
    cpu_base_s=3,
    overhead_sequential=5,
    overhead_concurrent=10,
    overhead_rounds=1,
    inflight_jobs=32,
    b64_concurrent=(1,),
    processes=ProcScenario(3, 5.0, rounds=3),
)


async def run_once(plan: Plan, only: set[str], *, timing: Timing | None = None, log: Any = print) -> dict[str, Any]:
    """One pass over the plan. Phase A (light, mostly sleeping): every core scenario plus the server's CPU run, in
    parallel on separate emulators/accounts/engines. Phase B (heavy): overhead, 200 in flight, b64_json, one by one."""
    use_realistic_images()
    results: dict[str, Any] = {"started": time.time()}
    emulators: list[FakeJimeng] = []
    try:
        phase_a = []
        if "core" in only:
            for variant, switches in VARIANTS.items():
                switches = dict(switches)
                jitter = switches.pop("jitter_s", None)
                for scn in plan.core:
                    fake = await start_emulator(scn.base_s, jitter if jitter is not None else scn.jitter_s, **switches)
                    emulators.append(fake)
                    phase_a.append(("core", (variant, scn.name), run_core(scn, fake, timing=timing, tag=variant)))
        if "discord" in only:  # one bot at a time: the fake Discord is patched into discord.py's globals
            phase_a.append(("discord", ("", "discord"), discord_bench.every_variant(VARIANTS)))
        if "cpu" in only:
            fake = await start_emulator(plan.cpu_base_s)
            emulators.append(fake)
            phase_a.append(("cpu", ("", "cpu"), api_bench.idle_and_cpu(fake, plan.cpu_jobs, "a")))
        if "processes" in only:
            phase_a.append(("processes", ("", "processes"), processes_bench.run(plan.processes, timing=timing)))
        if phase_a:
            log(f"phase A: {len(phase_a)} scenarios in parallel (longest ≈ the slowest video ones)…")
            t0 = time.monotonic()
            outs = await asyncio.gather(*(c for _, _, c in phase_a))
            for (group, (variant, name), _), out in zip(phase_a, outs, strict=True):
                if group == "core":
                    results.setdefault("core", {}).setdefault(variant, {})[name] = out
                elif group == "discord":
                    results["discord"] = out
                else:
                    results[group] = out
            log(f"phase A done in {time.monotonic() - t0:.0f} s")
    finally:
        for fake in emulators:
            await fake.close()

    if "overhead" in only:
        log("overhead: 1 and 50 concurrent…")
        fake = await start_emulator(1.0)
        try:
            results["overhead"] = await api_bench.overhead(
                fake,
                sequential=plan.overhead_sequential,
                concurrent=plan.overhead_concurrent,
                rounds=plan.overhead_rounds,
            )
            results["overhead_no_copy"] = await api_bench.overhead(
                fake,
                sequential=plan.overhead_sequential,
                concurrent=plan.overhead_concurrent,
                rounds=1,
                env={"JIMENG_KEEP_RESULTS": "false"},
            )
        finally:
            await fake.close()
    if "inflight" in only:
        log(f"{plan.inflight_jobs} jobs in flight…")
        fake = await start_emulator(20.0)
        try:
            results["inflight"] = await api_bench.inflight_peak(fake, plan.inflight_jobs)
        finally:
            await fake.close()
    if "b64" in only:
        expected = int(payload_size(4096, 4096) * 4 * 4 / 3)
        for n in plan.b64_concurrent:
            log(f"b64_json 4×4096² at {n} concurrent…")
            fake = await start_emulator(1.0)
            try:
                results.setdefault("b64", {})[f"c{n}"] = await api_bench.b64_peak(fake, n, expected)
            finally:
                await fake.close()
    if "hostile" in only:  # issue #13: same figures in quick and full runs
        log("hostile input: huge images, a 20 MB broken body, callers who leave…")
        results["hostile"] = await hostile_bench.run(log)
    results["finished"] = time.time()
    return results
