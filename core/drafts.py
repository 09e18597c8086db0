"""Generate bodies (PROTOCOL.md §5): text-to-image (PROTOCOL.md §5.3), blend (PROTOCOL.md §5.4, AICF layout), classic video (PROTOCOL.md §5.6).

``draft_content`` and ``metrics_extra`` are JSON *strings* inside the JSON body (PROTOCOL.md §5.1); ids are fresh uuid4s.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.catalogue import DRAFT_MIN_VERSION_SEEDANCE25, SEEDANCE25_MIN_FEATURES
from core.params import ImageSpec, VideoSpec
from core.wire import (
    DA_VERSION,
    DRAFT_MIN_VERSION_BLEND,
    DRAFT_MIN_VERSION_IMAGE,
    DRAFT_MIN_VERSION_VIDEO,
    REGIONS,
    VIDEO_COMPONENT_MIN_VERSION,
    VIDEO_FPS,
    Region,
)


@dataclass(frozen=True, slots=True)
class UploadedImage:
    """An image already in Jimeng's store (from ImageX upload): its URI and, when known, its size and format."""

    uri: str
    width: int = 0
    height: int = 0
    format: str = ""


def new_id() -> str:
    return str(uuid.uuid4())


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _node(**fields: Any) -> dict[str, Any]:
    """Every nested object carries ``type`` and a fresh ``id`` (PROTOCOL.md §5.2)."""
    return {"type": "", "id": new_id(), **fields}


def _metadata() -> dict[str, Any]:
    return _node(
        created_platform=3,
        created_platform_version="",
        created_time_in_ms=str(int(time.time() * 1000)),
        created_did="",
    )


def _draft(component: dict[str, Any], min_version: str, min_features: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "type": "draft",
        "id": new_id(),
        "min_version": min_version,
        "min_features": list(min_features),
        "is_from_tsn": True,
        "version": DA_VERSION,
        "main_component_id": component["id"],
        "component_list": [component],
    }


def _body(
    root_model: str, submit_id: str, region: Region, draft: dict[str, Any], metrics: dict[str, Any], **extend: Any
) -> dict[str, Any]:
    return {
        "extend": {"root_model": root_model, **extend},
        "submit_id": submit_id,
        "metrics_extra": _dumps(metrics),
        "draft_content": _dumps(draft),
        "http_common_info": {"aid": REGIONS[region].aid},
    }


def _gen_option(spec: ImageSpec) -> dict[str, Any]:
    if spec.model.count_options is None:
        return _node(generate_all=False)
    return _node(gen_count=spec.count, generate_all=False)


def _large_image_info(spec: ImageSpec) -> dict[str, Any]:
    return _node(height=spec.height, width=spec.width, resolution_type=spec.resolution)


def text_to_image(spec: ImageSpec, submit_id: str, region: Region) -> dict[str, Any]:
    spec = spec.for_region(region)
    core_param: dict[str, Any] = _node(
        model=spec.model.key,
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        seed=spec.seed,
        sample_strength=spec.sample_strength,
    )
    if not spec.intelligent_ratio:
        core_param["image_ratio"] = spec.ratio_code
    core_param.update(
        large_image_info=_large_image_info(spec), intelligent_ratio=spec.intelligent_ratio, generate_type=0
    )
    cid = new_id()
    component = {
        "type": "image_base_component",
        "id": cid,
        "min_version": DRAFT_MIN_VERSION_IMAGE,
        "aigc_mode": "workbench",
        "metadata": _metadata(),
        "generate_type": "generate",
        "abilities": _node(generate=_node(core_param=core_param), gen_option=_gen_option(spec)),
    }
    metrics = {
        "promptSource": "custom",
        "generateCount": spec.count,
        "generateId": submit_id,
        "templateId": "0",
        "enterFrom": "click",
        "isRegenerate": False,
        "isBoxSelect": False,
        "isCutout": False,
    }
    return _body(spec.model.key, submit_id, region, _draft(component, DRAFT_MIN_VERSION_IMAGE), metrics)


def _image_ref(img: UploadedImage, *, title: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "type": "image",
        "id": new_id(),
        "source_from": "upload",
        "platform_type": 1,
        "name": "",
        "image_uri": img.uri,
        "width": img.width,
        "height": img.height,
        "format": img.format,
        "uri": img.uri,
    }
    if title:
        ref["title"] = ""
    return ref


