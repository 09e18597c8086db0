"""Both auth modes; keys and session ids never echoed in a response or a log."""

from __future__ import annotations

import json
import logging

import aiohttp
import openai
import pytest

from tests.api.conftest import KEY_A, KEY_B, OTHER_SID, POOL_SID, USER_SID, Api, ApiFactory


async def test_server_mode_accepts_keys_and_uses_the_pool(server_api: Api) -> None:
    async with server_api.client(KEY_B) as client:
        res = await client.images.generate(prompt="x", model="jimeng-4.0", n=1, size="1024x1024")
        assert res.data
    assert {j.sessionid for j in server_api.fake.jobs.values()} == {POOL_SID}


async def test_server_mode_refuses_wrong_missing_and_session_id_bearers(server_api: Api) -> None:
    for bearer in ["sk-wrong", KEY_A + "x", USER_SID, f"{USER_SID},{KEY_A}", KEY_A[:-1]]:
        async with server_api.client(bearer) as client:
            with pytest.raises(openai.AuthenticationError) as exc:
                await client.models.list()
            assert exc.value.code == "invalid_api_key"
            assert bearer not in json.dumps(exc.value.body)
    async with aiohttp.ClientSession() as http:
        async with http.get(server_api.url + "/v1/models") as resp:
            assert resp.status == 401
    assert not server_api.fake.calls("/mweb/v1/aigc_draft/generate")


async def test_server_mode_token_endpoints_are_403(server_api: Api) -> None:
    async with server_api.root_client(KEY_A) as client:
        for path, body in [("/token/points", {}), ("/token/receive", {}), ("/token/check", {"token": USER_SID})]:
            with pytest.raises(openai.PermissionDeniedError):
                await client.post(path, body=body, cast_to=object)
    async with server_api.root_client("nope") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.post("/token/check", body={"token": USER_SID}, cast_to=object)


async def test_bearer_mode_needs_a_well_formed_session_id(bearer_api: Api) -> None:
    for bearer in ["bad token!", "x", "ftp://proxy@abcdefgh12345678"]:
        async with bearer_api.client(bearer) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.models.list()
    async with aiohttp.ClientSession() as http:
        async with http.get(bearer_api.url + "/v1/models") as resp:
            assert resp.status == 401 and (await resp.json())["error"]["code"] == "invalid_api_key"


async def test_bearer_mode_uses_only_the_callers_accounts(bearer_api: Api) -> None:
    async with bearer_api.client(f"{USER_SID},{OTHER_SID}") as client:
        for _ in range(3):
            await client.images.generate(prompt="x", model="jimeng-4.0", n=1, size="1024x1024")
    assert {j.sessionid for j in bearer_api.fake.jobs.values()} <= {USER_SID, OTHER_SID}
    assert not bearer_api.engine.accounts()  # nothing joined the server's pool


async def test_secrets_never_echoed_in_responses_or_logs(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with make_api() as api, api.client(USER_SID) as client:
        raw = await client.images.with_raw_response.generate(prompt="x", model="jimeng-4.0", n=1, size="1024x1024")
        seen.append(raw.http_response.text)
        seen.append(json.dumps((await client.models.list()).model_dump()))
        stream = await client.chat.completions.create(
            model="jimeng-4.0", messages=[{"role": "user", "content": "x"}], stream=True
        )
        seen.extend([c.model_dump_json() async for c in stream])
        api.fake.accounts[USER_SID].valid = False
        with pytest.raises(openai.AuthenticationError) as exc:
            await client.images.generate(prompt="x", model="jimeng-4.5", n=1)
        seen.append(exc.value.response.text)
        async with api.root_client(USER_SID) as root:
            seen.append(json.dumps(await root.post("/token/points", body={}, cast_to=object)))
            seen.append(json.dumps(await root.post("/token/check", body={"token": OTHER_SID}, cast_to=object)))
    async with make_api(keys=KEY_A, pool=POOL_SID) as api, api.client(KEY_A) as client:
        seen.append(json.dumps((await client.models.list()).model_dump()))
        async with api.client(KEY_B + "-wrong") as wrong:
            with pytest.raises(openai.AuthenticationError) as exc:
                await wrong.models.list()
            seen.append(exc.value.response.text)
    text = "\n".join(seen)
    server_logs = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "openai"))
    )
    for secret in (USER_SID, OTHER_SID, POOL_SID, KEY_A, KEY_B):
        assert secret not in text
        assert secret not in server_logs


async def test_bearer_mode_refuses_a_proxy_prefix(bearer_api: Api) -> None:
    """Issue #13: a proxy in the Bearer value was silently ignored; a client must not choose where the server
    connects, so it is refused, naming the reason (and never echoing the value)."""
    async with bearer_api.client(f"http://10.0.0.1:8080@{USER_SID}") as client:
        with pytest.raises(openai.AuthenticationError) as exc:
            await client.models.list()
    assert "proxy" in exc.value.message and USER_SID not in exc.value.message
    assert not bearer_api.fake.calls("/mweb/v1/aigc_draft/generate")
