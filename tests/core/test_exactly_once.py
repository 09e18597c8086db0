"""A submit whose reply is lost is never paid twice: the job is found by submit_id, or resubmitted with the same id.

A small forwarding proxy on loopback sits between the engine and the emulator and loses the generate reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from core import ImageParams
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

GEN = "/mweb/v1/aigc_draft/generate"


class LossyProxy:
    """Forwards everything to the emulator; for the first ``lose`` generate calls it either forwards the request and
    drops the reply ("after"), or drops the connection without forwarding ("before")."""

    def __init__(self, target: str, mode: str, lose: int = 1) -> None:
        self.target, self.mode, self.lose = target, mode, lose
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        assert self._runner and self._http
        await self._runner.cleanup()
        await self._http.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        losing = request.path == GEN and self.lose > 0
        if losing and self.mode == "before":
            self.lose -= 1
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=500)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._http.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            payload = await resp.read()
            if losing:
                self.lose -= 1
                request.transport.close()  # type: ignore[union-attr]
                return web.Response(status=500)
            return web.Response(body=payload, status=resp.status, content_type=resp.content_type)


@pytest.fixture
async def proxy_factory(fake_jimeng: FakeJimeng) -> AsyncIterator:
    proxies: list[LossyProxy] = []

    async def make(mode: str) -> LossyProxy:
        p = LossyProxy(fake_jimeng.url, mode)
        await p.start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        await p.close()


@pytest.mark.parametrize("mode", ["after", "before"])
async def test_lost_submit_reply_never_charges_twice(fake_jimeng: FakeJimeng, proxy_factory, mode: str) -> None:
    acct = fake_jimeng.add_account(sid("a"), credits=10)
    proxy = await proxy_factory(mode)
    fake_jimeng.url, real = proxy.url, fake_jimeng.url  # the engine talks to the proxy
    try:
        async with engine_for(fake_jimeng, sid("a")) as engine:
            job = await engine.imagine(ImageParams(prompt="once", count=1))
            result = await job.wait()
    finally:
        fake_jimeng.url = real
    assert len(result.images) == 1
    assert len(fake_jimeng.jobs) == 1, "exactly one job upstream"
    assert acct.total == 9, "charged exactly once"
    submits = fake_jimeng.calls(GEN)
    assert {s.json["submit_id"] for s in submits} == {job.submit_id}
    if mode == "after":
        assert len(submits) == 1  # found by submit_id; no second submit at all
    else:
        assert len(submits) == 1  # the first never arrived; the resubmit carried the same submit_id
