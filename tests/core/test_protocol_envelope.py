"""Sign vectors, token syntax, and the request envelope per region, checked on the wire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import ImageParams, InvalidRequestError, mask, parse_tokens
from core.signing import sign
from core.wire import APP_VERSION, DA_VERSION, REGIONS, WEB_VERSION, Region
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jimeng"


def _vectors() -> list[dict]:
    doc = json.loads((FIXTURES / "sign_test_vectors.json").read_text())
    return doc["vectors"] if isinstance(doc, dict) else doc


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: f"{v['path'][-7:]}-{v.get('device_time')}")
def test_sign_matches_every_published_vector(vector: dict) -> None:
    assert sign(vector["path"], vector["device_time"]) == vector["sign"]


def test_sign_ignores_query_string() -> None:
    assert sign("/mweb/v1/get_history_by_ids?aid=1", 1771893831) == sign("/mweb/v1/get_history_by_ids", 1771893831)


def test_token_syntax_regions_proxies_and_masking() -> None:
    s1, s2, s3 = sid(1), sid(2), sid(3)
    toks = parse_tokens(f"Bearer {s1}, US-{s2} ,http://user:pw@proxy.local:8080@hk-{s3},{s1}")
    assert [t.region for t in toks] == [Region.CN, Region.US, Region.HK]
    assert [t.sessionid for t in toks] == [s1, s2, s3]
    assert toks[2].proxy == "http://user:pw@proxy.local:8080"
    assert mask(s1) == f"{s1[:4]}…{s1[-4:]}"
    assert s1 not in repr(toks[0]) and s1 not in str(toks[0])
    with pytest.raises(InvalidRequestError) as exc:
        parse_tokens("bad token!")
    assert "bad token!" not in exc.value.message


@pytest.mark.parametrize("region", ["cn", "us", "hk", "jp", "sg"])
async def test_query_headers_and_cookie_per_region(fake_jimeng: FakeJimeng, region: str) -> None:
    s = sid(region)
    fake_jimeng.add_account(s, region=region)
    prefix = "" if region == "cn" else f"{region}-"
    model = "jimeng-4.5"
    async with engine_for(fake_jimeng, prefix + s) as engine:
        job = await engine.imagine(ImageParams(prompt="a cat", model=model, count=1))
        await job.wait()
    gen = fake_jimeng.calls("/mweb/v1/aigc_draft/generate")[0]
    info = REGIONS[Region(region)]
    assert gen.query["aid"] == str(info.aid)
    assert gen.query["region"] == info.region_query
    assert gen.query["da_version"] == DA_VERSION and gen.query["web_version"] == WEB_VERSION
    assert ("webId" in gen.query) is (region == "cn")
    h = gen.headers
    assert h["appid"] == str(info.aid) and h["appvr"] == APP_VERSION and h["pf"] == "7"
    assert h["lan"] == info.lan and h["loc"] == info.loc
    assert h["sign"] == sign("/mweb/v1/aigc_draft/generate", h["device-time"])
    assert f"sessionid={s}" in h["cookie"]
    if region == "cn":
        assert f"_tea_web_id={gen.query['webId']}" in h["cookie"]
    assert "type=image" in h["referer"]
    body = gen.json
    assert isinstance(body["draft_content"], str) and isinstance(body["metrics_extra"], str)
    assert body["http_common_info"] == {"aid": info.aid}


async def test_sign_checked_by_emulator_passes(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.sign_check = True
    fake_jimeng.add_account(sid(1))
    async with engine_for(fake_jimeng, sid(1)) as engine:
        job = await engine.imagine(ImageParams(prompt="a cat", count=1))
        result = await job.wait()
    assert len(result.images) == 1
