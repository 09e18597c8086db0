"""Session ids never reach a log record; reads are retried, submits are not (unless provably unsent)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from core import ContentRejectedError, ImageParams, TransportError, UpstreamError
from core.logsafe import RedactingFilter
from core.tokens import parse_tokens
from core.transport import Upstream
from emulator import FakeJimeng
from tests.core.support import engine_for, sid


async def test_no_log_record_contains_a_full_session_id(
    fake_jimeng: FakeJimeng, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good, dead, risky = sid("good"), sid("dead"), sid("risky")
    fake_jimeng.add_account(good).receive_fault = "-4"
    fake_jimeng.add_account(dead, valid=False)
    fake_jimeng.add_account(risky).fail_generate = ["4013"]
    async with engine_for(fake_jimeng, f"{dead},{risky},{good}", maintenance=True) as engine:
        await engine.claim_daily()
        await engine.refresh_credits()
        job = await engine.imagine(ImageParams(prompt="log me", count=1))
        await job.wait()
        fake_jimeng.accounts[good].next_outcomes = [("fail", 30, "2038")]
        bad = await engine.imagine(ImageParams(prompt="fail", count=1))
        with pytest.raises(ContentRejectedError):
            await bad.wait()
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "the flow should have logged something"
    for secret in (good, dead, risky):
        assert secret not in text
    assert "…" in text  # masked forms do appear


def test_redacting_filter_masks_known_secrets_and_cookies() -> None:
    s = sid("x")
    f = RedactingFilter([s])
    rec = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "token %s and cookie sessionid=%s;", (s, "zzzzzzzzzzzz"), None
    )
    f.filter(rec)
    out = rec.getMessage()
    assert s not in out and "zzzzzzzzzzzz" not in out and f"{s[:4]}…{s[-4:]}" in out


class Flaky:
    """A loopback server that answers 503 ``fail`` times, then a normal envelope."""

    def __init__(self, fail: int, status: int = 503) -> None:
        self.fail, self.status, self.hits = fail, status, 0
        self.app = web.Application()
        self.app.router.add_post("/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.hits <= self.fail:
            return web.Response(status=self.status, text="busy")
        return web.json_response({"ret": "0", "errmsg": "success", "data": {"ok": True}})


@pytest.fixture
async def flaky_server() -> AsyncIterator:
    runners: list[web.AppRunner] = []

    async def make(fail: int) -> tuple[Flaky, str]:
        srv = Flaky(fail)
        runner = web.AppRunner(srv.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return srv, f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield make
    for r in runners:
        await r.cleanup()


class _Ident:
    def __init__(self) -> None:
        self.token = parse_tokens(sid("t"))[0]
        self.web_id = "7000000000000000001"


async def test_reads_retry_5xx_with_backoff(flaky_server) -> None:
    srv, url = await flaky_server(2)
    async with aiohttp.ClientSession() as http:
        up = Upstream(http, upstream_url=url)
        assert await up.call(_Ident(), "/mweb/v1/get_history_by_ids", {"submit_ids": []}) == {"ok": True}
    assert srv.hits == 3


async def test_submit_is_not_retried_after_a_5xx(flaky_server) -> None:
    srv, url = await flaky_server(2)
    async with aiohttp.ClientSession() as http:
        up = Upstream(http, upstream_url=url)
        with pytest.raises(UpstreamError):
            await up.call(_Ident(), "/mweb/v1/aigc_draft/generate", {}, submit=True)
    assert srv.hits == 1


async def test_submit_is_retried_when_the_connection_never_opened() -> None:
    async with aiohttp.ClientSession() as http:
        up = Upstream(http, upstream_url="http://127.0.0.1:9")  # nothing listens on the discard port
        with pytest.raises(TransportError) as exc:
            await up.call(_Ident(), "/mweb/v1/aigc_draft/generate", {}, submit=True)
    assert exc.value.maybe_sent is False
    assert up.stats.by_path["/mweb/v1/aigc_draft/generate"] == 3  # safe: nothing reached the server


def test_settings_hand_parsed_tokens_to_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entry points register the session ids with the log redactor from these Token objects."""
    from core.settings import JimengSettings
    from core.tokens import Token

    monkeypatch.setenv("JIMENG_SESSION_IDS", f"{sid('s1')},hk-{sid('s2')}")
    config = JimengSettings(_env_file=None).engine_config()
    assert all(isinstance(t, Token) for t in config.tokens)
    assert [t.sessionid for t in config.tokens if isinstance(t, Token)] == [sid("s1"), sid("s2")]
