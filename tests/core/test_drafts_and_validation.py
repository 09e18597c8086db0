"""Draft shape per model, every ratio × resolution bucket, and validation that never falls back silently."""

from __future__ import annotations

import json

import pytest

from core import ImageParams, InvalidRequestError
from core.catalogue import IMAGE_MODELS
from core.drafts import text_to_image
from core.params import validate_image
from core.registry import Registry
from core.wire import DA_VERSION, IMAGE_RATIO_CODES, RATIOS, REGIONS, SIZES, Region
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

CN = frozenset({Region.CN})
ALL = frozenset(Region)


def _core_param(body: dict) -> tuple[dict, dict]:
    draft = json.loads(body["draft_content"])
    comp = draft["component_list"][0]
    return draft, comp


BUCKETS = [(res, ratio) for res in ("1k", "1.5k", "2k", "4k") for ratio in RATIOS]


@pytest.mark.parametrize(("resolution", "ratio"), BUCKETS)
def test_every_ratio_and_bucket_maps_to_the_table(resolution: str, ratio: str) -> None:
    model = {"1k": "jimeng-4.0", "1.5k": "jimeng-5.0-pro", "2k": "jimeng-4.5", "4k": "jimeng-4.5"}[resolution]
    spec = validate_image(ImageParams(prompt="p", model=model, ratio=ratio, resolution=resolution), Registry(), CN)
    body = text_to_image(spec, "sub-1", Region.CN)
    _, comp = _core_param(body)
    core = comp["abilities"]["generate"]["core_param"]
    assert core["image_ratio"] == IMAGE_RATIO_CODES[ratio]
    info = core["large_image_info"]
    assert (info["width"], info["height"]) == SIZES[resolution][ratio]
    assert info["resolution_type"] == resolution


def test_4k_uses_table_a_and_1k_has_4_3_landscape() -> None:
    assert SIZES["4k"]["16:9"] == (5404, 3040)
    assert SIZES["1k"]["4:3"] == (1024, 768) and SIZES["1k"]["3:4"] == (768, 1024)


@pytest.mark.parametrize(
    ("model", "count", "expect_gen_count"),
    [("jimeng-4.5", None, 4), ("jimeng-4.5", 2, 2), ("jimeng-5.0-pro", None, 2), ("jimeng-3.0", None, None)],
)
def test_t2i_draft_shape(model: str, count: int | None, expect_gen_count: int | None) -> None:
    spec = validate_image(ImageParams(prompt="两只小马", model=model, count=count), Registry(), CN)
    body = text_to_image(spec, "sub-xyz", Region.CN)
    assert body["extend"] == {"root_model": spec.model.key}
    assert body["submit_id"] == "sub-xyz"
    metrics = json.loads(body["metrics_extra"])
    assert metrics["generateId"] == "sub-xyz"
    draft, comp = _core_param(body)
    assert draft["version"] == DA_VERSION and draft["main_component_id"] == comp["id"]
    assert comp["type"] == "image_base_component" and comp["generate_type"] == "generate"
    core = comp["abilities"]["generate"]["core_param"]
    assert core["model"] == spec.model.key and core["prompt"] == "两只小马"
    assert core["generate_type"] == 0 and core["intelligent_ratio"] is False
    gen_option = comp["abilities"]["gen_option"]  # a sibling of generate, as the browser sends it
    assert gen_option.get("gen_count") == expect_gen_count
    # every nested object has a type and an id
    assert all("id" in n and "type" in n for n in (core, core["large_image_info"], gen_option, comp["metadata"]))


def test_arbitrary_size_maps_to_nearest_ratio_and_bucket() -> None:
    reg = Registry()
    spec = validate_image(ImageParams(prompt="p", size="1536x2304"), reg, CN)
    assert (spec.ratio, spec.resolution, spec.width, spec.height) == ("2:3", "2k", 1664, 2496)
    spec = validate_image(ImageParams(prompt="p", width=2688, height=1152), reg, CN)
    assert spec.ratio == "21:9" and spec.resolution == "2k"
    # precedence: ratio > size > width/height
    spec = validate_image(ImageParams(prompt="p", ratio="16:9", size="1024x1024", width=100, height=900), reg, CN)
    assert spec.ratio == "16:9"
    spec = validate_image(ImageParams(prompt="p", size="4096x4096"), reg, CN)
    assert spec.resolution == "4k" and (spec.width, spec.height) == (4096, 4096)


def test_intelligent_ratio_omits_image_ratio() -> None:
    spec = validate_image(ImageParams(prompt="p", ratio="auto"), Registry(), CN)
    core = _core_param(text_to_image(spec, "s", Region.CN))[1]["abilities"]["generate"]["core_param"]
    assert core["intelligent_ratio"] is True and "image_ratio" not in core


