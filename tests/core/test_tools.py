"""Image tools (issue #14; PROTOCOL.md §11.1) end to end against the emulator: the wire shape of each post-edit draft,
results of ours referenced by item and history id, uploads, and every refusal before anything is spent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.engine import Engine
from core.errors import GenerationFailedError, InvalidRequestError
from core.media import RefImage
from core.params import ImageParams
from core.tools import Expand, ImageRef, ToolParams, available
from core.wire import Region
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, make_png


def body_of(fake: FakeJimeng, submit_id: str) -> dict[str, Any]:
    return next(r.json for r in fake.calls("aigc_draft/generate") if r.json["submit_id"] == submit_id)


def component(body: dict[str, Any]) -> dict[str, Any]:
    draft = json.loads(body["draft_content"])
    assert draft["min_version"] == "3.2.9" and len(draft["component_list"]) == 1
    return draft["component_list"][0]


async def a_result(engine: Engine) -> tuple[ImageRef, Any]:
    job = await engine.imagine(ImageParams(prompt="a lighthouse", count=2, ratio="1:1"))
    result = await job.wait()
    return ImageRef(job.id, 1), result


async def test_upscale_hd_of_a_result_sends_item_and_history_ids(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    async with make_engine() as engine:
        ref, source = await a_result(engine)
        job = await engine.tool(ToolParams(tool="upscale"), ref)
        result = await job.wait()
    body = body_of(fake_jimeng, result.submit_id)
    assert body["extend"]["root_model"] == "high_aes_general_v50"
    comp = component(body)
    assert comp["generate_type"] == "normal_hd" and comp["gen_type"] == 13 and "metadata" in comp
    param = comp["abilities"]["normal_hd"]["postedit_param"]
    assert param["generate_type"] == 13
    assert param["item_id"] == int(source.images[1].item_id)  # numbers on the wire
    assert param["origin_history_id"] == int(source.history_id)
    assert "origin_image" not in param
    assert comp["abilities"]["gen_option"]["gen_count"] == 1
    assert json.loads(body["metrics_extra"])["originItemId"] == source.images[1].item_id
    assert job.kind == "tool" and result.model == "upscale-hd" and len(result.images) == 1
    src = source.images[1]
    assert (result.images[0].width, result.images[0].height) == (src.width * 2, src.height * 2)
    assert fake_jimeng.jobs[result.submit_id].origin_history_id == source.history_id


async def test_upscale_pro_sends_the_pro_hd_fields(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        result = await (await engine.tool(ToolParams(tool="upscale", mode="pro"), ref)).wait()
    body = body_of(fake_jimeng, result.submit_id)
    comp = component(body)
    ability = comp["abilities"]["pro_hd"]
    assert comp["generate_type"] == "pro_hd" and comp["gen_type"] == 35
    assert ability["postedit_param"]["generate_type"] == 35
    assert ability["hd_scene_type"] == "auto" and ability["resolution_type"] == "2k"
    assert ability["original_image_strength"] == 0.65 and ability["detail_strength"] == 0.65
    scene = json.loads(json.loads(body["metrics_extra"])["sceneOptions"])[0]
    assert scene["scene"] == "ImageProHD" and scene["proHDResolutionType"] == "2k"
    assert max(result.images[0].width, result.images[0].height) == 2160 and result.model == "upscale-pro"


async def test_outpaint_zoom_and_count(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        result = await (await engine.tool(ToolParams(tool="outpaint", zoom=2, count=2), ref)).wait()
    comp = component(body_of(fake_jimeng, result.submit_id))
    ability = comp["abilities"]["painting"]
    assert comp["generate_type"] == "painting" and comp["gen_type"] == 8
    assert ability["postedit_param"]["generate_type"] == 8
    up = ability["up_scale"]
    assert (up["top"], up["bottom"], up["left"], up["right"]) == (0.5, 0.5, 0.5, 0.5)
    assert up["max_size"] == 12960 and up["image_ratio"] == 1
    assert "core_param" not in ability  # no prompt, nothing invented
    assert comp["abilities"]["gen_option"]["gen_count"] == 2 and len(result.images) == 2


async def test_outpaint_to_a_ratio_grows_the_short_sides(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)  # 1:1
        params = ToolParams(tool="outpaint", ratio="16:9", prompt="more sea")
        result = await (await engine.tool(params, ref)).wait()
        with pytest.raises(InvalidRequestError) as ei:
            await engine.tool(ToolParams(tool="outpaint", ratio="1:1"), ref)
    assert ei.value.code == "ratio_unchanged" and ei.value.param == "ratio"
    ability = component(body_of(fake_jimeng, result.submit_id))["abilities"]["painting"]
    up = ability["up_scale"]
    assert up["top"] == up["bottom"] == 0 and up["left"] == up["right"] == pytest.approx((16 / 9 - 1) / 2, abs=1e-3)
    assert up["image_ratio"] == 3  # 16:9 (PROTOCOL.md §6.1)
    assert ability["core_param"]["prompt"] == "more sea"
    assert result.images[0].width > result.images[0].height


async def test_detail_repair_of_a_result(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, source = await a_result(engine)
        result = await (await engine.tool(ToolParams(tool="detail"), ref)).wait()
    comp = component(body_of(fake_jimeng, result.submit_id))
    ability = comp["abilities"]["super_resolution"]
    assert comp["generate_type"] == "super_resolution" and "gen_type" not in comp
    assert ability["postedit_param"]["generate_type"] == 2 and ability["core_param"]["generate_type"] == 0
    assert (result.images[0].width, result.images[0].height) == (source.images[1].width, source.images[1].height)


async def test_upscale_of_an_upload_sends_origin_image(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.tool(ToolParams(tool="upscale"), RefImage.from_bytes(make_png(600, 400, 3)))
        result = await job.wait()
    param = component(body_of(fake_jimeng, result.submit_id))["abilities"]["normal_hd"]["postedit_param"]
    assert "item_id" not in param
    uri = param["origin_image"]["image_uri"]
    assert fake_jimeng.uploaded_images[uri]["width"] == 600
    assert (result.images[0].width, result.images[0].height) == (1200, 800)
    assert job.spec.source is None and job.spec.uploads == 1


async def test_refusals_come_before_anything_is_spent(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        before = len(fake_jimeng.requests)
        cases: list[tuple[ToolParams, Any, str, str]] = [
            (ToolParams(tool="detail"), RefImage.from_bytes(make_png(600, 400)), "detail_needs_result", "image"),
            (ToolParams(tool="upscale"), RefImage.from_bytes(make_png(200, 400)), "image_too_small", "image"),
            (ToolParams(tool="upscale"), RefImage.from_bytes(make_png(4200, 300)), "image_too_large", "image"),
            (ToolParams(tool="upscale"), ImageRef("0" * 16, 0), "image_not_found", "image_id"),
            (ToolParams(tool="upscale"), ImageRef(ref.job_id, 5), "image_not_found", "image_id"),
            (ToolParams(tool="outpaint", zoom=5), ref, "invalid_tool_param", "zoom"),
            (ToolParams(tool="outpaint", zoom=2, ratio="1:1"), ref, "invalid_tool_param", "ratio"),
            (ToolParams(tool="outpaint", expand=Expand()), ref, "invalid_tool_param", "expand"),
            (ToolParams(tool="outpaint", count=9), ref, "invalid_tool_param", "count"),
            (ToolParams(tool="detail", prompt="sharper"), ref, "invalid_tool_param", "prompt"),
            (ToolParams(tool="upscale", zoom=2), ref, "invalid_tool_param", "zoom"),
        ]
        for params, image, code, param in cases:
            with pytest.raises(InvalidRequestError) as ei:
                await engine.tool(params, image)
            assert (ei.value.code, ei.value.param) == (code, param), params
        with pytest.raises(InvalidRequestError) as ei:
            await engine.tool(ToolParams(tool="upscale"), ref, require_owner={"api_owner": "someone else"})
        assert ei.value.code == "image_not_found"
        with pytest.raises(InvalidRequestError) as ei:
            ImageRef.parse("not-an-id")
        assert ei.value.code == "invalid_image_id"
        assert ImageRef.parse(str(ref)) == ref and str(ref).endswith("-2")
        assert not fake_jimeng.calls("aigc_draft/generate")[2:]  # only the source job was ever submitted
        assert not [r for r in fake_jimeng.requests[before:] if r.action or "upload" in r.path]


async def test_a_site_without_the_tools_refuses_them(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine(region="hk") as engine:
        assert available(engine.regions()) == []
        with pytest.raises(InvalidRequestError) as ei:
            engine.check_tool(ToolParams(tool="upscale", mode="pro"))
        assert (ei.value.code, ei.value.param) == ("tool_unavailable", "mode")
        assert ei.value.details == {"capability": "upscale-pro"}
    assert {t.name for t in available({Region.CN})} == {"upscale-hd", "upscale-pro", "outpaint", "detail"}


async def test_a_failed_post_edit_says_it_may_be_billed(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        next(iter(fake_jimeng.accounts.values())).next_outcomes.append(("fail", 30, ""))
        job = await engine.tool(ToolParams(tool="upscale"), ref)
        with pytest.raises(GenerationFailedError) as ei:
            await job.wait()
    # upstream's text, then the note as a sentence of its own
    assert ei.value.message.endswith("请重试. Failed post-edits may still be billed by Jimeng."), ei.value.message


async def test_a_tool_result_can_be_referenced_again(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        outpainted = await engine.tool(ToolParams(tool="outpaint", zoom=1.5), ref)
        await outpainted.wait()
        result = await (await engine.tool(ToolParams(tool="detail"), ImageRef(outpainted.id, 0))).wait()
    assert result.model == "detail" and len(result.images) == 1


async def test_front_end_helpers_size_precheck_and_reroll(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        with pytest.raises(InvalidRequestError) as ei:
            engine.check_tool(ToolParams(tool="upscale"), width=5000, height=3000)
        assert (ei.value.code, ei.value.param) == ("image_too_large", "image_id")
        with pytest.raises(InvalidRequestError) as ei:
            engine.check_tool(ToolParams(tool="outpaint", zoom=3), width=200, height=200)
        assert ei.value.code == "image_too_small"
        assert engine.check_tool(ToolParams(tool="outpaint", ratio="16:9"), width=1024, height=1024).name == "outpaint"
        ref, _ = await a_result(engine)
        job = await engine.tool(ToolParams(tool="outpaint", ratio="9:16", count=2, prompt="sky"), ref)
        await job.wait()
        record = await engine.job_record(job.id)
        assert record is not None
        again = ToolParams.from_spec(record.spec)
        assert again.tool == "outpaint" and again.count == 2 and again.prompt == "sky" and again.expand is not None
        assert again.expand.top > 0 and again.expand.left == 0
        assert ImageRef.from_spec(record.spec) == ref
        second = await engine.tool(again, ImageRef.from_spec(record.spec))
        assert (await second.wait()).images and second.spec.extents == job.spec.extents


async def test_a_result_whose_account_is_gone(fake_jimeng: FakeJimeng, tmp_path: Any) -> None:
    """Upscale uploads our kept copy on another account; detail repair (upstream's own items only) is refused."""
    from tests.core.support import engine_for, sid

    fake_jimeng.add_account(sid("gone-1"))
    fake_jimeng.add_account(sid("gone-2"))
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("gone-1"), data_dir=data) as first:
        job = await first.imagine(ImageParams(prompt="a harbour", count=1, ratio="4:3"))
        source = await job.wait()
        await first.settled(job.id)
    async with engine_for(fake_jimeng, sid("gone-2"), data_dir=data) as second:
        fake_jimeng.invalidate_urls()  # upstream's signed URL is dead: the kept copy is what gets uploaded
        result = await (await second.tool(ToolParams(tool="upscale"), ImageRef(job.id, 0))).wait()
        with pytest.raises(InvalidRequestError) as ei:
            await second.tool(ToolParams(tool="detail"), ImageRef(job.id, 0))
    assert ei.value.code == "source_account_gone"
    body = body_of(fake_jimeng, result.submit_id)
    param = component(body)["abilities"]["normal_hd"]["postedit_param"]
    assert "item_id" not in param and param["origin_image"]["image_uri"] in fake_jimeng.uploaded_images
    assert fake_jimeng.calls("aigc_draft/generate")[-1].sessionid == sid("gone-2")
    src = source.images[0]
    assert (result.images[0].width, result.images[0].height) == (src.width * 2, src.height * 2)


