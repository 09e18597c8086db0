"""Seedance omni reference (PROTOCOL.md §11.2, §11.6): the spec, the upload of its references (images to ImageX,
videos and audio to VOD), and the generate body with ``unified_edit_input``.

``MediaSpec`` is the common base of the video jobs that carry media (omni, frame interpolation): a ``VideoSpec`` (so
the dispatcher polls and delivers it as a video) that builds its own body and says whether it needs uploads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.catalogue import DRAFT_MIN_VERSION_OMNI, MATERIAL_TYPE_CODES, OMNI_BENEFIT_WITH_VIDEO, OMNI_MIN_FEATURES
from core.drafts import UploadedImage, _body, _dumps, _image_ref, _metadata, _node, new_id
from core.errors import InvalidRequestError
from core.media import PreparedImage
from core.params import VideoSpec
from core.upload import ImageUploader, UploadAccount
from core.video_refs import MediaInfo
from core.vod import UploadedMedia, VodUploader
from core.wire import (
    DA_VERSION,
    VIDEO_COMPONENT_MIN_VERSION,
    VIDEO_FPS,
    Region,
)

_REF = re.compile(r"@(\d{1,2})")


@dataclass(frozen=True, slots=True)
class PreparedMedia:
    """A checked video/audio reference: its bytes, what it is, and its place among all references."""

    data: bytes = field(repr=False)
    info: MediaInfo
    index: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Material:
    """One uploaded reference, in the order the caller gave them."""

    kind: str  # image | video | audio
    name: str
    image: UploadedImage | None = None
    media: UploadedMedia | None = None
    info: MediaInfo | None = None


@dataclass(frozen=True, slots=True)
class MediaSpec(VideoSpec):
    """A video job whose body is not the classic one; see ``OmniSpec`` and ``core.interpolate.InterpolateSpec``."""

    mode: str = ""
    account_key: str = ""  # the only account that may run it (interpolating a result of ours), else any

    def body(self, submit_id: str, region: Region, materials: Sequence[Material]) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def needs_upload(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        names = [n for cls in type(self).__mro__ for n in getattr(cls, "__slots__", ())]
        d = {n: getattr(self, n) for n in dict.fromkeys(names)}
        d["model"] = self.model.name
        return d


@dataclass(frozen=True, slots=True)
class OmniSpec(MediaSpec):
    kinds: tuple[str, ...] = ()
    durations_ms: tuple[int, ...] = ()  # per reference (0 for images), known once the files were measured

    @property
    def has_video(self) -> bool:
        return "video" in self.kinds

    @property
    def input_video_s(self) -> float:
        return round(sum(d for k, d in zip(self.kinds, self.durations_ms, strict=False) if k == "video") / 1000, 2)

    @property
    def benefit_type(self) -> str:
        """Per model and mix (PROTOCOL.md §11.6): the ``_with_video`` variant on 2.0 / 2.0 Fast when a video is given."""
        if self.has_video and self.model.key in OMNI_BENEFIT_WITH_VIDEO:
            return OMNI_BENEFIT_WITH_VIDEO[self.model.key]
        return self.model.benefit_types[self.resolution]

    def body(self, submit_id: str, region: Region, materials: Sequence[Material]) -> dict[str, Any]:
        return omni_body(self, submit_id, region, materials)


def check_prompt_refs(prompt: str, count: int) -> None:
    """``@n`` must name one of the references (1-based)."""
    for m in _REF.finditer(prompt):
        n = int(m.group(1))
        if not 1 <= n <= count:
            raise InvalidRequestError(
                f"the prompt refers to @{n} but there are {count} reference(s)",
                param="prompt",
                code="reference_index",
                details={"index": n, "count": count},
            )


async def upload_materials(images: ImageUploader, account: UploadAccount, refs: Sequence[Any]) -> list[Material]:
    """Upload every reference in order: ``PreparedImage`` to ImageX, ``PreparedMedia`` to VOD (one at a time: videos
    are large and the node is the same)."""
    vod = VodUploader(images)
    out: list[Material] = []
    for ref in refs:
        if isinstance(ref, PreparedImage):
            up = await images.upload(account, ref)
            out.append(Material("image", f"reference-{ref.index + 1}.{ref.format}", image=up))
        else:
            media = await vod.upload(account, ref.data, index=ref.index, kind=ref.info.kind)
            out.append(Material(ref.info.kind, ref.name or f"reference-{ref.index + 1}", media=media, info=ref.info))
    return out


def _material(m: Material) -> dict[str, Any]:
    if m.kind == "image" and m.image is not None:
        info = {**_image_ref(m.image), "aigc_image": _node(), "title": m.name}
        return _node(material_type="image", image_info=info)
    assert m.media is not None and m.info is not None
    if m.kind == "video":
        video = {
            "type": "video",
            "id": new_id(),
            "source_from": "upload",
            "name": m.name,
            "vid": m.media.vid,
            "fps": 0,
            "width": m.media.width or m.info.width,
            "height": m.media.height or m.info.height,
            "duration": m.info.duration_ms,
            "cover_image_url": "",
        }
        return _node(material_type="video", video_info=video)
    audio = {
        "type": "audio",
        "id": new_id(),
        "source_from": "upload",
        "vid": m.media.vid,
        "duration": m.info.duration_ms,
        "name": m.name,
    }
    return _node(material_type="audio", audio_info=audio)


def meta_list(prompt: str, kinds: Sequence[str]) -> list[dict[str, Any]]:
    """The prompt as segments (PROTOCOL.md §11.2): ``@n`` points at reference n; without any, the images and audio are
    referenced in order before the text (videos stay in the material list only, as in the web app's capture)."""

    def ref(i: int) -> dict[str, Any]:
        return _node(meta_type=kinds[i], text="", material_ref=_node(material_idx=i))

    out: list[dict[str, Any]] = []
    if not _REF.search(prompt):
        out = [ref(i) for i, k in enumerate(kinds) if k != "video"]
        if prompt:
            out.append(_node(meta_type="text", text=prompt))
        return out
    pos = 0
    for m in _REF.finditer(prompt):
        if m.start() > pos:
            out.append(_node(meta_type="text", text=prompt[pos : m.start()]))
        out.append(ref(int(m.group(1)) - 1))
        pos = m.end()
    if pos < len(prompt):
        out.append(_node(meta_type="text", text=prompt[pos:]))
    return out


def _amount(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else round(seconds, 2)


def omni_body(spec: OmniSpec, submit_id: str, region: Region, materials: Sequence[Material]) -> dict[str, Any]:
    model = spec.model
    input_s = spec.input_video_s
    commerce: dict[str, Any] = {
        "benefit_type": spec.benefit_type,
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    if model.commerce_amount:  # output seconds + input-video seconds (AICF); audio is not counted
        commerce = {"amount": _amount(spec.duration + input_s), **commerce}
    function_key = f"{model.key}-{spec.resolution}" if model.sends_resolution else model.key
    scene: dict[str, Any] = {"type": "video", "scene": "BasicVideoGenerateButton"}
    if model.sends_resolution:
        scene["resolution"] = spec.resolution
    scene.update(
        modelReqKey=model.key,
        videoDuration=spec.duration,
        batchNumber=1,
        inputVideoDuration=_amount(input_s),
        chargeInputVideoDuration=True,
        isLongVideo=False,
        hasInputVideo=spec.has_video,
        useSeedanceFast5sFreeTrial=False,
        reportParams={
            "enterSource": "generate",
            "vipSource": "generate",
            "extraVipFunctionKey": function_key,
            "useVipFunctionDetailsReporterHoc": True,
        },
        materialTypes=[MATERIAL_TYPE_CODES[m.kind] for m in materials],
    )
    metrics = {
        "isDefaultSeed": 1,
        "originSubmitId": submit_id,
        "isRegenerate": False,
        "enterFrom": "click",
        "position": "page_bottom_box",
        "promptType": "original_prompt",
        "functionMode": "omni_reference",
        "generatorFeature": "omniReference",
        "sceneOptions": _dumps([scene]),
        "batchNumber": 1,
        "submitGroupId": str(uuid.uuid4()),
        "hasRejectedAudit": 0,
    }
    metrics_str = _dumps(metrics)
    gen_input: dict[str, Any] = _node(
        min_version=DRAFT_MIN_VERSION_OMNI, prompt="", video_mode=2, fps=VIDEO_FPS, duration_ms=spec.duration * 1000
    )
    if model.sends_resolution:
        gen_input["resolution"] = spec.resolution
    gen_input["idip_meta_list"] = []
    gen_input["unified_edit_input"] = _node(
        material_list=[_material(m) for m in materials], meta_list=meta_list(spec.prompt, [m.kind for m in materials])
    )
    t2v = _node(
        video_gen_inputs=[gen_input], video_aspect_ratio=spec.ratio, seed=spec.seed, model_req_key=model.key, priority=0
    )
    component = {
        "type": "video_base_component",
        "id": new_id(),
        "min_version": VIDEO_COMPONENT_MIN_VERSION,
        "aigc_mode": "workbench",
        "metadata": _metadata(),
        "generate_type": "gen_video",
        "abilities": _node(gen_video=_node(text_to_video_params=t2v, video_task_extra=metrics_str)),
        "process_type": 1,
    }
    draft = {
        "type": "draft",
        "id": new_id(),
        "min_version": DRAFT_MIN_VERSION_OMNI,
        "min_features": list(OMNI_MIN_FEATURES),
        "is_from_tsn": True,
        "version": DA_VERSION,
        "main_component_id": component["id"],
        "component_list": [component],
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