@pytest.mark.parametrize(
    ("params", "regions", "param", "words"),
    [
        (ImageParams(prompt="p", model="nanobanana"), CN, "model", "not offered"),
        (ImageParams(prompt="p", model="no-such-model"), CN, "model", "unknown image model"),
        (ImageParams(prompt="p", model="jimeng-3.0", resolution="4k"), CN, "resolution", "does not support 4k"),
        (ImageParams(prompt="p", model="jimeng-4.5", count=9), CN, "n", "1–8"),
        (ImageParams(prompt="p", model="jimeng-5.0-pro", count=5), CN, "n", "1–4"),
        (ImageParams(prompt="p", model="jimeng-3.0", count=2), CN, "n", "one image per job"),
        (ImageParams(prompt="p", ratio="5:4"), CN, "ratio", "unknown ratio"),
        (ImageParams(prompt="p", resolution="8k"), CN, "resolution", "unknown resolution"),
        (ImageParams(prompt="p", width=1024), CN, "height", "both width and height"),
        (ImageParams(prompt="p", size="big"), CN, "size", "2048x2048"),
        (ImageParams(prompt="   "), CN, "prompt", "empty"),
        (ImageParams(prompt="p", sample_strength=1.5), CN, "sample_strength", "between 0 and 1"),
        (ImageParams(prompt="p", model="jimeng-3.0", ratio="auto"), CN, "ratio", "automatic ratio"),
        (ImageParams(prompt="p", model="jimeng-5.0"), frozenset({Region.US}), "model", "not offered"),
    ],
)
def test_validation_errors_are_specific(params: ImageParams, regions: frozenset, param: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as exc:
        validate_image(params, Registry(), regions)
    assert exc.value.param == param
    assert words in exc.value.message


def test_nanobanana_on_us_is_forced_to_1024_square_tagged_2k() -> None:
    spec = validate_image(ImageParams(prompt="p", model="nanobanana", ratio="16:9"), Registry(), ALL)
    core = _core_param(text_to_image(spec, "s", Region.US))[1]["abilities"]["generate"]["core_param"]
    assert core["large_image_info"]["width"] == 1024 and core["large_image_info"]["resolution_type"] == "2k"
    assert core["image_ratio"] == 1


async def test_emulator_renders_the_size_we_asked_for(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid(1))
    async with engine_for(fake_jimeng, sid(1)) as engine:
        job = await engine.imagine(ImageParams(prompt="wide", ratio="21:9", resolution="2k", count=2))
        result = await job.wait()
        assert [(a.width, a.height) for a in result.images] == [(3024, 1296)] * 2
        async with engine.upstream.fetch(result.images[0].url) as resp:
            assert resp.status == 200
            data = await resp.read()
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(data)).size == (3024, 1296)
    fake_job = next(iter(fake_jimeng.jobs.values()))
    assert fake_job.count == 2 and fake_job.image_ratio == 8


async def test_catalogue_adds_new_models_and_keeps_static_ones(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid(1))
    async with engine_for(fake_jimeng, sid(1)) as engine:
        names = {m.name for m in engine.models("image")}
        new = [m for m in engine.models("image") if m.from_catalogue]
        assert new, "the emulator lists one model the static table lacks"
        assert "jimeng-4.5" in names and "jimeng-xl-pro" in names
        job = await engine.imagine(ImageParams(prompt="new model", model=new[0].name, count=1))
        await job.wait()
        assert fake_jimeng.calls("/mweb/v1/get_common_config")


async def test_catalogue_missing_falls_back_to_static_table(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.common_config_enabled = False
    fake_jimeng.add_account(sid(1))
    async with engine_for(fake_jimeng, sid(1)) as engine:
        assert {m.name for m in engine.models("image")} >= {"jimeng-4.5", "jimeng-5.0"}
        assert not any(m.from_catalogue for m in engine.models("image"))


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_draft_shape_for_every_image_model(name: str) -> None:
    spec_model = IMAGE_MODELS[name]
    region = next(iter(sorted(spec_model.regions)))
    spec = validate_image(ImageParams(prompt="p", model=name), Registry(), frozenset({region}))
    body = text_to_image(spec, "sub", region)
    _, comp = _core_param(body)
    core = comp["abilities"]["generate"]["core_param"]
    assert body["extend"]["root_model"] == core["model"] == spec_model.key
    assert body["http_common_info"]["aid"] == REGIONS[region].aid
    info = core["large_image_info"]
    assert info["resolution_type"] in spec_model.resolutions or region in spec_model.forced
    if spec_model.count_options is None:
        assert "gen_count" not in comp["abilities"]["gen_option"]
    else:
        assert comp["abilities"]["gen_option"]["gen_count"] == spec_model.default_count
