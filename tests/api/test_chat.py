"""Chat completions through the official SDK: images and videos, with and without streaming."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import openai
import pytest

from tests.api.conftest import USER_SID, Api, ApiFactory


async def test_chat_image_non_stream(client: openai.AsyncOpenAI) -> None:
    res = await client.chat.completions.create(
        model="jimeng-4.5", messages=[{"role": "user", "content": "画一幅山水画"}], temperature=0.2, max_tokens=50
    )
    text = res.choices[0].message.content or ""
    assert res.choices[0].finish_reason == "stop"
    assert len(re.findall(r"!\[image \d\]\(http[^)]+\)", text)) == 4  # jimeng-4.5 draws four by default


async def test_chat_image_stream_reports_progress_then_result(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="jimeng-4.0",
        messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "a cat"}],
        stream=True,
        extra_body={"ratio": "16:9", "resolution": "1k"},
    )
    parts: list[str] = []
    finish = []
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    text = "".join(parts)
    assert finish == ["stop"]
    assert "⏳" in text or "🎨" in text or "📨" in text  # at least one progress line
    assert re.search(r"!\[image 1\]\(http", text)


async def test_chat_with_image_url_parts_composes(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.chat.completions.create(
        model="jimeng-4.5",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "put the two together"},
                    {"type": "image_url", "image_url": {"url": bearer_api.file("one.png")}},
                    {"type": "image_url", "image_url": {"url": bearer_api.file("two.png"), "detail": "high"}},
                ],
            }
        ],
    )
    assert "![image 1](" in (res.choices[0].message.content or "")
    assert len(bearer_api.fake.uploaded_images) == 2


async def test_chat_video_model_makes_a_video_stream(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="jimeng-video-3.0", messages=[{"role": "user", "content": "waves on a beach"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert re.search(r"\[▶ video\]\(http[^)]+\)", text)


async def test_chat_video_with_first_frame(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.chat.completions.create(
        model="jimeng-video-3.0",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "make it move"},
                    {"type": "image_url", "image_url": {"url": bearer_api.file("frame.png")}},
                ],
            }
        ],
    )
    assert "[▶ video](" in (res.choices[0].message.content or "")
    assert bearer_api.fake.uploaded_images


async def test_chat_failure_mid_stream_raises_api_error(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    from tests.api.conftest import USER_SID

    bearer_api.fake.accounts[USER_SID].next_outcomes = [("fail", 30, "2038")]
    stream = await client.chat.completions.create(
        model="jimeng-4.0", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError) as exc:
        async for _ in stream:
            pass
    assert isinstance(exc.value.body, dict) and exc.value.body.get("code") == "content_policy_violation"


async def test_chat_unknown_model_and_typo_are_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        await client.chat.completions.create(model="dall-e-9", messages=[{"role": "user", "content": "x"}])
    assert exc.value.param == "model"
    with pytest.raises(openai.BadRequestError) as exc:
        await client.chat.completions.create(
            model="jimeng-4.5", messages=[{"role": "user", "content": "x"}], extra_body={"ratoi": "1:1"}
        )
    assert exc.value.param == "ratoi" and exc.value.code == "unknown_parameter"


async def test_stream_keepalive_and_client_going_away(make_api: ApiFactory, caplog: pytest.LogCaptureFixture) -> None:
    body = {"model": "jimeng-video-3.0", "messages": [{"role": "user", "content": "slow waves"}], "stream": True}
    headers = {"Authorization": f"Bearer {USER_SID}"}
    async with make_api(keepalive_s=0.05) as api, aiohttp.ClientSession() as http:
        async with http.post(f"{api.url}/v1/chat/completions", json=body, headers=headers) as resp:
            raw = (await resp.read()).decode()
        assert ": keep-alive" in raw and raw.rstrip().endswith("data: [DONE]")
        async with http.post(f"{api.url}/v1/chat/completions", json=body, headers=headers) as resp:
            await resp.content.readline()  # the first event, then hang up
        await asyncio.sleep(1.0)  # the job finishes without anyone listening
        assert all(j.state.terminal for j in api.engine._jobs.values())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_stream_progress_moves_while_upstream_says_nothing_new(make_api: ApiFactory) -> None:
    """Issue #11: a slow job's stream repeats its state with the time waited, sparsely, until the result."""
    body = {"model": "jimeng-4.5", "messages": [{"role": "user", "content": "slow"}], "stream": True}
    async with make_api() as api, aiohttp.ClientSession() as http:
        api.fake.image_seconds = 3.5
        api.fake.switches.status_45 = False  # 42 all along: no new item, no new status until the end
        headers = {"Authorization": f"Bearer {USER_SID}"}
        async with http.post(f"{api.url}/v1/chat/completions", json=body, headers=headers) as resp:
            raw = (await resp.read()).decode()
    contents = [m for m in re.findall(r'"content": "([^"]*)"', raw) if m]
    ticks = [c for c in contents if re.search(r" · \d+ s\\n$", c)]
    assert len(ticks) >= 2, contents
    assert len(ticks) <= 5, "ticks stay sparse (one per second at the test settings)"
    assert raw.rstrip().endswith("data: [DONE]")
