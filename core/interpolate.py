"""Frame interpolation (补帧, 24 → 60 fps; PROTOCOL.md §11.3): of a video result of ours, or of an uploaded video.

On a result the draft replays the source job's own component unchanged and adds a child pointing at it
(``parent_id``, ``video_ref_params`` with the item and history ids), so it must run on the account that made the
source. On an upload the one component carries the VOD ``vid``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.catalogue import (
    DRAFT_MIN_VERSION_INTERPOLATE,
    INTERPOLATE_BENEFIT,
    INTERPOLATE_PROCESS_TYPE,
    INTERPOLATE_SCENE,
    INTERPOLATE_TARGET_FPS,
)
from core.drafts import _body, _dumps, _metadata, _node, new_id
from core.errors import InvalidRequestError, JimengError
from core.jobs import JobRecord
from core.omni import Material, MediaSpec
from core.results import item_id as item_id_of
from core.transport import Upstream
from core.wire import (
    DA_VERSION,
    DRAFT_MIN_VERSION_VIDEO,
    PATH_HISTORY_BY_IDS,
    VIDEO_COMPONENT_MIN_VERSION,
    VIDEO_FPS,
    Region,
)


@dataclass(frozen=True, slots=True)
class InterpolateSpec(MediaSpec):
    source_job: str = ""  # our job id, when interpolating one of our results
    item_id: str = ""
    history_id: str = ""
    source_submit_id: str = ""
    source_component: str = ""  # the source's main component, JSON, replayed unchanged
    source_ms: int = 0  # the source video's length
    source_vid: str = ""  # the source item's VOD vid (``video.video_id``), when upstream still lists it

    @property
    def needs_upload(self) -> bool:
        return not self.source_job

    @property
    def benefit_type(self) -> str:
        return INTERPOLATE_BENEFIT

    def body(self, submit_id: str, region: Region, materials: Sequence[Material]) -> dict[str, Any]:
        return interpolate_body(self, submit_id, region, materials)


def _bad_source(message: str, reason: str) -> InvalidRequestError:
    return InvalidRequestError(message, param="source", code="interpolate_source", details={"reason": reason})


def source_from_record(rec: JobRecord | None, index: int) -> dict[str, Any]:
    """What an interpolation of a result needs from its job's record; refuses what cannot be interpolated."""
    if rec is None:
        raise _bad_source("no such job", "not_found")
    if rec.kind != "video":
        raise _bad_source("that job did not make a video", "not_video")
    if rec.state != "succeeded" or not rec.result:
        raise _bad_source("that video job has not succeeded", "not_succeeded")
    assets = rec.result.get("assets") or []
    if not 0 <= index < len(assets):
        raise _bad_source(f"that job has {len(assets)} video(s); index {index} is out of range", "index")
    item_id = assets[index].get("item_id")
    history_id = rec.history_id or rec.result.get("history_id")
    draft_raw = (rec.body or {}).get("draft_content")
    if not item_id or not history_id or not isinstance(draft_raw, str) or not rec.account_key:
        raise _bad_source("that job's upstream ids were not kept; upload the video instead", "no_ids")
    try:
        draft = json.loads(draft_raw)
        main = next(c for c in draft["component_list"] if c.get("id") == draft.get("main_component_id"))
    except (ValueError, KeyError, TypeError, StopIteration):
        raise _bad_source("that job's draft was not kept; upload the video instead", "no_draft") from None
    return {
        "source_job": rec.id,
        "item_id": str(item_id),
        "history_id": str(history_id),
        "source_submit_id": rec.submit_id,
        "source_component": _dumps(main),
        "source_ms": int(rec.spec.get("duration") or 5) * 1000,
    }


async def source_vid(upstream: Upstream, account: Any, submit_id: str, item: str) -> str:
    """The VOD vid of one of our video items (``video.video_id`` of its history record, PROTOCOL.md §9.2), which the
    captured interpolation input carries next to ``video_ref_params``; "" when it cannot be read (a read, no credit)."""
    try:
        data = await upstream.call(account, PATH_HISTORY_BY_IDS, {"submit_ids": [submit_id]})
    except JimengError:
        return ""
    record = data.get(submit_id) if isinstance(data, dict) else None
    items = record.get("item_list") if isinstance(record, dict) else None
    for entry in items if isinstance(items, list) else []:
        if isinstance(entry, dict) and item_id_of(entry) == item:
            video = entry.get("video")
            return str(video.get("video_id") or "") if isinstance(video, dict) else ""
    return ""


