"""Tests of the Jimeng upstream emulator itself, with raw aiohttp calls (never core/)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from emulator import FakeJimeng, sigv4
from emulator.media import make_mp4, probe_mp4

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jimeng"
SID = "0b6873d7a1b2c3d4e5f60718293a4b5c"
CN_QUERY = {
    "aid": "513695",
    "device_platform": "web",
    "region": "cn",
    "webId": "7600000000000000001",
    "da_version": "3.3.28",
    "web_version": "7.5.0",
    "aigc_features": "app_lip_sync",
}
INTL_QUERY = {"aid": "513641", "device_platform": "web", "region": "HK", "da_version": "3.3.28", "web_version": "7.5.0"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def sign_headers(path: str, device_time: int | None = None) -> dict[str, str]:
    dt = str(device_time if device_time is not None else int(time.time()))
    sign = hashlib.md5(f"9e2c|{path[-7:]}|7|8.4.0|{dt}||11ac".encode()).hexdigest()
    return {"appvr": "8.4.0", "pf": "7", "device-time": dt, "sign": sign, "sign-ver": "1", "tdid": ""}


class Api:
    def __init__(self, http: aiohttp.ClientSession, fake: FakeJimeng, sid: str | None = SID, query: dict | None = None):
        self.http, self.fake, self.sid = http, fake, sid
        self.query = CN_QUERY if query is None else query

    async def post(
        self, path: str, body: Any = None, *, query: dict | None = None, headers: dict | None = None
    ) -> dict:
        h = {"content-type": "application/json", **sign_headers(path), **(headers or {})}
        if self.sid is not None:
            h["cookie"] = f"_tea_web_id=7600000000000000001; sessionid={self.sid}; sid_tt={self.sid}"
        q = self.query if query is None else query
        data = json.dumps({} if body is None else body).encode()
        async with self.http.post(self.fake.url + path, params=q, data=data, headers=h) as r:
            assert r.status == 200
            return await r.json()

    async def generate(self, body: dict, **kw: Any) -> dict:
        return await self.post("/mweb/v1/aigc_draft/generate", body, **kw)

    async def history(self, *, submit_ids: list[str] | None = None, history_ids: list[str] | None = None) -> dict:
        body: dict = {}
        if submit_ids is not None:
            body["submit_ids"] = submit_ids
        if history_ids is not None:
            body["history_ids"] = history_ids
        res = await self.post("/mweb/v1/get_history_by_ids", body)
        assert res["ret"] == "0", res
        return res["data"]


def _draft(component: dict, version: str = "3.3.28", min_version: str = "3.0.2") -> str:
    return json.dumps(
        {
            "type": "draft",
            "id": str(uuid.uuid4()),
            "min_version": min_version,
            "min_features": [],
            "is_from_tsn": True,
            "version": version,
            "main_component_id": component["id"],
            "component_list": [component],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def t2i_body(
    *,
    model: str = "high_aes_general_v50",
    width: int = 1024,
    height: int = 576,
    resolution_type: str = "2k",
    gen_count: int | None = 2,
    submit_id: str | None = None,
    aid: int = 513695,
) -> dict:
    gen_option: dict = {"type": "", "id": str(uuid.uuid4()), "generate_all": False}
    if gen_count is not None:
        gen_option["gen_count"] = gen_count
    comp = {
        "type": "image_base_component",
        "id": str(uuid.uuid4()),
        "min_version": "3.0.2",
        "aigc_mode": "workbench",
        "generate_type": "generate",
        "abilities": {
            "type": "",
            "id": str(uuid.uuid4()),
            "generate": {
                "type": "",
                "id": str(uuid.uuid4()),
                "core_param": {
                    "type": "",
                    "id": str(uuid.uuid4()),
                    "model": model,
                    "prompt": "两个小马在一起跑步",
                    "negative_prompt": "",
                    "seed": 1357613421,
                    "sample_strength": 0.5,
                    "image_ratio": 3,
                    "large_image_info": {
                        "type": "",
                        "id": str(uuid.uuid4()),
                        "height": height,
                        "width": width,
                        "resolution_type": resolution_type,
                    },
                    "intelligent_ratio": False,
                    "generate_type": 0,
                },
            },
            "gen_option": gen_option,
        },
    }
    sid = submit_id or str(uuid.uuid4())
    return {
        "extend": {"root_model": model},
        "submit_id": sid,
        "metrics_extra": json.dumps({"promptSource": "custom", "generateCount": gen_count or 4, "generateId": sid}),
        "draft_content": _draft(comp),
        "http_common_info": {"aid": aid},
    }


def blend_body(uris: list[str], *, model: str = "high_aes_general_v50") -> dict:
    images = [
        {
            "type": "image",
            "id": str(uuid.uuid4()),
            "source_from": "upload",
            "platform_type": 1,
            "name": "",
            "image_uri": u,
            "width": 0,
            "height": 0,
            "format": "",
            "uri": u,
        }
        for u in uris
    ]
    comp = {
        "type": "image_base_component",
        "id": str(uuid.uuid4()),
        "min_version": "3.0.2",
        "aigc_mode": "workbench",
        "gen_type": 12,
        "generate_type": "blend",
        "abilities": {
            "type": "",
            "id": str(uuid.uuid4()),
            "blend": {
                "type": "",
                "id": str(uuid.uuid4()),
                "min_features": [],
                "core_param": {
                    "type": "",
                    "id": str(uuid.uuid4()),
                    "model": model,
                    "prompt": "把背景换成雪山",
                    "sample_strength": 0.5,
                    "image_ratio": 1,
                    "large_image_info": {
                        "type": "",
                        "id": str(uuid.uuid4()),
                        "height": 1024,
                        "width": 1024,
                        "resolution_type": "2k",
                    },
                },
                "ability_list": [
                    {
                        "type": "",
                        "id": str(uuid.uuid4()),
                        "name": "byte_edit",
                        "image_uri_list": uris,
                        "image_list": images,
                        "strength": 0.5,
                    }
                ],
                "prompt_placeholder_info_list": [{"type": "", "id": str(uuid.uuid4()), "ability_index": 0}],
                "postedit_param": {"type": "", "id": str(uuid.uuid4()), "generate_type": 0},
            },
            "gen_option": {"type": "", "id": str(uuid.uuid4()), "gen_count": 1, "generate_all": False},
        },
    }
    return {
        "extend": {"root_model": model},
        "submit_id": str(uuid.uuid4()),
        "metrics_extra": "{}",
        "draft_content": _draft(comp),
        "http_common_info": {"aid": 513695},
    }


def video_body(
    *,
    model: str = "dreamina_seedance_40_mini",
    benefit: str = "seedance_20_mini_720p_output_5s",
    resolution: str = "720p",
) -> dict:
    info = {
        "amount": 5,
        "benefit_type": benefit,
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    comp = {
        "type": "video_base_component",
        "id": str(uuid.uuid4()),
        "min_version": "1.0.0",
        "aigc_mode": "workbench",
        "generate_type": "gen_video",
        "abilities": {
            "type": "",
            "id": str(uuid.uuid4()),
            "gen_video": {
                "type": "",
                "id": str(uuid.uuid4()),
                "text_to_video_params": {
                    "type": "",
                    "id": str(uuid.uuid4()),
                    "video_gen_inputs": [
                        {
                            "type": "",
                            "id": str(uuid.uuid4()),
                            "min_version": "3.0.5",
                            "prompt": "一只小猫",
                            "video_mode": 2,
                            "fps": 24,
                            "duration_ms": 5000,
                            "resolution": resolution,
                            "idip_meta_list": [],
                        }
                    ],
                    "video_aspect_ratio": "16:9",
                    "seed": 1234567890,
                    "model_req_key": model,
                    "priority": 0,
                },
                "video_task_extra": "{}",
            },
        },
        "process_type": 1,
    }
    return {
        "extend": {"root_model": model, "m_video_commerce_info": info, "m_video_commerce_info_list": [info]},
        "submit_id": str(uuid.uuid4()),
        "metrics_extra": "{}",
        "draft_content": _draft(comp, min_version="3.0.5"),
        "http_common_info": {"aid": 513695},
    }


@pytest.fixture
async def clocked():
    clock = Clock()
    fake = FakeJimeng(image_seconds=10.0, video_seconds=20.0, clock=clock)
    await fake.start()
    fake.add_account(SID)
    async with aiohttp.ClientSession() as http:
        yield fake, Api(http, fake), clock, http
    await fake.close()


# ------------------------------------------------------------------------------------------- auth / envelope


async def test_login_error_without_cookie(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(SID)
    async with aiohttp.ClientSession() as http:
        anon = Api(http, fake_jimeng, sid=None)
        res = await anon.generate(t2i_body())
        assert res["ret"] == "1015" and res["errmsg"] == "login error"
        assert res["data"]["aigc_data"] is None
        assert (await anon.post("/commerce/v1/benefits/user_credit"))["ret"] == "1015"
        assert (await Api(http, fake_jimeng, sid="deadbeef").post("/mweb/v1/get_user_info"))["ret"] == "1015"
        ok = await Api(http, fake_jimeng).post("/mweb/v1/get_user_info")
        assert ok["ret"] == "0" and isinstance(ok["systime"], str) and ok["logid"]
    assert fake_jimeng.calls("/get_user_info", SID)[0].sessionid == SID
    assert not fake_jimeng.jobs


async def test_draft_object_and_missing_components_rejected(clocked) -> None:
    fake, api, _, _ = clocked
    body = t2i_body()
    body["draft_content"] = json.loads(body["draft_content"])
    res = await api.generate(body)
    assert (res["ret"], res["errmsg"]) == ("1002", "common error")
    body = t2i_body()
    draft = json.loads(body["draft_content"])
    del draft["component_list"]
    body["draft_content"] = json.dumps(draft)
    assert (await api.generate(body))["ret"] == "1001"
    body = t2i_body()
    body["extend"]["root_model"] = "high_aes_general_v40"
    assert (await api.generate(body))["ret"] == "1000"
    assert not fake.jobs and fake.accounts[SID].gift == 100


async def test_region_sign_and_shark_gates(clocked) -> None:
    fake, api, _, http = clocked
    res = await api.generate(t2i_body(), query=INTL_QUERY)
    assert (res["ret"], res["errmsg"]) == ("3000", "region not allow")
    fake.add_account("intl" + SID, region="hk")
    intl = Api(http, fake, sid="intl" + SID, query=INTL_QUERY)
    assert (await intl.generate(t2i_body(aid=513695)))["ret"] == "3000"
    fake.sign_check = True
    bad = await api.generate(t2i_body(), headers={"sign": "0" * 32})
    assert bad["ret"] == "1014"
    old = await api.generate(t2i_body(), headers={"appvr": "5.8.0"})
    assert (old["ret"], old["errmsg"]) == ("3018", "permission denied")
    assert (await api.generate(t2i_body()))["ret"] == "0"
    fake.shark = True
    assert (await api.generate(video_body()))["ret"] == "1019"
    assert (await api.generate(video_body(), query={**CN_QUERY, "a_bogus": "x"}))["ret"] == "0"


def test_sign_matches_published_vectors() -> None:
    path = FIXTURES / "sign_test_vectors.json"
    for v in json.loads(path.read_text())["vectors"]:
        assert sign_headers(v["path"], v["device_time"])["sign"] == v["sign"]


# ------------------------------------------------------------------------------------------- jobs


async def test_t2i_progression_and_items(clocked) -> None:
    fake, api, clock, http = clocked
    body = t2i_body(gen_count=3, width=1024, height=576)
    res = await api.generate(body)
    assert res["ret"] == "0", res
    aigc = res["data"]["aigc_data"]
    assert aigc["task"]["submit_id"] == body["submit_id"] and aigc["task"]["status"] == 20
    hid = aigc["history_record_id"]
    assert len(hid) == 13 and hid.isdigit()
    assert aigc["generate_type"] == 1 and aigc["forecast_queue_cost"] == 2  # queue wait: 15% of 10 s
    assert aigc["queue_info"]["queue_length"] >= 1
    seen: list[int] = []
    counts: list[int] = []
    for _ in range(60):
        rec = (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]
        if not seen or seen[-1] != rec["task"]["status"]:
            seen.append(rec["task"]["status"])
        assert rec["status"] == rec["task"]["status"]
        assert len(rec["item_list"]) == rec["finished_image_count"]
        counts.append(len(rec["item_list"]))
        if rec["task"]["status"] == 50:
            break
        clock.t += 0.25
    assert seen == [20, 42, 45, 50]
    assert counts == sorted(counts) and any(0 < c < 3 for c in counts)
    assert rec["total_image_count"] == 3 and len(rec["item_list"]) == 3
    item = rec["item_list"][0]
    assert len(item["common_attr"]["id"]) == 19
    large = item["image"]["large_images"][0]
    assert (large["width"], large["height"]) == (1024, 576)
    assert "/img/" in large["image_url"] and "x-expires=" in large["image_url"] and "x-signature=" in large["image_url"]
    by_hid = await api.history(history_ids=[hid])
    assert list(by_hid) == [hid] and by_hid[hid]["task"]["status"] == 50
    # CDN: a real WebP image of exactly the requested size
    async with http.get(large["image_url"]) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/webp"
        img = Image.open(io.BytesIO(await r.read()))
        assert (img.format, img.size) == ("WEBP", (1024, 576))
    fake.invalidate_urls()
    async with http.get(large["image_url"]) as r:
        assert r.status == 403
    fresh = (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]["item_list"][0]
    async with http.get(fresh["image"]["large_images"][0]["image_url"]) as r:
        assert r.status == 200


async def test_real_time_progression_default_fixture(fake_jimeng: FakeJimeng) -> None:
    import asyncio

    fake_jimeng.image_seconds = 0.3
    fake_jimeng.add_account(SID)
    async with aiohttp.ClientSession() as http:
        api = Api(http, fake_jimeng)
        body = t2i_body(gen_count=None, model="high_aes_general_v50p_large")
        assert (await api.generate(body))["ret"] == "0"
        seen = []
        for _ in range(100):
            rec = (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]
            if not seen or seen[-1] != rec["status"]:
                seen.append(rec["status"])
            if rec["status"] == 50:
                break
            await asyncio.sleep(0.02)
        assert seen[-1] == 50 and set(seen) <= {20, 42, 45, 50}
        assert len(rec["item_list"]) == 2  # 5.0 Pro default_generate_count


async def test_unknown_ids_omitted(clocked) -> None:
    fake, api, _, http = clocked
    body = t2i_body()
    await api.generate(body)
    data = await api.history(submit_ids=[body["submit_id"], "nope"], history_ids=["1234567890123"])
    assert list(data) == [body["submit_id"]]
    fake.add_account("other")
    assert await Api(http, fake, sid="other").history(submit_ids=[body["submit_id"]]) == {}


async def test_failure_outcomes(clocked) -> None:
    fake, api, clock, _ = clocked
    fake.accounts[SID].next_outcomes = [
        ("fail", 30, "2038"),
        ("fail", 10, ""),
        ("fail", 40, ""),
        ("stall_45",),
        ("never",),
    ]
    sids = []
    for _ in range(5):
        body = t2i_body(gen_count=4)
        assert (await api.generate(body))["ret"] == "0"
        sids.append(body["submit_id"])
    clock.t += 1000
    data = await api.history(submit_ids=sids)
    recs = [data[s] for s in sids]
    assert recs[0]["status"] == 30 and recs[0]["fail_code"] == "2038"
    assert recs[0]["fail_starling_message"] == "你输入的文字不符合平台规则，请修改后重试"
    assert recs[0]["task"]["finish_time"] > 0
    assert (recs[1]["status"], recs[1]["fail_code"]) == (10, "")
    assert recs[2]["status"] == 40
    assert recs[3]["status"] == 45 and 0 < len(recs[3]["item_list"]) < 4
    assert recs[4]["status"] == 20 and recs[4]["item_list"] == []


async def test_poor_account_gets_1006_and_ret_queue(clocked) -> None:
    fake, api, _, _ = clocked
    acct = fake.accounts[SID]
    acct.gift = 1
    res = await api.generate(t2i_body(gen_count=2))
    assert (res["ret"], res["errmsg"]) == ("1006", "积分不足")
    assert res["data"] == {
        "aigc_data": None,
        "fail_code": "1006",
        "fail_starling_key": "web_dre_m10n_generate_popup_credit_ininsufficient_title",
        "fail_starling_message": "积分不足",
    }
    acct.gift = 100
    acct.fail_generate = ["4013", "1010"]
    assert (await api.generate(t2i_body()))["ret"] == "4013"
    assert (await api.generate(t2i_body()))["ret"] == "1010"
    assert (await api.generate(t2i_body()))["ret"] == "0"
    acct.max_concurrent = 1
    assert (await api.generate(t2i_body()))["ret"] == "1010"


async def test_video_benefit_type_and_mp4(clocked) -> None:
    fake, api, clock, http = clocked
    res = await api.generate(video_body(benefit="seedance_20_mini_720p_output"))
    assert (res["ret"], res["errmsg"]) == ("5001", "credit prededuct failed")
    wrong_res = video_body(
        model="dreamina_seedance_40_pro_vision", benefit="seedance_20_pro_720p_output", resolution="1080p"
    )
    assert (await api.generate(wrong_res))["ret"] == "5001"
    body = video_body()
    res = await api.generate(body)
    assert res["ret"] == "0", res
    assert fake.jobs[body["submit_id"]].benefit_type == "seedance_20_mini_720p_output_5s"
    clock.t += 100
    rec = (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]
    assert rec["status"] == 50
    video = rec["item_list"][0]["video"]
    r720 = video["transcoded_video"]["720p"]
    assert (r720["width"], r720["height"], video["duration_ms"]) == (1280, 720, 5000)
    async with http.get(video["transcoded_video"]["origin"]["video_url"]) as r:
        mp4 = await r.read()
        assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
    assert mp4[4:8] == b"ftyp" and mp4[8:12] == b"isom"
    assert probe_mp4(mp4) == {"width": 1280, "height": 720, "duration": 5.0}
    item_id = rec["item_list"][0]["common_attr"]["id"]
    local = await api.post(
        "/mweb/v1/get_local_item_list",
        {
            "item_id_list": [item_id],
            "pack_item_opt": {"scene": 1, "need_data_integrity": True},
            "is_for_video_download": True,
        },
    )
    hq = local["data"]["item_list"][0]["common_attr"]["transcoded_video"]["origin"]["video_url"]
    assert "-hq.mp4" in hq
    async with http.get(hq) as r:
        assert r.status == 200 and (await r.read())[4:8] == b"ftyp"


def test_mp4_is_deterministic_and_small() -> None:
    a = make_mp4(64, 64, 1000)
    assert a == make_mp4(64, 64, 1000) and len(a) < 1000
    assert a[:4] == (32).to_bytes(4, "big") and a[4:12] == b"ftypisom"
    assert probe_mp4(a) == {"width": 64, "height": 64, "duration": 1.0}


async def test_duplicate_submit_id_not_charged_twice(clocked) -> None:
    fake, api, _, _ = clocked
    body = t2i_body(gen_count=2)
    first = await api.generate(body)
    second = await api.generate(body)
    assert first["ret"] == second["ret"] == "0"
    assert first["data"]["aigc_data"]["history_record_id"] == second["data"]["aigc_data"]["history_record_id"]
    assert len(fake.jobs) == 1 and fake.duplicate_submits == 1
    assert fake.accounts[SID].gift == 98
    hist = await api.post("/commerce/v1/benefits/user_credit_history", {"count": 20, "cursor": "0"})
    assert hist["data"]["total_credit"] == 98
    assert [(r["submit_id"], r["amount"]) for r in hist["data"]["records"]] == [(body["submit_id"], 2)]


# ------------------------------------------------------------------------------------------- credits


async def test_credits_and_daily_receive(clocked) -> None:
    fake, api, _, http = clocked
    day = [date(2026, 1, 11)]
    fake.today = lambda: day[0]
    res = await api.post("/commerce/v1/benefits/user_credit", {}, query={})
    assert res["ret"] == "0" and isinstance(res["svr_time"], int) and json.loads(res["response"]) == res["data"]
    assert res["data"]["credit"] == {"vip_credit": 0, "gift_credit": 100, "purchase_credit": 0}
    assert res["data"]["credits_detail"]["gift_credits"][0]["residual_credits"] == 100
    assert (await api.post("/commerce/v1/benefits/credit_receive", {}))["ret"] == "34010100"
    first = await api.post("/commerce/v1/benefits/credit_receive", {"time_zone": "Asia/Shanghai"})
    assert first["ret"] == "0" and first["data"]["receive_quota"] == 66
    again = await api.post("/commerce/v1/benefits/credit_receive", {"time_zone": "Asia/Shanghai"})
    assert again["ret"] == "0" and again["data"]["receive_quota"] == 0
    assert fake.accounts[SID].gift == 166 and fake.accounts[SID].claimed_on == day[0]
    day[0] += timedelta(days=1)
    assert (await api.post("/commerce/v1/benefits/credit_receive", {"time_zone": "Asia/Shanghai"}))["data"][
        "receive_quota"
    ] == 66
    fake.accounts[SID].receive_fault = "-4"
    rej = await api.post("/commerce/v1/benefits/credit_receive", {"time_zone": "Asia/Shanghai"})
    assert (rej["ret"], rej["errmsg"], rej["data"]["receive_quota"]) == ("-4", "shark check reject", 0)
    fake.add_account("hk" + SID, region="hk", credits=0)
    hk = Api(http, fake, sid="hk" + SID, query=INTL_QUERY)
    zero = await hk.post("/commerce/v1/benefits/user_credit", {})
    assert isinstance(zero["systime"], str) and len(zero["systime"]) == 13 and zero["data"]["credits_detail"] == {}
    assert (await hk.post("/commerce/v1/benefits/credit_receive", {"time_zone": "Asia/Shanghai"}))["data"][
        "receive_quota"
    ] == 50


# ------------------------------------------------------------------------------------------- uploads


def test_sigv4_against_synthetic_vectors() -> None:
    path = FIXTURES / "sigv4_test_vectors.synthetic.json"
    doc = json.loads(path.read_text())
    inp = doc["inputs"]
    for name in (
        "apply_image_upload",
        "commit_image_upload",
        "commit_image_upload_web_style",
        "vod_commit_upload_inner",
    ):
        v = doc[name]
        auth = sigv4.parse_authorization(v["authorization"])
        assert auth.access_key_id == inp["access_key_id"]
        from urllib.parse import parse_qsl, urlsplit

        url = urlsplit(v["url"])
        query = parse_qsl(url.query, keep_blank_values=True)
        body = v.get("body", "").encode()
        payload = hashlib.sha256(body).hexdigest()
        headers = {
            "x-amz-date": inp["x_amz_date"],
            "x-amz-security-token": inp["session_token"],
            **v.get("headers", {}),
        }
        if v["method"] == "POST":
            headers["x-amz-content-sha256"] = v["x_amz_content_sha256"]
            assert payload == v["x_amz_content_sha256"]
        creq = sigv4.canonical_request(v["method"], query, headers, auth.signed_headers, payload)
        assert creq == v["canonical_request"]
        sts = sigv4.string_to_sign(inp["x_amz_date"], auth.scope, creq)
        assert sts == v["string_to_sign"]
        assert sigv4.signature(inp["secret_access_key"], auth.date, auth.region, auth.service, sts) == v["signature"]
        assert v["signature"] in sigv4.expected_signatures(
            secret=inp["secret_access_key"],
            auth=auth,
            method=v["method"],
            query_pairs=query,
            headers=headers,
            payload_hash=payload,
        )
        assert "0" * 64 not in sigv4.expected_signatures(
            secret=inp["secret_access_key"] + "x",
            auth=auth,
            method=v["method"],
            query_pairs=query,
            headers=headers,
            payload_hash=payload,
        )


class Uploader:
    """Test-side ImageX/VOD client: get_upload_token → Apply → upload bytes → Commit."""

    def __init__(
        self, api: Api, http: aiohttp.ClientSession, *, region: str = "cn-north-1", web_style: bool = False
    ) -> None:
        self.api, self.http, self.region, self.web_style = api, http, region, web_style

    async def token(self, scene: int = 2) -> dict:
        res = await self.api.post("/mweb/v1/get_upload_token", {"scene": scene})
        assert res["ret"] == "0"
        return res["data"]

    def _signed(
        self,
        tok: dict,
        method: str,
        query: dict,
        body: bytes = b"",
        *,
        service: str = "imagex",
        secret: str | None = None,
        ak: str | None = None,
    ) -> dict:
        amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = {"x-amz-date": amz, "x-amz-security-token": tok["session_token"]}
        if method == "POST":
            headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
            headers["content-type"] = "application/json" if service == "imagex" else "text/plain;charset=UTF-8"
        signed = [h for h in headers if h != "content-type"]
        if self.web_style and method == "POST" and service == "imagex":
            headers["host"] = tok["upload_domain"]
            signed += ["content-type", "host"]
        headers["authorization"] = sigv4.sign_request(
            access_key_id=ak or tok["access_key_id"],
            secret=secret or tok["secret_access_key"],
            method=method,
            query_pairs=list(query.items()),
            headers=headers,
            signed_headers=signed,
            payload_hash=hashlib.sha256(body).hexdigest(),
            region=self.region,
            service=service,
        )
        headers.pop("host", None)  # aiohttp sends the same Host value itself
        return headers

    async def apply(self, tok: dict, size: int, **kw: Any) -> tuple[int, dict]:
        q = {
            "Action": "ApplyImageUpload",
            "Version": "2018-08-01",
            "ServiceId": tok["space_name"],
            "FileSize": str(size),
            "s": "k3j9x0abcd",
        }
        async with self.http.get(
            f"http://{tok['upload_domain']}/", params=q, headers=self._signed(tok, "GET", q, **kw)
        ) as r:
            return r.status, await r.json()

    async def upload(self, addr: dict, data: bytes, crc: str | None = None) -> tuple[int, dict]:
        info = addr["StoreInfos"][0]
        host = addr["UploadHosts"][0] if "UploadHosts" in addr else addr["UploadHost"]
        headers = {
            "Authorization": info["Auth"],
            "Content-CRC32": crc if crc is not None else f"{zlib.crc32(data) & 0xFFFFFFFF:08x}",
            "Content-Type": "application/octet-stream",
        }
        async with self.http.post(f"http://{host}/upload/v1/{info['StoreUri']}", data=data, headers=headers) as r:
            return r.status, await r.json()

    async def commit(self, tok: dict, session_key: str) -> tuple[int, dict]:
        q = {"Action": "CommitImageUpload", "Version": "2018-08-01", "ServiceId": tok["space_name"]}
        body = json.dumps({"SessionKey": session_key}).encode()
        async with self.http.post(
            f"http://{tok['upload_domain']}/", params=q, data=body, headers=self._signed(tok, "POST", q, body)
        ) as r:
            return r.status, await r.json()

    async def image(self, data: bytes) -> str:
        tok = await self.token()
        status, apply = await self.apply(tok, len(data))
        assert status == 200, apply
        addr = apply["Result"]["UploadAddress"]
        assert (await self.upload(addr, data))[0] == 200
        status, commit = await self.commit(tok, addr["SessionKey"])
        assert status == 200, commit
        return commit["Result"]["Results"][0]["Uri"]

    async def video(self, data: bytes) -> dict:
        tok = await self.token(scene=1)
        q = {
            "Action": "ApplyUploadInner",
            "Version": "2020-11-19",
            "SpaceName": "dreamina",
            "FileType": "video",
            "IsInner": "1",
            "FileSize": str(len(data)),
            "s": "abc123def456",
        }
        async with self.http.get(
            f"http://{tok['upload_domain']}/", params=q, headers=self._signed(tok, "GET", q, service="vod")
        ) as r:
            apply = await r.json()
            assert r.status == 200, apply
        node = apply["Result"]["InnerUploadAddress"]["UploadNodes"][0]
        assert (await self.upload(node, data))[0] == 200
        q = {"Action": "CommitUploadInner", "Version": "2020-11-19", "SpaceName": "dreamina"}
        body = json.dumps({"SessionKey": node["SessionKey"], "Functions": []}).encode()
        async with self.http.post(
            f"http://{tok['upload_domain']}/",
            params=q,
            data=body,
            headers=self._signed(tok, "POST", q, body, service="vod"),
        ) as r:
            commit = await r.json()
            assert r.status == 200, commit
        result = commit["Result"]["Results"][0]
        assert result["Vid"] == node["Vid"]
        return result


def png_bytes(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


async def test_upload_flow_and_blend(clocked) -> None:
    fake, api, _, http = clocked
    up = Uploader(api, http)
    tok = await up.token()
    assert tok["access_key_id"].startswith("AKTP") and len(tok["access_key_id"]) == 48
    assert tok["session_token"].startswith("STS2") and tok["space_name"] == "tb4s082cfz"
    assert tok["upload_domain"] == fake.url.removeprefix("http://")
    data = png_bytes(77, 55)
    status, apply = await up.apply(tok, len(data))
    assert status == 200, apply
    addr = apply["Result"]["UploadAddress"]
    assert addr["UploadHost"] == addr["UploadHosts"][0]
    assert addr["StoreInfos"][0]["StoreUri"].startswith("tos-cn-i-tb4s082cfz/")
    assert json.loads(__import__("base64").b64decode(addr["SessionKey"]))["StoreInfos"] == addr["StoreInfos"]
    status, res = await up.upload(addr, data)
    assert status == 200 and res["code"] == 2000 and res["data"]["crc32"] == f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"
    status, commit = await up.commit(tok, addr["SessionKey"])
    assert status == 200, commit
    uri = commit["Result"]["Results"][0]["Uri"]
    assert commit["Result"]["Results"][0]["UriStatus"] == 2000 and uri == addr["StoreInfos"][0]["StoreUri"]
    plugin = commit["Result"]["PluginResult"][0]
    assert (plugin["ImageWidth"], plugin["ImageHeight"], plugin["ImageFormat"], plugin["ImageSize"]) == (
        77,
        55,
        "png",
        len(data),
    )
    assert fake.calls("ApplyImageUpload") and fake.calls("CommitImageUpload")[0].action == "CommitImageUpload"
    # same bytes again → a different URI (not content-addressed)
    _, apply2 = await up.apply(tok, len(data))
    assert apply2["Result"]["UploadAddress"]["StoreInfos"][0]["StoreUri"] != uri
    # blend: unknown URI rejected, uploaded URI accepted
    assert (await api.generate(blend_body(["tos-cn-i-tb4s082cfz/" + "a" * 32])))["ret"] == "1000"
    res = await api.generate(blend_body([uri]))
    assert res["ret"] == "0" and res["data"]["aigc_data"]["generate_type"] == 12
    imgs = await api.post("/mweb/v1/get_image_by_uri", {"uris": [uri]})
    assert imgs["data"]["uri2image"][uri]["image_uri"] == uri
    assert (await api.post("/mweb/v1/get_image_by_uri", {"image_uri": uri}))["ret"] == "1000"


async def test_upload_rejections(clocked) -> None:
    fake, api, _, http = clocked
    up = Uploader(api, http)
    tok = await up.token()
    data = png_bytes(10, 10)
    status, err = await up.apply(tok, len(data), secret="wrong-secret")
    assert status == 403 and err["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"
    status, err = await up.apply(tok, len(data), ak="AKTP" + "x" * 44)
    assert status == 401 and err["ResponseMetadata"]["Error"]["CodeN"] == 100029
    assert err["ResponseMetadata"]["Error"]["Code"] == "CheckAuthenticationError"
    fake.upload_faults = ["apply_signature", "upload_500"]
    assert (await up.apply(tok, len(data)))[0] == 403
    status, apply = await up.apply(tok, len(data))
    assert status == 200
    addr = apply["Result"]["UploadAddress"]
    assert (await up.upload(addr, data))[0] == 500
    status, res = await up.upload(addr, data, crc="00000000")
    assert (status, res["code"]) == (400, 4003)
    unpadded = f"{zlib.crc32(data) & 0xFFFFFFFF:x}".upper()
    assert (await up.upload(addr, data, crc=unpadded))[0] == 400
    fake.upload_faults = ["crc_mismatch"]
    assert (await up.upload(addr, data))[0] == 400
    assert (await up.upload(addr, data))[0] == 200
    assert fake.upload_faults == []


# ------------------------------------------------------------------------------------------- catalogue etc.


async def test_common_config_lists_extra_model(clocked) -> None:
    fake, api, _, http = clocked
    res = await api.post("/mweb/v1/get_common_config", {})
    models = {m["model_req_key"]: m for m in res["data"]["model_list"]}
    extra = models["high_aes_general_v60_preview"]
    assert extra["model_name"] == "Seedream 6.0 Preview" and set(extra["resolution_map"]) == {"2k", "4k"}
    sizes = {
        s["ratio_type"]: (s["width"], s["height"])
        for s in models["high_aes_general_v50"]["resolution_map"]["4k"]["image_ratio_sizes"]
    }
    assert sizes[3] == (5404, 3040) and len(sizes) == 8
    assert models["high_aes_general_v50p_large"]["default_generate_count"] == 2
    assert "external_model_gemini_flash_image_v25" not in models
    assert (await api.generate(t2i_body(model="high_aes_general_v60_preview", gen_count=1)))["ret"] == "0"
    fake.common_config_enabled = False
    assert (await api.post("/mweb/v1/get_common_config", {}))["ret"] == "1002"
    passport = await api.post("/passport/account/info/v2", {}, query={"account_sdk_source": "web"})
    assert passport["message"] == "success" and passport["data"]["user_id"]
    async with http.post(fake.url + "/mweb/v1/does_not_exist", json={}) as r:
        assert r.status == 404
    assert fake.calls("/does_not_exist")


async def test_vod_upload_and_omni_video(clocked) -> None:
    fake, api, _, http = clocked
    up = Uploader(api, http)
    result = await up.video(make_mp4(320, 240, 3000))
    assert result["Vid"].startswith("v0") and len(result["Vid"]) == 30
    meta = result["VideoMeta"]
    assert (meta["Width"], meta["Height"], meta["Duration"]) == (320, 240, 3.0)
    uri = await up.image(png_bytes(300, 400))
    body = video_body()
    body["extend"]["m_video_commerce_info"]["amount"] = 8  # 5 s output + 3 s of reference video
    body["extend"]["m_video_commerce_info_list"][0]["amount"] = 8
    draft = json.loads(body["draft_content"])
    draft["min_features"] = ["AIGC_Video_UnifiedEdit"]
    inp = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
    inp["unified_edit_input"] = {
        "type": "",
        "id": "x",
        "material_list": [
            {
                "type": "",
                "id": "m1",
                "material_type": "image",
                "image_info": {"type": "image", "image_uri": uri, "uri": uri},
            },
            {
                "type": "",
                "id": "m2",
                "material_type": "video",
                "video_info": {"type": "video", "vid": result["Vid"], "duration": 3000},
            },
        ],
        "meta_list": [],
    }
    body["draft_content"] = json.dumps(draft)
    res = await api.generate(body)
    assert res["ret"] == "0", res
    job = fake.jobs[body["submit_id"]]
    assert job.kind == "video" and (job.width, job.height) == (720, 960)  # follows the 3:4 reference image
    inp["unified_edit_input"]["material_list"][1]["video_info"]["vid"] = "v0" + "z" * 28
    body["draft_content"] = json.dumps(draft)
    body["submit_id"] = str(uuid.uuid4())
    assert (await api.generate(body))["ret"] == "1000"


async def test_international_account(clocked) -> None:
    fake, _, _, http = clocked
    fake.add_account("hk" + SID, region="hk")
    api = Api(http, fake, sid="hk" + SID, query=INTL_QUERY)
    up = Uploader(api, http, region="ap-southeast-1", web_style=True)
    uri = await up.image(png_bytes(64, 64))
    assert uri.startswith("tos-alisg-i-wopfjsm1ax-sg/")
    cn_signed = Uploader(api, http, region="cn-north-1")
    tok = await cn_signed.token()
    status, err = await cn_signed.apply(tok, 10)
    assert status == 401 and err["ResponseMetadata"]["Error"]["Code"] == "CheckAuthenticationError"
    res = await api.generate(t2i_body(aid=513641, gen_count=1))
    assert res["ret"] == "0", res
    assert (await api.generate(t2i_body(aid=513641, model="high_aes_general_v43")))["ret"] == "1000"  # CN-only model
    assert (await api.generate(video_body()))["ret"] in {"1000", "3000"}  # Seedance is CN-only
    cfg = await api.post("/mweb/v1/get_common_config", {})
    keys = {m["model_req_key"] for m in cfg["data"]["model_list"]}
    assert "dreamina_image_lib_1" in keys and "high_aes_general_v60_preview" not in keys


async def test_continuation_and_4k(clocked) -> None:
    fake, api, clock, http = clocked
    body = t2i_body(gen_count=1, width=4096, height=4096, resolution_type="4k")
    res = await api.generate(body)
    assert res["ret"] == "0" and fake.accounts[SID].gift == 98  # 4k: 2 credits per image
    hid = res["data"]["aigc_data"]["history_record_id"]
    more = {
        **body,
        "action": 2,
        "history_id": hid,
        "submit_id": str(uuid.uuid4()),
        "metrics_extra": json.dumps({"generateCount": 2}),
    }
    res2 = await api.generate(more)
    assert res2["ret"] == "0"
    assert res2["data"]["aigc_data"]["origin_history_record_id"] == hid and fake.jobs[more["submit_id"]].count == 2
    clock.t += 100
    rec = (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]
    async with http.get(rec["item_list"][0]["image"]["large_images"][0]["image_url"]) as r:
        assert Image.open(io.BytesIO(await r.read())).size == (4096, 4096)
