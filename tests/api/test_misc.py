"""Models, token helpers, health checks."""

from __future__ import annotations

import aiohttp
import openai

from tests.api.conftest import KEY_A, USER_SID, Api, ApiFactory
from tests.core.support import sid


async def test_models_list_follows_the_callers_regions(bearer_api: Api) -> None:
    us_sid = sid("api-us")
    bearer_api.fake.add_account(us_sid, region="us")
    async with bearer_api.client(USER_SID) as cn, bearer_api.client(f"us-{us_sid}") as us:
        cn_ids = {m.id async for m in cn.models.list()}
        us_ids = {m.id async for m in us.models.list()}
    assert {"jimeng-4.5", "jimeng-4.0", "jimeng-video-3.0", "jimeng-5.0-pro"} <= cn_ids and "nanobanana" not in cn_ids
    assert "nanobanana" in us_ids and "jimeng-5.0-pro" not in us_ids


async def test_models_list_in_server_mode(server_api: Api) -> None:
    async with server_api.client(KEY_A) as client:
        page = await client.models.list()
    assert page.data and all(m.object == "model" and m.owned_by == "jimeng" for m in page.data)


async def test_token_check_points_receive(bearer_api: Api) -> None:
    dead = sid("api-dead")
    bearer_api.fake.add_account(dead, valid=False)
    async with bearer_api.root_client(USER_SID) as client:
        assert await client.post("/token/check", body={"token": USER_SID}, cast_to=object) == {"live": True}
        assert await client.post("/token/check", body={"token": dead}, cast_to=object) == {"live": False}
        points = await client.post("/token/points", body={}, cast_to=object)
        assert isinstance(points, dict)
        row = points["data"][0]
        assert row["token"].startswith(USER_SID[:4]) and "…" in row["token"]
        assert row["credits"]["total"] == 10_000 and set(row["credits"]) == {"gift", "purchase", "vip", "total"}
        got = await client.post("/token/receive", body={}, cast_to=object)
        assert isinstance(got, dict)
        claim = got["data"][0]["claim"]
        assert claim["ok"] is True and claim["granted"] >= 0
    async with aiohttp.ClientSession() as http:  # /token/check needs no Bearer in Bearer mode (as in the seeds)
        async with http.post(bearer_api.url + "/token/check", data='{"token": "' + USER_SID + '",}') as resp:
            assert await resp.json() == {"live": True}
        async with http.post(bearer_api.url + "/token/check", json={"token": "no good!"}) as resp:
            doc = await resp.json()
            assert resp.status == 400 and doc["error"]["param"] == "token" and "no good" not in str(doc)


async def test_health(make_api: ApiFactory) -> None:
    async with make_api(keys=KEY_A, pool=sid("api-pool")) as api, aiohttp.ClientSession() as http:
        async with http.get(api.url + "/ping") as resp:
            assert await resp.text() == "pong"
        async with http.get(api.url + "/healthz") as resp:
            assert (await resp.json())["status"] == "ok"
        async with http.get(api.url + "/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["usable"] == 1
    async with make_api(keys=KEY_A) as api, aiohttp.ClientSession() as http:
        async with http.get(api.url + "/readyz") as resp:
            assert resp.status == 503  # server mode without any account cannot take jobs
        async with api.client(KEY_A) as client:
            try:
                await client.images.generate(prompt="x", model="jimeng-4.5")
            except openai.InternalServerError as exc:
                assert exc.status_code == 503 and exc.code == "no_account"
            else:
                raise AssertionError("expected 503")