def _int_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def interpolate_body(
    spec: InterpolateSpec, submit_id: str, region: Region, materials: Sequence[Material]
) -> dict[str, Any]:
    model = spec.model
    seconds = max(1, round(spec.source_ms / 1000))
    main_scene = {
        "type": "video",
        "scene": "BasicVideoGenerateButton",
        "resolution": spec.resolution,
        "modelReqKey": model.key,
        "videoDuration": seconds,
        "reportParams": {
            "enterSource": "generate",
            "vipSource": "generate",
            "extraVipFunctionKey": f"{model.key}-{spec.resolution}",
            "useVipFunctionDetailsReporterHoc": True,
        },
    }
    frame_scene = {
        "type": "video",
        "scene": "VideoFrameInterpolation",
        "videoDuration": seconds,
        "reportParams": {"enterSource": "generate"},
    }
    metrics: dict[str, Any] = {
        "promptSource": "custom",
        "isDefaultSeed": 1,
        "originSubmitId": spec.source_submit_id or submit_id,
        "enterFrom": "click",
        "batchNumber": 1,
        "promptType": "original_prompt",
        "submitGroupId": new_id(),
        "isRegenerate": False,
        "functionMode": "omni_reference",
        "generatorFeature": "omniReference",
        "sceneOptions": _dumps([main_scene, frame_scene]),
    }
    if spec.source_job:
        metrics.update(originId=spec.item_id, previewSubmitId=spec.source_submit_id)
    metrics_str = _dumps(metrics)
    source = json.loads(spec.source_component) if spec.source_job else None
    # An upload carries its VOD vid; a result its item's vid as upstream listed it (with video_ref_params).
    vid = materials[0].media.vid if materials and materials[0].media else spec.source_vid
    gen_input: dict[str, Any] = _node(
        min_version=DRAFT_MIN_VERSION_VIDEO,
        prompt=spec.prompt,
        lens_motion_type="",
        motion_speed="",
        vid=vid,
        video_mode=2,
        fps=VIDEO_FPS,
        duration_ms=seconds * 1000,
        template_id=0,
        v2v_opt=_node(
            min_version=DRAFT_MIN_VERSION_INTERPOLATE,
            insert_frame=_node(
                enable=True, target_fps=INTERPOLATE_TARGET_FPS, origin_fps=VIDEO_FPS, duration_ms=spec.source_ms
            ),
        ),
        resolution=spec.resolution,
        idip_meta_list=[],
    )
    gen_video: dict[str, Any] = _node(text_to_video_params=_node(video_gen_inputs=[gen_input]), scene=INTERPOLATE_SCENE)
    if source is not None:
        gen_input["origin_history_id"] = spec.history_id
        gen_video["video_ref_params"] = _node(
            generate_type=0, item_id=_int_id(spec.item_id), origin_history_id=_int_id(spec.history_id)
        )
    gen_video["video_task_extra"] = metrics_str
    child: dict[str, Any] = {
        "type": "video_base_component",
        "id": new_id(),
        "min_version": VIDEO_COMPONENT_MIN_VERSION,
        "aigc_mode": "workbench",
        "metadata": _metadata(),
        "generate_type": "gen_video",
        "abilities": _node(gen_video=gen_video),
        "process_type": INTERPOLATE_PROCESS_TYPE,
    }
    if source is not None:
        child["parent_id"] = source["id"]
    draft = {
        "type": "draft",
        "id": new_id(),
        "min_version": DRAFT_MIN_VERSION_INTERPOLATE,
        "min_features": [],
        "is_from_tsn": True,
        "version": DA_VERSION,
        "main_component_id": child["id"],
        "component_list": [source, child] if source is not None else [child],
    }
    commerce = {
        "amount": 0,
        "benefit_type": INTERPOLATE_BENEFIT,
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    body = _body(
        model.key,
        submit_id,
        region,
        draft,
        {},
        m_video_commerce_info=commerce,
        m_video_commerce_info_list=[dict(commerce)],
    )
    body["metrics_extra"] = metrics_str
    return body