async def test_a_result_without_an_item_id_on_record(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    """An old result stored without upstream ids: upscale uploads the image instead; detail repair cannot."""
    async with make_engine() as engine:
        ref, _ = await a_result(engine)
        record = await engine.job_record(ref.job_id)
        assert record is not None and record.result is not None
        for asset in record.result["assets"]:
            asset["item_id"] = None
        await engine.store.save(record)
        with pytest.raises(InvalidRequestError) as ei:
            await engine.tool(ToolParams(tool="detail"), ref)
        assert (ei.value.code, ei.value.param) == ("image_not_referable", "image_id")
        result = await (await engine.tool(ToolParams(tool="upscale"), ref)).wait()
    param = component(body_of(fake_jimeng, result.submit_id))["abilities"]["normal_hd"]["postedit_param"]
    assert "item_id" not in param and "origin_image" in param


async def test_a_site_whose_catalogue_switches_a_tool_off(
    fake_jimeng: FakeJimeng, upstream_proxy: Any, http: Any
) -> None:
    """get_common_config ``feats`` of the root model saying pro_hd false (PROTOCOL.md §7.4): smart upscale is refused
    before anything is spent; the other tools stay."""
    from core.config import EngineConfig
    from tests.core.conftest import QUICK, session_id

    sid = session_id("feats")
    fake_jimeng.add_account(sid, credits=100)
    entry = {"model_req_key": "high_aes_general_v50", "model_name": "Seedream 5.0 Lite", "feats": {"pro_hd": False}}
    upstream_proxy.replies["/mweb/v1/get_common_config"] = (
        200,
        {"ret": "0", "errmsg": "success", "systime": "1", "logid": "x", "data": {"model_list": [entry]}},
    )
    config = EngineConfig(tokens=sid, upstream_url=upstream_proxy.url, maintenance=False, timing=QUICK)
    async with Engine(http, config) as engine:
        with pytest.raises(InvalidRequestError) as ei:
            engine.check_tool(ToolParams(tool="upscale", mode="pro"))
        assert (ei.value.code, ei.value.details) == ("tool_unavailable", {"capability": "upscale-pro"})
        with pytest.raises(InvalidRequestError):
            await engine.tool(ToolParams(tool="upscale", mode="pro"), ImageRef("0" * 16, 0))
        assert engine.check_tool(ToolParams(tool="upscale")).name == "upscale-hd"
    assert not fake_jimeng.calls("aigc_draft/generate")


async def test_a_post_edit_past_its_deadline_says_it_may_be_billed(fake_jimeng: FakeJimeng) -> None:
    import dataclasses

    from core.errors import JobTimeoutError
    from tests.core.support import FAST, engine_for, sid

    acct = fake_jimeng.add_account(sid("tool-deadline"))
    async with engine_for(fake_jimeng, sid("tool-deadline"), timing=dataclasses.replace(FAST, image_deadline=0.8)) as e:
        acct.next_outcomes.append(("never",))  # taken by the next generate: the job is accepted and never ends
        job = await e.tool(ToolParams(tool="upscale"), RefImage.from_bytes(make_png(600, 400)))
        with pytest.raises(JobTimeoutError, match="may still be billed") as ei:
            await job.wait()
    assert ei.value.submit_id == job.submit_id


async def test_a_result_gone_everywhere_is_a_clear_refusal(fake_jimeng: FakeJimeng, tmp_path: Any) -> None:
    """Its account is gone, no copy was kept and upstream's signed URL expired: nothing to upload, nothing spent."""
    from tests.core.support import engine_for, sid

    fake_jimeng.add_account(sid("lost-1"))
    fake_jimeng.add_account(sid("lost-2"))
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("lost-1"), data_dir=data, keep_results=False) as first:
        job = await first.imagine(ImageParams(prompt="a harbour", count=1))
        await job.wait()
    fake_jimeng.invalidate_urls()
    async with engine_for(fake_jimeng, sid("lost-2"), data_dir=data, keep_results=False) as second:
        with pytest.raises(InvalidRequestError) as ei:
            await second.tool(ToolParams(tool="outpaint"), ImageRef(job.id, 0))
    assert (ei.value.code, ei.value.param) == ("image_not_found", "image_id")
    assert "could not be read again" in ei.value.message
    assert len(fake_jimeng.calls("aigc_draft/generate")) == 1
