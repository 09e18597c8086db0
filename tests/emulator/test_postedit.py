"""The emulator's post-edit tools (PROTOCOL.md §11.1), driven with hand-written drafts (not our client's), so its
checks stand on their own: tool names and codes, the source item, the tool's own fields, and INVENTED refusals."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from emulator import FakeJimeng
from tests.emulator.test_emulator import INTL_QUERY, SID, Api, Clock, _draft, t2i_body

OTHER = "1c7984e8b2c3d4e5f60718293a4b5c6d"


def node(**fields: Any) -> dict[str, Any]:
    return {"type": "", "id": str(uuid.uuid4()), **fields}


def postedit_body(
    gtype: str,
    code: int,
    *,
    gen_type: int | None,
    source: dict[str, Any],
    extra: dict[str, Any] | None = None,
    gen_count: int | None = 1,
    metadata: bool = True,
) -> dict[str, Any]:
    ability = node(postedit_param=node(generate_type=code, **source), **(extra or {}))
    option = node(generate_all=False, **({"gen_count": gen_count} if gen_count is not None else {}))
    comp: dict[str, Any] = {"type": "image_base_component", "id": str(uuid.uuid4()), "min_version": "3.0.2"}
    if gen_type is not None:
        comp["gen_type"] = gen_type
    if metadata:
        comp["metadata"] = node(created_platform=3, created_time_in_ms="1771893826296")
    comp.update(aigc_mode="workbench", generate_type=gtype, abilities=node(**{gtype: ability}, gen_option=option))
    return {
        "extend": {"root_model": "high_aes_general_v50"},
        "submit_id": str(uuid.uuid4()),
        "metrics_extra": "{}",
        "draft_content": _draft(comp, min_version="3.2.9"),
        "http_common_info": {"aid": 513695},
    }


@pytest.fixture
async def env() -> AsyncIterator[tuple[FakeJimeng, Api, Clock]]:
    clock = Clock()
    fake = FakeJimeng(clock=clock, image_seconds=1.0)
    await fake.start()
    fake.add_account(SID, credits=100)
    fake.add_account(OTHER, credits=100)
    async with aiohttp.ClientSession() as http:
        try:
            yield fake, Api(http, fake), clock
        finally:
            await fake.close()


async def _source(api: Api, clock: Clock) -> tuple[str, dict[str, Any]]:
    """A finished 2-image text-to-image job: (its history id, its first item)."""
    res = await api.generate(t2i_body(width=2048, height=2048, gen_count=2))
    assert res["ret"] == "0", res
    hid = res["data"]["aigc_data"]["history_record_id"]
    clock.t += 5
    record = (await api.history(history_ids=[hid]))[hid]
    return hid, record["item_list"][0]


def _ref(hid: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"item_id": int(item["common_attr"]["id"]), "origin_history_id": int(hid)}


async def _finished(api: Api, clock: Clock, res: dict[str, Any]) -> dict[str, Any]:
    assert res["ret"] == "0", res
    hid = res["data"]["aigc_data"]["history_record_id"]
    clock.t += 5
    return dict((await api.history(history_ids=[hid]))[hid])


@pytest.mark.parametrize(
    ("gtype", "code", "gen_type", "extra", "size"),
    [
        ("normal_hd", 13, 13, {}, (4096, 4096)),
        ("pro_hd", 35, 35, {"hd_scene_type": "auto", "resolution_type": "2k"}, (2160, 2160)),
        ("pro_hd", 35, None, {}, (2160, 2160)),  # gen_type is sometimes absent in captures
        ("super_resolution", 2, None, {"core_param": {"type": "", "id": "x", "generate_type": 0}}, (2048, 2048)),
    ],
)
async def test_each_tool_on_an_item(
    env: tuple[FakeJimeng, Api, Clock],
    gtype: str,
    code: int,
    gen_type: int | None,
    extra: dict[str, Any],
    size: tuple[int, int],
) -> None:
    fake, api, clock = env
    hid, item = await _source(api, clock)
    before = fake.accounts[SID].total
    record = await _finished(
        api,
        clock,
        await api.generate(postedit_body(gtype, code, gen_type=gen_type, source=_ref(hid, item), extra=extra)),
    )
    assert record["status"] == 50 and record["generate_type"] == code
    assert record["origin_history_record_id"] == hid
    big = record["item_list"][0]["image"]["large_images"][0]
    assert (big["width"], big["height"]) == size and len(record["item_list"]) == 1
    assert before - fake.accounts[SID].total == (1 if gtype == "pro_hd" else 0)  # AICF's ledger


async def test_outpaint_canvas_and_default_count(env: tuple[FakeJimeng, Api, Clock]) -> None:
    _, api, clock = env
    hid, item = await _source(api, clock)
    up = node(top=0.25, bottom=0.25, left=0.0, right=0.0, max_size=12960, image_ratio=2)
    body = postedit_body("painting", 8, gen_type=8, source=_ref(hid, item), extra={"up_scale": up}, gen_count=None)
    record = await _finished(api, clock, await api.generate(body))
    assert len(record["item_list"]) == 4  # no gen_count: upstream's default 4 (PROTOCOL.md §11.1)
    big = record["item_list"][0]["image"]["large_images"][0]
    assert (big["width"], big["height"]) == (2048, 3072)


async def test_detail_repair_of_an_upload_is_accepted_then_fails(env: tuple[FakeJimeng, Api, Clock]) -> None:
    fake, api, clock = env
    uri = "tos-cn-i-tb4s082cfz/" + "ab" * 16
    fake.uploaded_images[uri] = {"sessionid": SID, "width": 800, "height": 600, "format": "png"}
    image = {"type": "image", "id": "i", "source_from": "upload", "image_uri": uri, "uri": uri}
    extra = {"core_param": {"type": "", "id": "x", "generate_type": 0}}
    body = postedit_body("super_resolution", 2, gen_type=None, source={"origin_image": image}, extra=extra)
    res = await api.generate(body)
    assert res["ret"] == "0"
    hid = res["data"]["aigc_data"]["history_record_id"]
    clock.t += 5
    assert (await api.history(history_ids=[hid]))[hid]["status"] == 30


@pytest.mark.parametrize(
    "damage",
    [
        "code",
        "gen_type",
        "no_ability",
        "no_metadata",
        "other_account",
        "item_as_string",
        "no_source",
        "no_up_scale",
        "no_core_param",
    ],
)
async def test_malformed_post_edit_drafts_are_refused(env: tuple[FakeJimeng, Api, Clock], damage: str) -> None:
    fake, api, clock = env
    hid, item = await _source(api, clock)
    other = Api(api.http, fake, sid=OTHER)
    source = _ref(hid, item)
    gtype, code, gen_type, extra = "normal_hd", 13, 13, {}
    expected = "1000"  # INVENTED (switch invalid_ret): upstream's codes for these are not known
    if damage == "code":
        code = 2
    elif damage == "gen_type":
        gen_type = 8
    elif damage == "item_as_string":
        source = {k: str(v) for k, v in source.items()}
    elif damage == "no_source":
        source = {}
    elif damage in ("no_up_scale", "no_core_param"):
        gtype, code, gen_type = ("painting", 8, 8) if damage == "no_up_scale" else ("super_resolution", 2, None)
    body = postedit_body(gtype, code, gen_type=gen_type, source=source, extra=extra, metadata=damage != "no_metadata")
    if damage == "no_ability":
        draft = json.loads(body["draft_content"])
        draft["component_list"][0]["abilities"].pop(gtype)
        body["draft_content"] = json.dumps(draft)
        expected = "1001"
    res = await (other if damage == "other_account" else api).generate(body)
    assert res["ret"] == expected, (damage, res)


async def test_post_edits_are_refused_on_an_international_account(env: tuple[FakeJimeng, Api, Clock]) -> None:
    fake, api, _ = env
    hk = "2d8a95f9c3d4e5f60718293a4b5c6d7e"
    fake.add_account(hk, region="hk")
    body = postedit_body("normal_hd", 13, gen_type=13, source={"item_id": 1, "origin_history_id": 2})
    body["http_common_info"] = {"aid": 513641}
    res = await Api(api.http, fake, sid=hk, query=INTL_QUERY).generate(body)
    assert res["ret"] == "1000"


async def _with(**switches: Any) -> tuple[FakeJimeng, Clock]:
    clock = Clock()
    fake = FakeJimeng(clock=clock, image_seconds=1.0, **switches)
    await fake.start()
    fake.add_account(SID, credits=100)
    fake.add_account(OTHER, credits=100)
    return fake, clock


@pytest.mark.parametrize("strict", [True, False])
async def test_switch_postedit_strict(strict: bool) -> None:
    fake, clock = await _with(postedit_strict=strict)
    try:
        async with aiohttp.ClientSession() as http:
            api, other = Api(http, fake), Api(http, fake, sid=OTHER)
            hid, item = await _source(api, clock)
            foreign = await other.generate(postedit_body("normal_hd", 13, gen_type=13, source=_ref(hid, item)))
            bare = await api.generate(
                postedit_body("normal_hd", 13, gen_type=13, source=_ref(hid, item), metadata=False)
            )
    finally:
        await fake.close()
    assert [foreign["ret"], bare["ret"]] == (["1000", "1000"] if strict else ["0", "0"])


@pytest.mark.parametrize(("record_type", "expected"), [(True, 35), (False, 1)])
async def test_switch_postedit_record_type(record_type: bool, expected: int) -> None:
    fake, clock = await _with(postedit_record_type=record_type)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, fake)
            hid, item = await _source(api, clock)
            res = await api.generate(postedit_body("pro_hd", 35, gen_type=35, source=_ref(hid, item)))
            record = await _finished(api, clock, res)
    finally:
        await fake.close()
    assert record["generate_type"] == expected


@pytest.mark.parametrize(("edge", "size"), [(4000.0, 4000), (0.0, 5734)])
async def test_switch_outpaint_max_edge(edge: float, size: int) -> None:
    fake, clock = await _with(outpaint_max_edge=edge)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, fake)
            hid, item = await _source(api, clock)
            up = node(top=0.9, bottom=0.9, left=0.9, right=0.9, max_size=12960, image_ratio=1)
            body = postedit_body("painting", 8, gen_type=8, source=_ref(hid, item), extra={"up_scale": up})
            record = await _finished(api, clock, await api.generate(body))
    finally:
        await fake.close()
    big = record["item_list"][0]["image"]["large_images"][0]
    assert (big["width"], big["height"]) == (size, size)
