"""Generate bodies of the image tools (PROTOCOL.md §11.1): upscale (``normal_hd``), smart upscale (``pro_hd``),
outpaint (``painting``) and detail repair (``super_resolution``).

One ``image_base_component`` whose ``generate_type`` names the tool; the tool's fields and its ``postedit_param`` sit
under ``abilities.<tool>``; the source is either an item already in the account (``item_id`` + ``origin_history_id``,
numbers) or an uploaded image (``origin_image``).
"""

from __future__ import annotations

import json
from typing import Any

from core.drafts import UploadedImage, _body, _draft, _image_ref, _metadata, _node, new_id
from core.tool_spec import ToolSpec
from core.wire import (
    DRAFT_MIN_VERSION_IMAGE,
    DRAFT_MIN_VERSION_POSTEDIT,
    OUTPAINT_MAX_SIZE,
    POSTEDIT_ROOT_MODEL,
    POSTEDIT_WIRE,
    PRO_HD_FIELDS,
    PRO_HD_SCENE,
    Region,
)


def _postedit_param(spec: ToolSpec, code: int, image: UploadedImage | None) -> dict[str, Any]:
    param = _node(generate_type=code)
    if spec.item_id and spec.history_id:
        param["item_id"] = int(spec.item_id)  # numbers on the wire (PROTOCOL.md §11.1)
        param["origin_history_id"] = int(spec.history_id)
    elif image is not None:
        param["origin_image"] = _image_ref(image, title=True)
    else:
        raise ValueError("a tool spec needs an item reference or an uploaded image")
    return param


def _ability(spec: ToolSpec, code: int, image: UploadedImage | None) -> dict[str, Any]:
    ability = _node(postedit_param=_postedit_param(spec, code, image))
    if spec.model.name == "upscale-pro":
        ability.update(PRO_HD_FIELDS)
    elif spec.model.name == "outpaint":
        top, bottom, left, right = spec.extents
        ability["up_scale"] = _node(
            top=top, bottom=bottom, left=left, right=right, max_size=OUTPAINT_MAX_SIZE, image_ratio=spec.image_ratio
        )
        if spec.prompt:
            # Not captured: where the web app puts an outpaint prompt (PROTOCOL.md §11.1). Sent like other tools'
            # core_param; without a prompt nothing is added.
            ability["core_param"] = _node(prompt=spec.prompt, generate_type=0)
    elif spec.model.name == "detail":
        ability["core_param"] = _node(generate_type=0)  # detail repair needs it (PROTOCOL.md §11.1)
    return ability


def tool_body(spec: ToolSpec, submit_id: str, region: Region, uploaded: list[UploadedImage]) -> dict[str, Any]:
    """The generate body of a tool job on an account of ``region`` (its upload, if the source is one)."""
    name, gen_type, code = POSTEDIT_WIRE[spec.model.name]
    image = uploaded[0] if uploaded else None
    component: dict[str, Any] = {
        "type": "image_base_component",
        "id": new_id(),
        "min_version": DRAFT_MIN_VERSION_IMAGE,
        "aigc_mode": "workbench",
    }
    if gen_type is not None:
        component["gen_type"] = gen_type
    component.update(
        metadata=_metadata(),
        generate_type=name,
        abilities=_node(
            **{name: _ability(spec, code, image)}, gen_option=_node(gen_count=spec.count, generate_all=False)
        ),
    )
    metrics: dict[str, Any] = {
        "promptSource": "custom",
        "generateCount": spec.count,
        "generateId": submit_id,
        "templateId": "0",
        "enterFrom": "click",
        "isRegenerate": False,
        "isBoxSelect": False,
        "isCutout": False,
    }
    if spec.item_id:
        metrics["originItemId"] = spec.item_id
    if spec.model.name == "upscale-pro":
        scene = {
            "type": "image",
            "scene": PRO_HD_SCENE,
            "proHDResolutionType": PRO_HD_FIELDS["resolution_type"],
            "reportParams": {"enterSource": "generate", "extraVipFunctionKey": spec.item_id or ""},
        }
        metrics["sceneOptions"] = json.dumps([scene], ensure_ascii=False, separators=(",", ":"))
    draft = _draft(component, DRAFT_MIN_VERSION_POSTEDIT)
    return _body(POSTEDIT_ROOT_MODEL, submit_id, region, draft, metrics)
