"""N processes on one data directory (issue #16 item 3): requests per job and lag, with the polling shared.

N engines (each with its own store connection, instance id and lease, as N processes have) share one SQLite data
directory and ONE account; each runs one job at a time on it in a closed loop, so N jobs are in flight together, one
per process. The process holding the account's poll lease sends one ``get_history_by_ids`` per tick for all of them;
the figures say whether batching still works across processes. Beside it, each on its own emulator and account: the
same N engines on N data directories (each polls its own jobs: what N processes cost before), and ONE engine with N
workers (the yardstick: batching in one process). Production ``Timing``; an instant job first (it teaches
nothing) and every engine's heartbeat once before the jobs, so each knows the others are alive.

Per job, as in ``bench.core_bench``: requests = the submit + each history poll that asked for it (a poll asking for
k jobs counts 1/k to each); lag = when its caller had the result − when the emulator could first have given it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.core_bench import HISTORY, _quiet, _requests_of
from bench.emulator import add_accounts, start_emulator
from bench.stats import median, pct
from core import Engine, EngineConfig, ImageParams, Timing
from core.poller import AccountPoller


@dataclass(frozen=True, slots=True)
class ProcScenario:
    processes: int = 3
    base_s: float = 20.0
    rounds: int = 4  # jobs per process
    jitter_s: float = 1.0
    # Emulator seeds, run one after another and pooled: with one seed, whether a cold poll catches one of the first
    # three jobs 0–50 ms after it is ready or 1.3 s later decided the whole row (one process and three alike).
    seeds: tuple[int, ...] = (7,)


async def _row(
    scn: ProcScenario, engines: int, label: str, timing: Timing | None, *, apart: bool = False, seed: int = 7
) -> dict[str, Any]:
    fake = await start_emulator(scn.base_s, scn.jitter_s, seed=seed)
    (account,) = add_accounts(fake, [f"processes-{label}"])
    jobs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
            async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
                configs = [
                    EngineConfig(
                        tokens=account,
                        upstream_url=fake.url,
                        account_concurrency=scn.processes,
                        timing=timing or Timing(),
                        allow_private_urls=True,
                        data_dir=Path(tmp) / str(i if apart else 0),  # apart: nothing shared, each polls alone
                    )
                    for i in range(engines)
                ]
                fleet = [await stack.enter_async_context(Engine(http, c)) for c in configs]
                for e in fleet:
                    if e.shared is not None:
                        await e.shared.beat()
                await _quiet(fake, account)
                fake.accounts[account].next_outcomes.append(("instant",))
                await (await fleet[0].imagine(_params(f"{label} instant"))).wait()
                for e in fleet:  # what the instant job taught (nothing) and the account state, everywhere
                    if e.shared is not None:
                        await e.shared.beat()

                async def worker(w: int) -> None:
                    engine = fleet[w % len(fleet)]
                    for r in range(scn.rounds):
                        sent = fake.clock()
                        job = await engine.imagine(_params(f"{label} w{w} r{r}"))
                        result = await job.wait()
                        got = fake.clock()
                        sid = job.submit_id
                        jobs.append(
                            {
                                "worker": w,
                                "lag_s": got - fake.ready_at(sid),
                                "requests": _requests_of(fake, account, sid, "image", sent, got),
                                "ok": len(result.assets) == 4,
                            }
                        )

                t0 = fake.clock()
                before = sum(p.share.ticks for p in _pollers(fleet) if p.share is not None)
                await asyncio.gather(*(worker(w) for w in range(scn.processes)))
                polls = [r for r in fake.calls(HISTORY, account) if r.time >= t0]
                for_all = sum(p.share.ticks for p in _pollers(fleet) if p.share is not None) - before
    finally:
        await fake.close()
    lags = [j["lag_s"] for j in jobs]
    many = sum(1 for r in polls if len(r.json.get("submit_ids") or ()) > 1)
    return {
        "seed": seed,
        "requests": [j["requests"] for j in jobs],
        "lags": lags,
        "engines": engines,
        "in_flight": scn.processes,
        "jobs": len(jobs),
        "requests_median": median([j["requests"] for j in jobs]),
        "requests_max": max(j["requests"] for j in jobs),
        "polls": len(polls),
        "polls_per_job": len(polls) / len(jobs),
        "polls_with_several_jobs": many,
        "polls_for_every_process": for_all,  # sent by the poll-lease holder with every process's jobs
        "lag_median_s": median(lags),
        "lag_p95_s": pct(lags, 95),
        "lag_max_s": max(lags),
        "images_ok": all(j["ok"] for j in jobs),
    }


def _pollers(fleet: list[Engine]) -> list[AccountPoller]:
    return [p for e in fleet for p in e.dispatcher._pollers.values()]


def _params(prompt: str) -> ImageParams:
    return ImageParams(prompt=prompt, resolution="2k", ratio="1:1", count=4)


async def run(scn: ProcScenario, *, timing: Timing | None = None) -> dict[str, Any]:
    """Three rows side by side: ``shared`` (N engines on one data directory, one job in flight each), ``apart``
    (the same on N data directories: each polls its own jobs, as before issue #16 item 3) and ``alone`` (one
    engine, N workers)."""
    rows: dict[str, list[dict[str, Any]]] = {"shared": [], "apart": [], "alone": []}
    for seed in scn.seeds:  # one seed at a time: the same load on the machine as one seed
        shared, apart, alone = await asyncio.gather(
            _row(scn, scn.processes, "shared", timing, seed=seed),
            _row(scn, scn.processes, "apart", timing, apart=True, seed=seed),
            _row(scn, 1, "alone", timing, seed=seed),
        )
        for key, row in (("shared", shared), ("apart", apart), ("alone", alone)):
            rows[key].append(row)
    out: dict[str, Any] = {"processes": scn.processes, "base_s": scn.base_s, "seeds": list(scn.seeds)}
    return out | {key: _pooled(found) for key, found in rows.items()}


def _pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the same row on several seeds: medians over every job, sums of polls."""
    requests = [r for row in rows for r in row["requests"]]
    lags = [lag for row in rows for lag in row["lags"]]
    jobs, polls = len(requests), sum(row["polls"] for row in rows)
    return {
        "engines": rows[0]["engines"],
        "in_flight": rows[0]["in_flight"],
        "jobs": jobs,
        "requests_median": median(requests),
        "requests_max": max(requests),
        "polls": polls,
        "polls_per_job": polls / jobs,
        "polls_with_several_jobs": sum(row["polls_with_several_jobs"] for row in rows),
        "polls_for_every_process": sum(row["polls_for_every_process"] for row in rows),
        "lag_median_s": median(lags),
        "lag_p95_s": pct(lags, 95),
        "lag_max_s": max(lags),
        "images_ok": all(row["images_ok"] for row in rows),
        "by_seed": [
            {
                "seed": row["seed"],
                "requests_median": row["requests_median"],
                "polls": row["polls"],
                "lag_median_s": row["lag_median_s"],
            }
            for row in rows
        ],
    }


