"""Every error case through the official SDK's error classes; never a 500 for bad input."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

from core import Timing
from tests.api.conftest import KEY_A, POOL_SID, USER_SID, Api, ApiFactory, png
from tests.core.support import FAST


async def test_bad_parameters_are_400_naming_the_parameter(client: openai.AsyncOpenAI) -> None:
    cases = [
        ({"model": "jimeng-4.5", "extra_body": {"ratio": "5:4"}}, "ratio"),
        ({"model": "jimeng-4.5", "n": 12}, "n"),
        ({"model": "jimeng-3.0", "n": 2}, "n"),
        ({"model": "no-such-model"}, "model"),
        ({"model": "jimeng-4.5", "size": "big"}, "size"),
        ({"model": "jimeng-4.5", "extra_body": {"resolution": "8k"}}, "resolution"),
        ({"model": "jimeng-4.5", "extra_body": {"sample_strength": 3}}, "sample_strength"),
        ({"model": "jimeng-4.5", "extra_body": {"negativ_prompt": "x"}}, "negativ_prompt"),
        ({"model": "jimeng-4.5", "extra_body": {"width": 1000}}, "height"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as exc:
            await client.images.generate(prompt="a cat", **kwargs)  # type: ignore[arg-type]
        assert exc.value.param == param, (kwargs, exc.value.body)
    with pytest.raises(openai.BadRequestError) as exc:
        await client.images.generate(prompt="   ", model="jimeng-4.5")
    assert exc.value.param == "prompt"


async def test_sdk_extra_fields_are_accepted(client: openai.AsyncOpenAI) -> None:
    res = await client.images.generate(
        prompt="a cat",
        model="jimeng-4.0",
        n=1,
        size="1024x1024",
        quality="high",
        style="vivid",
        user="u1",
        moderation="auto",
        output_format="png",
    )
    assert res.data and res.data[0].url


async def test_bad_input_is_never_a_500(bearer_api: Api) -> None:
    bodies: list[bytes] = [
        b"",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"{",
        b'{"prompt": 5}',
        b'{"prompt": "x", "n": "many"}',
        b'{"prompt": "x", "width": "wide", "height": 2}',
        b'{"prompt": ["x"]}',
        b'{"prompt": "x", "model": {}}',
        b'{"prompt": "x", "images": 7}',
        b'{"prompt": "x", "images": [{"uri": "x"}]}',
        b"\xff\xfe",
        b'{"prompt": "x", "images": ["ftp://x/y.png"]}',
        b'{"prompt": "x", "images": ["/etc/passwd"]}',
        b'{"prompt": "x", "images": ["data:image/png;base64,%%%"]}',
        b'{"prompt": "x", "n": 1e400}',
        b'{"prompt": "x", "seed": -1, "n": -3}',
        b'{"messages": "hi", "model": "jimeng-4.5"}',
        b'{"model": "jimeng-4.5", "messages": [{"content": "x"}]}',
        b'{"model": "jimeng-4.5", "messages": []}',
        b'{"prompt": "x", "seconds": "forever"}',
        b'{"prompt": "x", "size": "0x0"}',
        b'{"token": 5}',
    ]
    paths = [
        "/v1/images/generations",
        "/v1/images/compositions",
        "/v1/chat/completions",
        "/v1/videos",
        "/v1/videos/generations",
        "/v1/images/edits",
    ]
    headers = {"Authorization": f"Bearer {USER_SID}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        for path in paths:
            for body in bodies:
                async with http.post(bearer_api.url + path, data=body, headers=headers) as resp:
                    doc = await resp.json(content_type=None)
                    assert 400 <= resp.status < 500, (path, body, resp.status, doc)
                    assert set(doc["error"]) == {"message", "type", "param", "code"}
        async with http.post(
            bearer_api.url + "/v1/images/edits",
            data=b"--x--",
            headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
        ) as resp:
            assert 400 <= resp.status < 500


async def test_unreadable_reference_is_400(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        await client.images.edit(image=("a.png", b"not an image", "image/png"), prompt="x", model="jimeng-4.5")
    assert exc.value.param == "image"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="jimeng-4.5",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "x"},
                        {"type": "image_url", "image_url": {"url": bearer_api.file("missing.png")}},
                    ],
                }
            ],
        )


async def test_huge_body_is_413(make_api: ApiFactory) -> None:
    async with make_api(max_body_mb=0.05) as api, api.client(USER_SID) as client:
        with pytest.raises(openai.APIStatusError) as exc:
            await client.images.generate(prompt="x" * 100_000, model="jimeng-4.5")
        assert exc.value.status_code == 413 and exc.value.code == "request_too_large"
        with pytest.raises(openai.APIStatusError) as exc:
            await client.images.edit(image=("a.png", png(400, 400) + b"\0" * 80_000, "image/png"), prompt="x")
        assert exc.value.status_code == 413


async def test_rate_limit_is_429_with_retry_after(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    bearer_api.fake.accounts[USER_SID].fail_generate = ["2014"]
    with pytest.raises(openai.RateLimitError) as exc:
        await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
    assert exc.value.code == "rate_limit_exceeded"
    assert int(exc.value.response.headers["retry-after"]) >= 1


async def test_out_of_credits_is_429_insufficient_quota(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    acct = bearer_api.fake.accounts[USER_SID]
    acct.fail_generate = ["1006"]
    acct.receive_fault = "-4"  # the daily claim cannot rescue it
    with pytest.raises(openai.RateLimitError) as exc:
        await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
    assert exc.value.code == "insufficient_quota"
    assert int(exc.value.response.headers["retry-after"]) > 0


async def test_key_daily_quota(make_api: ApiFactory) -> None:
    async with make_api(keys=KEY_A, pool=POOL_SID, key_daily_jobs=1) as api, api.client(KEY_A) as client:
        await client.images.generate(prompt="one", model="jimeng-4.0", n=1, size="1024x1024")
        with pytest.raises(openai.RateLimitError) as exc:
            await client.images.generate(prompt="two", model="jimeng-4.0", n=1, size="1024x1024")
        assert exc.value.code == "insufficient_quota" and int(exc.value.response.headers["retry-after"]) > 0


async def test_moderation_is_400_content_policy(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    bearer_api.fake.accounts[USER_SID].next_outcomes = [("fail", 30, "2038")]
    with pytest.raises(openai.BadRequestError) as exc:
        await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
    assert exc.value.code == "content_policy_violation"


@pytest.mark.parametrize("ret", ["1002", "9999"])
async def test_upstream_faults_are_502(client: openai.AsyncOpenAI, bearer_api: Api, ret: str) -> None:
    bearer_api.fake.accounts[USER_SID].fail_generate = [ret]
    with pytest.raises(openai.InternalServerError) as exc:
        await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
    assert exc.value.status_code == 502 and exc.value.type == "upstream_error"


async def test_generation_deadline_is_504(make_api: ApiFactory, fake: object) -> None:
    slow = Timing(**{**{k: getattr(FAST, k) for k in FAST.__slots__}, "image_deadline": 0.4})
    async with make_api(timing=slow) as api, api.client(USER_SID) as client:
        api.fake.image_seconds = 3.0  # longer than the deadline, with a queue estimate that rounds to 0 s
        with pytest.raises(openai.InternalServerError) as exc:
            await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
        assert exc.value.status_code == 504


async def test_expired_session_is_401_in_bearer_mode_and_502_in_server_mode(make_api: ApiFactory) -> None:
    async with make_api(keys=KEY_A, pool=POOL_SID) as api:
        api.fake.accounts[USER_SID].valid = False
        api.fake.accounts[POOL_SID].valid = False
        async with api.client(KEY_A) as server_client:
            with pytest.raises(openai.InternalServerError) as exc:
                await server_client.images.generate(prompt="x", model="jimeng-4.5", n=1)
            assert exc.value.status_code == 502 and exc.value.code == "upstream_session_invalid"
    async with make_api() as api, api.client(USER_SID) as client:
        with pytest.raises(openai.AuthenticationError) as exc2:
            await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
        assert exc2.value.code == "invalid_api_key"
        assert USER_SID not in json.dumps(exc2.value.body)


async def test_unknown_route_and_method(bearer_api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(bearer_api.url + "/v1/nothing") as resp:
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
        async with http.get(bearer_api.url + "/v1/images/generations") as resp:
            assert resp.status == 405 and "error" in await resp.json()
