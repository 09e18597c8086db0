"""Issue #13's budgets, measured on ``python -m api`` in its own process against the emulator (``--only hostile``).

* decode: peak RSS of the server while two requests each carry four 8000 × 8000 PNG data URLs (compositions);
* ping: the worst ``/ping`` latency while a 20 MB broken JSON body is parsed — with the default settings (strict JSON
  only past API_LENIENT_JSON_KB) and with repair allowed for the whole body (the repair then runs in a thread);
* abandon: of 10 jobs queued behind a full account whose callers hang up (plain requests, and streamed chats),
  how many reach the upstream afterwards.

Figures, not timed tests: the suite has its own tests for each (tests/api/test_hostile.py, test_admission.py,
test_stream_cancel.py, tests/core/test_media.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any

import aiohttp
from PIL import Image

from bench.emulator import add_accounts, start_emulator
from bench.server import API_KEY, MIB, ApiServer, RssSampler, client

GENERATE = "/mweb/v1/aigc_draft/generate"
HUGE_EDGE = 8000
BROKEN_MB = 20
ABANDONED = 10
HOLDERS = 2  # the account's slots (JIMENG_ACCOUNT_CONCURRENCY), kept busy so the others wait in our line


def _huge_png_url() -> str:
    """An 8000 × 8000 PNG as a data URL: small on the wire (a gradient compresses), 64 M pixels decoded."""
    img = Image.linear_gradient("L").resize((HUGE_EDGE, HUGE_EDGE)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _broken_body(size_mb: float) -> bytes:
    """Lenient-looking JSON that neither strict parsing nor repair can save (as tests/api/test_hostile.py)."""
    items = int(size_mb * MIB / 8)
    return b"{'prompt': 'x', 'pad': [" + b"'aaaa', " * items + b"],,}"


async def decode_peak(log: Any = print) -> dict[str, Any]:
    url = _huge_png_url()
    fake = await start_emulator(1.0, 0.0)
    try:
        accounts = add_accounts(fake, ["hostile-decode"])
        async with ApiServer(fake.url, accounts, env={"API_MAX_BODY_MB": "50"}) as server:
            await asyncio.sleep(1.0)
            idle = server.rss()
            body = {"model": "jimeng-4.5", "prompt": "merge these", "images": [url] * 4, "n": 1}
            log(f"  decode: 2 requests × 4 × {HUGE_EDGE}² PNG ({len(url) * 4 / MIB:.1f} MiB of data URLs each)…")
            started = time.monotonic()
            async with client() as http:

                async def one() -> int:
                    async with http.post(f"{server.url}/v1/images/compositions", json=body) as resp:
                        await resp.read()
                        return resp.status

                with RssSampler(server.pid, every=0.01) as sampler:
                    statuses = await asyncio.gather(one(), one())
            hwm = server.hwm()
    finally:
        await fake.close()
    return {
        "requests": 2,
        "images_per_request": 4,
        "edge_px": HUGE_EDGE,
        "statuses": statuses,
        "seconds": time.monotonic() - started,
        "idle_rss_mib": idle / MIB,
        "peak_rss_mib": max(sampler.peak, hwm) / MIB,  # VmHWM catches a peak between two samples
    }


async def _ping_during(server: ApiServer, body: bytes) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        headers = {"Content-Type": "application/json"}
        post = asyncio.create_task(http.post(f"{server.url}/v1/images/generations", data=body, headers=headers))
        worst, pings, started = 0.0, 0, time.monotonic()
        while not post.done():
            t0 = time.monotonic()
            async with http.get(f"{server.url}/ping") as resp:
                await resp.read()
            worst = max(worst, time.monotonic() - t0)
            pings += 1
            await asyncio.sleep(0.02)
        async with await post as resp:
            status, err = resp.status, (await resp.json())["error"]
    return {
        "status": status,
        "code": err.get("code"),
        "parse_s": time.monotonic() - started,
        "pings": pings,
        "ping_worst_s": worst,
    }


async def ping_while_parsing(log: Any = print) -> dict[str, Any]:
    body = _broken_body(BROKEN_MB)
    fake = await start_emulator(1.0, 0.0)
    out: dict[str, Any] = {"body_mib": len(body) / MIB}
    try:
        accounts = add_accounts(fake, ["hostile-ping"])
        for name, env in (
            ("default", {"API_MAX_BODY_MB": "50"}),
            ("repair", {"API_MAX_BODY_MB": "50", "API_LENIENT_JSON_KB": str(len(body) // 1024 + 1)}),
        ):
            log(f"  ping: /ping while a {len(body) / MIB:.0f} MiB broken body is parsed ({name})…")
            async with ApiServer(fake.url, accounts, env=env) as server:
                out[name] = await _ping_during(server, body)
    finally:
        await fake.close()
    out["ping_worst_s"] = max(out["default"]["ping_worst_s"], out["repair"]["ping_worst_s"])
    return out


async def _leave_plain(http: aiohttp.ClientSession, base: str, i: int) -> bool:
    """True when the caller was still waiting (its job in our line) when it hung up."""
    body = {"prompt": f"abandoned {i}", "model": "jimeng-4.5", "n": 1}
    timeout = aiohttp.ClientTimeout(total=1.0)
    try:
        async with http.post(f"{base}/v1/images/generations", json=body, timeout=timeout) as resp:
            await resp.read()
    except TimeoutError:
        return True
    return False


async def _leave_stream(http: aiohttp.ClientSession, base: str, i: int) -> bool:
    body = {"model": "jimeng-4.5", "stream": True, "messages": [{"role": "user", "content": f"abandoned chat {i}"}]}
    async with http.post(f"{base}/v1/chat/completions", json=body) as resp:
        started = resp.status == 200 and (await resp.content.readline()).startswith(b"data: ")
        resp.close()  # the stream (and its job) had started; hang up
        return started


async def abandoned_jobs(log: Any = print) -> dict[str, Any]:
    out: dict[str, Any] = {"queued": ABANDONED}
    for mode, leave in (("plain", _leave_plain), ("stream", _leave_stream)):
        fake = await start_emulator(3.0, 0.0)
        try:
            accounts = add_accounts(fake, [f"hostile-abandon-{mode}"])
            env = {"JIMENG_ACCOUNT_CONCURRENCY": str(HOLDERS), "API_DISCONNECT_CHECK_S": "0.1"}
            async with ApiServer(fake.url, accounts, env=env) as server, client() as http:
                log(f"  abandon: {ABANDONED} {mode} callers queue behind {HOLDERS} busy slots, then leave…")
                holders = [
                    asyncio.create_task(
                        http.post(f"{server.url}/v1/images/generations", json={"prompt": f"holder {i}", "n": 1})
                    )
                    for i in range(HOLDERS)
                ]
                for _ in range(1500):  # the holders' jobs are submitted (the slots are busy)
                    if len(fake.calls(GENERATE)) >= HOLDERS:
                        break
                    await asyncio.sleep(0.02)
                waited = await asyncio.gather(*(leave(http, server.url, i) for i in range(ABANDONED)))
                for task in holders:
                    (await task).release()
                await asyncio.sleep(2.0)  # room for a wrongly kept job to be submitted once the slots free up
                submitted = len(fake.calls(GENERATE)) - HOLDERS
        finally:
            await fake.close()
        out[mode] = {"left_while_queued": sum(waited), "submitted_after_leaving": submitted}
    out["submitted_after_leaving"] = out["plain"]["submitted_after_leaving"] + out["stream"]["submitted_after_leaving"]
    return out


async def run(log: Any = print) -> dict[str, Any]:
    return {
        "decode": await decode_peak(log),
        "ping": await ping_while_parsing(log),
        "abandon": await abandoned_jobs(log),
    }
