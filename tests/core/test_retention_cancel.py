"""A result copy cut off mid-download (the engine closing, the job cancelled) leaves no open file and no `.part`."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import aiohttp
from aiohttp import web

from core.jobs import MemoryJobStore
from core.results import Asset
from core.retention import ResultKeeper
from core.transport import Upstream


async def test_a_cancelled_copy_closes_and_removes_its_part_file(tmp_path: Path) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/webp", "Content-Length": str(4 << 20)})
        await resp.prepare(request)
        await resp.write(b"R" * (2 << 20))  # half the file, then nothing more
        started.set()
        await asyncio.wait_for(release.wait(), 30)
        return resp

    app = web.Application()
    app.router.add_get("/img/{name}", stall)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            keeper = ResultKeeper(
                Upstream(http), MemoryJobStore(), tmp_path / "results", retention_s=60, max_bytes=1 << 30
            )
            task = asyncio.create_task(keeper.keep("job_1", (Asset(kind="image", url=f"{base}/img/a.webp"),)))
            await asyncio.wait_for(started.wait(), 5)
            for _ in range(50):  # until the first bytes are on disk
                if list(tmp_path.rglob("*.part")):
                    break
                await asyncio.sleep(0.02)
            assert list(tmp_path.rglob("*.part")), "the copy never started"
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            gc.collect()  # an unclosed file would raise ResourceWarning here (an error under our pytest settings)
            assert not list(tmp_path.rglob("*.part"))
    finally:
        release.set()
        await runner.cleanup()
