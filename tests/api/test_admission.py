"""Admission (issue #13): a bounded line per account, and callers that leave do not spend credits.

Real app, real engine, the emulator upstream; generate requests are counted where they land.
"""

from __future__ import annotations

import asyncio

import aiohttp

from core import JobState
from core.policy import DEFAULT_ACCOUNT_CONCURRENCY, MAX_QUEUED_PER_ACCOUNT
from core.wire import PATH_GENERATE as GENERATE
from tests.api.conftest import IMAGE_BODY, USER_HEADERS, Api, ApiFactory

HEADERS, BODY = USER_HEADERS, IMAGE_BODY


async def _queued(api: Api, count: int) -> None:
    for _ in range(200):
        if sum(j.state is JobState.QUEUED for j in api.engine._jobs.values()) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the jobs never queued")


async def test_abandoned_queued_jobs_never_reach_upstream(make_api: ApiFactory) -> None:
    async with make_api(disconnect_check_s=0.05) as api:
        api.fake.image_seconds = 2.0
        holders = [asyncio.create_task(api.post_image(30)) for _ in range(DEFAULT_ACCOUNT_CONCURRENCY)]
        while len(api.fake.calls(GENERATE)) < DEFAULT_ACCOUNT_CONCURRENCY:
            await asyncio.sleep(0.02)
        leavers = [asyncio.create_task(api.post_image(0.6)) for _ in range(10)]
        await _queued(api, 10)
        assert all(isinstance(r, TimeoutError) for r in await asyncio.gather(*leavers, return_exceptions=True))
        assert await asyncio.gather(*holders) == [200] * DEFAULT_ACCOUNT_CONCURRENCY
        await asyncio.sleep(0.5)  # room for any job that was wrongly left in the line to be submitted
        assert len(api.fake.calls(GENERATE)) == DEFAULT_ACCOUNT_CONCURRENCY  # 0 of 10 abandoned jobs submitted
        cancelled = [j for j in api.engine._jobs.values() if j.cancelled]
        assert len(cancelled) == 10 and all(j.state is JobState.FAILED for j in cancelled)
        ran = [j for j in api.engine._jobs.values() if not j.cancelled]
        assert ran and not any(j.cancel() for j in ran)  # a submitted (here finished) job is never cancelled


async def test_the_line_per_account_is_bounded_with_429_and_retry_after(make_api: ApiFactory) -> None:
    async with make_api() as api:
        api.fake.image_seconds = 3.0
        waiting = DEFAULT_ACCOUNT_CONCURRENCY + MAX_QUEUED_PER_ACCOUNT
        callers = [asyncio.create_task(api.post_image(30)) for _ in range(waiting)]
        await _queued(api, MAX_QUEUED_PER_ACCOUNT)
        async with (
            aiohttp.ClientSession() as http,
            http.post(api.url + "/v1/images/generations", data=BODY, headers=HEADERS) as resp,
        ):
            err = (await resp.json())["error"]
            assert resp.status == 429 and err["code"] == "rate_limit_exceeded", (resp.status, err)
            assert int(resp.headers["Retry-After"]) >= 1
        for task in callers:
            task.cancel()
        await asyncio.gather(*callers, return_exceptions=True)


async def test_one_caller_cannot_fill_the_line(make_api: ApiFactory) -> None:
    async with make_api(max_active_jobs=2) as api:
        api.fake.image_seconds = 1.0
        holders = [asyncio.create_task(api.post_image(30)) for _ in range(2)]
        while len(api.engine._jobs) < 2:
            await asyncio.sleep(0.02)
        async with (
            aiohttp.ClientSession() as http,
            http.post(api.url + "/v1/images/generations", data=BODY, headers=HEADERS) as resp,
        ):
            err = (await resp.json())["error"]
            assert resp.status == 429 and "unfinished jobs" in err["message"], (resp.status, err)
            assert int(resp.headers["Retry-After"]) >= 1
        assert await asyncio.gather(*holders) == [200, 200]
        assert await api.post_image(30) == 200  # finished jobs no longer count
