"""Streamed chat (issue #13): a client that leaves the SSE stream before its job is submitted spends no credits.

Real app, real engine, the emulator upstream; the account's slots are held by other callers, so the streamed jobs wait
in our line, the clients hang up, and the emulator counts what was submitted.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from core import JobState
from core.policy import DEFAULT_ACCOUNT_CONCURRENCY
from tests.api.conftest import USER_SID, Api, ApiFactory

GENERATE = "/mweb/v1/aigc_draft/generate"
HEADERS = {"Authorization": f"Bearer {USER_SID}", "Content-Type": "application/json"}
IMAGE = json.dumps({"prompt": "a cat", "model": "jimeng-4.5", "n": 1})


def _chat(stream: bool) -> str:
    return json.dumps(
        {"model": "jimeng-4.5", "stream": stream, "messages": [{"role": "user", "content": "a cat in the rain"}]}
    )


async def _hold(api: Api) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(api.url + "/v1/images/generations", data=IMAGE, headers=HEADERS) as resp,
    ):
        await resp.read()
        return resp.status


async def _stream_then_leave(api: Api, until: bytes = b"") -> list[bytes]:
    """Open a streamed chat, read chunks up to one containing ``until`` (default: the first), then hang up."""
    seen: list[bytes] = []
    async with (
        aiohttp.ClientSession() as http,
        http.post(api.url + "/v1/chat/completions", data=_chat(True), headers=HEADERS) as resp,
    ):
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        while not seen or until not in seen[-1]:
            line = await resp.content.readline()
            assert line, "the stream ended before the client left"
            if line.startswith(b"data: "):
                seen.append(line)
        resp.close()  # drop the connection mid-stream
    return seen


async def _queued(api: Api, count: int) -> None:
    for _ in range(300):
        if sum(j.state is JobState.QUEUED for j in api.engine._jobs.values()) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the jobs never queued")


async def test_streamed_chat_clients_that_leave_are_never_submitted(make_api: ApiFactory) -> None:
    async with make_api(disconnect_check_s=0.05) as api:
        api.fake.image_seconds = 2.0
        holders = [asyncio.create_task(_hold(api)) for _ in range(DEFAULT_ACCOUNT_CONCURRENCY)]
        while len(api.fake.calls(GENERATE)) < DEFAULT_ACCOUNT_CONCURRENCY:
            await asyncio.sleep(0.02)
        leavers = await asyncio.gather(*(_stream_then_leave(api) for _ in range(10)))
        assert all(b'"role": "assistant"' in chunks[0] for chunks in leavers)
        for _ in range(100):  # the handlers notice within disconnect_check_s
            if sum(j.cancelled for j in api.engine._jobs.values()) >= 10:
                break
            await asyncio.sleep(0.02)
        assert await asyncio.gather(*holders) == [200] * DEFAULT_ACCOUNT_CONCURRENCY
        await asyncio.sleep(0.5)  # room for any job wrongly left in the line to be submitted
        assert len(api.fake.calls(GENERATE)) == DEFAULT_ACCOUNT_CONCURRENCY  # 0 of 10 streamed jobs submitted
        cancelled = [j for j in api.engine._jobs.values() if j.cancelled]
        assert len(cancelled) == 10 and all(j.state is JobState.FAILED for j in cancelled)


async def test_a_submitted_streamed_job_runs_on_when_its_client_leaves(make_api: ApiFactory) -> None:
    async with make_api(disconnect_check_s=0.05) as api:
        api.fake.image_seconds = 0.8
        await _stream_then_leave(api, until="🎨 drawing".encode())  # upstream is generating it
        job = next(iter(api.engine._jobs.values()))
        result = await asyncio.wait_for(job.wait(), 10)  # not cancelled: it was (or is being) submitted
        assert result.images and not job.cancelled and len(api.fake.calls(GENERATE)) == 1


async def test_a_streamed_caller_who_stays_gets_the_answer(make_api: ApiFactory) -> None:
    async with make_api(disconnect_check_s=0.05) as api:
        api.fake.image_seconds = 0.3
        async with (
            aiohttp.ClientSession() as http,
            http.post(api.url + "/v1/chat/completions", data=_chat(True), headers=HEADERS) as resp,
        ):
            text = (await resp.read()).decode()
        assert "![image 1](" in text and text.rstrip().endswith("data: [DONE]")
        assert not any(j.cancelled for j in api.engine._jobs.values())
