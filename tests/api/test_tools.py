"""Image tools through the official SDK (issue #14): every image result carries an ``id``; /v1/images/upscale,
/outpaint and /detail take it (or an image) and answer an images response; bad input is a 4xx naming the parameter."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import openai
import pytest
from openai.types import ImagesResponse

from tests.api.conftest import USER_SID, Api, image_size, png


def ids_of(res: ImagesResponse) -> list[str]:
    return [getattr(item, "id", None) or "" for item in res.data or []]


def draft_component(api: Api, submit_id: str) -> dict[str, Any]:
    body = next(r.json for r in api.fake.calls("aigc_draft/generate") if r.json["submit_id"] == submit_id)
    return json.loads(body["draft_content"])["component_list"][0]


def last_submit(api: Api) -> str:
    return str(api.fake.calls("aigc_draft/generate")[-1].json["submit_id"])


async def test_every_image_result_carries_an_id(client: openai.AsyncOpenAI) -> None:
    res = await client.images.generate(model="jimeng-4.5", prompt="a fox", n=2, size="2048x2048")
    ids = ids_of(res)
    assert len(ids) == 2 and ids[0].endswith("-1") and ids[1].endswith("-2") and ids[0][:-2] == ids[1][:-2]
    b64 = await client.images.generate(model="jimeng-4.5", prompt="a fox", n=1, response_format="b64_json")
    assert ids_of(b64)[0].endswith("-1") and b64.data and b64.data[0].b64_json


async def test_upscale_a_result_by_id(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.images.generate(model="jimeng-4.5", prompt="a fox", n=2, size="2048x2048")
    image_id = ids_of(res)[1]
    up = await client.post("/images/upscale", body={"image_id": image_id}, cast_to=ImagesResponse)
    assert up.data and len(up.data) == 1 and up.size == "4096x4096"
    extra = up.model_extra or {}
    assert extra["tool"] == "upscale-hd" and extra["source_image_id"] == image_id
    comp = draft_component(bearer_api, last_submit(bearer_api))
    assert comp["generate_type"] == "normal_hd" and comp["abilities"]["normal_hd"]["postedit_param"]["item_id"]
    async with aiohttp.ClientSession() as http, http.get(up.data[0].url or "") as resp:
        assert image_size(await resp.read())[:2] == (4096, 4096)
    # the tool's own result has an id too, and can be used again
    pro = await client.post("/images/upscale", body={"image_id": ids_of(up)[0], "mode": "pro"}, cast_to=ImagesResponse)
    assert (pro.model_extra or {})["tool"] == "upscale-pro"
    assert draft_component(bearer_api, last_submit(bearer_api))["generate_type"] == "pro_hd"


async def test_outpaint_with_extra_body_on_an_uploaded_image(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png(600, 400)).decode()
    res = await client.post(
        "/images/outpaint",
        body={"image": data_url, "expand": {"left": 0.5, "right": 0.5}, "n": 2, "prompt": "a wider beach"},
        cast_to=ImagesResponse,
    )
    assert res.data and len(res.data) == 2
    comp = draft_component(bearer_api, last_submit(bearer_api))
    painting = comp["abilities"]["painting"]
    assert painting["up_scale"]["left"] == 0.5 and painting["up_scale"]["top"] == 0
    assert "origin_image" in painting["postedit_param"] and comp["abilities"]["gen_option"]["gen_count"] == 2
    assert res.size == "1200x400"
    # {"url": ...} as compositions take it: fetched and measured (the file server's images are ~100 px: too small)
    with pytest.raises(openai.BadRequestError) as ei:
        await client.post("/images/upscale", body={"image": {"url": bearer_api.file("p.png")}}, cast_to=ImagesResponse)
    err = ei.value.body
    assert isinstance(err, dict) and (err["code"], err["param"]) == ("image_too_small", "image")


async def test_outpaint_multipart_file_and_ratio(bearer_api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("image", png(512, 512), filename="a.png", content_type="image/png")
    form.add_field("ratio", "16:9")
    headers = {"Authorization": f"Bearer {USER_SID}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bearer_api.url}/v1/images/outpaint", data=form, headers=headers) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200, body
    assert body["data"][0]["id"] and body["tool"] == "outpaint"


async def test_detail_repair_by_id_and_refusal_of_an_upload(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.images.generate(model="jimeng-4.5", prompt="a fox", n=1)
    out = await client.post("/images/detail", body={"image_id": ids_of(res)[0]}, cast_to=ImagesResponse)
    assert out.data and len(out.data) == 1
    assert draft_component(bearer_api, last_submit(bearer_api))["generate_type"] == "super_resolution"
    before = len(bearer_api.fake.requests)
    with pytest.raises(openai.BadRequestError) as ei:
        await client.post("/images/detail", body={"image": bearer_api.file("x.png")}, cast_to=ImagesResponse)
    err = ei.value.body
    assert isinstance(err, dict) and err["code"] == "detail_needs_result" and err["param"] == "image"
    assert len(bearer_api.fake.requests) == before


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "param"),
    [
        ("/images/upscale", {}, 400, "missing_required_parameter", "image"),
        ("/images/upscale", {"image_id": "nope"}, 400, "invalid_image_id", "image_id"),
        ("/images/upscale", {"image_id": "0123456789abcdef-1"}, 404, "image_not_found", "image_id"),
        ("/images/upscale", {"image_id": "0123456789abcdef-1", "image": "x"}, 400, "invalid_value", "image_id"),
        ("/images/upscale", {"image_id": "0123456789abcdef-1", "mode": "ultra"}, 400, "invalid_value", "mode"),
        ("/images/upscale", {"image_id": "0123456789abcdef-1", "scale": 4}, 400, "unknown_parameter", "scale"),
        ("/images/outpaint", {"image_id": "0123456789abcdef-1", "zoom": 9}, 400, "invalid_tool_param", "zoom"),
        ("/images/outpaint", {"image_id": "0123456789abcdef-1", "ratio": "5:1"}, 400, "invalid_tool_param", "ratio"),
        (
            "/images/outpaint",
            {"image_id": "0123456789abcdef-1", "expand": {"up": 1}},
            400,
            "invalid_tool_param",
            "expand",
        ),
        ("/images/outpaint", {"image_id": "0123456789abcdef-1", "n": 7}, 400, "invalid_tool_param", "count"),
        ("/images/detail", {}, 400, "missing_required_parameter", "image_id"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_parameter(
    client: openai.AsyncOpenAI, path: str, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    with pytest.raises(openai.APIStatusError) as ei:
        await client.post(path, body=body, cast_to=ImagesResponse)
    assert ei.value.status_code == status
    err = ei.value.body
    assert isinstance(err, dict) and (err["code"], err["param"]) == (code, param), err


async def test_too_small_an_image_is_refused_before_any_upload(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    tiny = base64.b64encode(png(100, 80)).decode()
    before = len(bearer_api.fake.requests)
    with pytest.raises(openai.BadRequestError) as ei:
        await client.post("/images/upscale", body={"image": tiny}, cast_to=ImagesResponse)
    err = ei.value.body
    assert isinstance(err, dict) and (err["code"], err["param"]) == ("image_too_small", "image")
    assert len(bearer_api.fake.requests) == before


async def test_someone_elses_image_is_not_found(make_api: Any) -> None:
    from tests.api.conftest import KEY_A, KEY_B, POOL_SID

    async with make_api(keys=f"{KEY_A},{KEY_B}", pool=POOL_SID) as api:
        async with api.client(KEY_A) as a, api.client(KEY_B) as b:
            res = await a.images.generate(model="jimeng-4.5", prompt="mine", n=1)
            with pytest.raises(openai.NotFoundError):
                await b.post("/images/upscale", body={"image_id": ids_of(res)[0]}, cast_to=ImagesResponse)
            ok = await a.post("/images/upscale", body={"image_id": ids_of(res)[0]}, cast_to=ImagesResponse)
            assert ok.data
