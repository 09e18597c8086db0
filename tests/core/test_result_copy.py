"""A result copy (core.retention, issue #7) writes about once per ``COPY_CHUNK``, however small the pieces the
download arrives in (each write is a thread hop), and the copy is the file, byte for byte."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.jobs import MemoryJobStore
from core.results import Asset
from core.retention import COPY_CHUNK, ResultKeeper
from core.transport import Upstream

PIECE = 48 * 1024


async def test_a_copy_arriving_in_small_pieces_is_written_in_few_large_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * COPY_CHUNK + 12345)

    async def drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/webp", "Content-Length": str(len(data))})
        await resp.prepare(request)
        for at in range(0, len(data), PIECE):  # the reader gets one piece at a time
            await resp.write(data[at : at + PIECE])
            await asyncio.sleep(0.001)
        return resp

    writes: list[int] = []
    real = asyncio.to_thread

    async def counting(fn: Callable[..., Any], /, *args: Any, **kw: Any) -> Any:
        if getattr(fn, "__name__", "") in ("write", "writelines"):
            writes.append(sum(map(len, args[0])) if fn.__name__ == "writelines" else len(args[0]))
        return await real(fn, *args, **kw)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    app = web.Application()
    app.router.add_get("/img/{name}", drip)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            keeper = ResultKeeper(
                Upstream(http), MemoryJobStore(), tmp_path / "results", retention_s=60, max_bytes=1 << 30
            )
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/img/a.webp"
            (kept,) = await keeper.keep("job_1", (Asset(kind="image", url=url),))
    finally:
        await runner.cleanup()
    assert kept.path and Path(kept.path).read_bytes() == data
    assert sum(writes) == len(data)
    assert len(writes) <= 4, writes  # one per COPY_CHUNK crossed, and the rest (not one per piece: ~70)