def table(res: dict[str, Any]) -> list[str]:
    n = res["processes"]
    head = f"{'':<34}{'jobs':>5}{'req med':>8}{'req max':>8}{'polls/job':>10}{'lag med':>8}{'lag p95':>8}{'lag max':>8}"
    lines = [f"{n} processes on one data directory, one account, {res['base_s']:g} s images, {n} in flight", head]
    rows = (
        ("shared", f"{n} processes, one data dir"),
        ("apart", f"{n} processes, polling apart"),
        ("alone", f"1 process, {n} jobs in flight"),
    )
    for key, label in rows:
        r = res[key]
        lines.append(
            f"{label:<34}{r['jobs']:>5}{r['requests_median']:>8.2f}{r['requests_max']:>8.2f}{r['polls_per_job']:>10.2f}"
            f"{r['lag_median_s']:>8.2f}{r['lag_p95_s']:>8.2f}{r['lag_max_s']:>8.2f}"
        )
    s = res["shared"]
    for key, label in rows[::2]:
        seeds = ", ".join(f"{b['seed']}: {b['requests_median']:.2f} ({b['polls']} polls)" for b in res[key]["by_seed"])
        lines.append(f"  {label}, requests per job by emulator seed — {seeds}")
    lines.append(
        f"  {n} processes: {s['polls_for_every_process']} of {s['polls']} polls sent by the poll-lease holder for "
        f"every process; {s['polls_with_several_jobs']} asked for several jobs"
    )
    return lines
