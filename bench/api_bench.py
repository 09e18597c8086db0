"""Scenarios against the API server process: overhead, CPU per job, delivery lag through HTTP, RSS.

Overhead of one request = its latency at the client − the time upstream had it (from the emulator receiving the
generate request to the emulator receiving the last history poll that asked for the job). What is left is the
server's own work: parsing, validation, the job store, account slots, rendering the reply and copying the result
files to the data directory (production default ``JIMENG_KEEP_RESULTS=true``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.emulator import add_accounts, done_at, job_by_prompt, upstream_window
from bench.server import MIB, ApiServer, RssSampler, client, generate
from bench.stats import median, pct
from emulator import FakeJimeng


async def _settle_rss(server: ApiServer, seconds: float = 2.0) -> int:
    await asyncio.sleep(seconds)
    return server.rss()


def _annotate(fake: FakeJimeng, prompt: str, reply: dict[str, Any]) -> dict[str, Any]:
    job = job_by_prompt(fake, prompt)
    out: dict[str, Any] = {"status": reply["status"], "latency_s": reply["ended"] - reply["started"]}
    if job is None:
        return out
    out["lag_s"] = reply["ended"] - done_at(fake, job.submit_id)
    window = upstream_window(fake, job.submit_id)
    if window is not None:
        out["overhead_s"] = out["latency_s"] - (window[1] - window[0])
        out["before_submit_s"] = window[0] - reply["started"]
        out["after_last_poll_s"] = reply["ended"] - window[1]
    return out


async def idle_and_cpu(fake: FakeJimeng, jobs: int, tag: str) -> dict[str, Any]:
    """Idle RSS of a fresh server, then ``jobs`` sequential jobs (1 in flight): CPU per job and lag over HTTP."""
    accounts = add_accounts(fake, [f"api-cpu-{tag}"])
    async with ApiServer(fake.url, accounts) as server:
        async with client() as http, http.get(f"{server.url}/v1/models") as resp:
            await resp.read()
        idle = await _settle_rss(server)
        cpu0, t0 = server.cpu(), time.monotonic()
        rows = []
        async with client() as http:
            for i in range(jobs):
                prompt = f"api cpu {tag} {i}"
                reply = await generate(http, server.url, prompt)
                rows.append(_annotate(fake, prompt, reply))
        cpu = server.cpu() - cpu0
        wall = time.monotonic() - t0
        hwm = server.hwm()
    lags = [r["lag_s"] for r in rows if "lag_s" in r]
    return {
        "idle_rss_mib": idle / MIB,
        "jobs": jobs,
        "ok": sum(1 for r in rows if r["status"] == 200),
        "cpu_s_per_job": cpu / max(1, jobs),
        "cpu_s_total": cpu,
        "wall_s": wall,
        "hwm_mib": hwm / MIB,
        "lag_median_s": median(lags),
        "lag_p95_s": pct(lags, 95),
        "rows": rows,
    }


async def overhead(
    fake: FakeJimeng, *, sequential: int, concurrent: int, rounds: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    tag = "-".join(f"{k}={v}" for k, v in (env or {}).items())
    accounts = add_accounts(fake, [f"api-over-{tag}-{i}" for i in range(max(1, -(-concurrent // 16)))])
    res: dict[str, Any] = {"env": env or {}}
    # One bench key sends every request: lift the per-caller cap (API_MAX_ACTIVE_JOBS, 20 by default; issue #13), or
    # 30 of each 50 concurrent requests are refused with 429 and the row measures refusals, not overhead.
    env = {"JIMENG_IMAGE_EXPECTED_S": str(fake.image_seconds), "API_MAX_ACTIVE_JOBS": "0", **(env or {})}
    async with ApiServer(fake.url, accounts, env=env) as server, client() as http:
        for i in range(2):  # warm-up: imports, first SQLite writes, learned durations
            await generate(http, server.url, f"api warm {tag} {i}")
        rows = []
        for i in range(sequential):
            prompt = f"api over1 {tag} {i}"
            rows.append(_annotate(fake, prompt, await generate(http, server.url, prompt)))
        res["c1"] = _summary(rows)
        rows = []
        for r in range(rounds):
            prompts = [f"api over50 {tag} {r} {i}" for i in range(concurrent)]
            replies = await asyncio.gather(*(generate(http, server.url, p) for p in prompts))
            rows += [_annotate(fake, p, rep) for p, rep in zip(prompts, replies, strict=True)]
        res["c50"] = _summary(rows)
    return res


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    over = [r["overhead_s"] * 1000 for r in rows if "overhead_s" in r]
    before = [r["before_submit_s"] * 1000 for r in rows if "before_submit_s" in r]
    after = [r["after_last_poll_s"] * 1000 for r in rows if "after_last_poll_s" in r]
    return {
        "requests": len(rows),
        "ok": sum(1 for r in rows if r["status"] == 200),
        "overhead_p50_ms": median(over),
        "overhead_p99_ms": pct(over, 99),
        "before_submit_p50_ms": median(before),
        "after_last_poll_p50_ms": median(after),
    }


async def inflight_peak(fake: FakeJimeng, jobs: int) -> dict[str, Any]:
    """Peak RSS while ``jobs`` jobs are in flight at once (enough accounts × 16 slots for all of them)."""
    accounts = add_accounts(fake, [f"api-200-{i}" for i in range(-(-jobs // 16))])
    # One bench key sends them all: lift the per-caller cap (API_MAX_ACTIVE_JOBS, 20 by default; issue #13).
    async with ApiServer(fake.url, accounts, env={"API_MAX_ACTIVE_JOBS": "0"}) as server:
        idle = await _settle_rss(server, 1.0)
        async with client() as http:
            with RssSampler(server.pid) as sampler:
                replies = await asyncio.gather(*(generate(http, server.url, f"api inflight {i}") for i in range(jobs)))
        hwm = server.hwm()
    return {
        "jobs": jobs,
        "ok": sum(1 for r in replies if r["status"] == 200),
        "idle_rss_mib": idle / MIB,
        "peak_rss_mib": max(sampler.peak, 0) / MIB,
        "hwm_mib": hwm / MIB,
        "samples": sampler.samples,
    }


async def b64_peak(fake: FakeJimeng, concurrent: int, expected_bytes: int) -> dict[str, Any]:
    """Peak RSS while ``concurrent`` requests each get 4 × 4096² images as ``b64_json``."""
    accounts = add_accounts(fake, [f"api-b64-{concurrent}"])
    env = {"JIMENG_IMAGE_EXPECTED_S": str(fake.image_seconds), "API_MAX_BODY_MB": "50"}
    async with ApiServer(fake.url, accounts, env=env) as server:
        idle = await _settle_rss(server, 1.0)
        async with client() as http:
            with RssSampler(server.pid) as sampler:
                replies = await asyncio.gather(
                    *(
                        generate(http, server.url, f"api b64 {concurrent} {i}", size="4096x4096", fmt="b64_json")
                        for i in range(concurrent)
                    )
                )
        hwm = server.hwm()
    ok = [r for r in replies if r["status"] == 200 and r["bytes"] >= expected_bytes]
    return {
        "concurrent": concurrent,
        "ok": len(ok),
        "reply_mib": max(r["bytes"] for r in replies) / MIB,
        "idle_rss_mib": idle / MIB,
        "peak_rss_mib": sampler.peak / MIB,
        "hwm_mib": hwm / MIB,
        "errors": [r["head"].decode(errors="replace") for r in replies if r["status"] != 200][:3],
    }