def blend(spec: ImageSpec, images: Sequence[UploadedImage], submit_id: str, region: Region) -> dict[str, Any]:
    """Multi-reference composition in the real web client's layout (one ``byte_edit`` ability holding every URI)."""
    spec = spec.for_region(region)
    core_param = _node(
        model=spec.model.key,
        prompt=spec.prompt,
        sample_strength=spec.sample_strength,
        image_ratio=spec.ratio_code,
        large_image_info=_large_image_info(spec),
    )
    ability = _node(
        name="byte_edit",
        image_uri_list=[img.uri for img in images],
        image_list=[_image_ref(img) for img in images],
        strength=spec.sample_strength,
    )
    blend_node = _node(
        min_features=[],
        core_param=core_param,
        ability_list=[ability],
        history_option=_node(),
        prompt_placeholder_info_list=[_node(ability_index=0)],
        postedit_param=_node(generate_type=0),
    )
    cid = new_id()
    component = {
        "type": "image_base_component",
        "id": cid,
        "min_version": DRAFT_MIN_VERSION_IMAGE,
        "aigc_mode": "workbench",
        "gen_type": 12,
        "generate_type": "blend",
        "abilities": _node(blend=blend_node, gen_option=_gen_option(spec)),
    }
    metrics = {
        "templateId": "",
        "generateCount": spec.count,
        "promptSource": "custom",
        "templateSource": "",
        "lastRequestId": "",
        "originRequestId": "",
    }
    return _body(spec.model.key, submit_id, region, _draft(component, DRAFT_MIN_VERSION_BLEND), metrics)


def video(
    spec: VideoSpec,
    submit_id: str,
    region: Region,
    *,
    first_frame: UploadedImage | None = None,
    last_frame: UploadedImage | None = None,
) -> dict[str, Any]:
    """Text-to-video, image-to-video (first frame) or first+last frame (PROTOCOL.md §5.6)."""
    model = spec.model
    commerce: dict[str, Any] = {
        "benefit_type": spec.benefit_type,
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    if model.commerce_amount:
        commerce = {"amount": spec.duration, **commerce}
    scene: dict[str, Any] = {"type": "video", "scene": "BasicVideoGenerateButton"}
    function_key = model.key
    if model.sends_resolution:
        scene["resolution"] = spec.resolution
        function_key = f"{model.key}-{spec.resolution}"
    scene.update(
        modelReqKey=model.key,
        videoDuration=spec.duration,
        materialTypes=[],
        reportParams={
            "enterSource": "generate",
            "vipSource": "generate",
            "extraVipFunctionKey": function_key,
            "useVipFunctionDetailsReporterHoc": True,
        },
    )
    mode = "first_last_frames" if first_frame or not model.frames else model.function_mode
    metrics = {
        "promptSource": "custom",
        "isDefaultSeed": 1,
        "originSubmitId": submit_id,
        "isRegenerate": False,
        "enterFrom": "click",
        "position": "page_bottom_box",
        "functionMode": mode if model.frames else model.function_mode,
        "sceneOptions": _dumps([scene]),
    }
    if model.draft_mode:  # Seedance 2.5 样片 (PROTOCOL.md §11.4)
        metrics["videoStage"] = "draft"
    metrics_str = _dumps(metrics)
    gen_input: dict[str, Any] = _node(
        min_version=DRAFT_MIN_VERSION_VIDEO,
        prompt=spec.prompt,
        video_mode=2,
        fps=VIDEO_FPS,
        duration_ms=spec.duration * 1000,
    )
    if model.sends_resolution:
        gen_input["resolution"] = spec.resolution
    if first_frame is not None:
        gen_input["first_frame_image"] = _image_ref(first_frame)
    if last_frame is not None:
        gen_input["end_frame_image"] = _image_ref(last_frame)
    if model.draft_mode:
        gen_input["is_draft_mode"] = True
    gen_input["idip_meta_list"] = []
    t2v = _node(
        video_gen_inputs=[gen_input], video_aspect_ratio=spec.ratio, seed=spec.seed, model_req_key=model.key, priority=0
    )
    cid = new_id()
    component = {
        "type": "video_base_component",
        "id": cid,
        "min_version": VIDEO_COMPONENT_MIN_VERSION,
        "aigc_mode": "workbench",
        "metadata": _metadata(),
        "generate_type": "gen_video",
        "abilities": _node(gen_video=_node(text_to_video_params=t2v, video_task_extra=metrics_str)),
        "process_type": 1,
    }
    body = _body(
        model.key,
        submit_id,
        region,
        _draft(component, DRAFT_MIN_VERSION_SEEDANCE25, SEEDANCE25_MIN_FEATURES)
        if model.draft_mode
        else _draft(component, DRAFT_MIN_VERSION_VIDEO),
        {},
        m_video_commerce_info=commerce,
        m_video_commerce_info_list=[dict(commerce)],
    )
    body["metrics_extra"] = metrics_str
    return body
