"""Core-direct scenarios: upstream requests per finished job (by endpoint) and delivery lag, with production Timing.

Each scenario gets its own emulator account and its own ``Engine`` (so learned durations never leak between
scenarios) and runs ``inflight`` closed-loop workers for ``rounds`` jobs each: 4 images of 2048² per job. The API adds
no upstream request of its own for ``url`` replies (it calls ``engine.imagine`` and waits), so these figures are the
API's too; the API's own lag is measured separately on the server process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.emulator import CATEGORIES, add_accounts, count_requests, done_at, ready_at
from bench.stats import median, pct
from core import Engine, EngineConfig, ImageParams, Timing
from emulator import FakeJimeng

HISTORY = "/mweb/v1/get_history_by_ids"


@dataclass(frozen=True, slots=True)
class CoreScenario:
    base_s: float
    inflight: int
    rounds: int

    @property
    def name(self) -> str:
        return f"core {self.base_s:g}s x{self.inflight}"


async def _quiet(fake: FakeJimeng, sessionid: str, quiet_s: float = 0.3, limit_s: float = 5.0) -> None:
    """Wait until the engine's start-up requests (catalogue, daily claim, credits) for this account are over."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        last = max((r.time for r in fake.requests if r.sessionid == sessionid), default=0.0)
        if fake.clock() - last >= quiet_s:
            return
        await asyncio.sleep(0.05)


async def run_core(
    scn: CoreScenario, fake: FakeJimeng, *, timing: Timing | None = None, tag: str = ""
) -> dict[str, Any]:
    (account,) = add_accounts(fake, [f"core-{scn.base_s}-{scn.inflight}-{tag}"])
    jobs: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        config = EngineConfig(
            tokens=account,
            upstream_url=fake.url,
            account_concurrency=max(2, min(16, scn.inflight)),
            timing=timing or Timing(),
            allow_private_urls=True,
        )
        engine = Engine(http, config)
        await engine.start()
        try:
            await _quiet(fake, account)
            startup = count_requests(fake, [account], 0.0)
            t0 = fake.clock()

            async def worker(w: int) -> None:
                for r in range(scn.rounds):
                    sent = fake.clock()
                    job = await engine.imagine(
                        ImageParams(prompt=f"{scn.name} w{w} r{r}", resolution="2k", ratio="1:1", count=4)
                    )
                    result = await job.wait()
                    got = fake.clock()
                    polls = sum(1 for q in fake.calls(HISTORY, account) if job.submit_id in q.json["submit_ids"])
                    jobs.append(
                        {
                            "worker": w,
                            "round": r,
                            "sent": sent,
                            "lag_s": got - done_at(fake, job.submit_id),
                            "lag_ready_s": got - ready_at(fake, job.submit_id),
                            "duration_s": fake.jobs[job.submit_id].duration,
                            "latency_s": got - sent,
                            "polls": polls,
                            "images": len(result.images),
                        }
                    )

            await asyncio.gather(*(worker(w) for w in range(scn.inflight)))
            t1 = fake.clock()
        finally:
            await engine.close()
    counts = count_requests(fake, [account], t0, t1)
    n = len(jobs)
    lags = [j["lag_s"] for j in jobs]
    first = min(jobs, key=lambda j: j["sent"])
    return {
        "name": scn.name,
        "base_s": scn.base_s,
        "inflight": scn.inflight,
        "jobs": n,
        "requests": counts,
        "per_job": {k: counts[k] / n for k in CATEGORIES},
        "per_job_total": sum(counts.values()) / n,
        "startup_requests": startup,
        "first_job_polls": first["polls"],
        "max_job_polls": max(j["polls"] for j in jobs),
        "lag_median_s": median(lags),
        "lag_p95_s": pct(lags, 95),
        "lag_vs_ready_median_s": median([j["lag_ready_s"] for j in jobs]),
        "lag_vs_ready_p95_s": pct([j["lag_ready_s"] for j in jobs], 95),
        "lag_min_s": min(lags),
        "lag_max_s": max(lags),
        "images_ok": all(j["images"] == 4 for j in jobs),
        "jobs_detail": jobs,
    }
