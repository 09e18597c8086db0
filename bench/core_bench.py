"""Core-direct scenarios (issue #11): Jimeng API requests per job and delivery lag, per emulator VARIANT.

Every behaviour the emulator invents about a job's timeline is a switch (``emulator.switches``); each variant below
runs every scenario on its own emulator, account and fresh ``Engine`` (memory store: nothing learned at start), with
production ``Timing``. A scenario may start with one instant job (done before the first poll can arrive), which
must teach the engine nothing; it is left out of the figures.

Per job: requests = the submit + each history poll that asked for it (a poll asking for k jobs counts 1/k to each)
+ video download-rendition look-ups; lag = when the caller had the result − when the emulator could first have
given it (``FakeJimeng.ready_at``: status 50, or 45 with every item when items fill during 45).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from bench.emulator import CATEGORIES, add_accounts, count_requests
from bench.stats import median, pct
from core import Engine, EngineConfig, ImageParams, Timing, VideoParams
from emulator import FakeJimeng

HISTORY = "/mweb/v1/get_history_by_ids"
RENDITIONS = "/mweb/v1/get_local_item_list"

# name → emulator keyword arguments (switches), and the jitter added to each duration: + U(0, jitter_s) seconds
VARIANTS: dict[str, dict[str, Any]] = {
    "as-emulated": {},
    "items-only-with-50": {"items_during_45": False},
    "45-skipped": {"status_45": False},
    "queue-positions": {"queue": "positions"},
    "jitter-0-3s": {"jitter_s": 3.0},
}


@dataclass(frozen=True, slots=True)
class CoreScenario:
    label: str  # e.g. "img20x1"
    base_s: float
    inflight: int = 1  # closed-loop workers on ONE account
    rounds: int = 6  # jobs per worker
    kind: Literal["image", "video"] = "image"
    slots: int = 2  # the account's concurrency: jobs generating at a time
    instant_first: bool = True
    fresh_engines: int = 1  # >1: every job on a new engine (the first job of a fresh process)
    jitter_s: float = 1.0

    @property
    def name(self) -> str:
        return self.label


async def _quiet(fake: FakeJimeng, sessionid: str, quiet_s: float = 0.3, limit_s: float = 5.0) -> None:
    """Wait until the engine's start-up requests (catalogue, daily claim, credits) for this account are over."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        last = max((r.time for r in fake.requests if r.sessionid == sessionid), default=0.0)
        if fake.clock() - last >= quiet_s:
            return
        await asyncio.sleep(0.05)


def _requests_of(fake: FakeJimeng, account: str, submit_id: str, kind: str, sent: float, got: float) -> float:
    n = 1.0  # the submit
    for r in fake.calls(HISTORY, account):
        ids = (r.json.get("submit_ids") or []) if isinstance(r.json, dict) else []
        if submit_id in ids:
            n += 1.0 / len(ids)
    if kind == "video":
        n += sum(1 for r in fake.calls(RENDITIONS, account) if sent <= r.time <= got + 0.5)
    return n


async def _job(engine: Engine, scn: CoreScenario, prompt: str) -> Any:
    if scn.kind == "video":
        return await engine.video(VideoParams(prompt=prompt, duration=5))
    return await engine.imagine(ImageParams(prompt=prompt, resolution="2k", ratio="1:1", count=4))


async def run_core(
    scn: CoreScenario, fake: FakeJimeng, *, timing: Timing | None = None, tag: str = ""
) -> dict[str, Any]:
    (account,) = add_accounts(fake, [f"core-{scn.label}-{tag}"])
    jobs: list[dict[str, Any]] = []
    counts = dict.fromkeys(CATEGORIES, 0)
    startup: dict[str, int] = {}
    async with aiohttp.ClientSession() as http:
        config = EngineConfig(
            tokens=account,
            upstream_url=fake.url,
            account_concurrency=scn.slots,
            timing=timing or Timing(),
            allow_private_urls=True,
        )
        for _ in range(scn.fresh_engines):
            engine = Engine(http, config)
            await engine.start()
            try:
                await _quiet(fake, account)
                startup = count_requests(fake, [account], 0.0)
                if scn.instant_first:
                    fake.accounts[account].next_outcomes.append(("instant",))
                    await (await _job(engine, scn, f"{scn.label} instant")).wait()
                t0 = fake.clock()

                async def worker(w: int, engine: Engine = engine) -> None:
                    rounds = 1 if scn.fresh_engines > 1 else scn.rounds
                    for r in range(rounds):
                        sent = fake.clock()
                        job = await _job(engine, scn, f"{scn.label} {tag} w{w} r{r} {len(jobs)}")
                        result = await job.wait()
                        got = fake.clock()
                        sid = job.submit_id
                        jobs.append(
                            {
                                "worker": w,
                                "round": r,
                                "sent": sent,
                                "lag_s": got - fake.ready_at(sid),
                                "lag_done_s": got - fake.done_at(sid),
                                "latency_s": got - sent,
                                "requests": _requests_of(fake, account, sid, scn.kind, sent, got),
                                "ok": len(result.assets) == (1 if scn.kind == "video" else 4),
                            }
                        )

                await asyncio.gather(*(worker(w) for w in range(scn.inflight)))
                t1 = fake.clock()
            finally:
                await engine.close()
            for k, v in count_requests(fake, [account], t0, t1).items():
                counts[k] += v
    n = len(jobs)
    lags = [j["lag_s"] for j in jobs]
    first_six = [j["lag_s"] for j in sorted(jobs, key=lambda j: j["sent"])[:6]]
    return {
        "name": scn.label,
        "kind": scn.kind,
        "base_s": scn.base_s,
        "inflight": scn.inflight,
        "jobs": n,
        "requests": counts,
        "per_job": {k: counts[k] / n for k in CATEGORIES},
        "per_job_total": sum(counts.values()) / n,
        "requests_median": median([j["requests"] for j in jobs]),
        "requests_max": max(j["requests"] for j in jobs),
        "startup_requests": startup,
        "lag_median_s": median(lags),
        "lag_p95_s": pct(lags, 95),
        "lag_max_first6_s": max(first_six),
        "lag_min_s": min(lags),
        "lag_max_s": max(lags),
        "images_ok": all(j["ok"] for j in jobs),
        "jobs_detail": jobs,
    }
