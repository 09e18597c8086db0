"""Images through the official SDK: generate (url, b64_json), edit (multipart), compositions."""

from __future__ import annotations

import base64

import aiohttp
import openai
import pytest

from tests.api.conftest import USER_SID, Api, image_size, png


async def test_generate_url(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.images.generate(model="jimeng-4.5", prompt="a red fox in snow", n=2, size="2048x2048")
    assert res.data is not None and len(res.data) == 2
    async with aiohttp.ClientSession() as http:
        for item in res.data:
            assert item.url and item.b64_json is None
            async with http.get(item.url) as resp:
                assert resp.status == 200
                assert image_size(await resp.read())[:2] == (2048, 2048)


async def test_generate_b64_json_streams_real_images(client: openai.AsyncOpenAI) -> None:
    res = await client.images.generate(
        model="jimeng-4.0", prompt="a lighthouse", n=3, size="1024x1024", response_format="b64_json"
    )
    assert res.data is not None and len(res.data) == 3
    sizes = {image_size(base64.b64decode(item.b64_json or ""))[:2] for item in res.data}
    assert sizes == {(1024, 1024)}
    assert all(item.url is None for item in res.data)


async def test_ratio_beats_size_beats_width_height(client: openai.AsyncOpenAI, bearer_api: Api) -> None:
    res = await client.images.generate(
        model="jimeng-4.5",
        prompt="wide",
        n=1,
        size="2048x2048",
        extra_body={"ratio": "16:9", "width": 1000, "height": 3000},
    )
    assert res.size == "2560x1440"


async def test_edit_multipart(client: openai.AsyncOpenAI) -> None:
    res = await client.images.edit(
        model="jimeng-4.5",
        image=[("a.png", png(), "image/png"), ("b.png", png(colour=(1, 2, 3)), "image/png")],
        prompt="merge these two",
        n=1,
    )
    assert res.data and len(res.data) == 1 and res.data[0].url
    raw = res.model_extra or {}
    assert raw.get("input_images") == 2


async def test_edit_single_image_b64(client: openai.AsyncOpenAI) -> None:
    res = await client.images.edit(
        model="jimeng-4.0",
        image=("a.png", png(), "image/png"),
        prompt="make it blue",
        n=1,
        size="1024x1024",
        response_format="b64_json",
    )
    assert res.data and image_size(base64.b64decode(res.data[0].b64_json or ""))[:2] == (1024, 1024)


async def test_edit_with_mask_is_a_clear_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        await client.images.edit(image=("a.png", png(), "image/png"), mask=("m.png", png(), "image/png"), prompt="x")
    assert exc.value.param == "mask"
    assert "mask" in exc.value.message


async def test_compositions_json_with_url_and_data_url(bearer_api: Api) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    body = {"model": "jimeng-4.5", "prompt": "blend", "images": [bearer_api.file("a.jpg"), {"url": data_url}], "n": 1}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{bearer_api.url}/v1/images/compositions", json=body, headers={"Authorization": f"Bearer {USER_SID}"}
        ) as resp:
            doc = await resp.json()
            assert resp.status == 200, doc
    assert doc["input_images"] == 2 and doc["composition_type"] == "multi_image_synthesis"
    assert len(doc["data"]) == 1 and doc["data"][0]["url"].startswith("http")
    assert len(bearer_api.fake.uploaded_images) == 2
