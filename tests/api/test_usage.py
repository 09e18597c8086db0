"""API keys' daily quotas from the store and ``GET /v1/usage`` (issue #15): the real app on loopback with a SQLite
store in a data directory, restarted in between; the official ``openai`` SDK as the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web
from pydantic import SecretStr

from api.app import create_app
from api.settings import ApiSettings
from core import Engine, EngineConfig
from core.daily import china_today, next_reset, seconds_to_reset
from emulator import FakeJimeng
from tests.api.conftest import KEY_A, KEY_B, POOL_SID
from tests.core.support import FAST


@asynccontextmanager
async def running_api(fake: FakeJimeng, data_dir: Path, **settings: Any) -> AsyncIterator[tuple[str, Engine]]:
    api_settings = ApiSettings(_env_file=None, keys=SecretStr(f"{KEY_A},{KEY_B}"), port=0, **settings)  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as http:
        config = EngineConfig(
            tokens=POOL_SID,
            upstream_url=fake.url,
            maintenance=False,
            timing=FAST,
            data_dir=data_dir,
            keep_results=False,
        )
        engine = Engine(http, config)
        await engine.start()
        runner = web.AppRunner(create_app(api_settings, engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}", engine
        finally:
            await runner.cleanup()
            await engine.close()


def sdk(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=20.0)


async def one_image(client: openai.AsyncOpenAI, n: int = 1) -> None:
    await client.images.generate(prompt="a lighthouse", model="jimeng-4.0", n=n, size="1024x1024")


async def test_key_quota_refuses_the_next_job_until_beijing_midnight_across_a_restart(
    fake: FakeJimeng, tmp_path: Path
) -> None:
    async with running_api(fake, tmp_path, key_daily_jobs=2) as (url, _), sdk(url, KEY_A) as a:
        await one_image(a)
        await one_image(a)
        with pytest.raises(openai.RateLimitError) as exc:
            await one_image(a)
        assert exc.value.code == "insufficient_quota" and "resets at midnight Beijing time" in exc.value.message
        retry = int(exc.value.response.headers["retry-after"])
        assert abs(retry - seconds_to_reset()) <= 5
        jobs_upstream = len(fake.jobs)

    async with running_api(fake, tmp_path, key_daily_jobs=2) as (url, _):
        async with sdk(url, KEY_A) as a:
            with pytest.raises(openai.RateLimitError) as exc:  # the count survived the restart
                await one_image(a)
            assert abs(int(exc.value.response.headers["retry-after"]) - seconds_to_reset()) <= 5
        assert len(fake.jobs) == jobs_upstream  # refused before anything was submitted
        async with sdk(url, KEY_B) as b:
            await one_image(b)  # another key has its own quota


async def test_usage_shows_the_callers_own_jobs_and_credits(fake: FakeJimeng, tmp_path: Path) -> None:
    async with running_api(fake, tmp_path, key_daily_jobs=5) as (url, engine):
        async with sdk(url, KEY_A) as a, sdk(url, KEY_B) as b:
            await one_image(a, n=1)
            await one_image(a, n=2)
            await one_image(b, n=4)
            await engine.ledger.flush()  # the terminal rows are committed (the ledger reader prices terminal jobs)

            mine: Any = await a.get("/usage", cast_to=object)
            theirs: Any = await b.get("/usage", cast_to=object)
            week: Any = await a.get("/usage?days=7", cast_to=object)
            with pytest.raises(openai.BadRequestError) as exc:
                await a.get("/usage?days=31", cast_to=object)
            assert exc.value.code == "invalid_value"

    today = china_today().isoformat()
    assert mine["object"] == "list" and len(mine["data"]) == 30 and mine["data"][-1]["date"] == today
    day = mine["data"][-1]
    assert (day["object"], day["jobs"], day["images"], day["failed"]) == ("usage.day", 2, 3, 0)
    # the emulator's ledger charges 1 credit per image (PROTOCOL.md §12.2); the prices come from that ledger
    assert (day["credits"], day["priced"]) == (3.0, 2)
    assert mine["today"]["jobs"] == mine["last_7_days"]["jobs"] == mine["last_30_days"]["jobs"] == 2
    assert mine["quota"] == {
        "unit": "jobs",
        "limit": 5,
        "used": 2.0,
        "remaining": 3.0,
        "resets_at": int(next_reset()),
    }
    assert (theirs["today"]["jobs"], theirs["today"]["images"], theirs["today"]["credits"]) == (1, 4, 4.0)
    assert sum(d["jobs"] for d in theirs["data"]) == 1  # KEY_A's jobs are nowhere in KEY_B's answer
    assert theirs["owner"] != mine["owner"] and KEY_A not in str(mine) and KEY_B not in str(theirs)
    assert len(week["data"]) == 7 and week["data"][-1] == day


async def test_concurrent_requests_cannot_all_slip_under_the_key_quota(fake: FakeJimeng, tmp_path: Path) -> None:
    async with running_api(fake, tmp_path, key_daily_jobs=2) as (url, _), sdk(url, KEY_A) as a:
        results = await asyncio.gather(*(one_image(a) for _ in range(5)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(refused) == 3 and all(r.code == "insufficient_quota" for r in refused)
    assert sum(r is None for r in results) == 2


async def test_an_api_job_counts_as_delivered_once_its_outcome_is_stored(fake: FakeJimeng, tmp_path: Path) -> None:
    """The API hands outcomes out from the store (GET by id, the answer it writes): a finished job must not stay
    "undelivered", or a bot sharing the store would take every API job over to deliver it to no channel."""
    async with running_api(fake, tmp_path) as (url, engine), sdk(url, KEY_A) as client:
        await one_image(client)
        rows = await engine.store.usage_rows({}, since=0)
        assert [r.state for r in rows] == ["succeeded"]
        record = await engine.store.get(rows[0].id)
        assert record is not None and record.delivered_at is not None
        assert await engine.store.undelivered() == []
