"""Image tools (issue #14; PROTOCOL.md §11.1): what a caller asks for, the capability it needs, and the validated spec.

Pure and instant: no store, no network. ``core.tools`` finds the source image (a result of ours or an upload) and
hands its size here; the spec it returns is what the dispatcher runs and the store keeps (``to_dict``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from core.catalogue import TOOLS, ToolCapability
from core.errors import InvalidRequestError
from core.geometry import nearest_ratio
from core.policy import (
    OUTPAINT_COUNTS,
    OUTPAINT_DEFAULT_ZOOM,
    OUTPAINT_MAX_EXTENT,
    OUTPAINT_ZOOM_RANGE,
    TOOL_MAX_EDGE,
    TOOL_MIN_EDGE,
)
from core.registry import ModelInfo
from core.wire import IMAGE_RATIO_CODES, OUTPAINT_MAX_SIZE, POSTEDIT_ROOT_MODEL, RATIOS, Region

PRO_HD_EDGE = 2160  # PROTOCOL.md §11.1: pro_hd made 2160² of a 2048² source (the expected size we show)
MAX_TOOL_PROMPT_CHARS = 800
# An accepted post-edit that fails may still be charged (PROTOCOL.md §11.1): the failure says so.
BILLED_NOTE = "Failed post-edits may still be billed by Jimeng."


def with_billed_note(message: str) -> str:
    """``message`` then the billing note, as a sentence of its own (upstream's texts often end without a stop)."""
    text = message.rstrip()
    return f"{text} {BILLED_NOTE}" if text.endswith((".", "。", "!", "！", "?", "？")) else f"{text}. {BILLED_NOTE}"


class Expand(BaseModel):
    """Outpaint extents: the fraction of the source's height (top, bottom) or width (left, right) added on each side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0


class ToolParams(BaseModel):
    """A tool request. ``mode`` is for upscale; ``prompt``, ``zoom`` / ``ratio`` / ``expand`` and ``count`` for outpaint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: Literal["upscale", "outpaint", "detail"]
    mode: Literal["hd", "pro"] = "hd"
    prompt: str = ""
    zoom: float | None = None
    ratio: str | None = None
    expand: Expand | None = None
    count: int | None = None

    @classmethod
    def from_spec(cls, spec: ToolSpec | Mapping[str, Any]) -> ToolParams:
        """The same tool again (Reroll), from a spec or its stored ``to_dict``: outpaint as the same extents."""
        data = spec.to_dict() if isinstance(spec, ToolSpec) else spec
        tool = data.get("tool", "upscale")
        if tool != "outpaint":
            return cls(tool=tool, mode=data.get("mode") or "hd")
        top, bottom, left, right = data.get("extents") or (0.0, 0.0, 0.0, 0.0)
        expand = Expand(top=top, bottom=bottom, left=left, right=right)
        return cls(tool="outpaint", prompt=data.get("prompt", ""), expand=expand, count=data.get("count"))


_REF_RE = re.compile(r"^([0-9a-f]{16})-([1-9][0-9]{0,2})$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Image ``index`` (0-based, in ``result.images``) of job ``job_id``. Public id: ``"<job id>-<k>"``, k from 1."""

    job_id: str
    index: int

    def __str__(self) -> str:
        return f"{self.job_id}-{self.index + 1}"

    @classmethod
    def parse(cls, value: str, *, param: str = "image_id") -> ImageRef:
        m = _REF_RE.match(value.strip().lower()) if isinstance(value, str) else None
        if m is None:
            raise InvalidRequestError(
                "an image id looks like '3f2a9c0d1e4b5a6c-1' (a job id, a dash, the image's number from 1)",
                param=param,
                code="invalid_image_id",
            )
        return cls(m.group(1), int(m.group(2)) - 1)

    @staticmethod
    def from_spec(spec: ToolSpec | Mapping[str, Any]) -> ImageRef | None:
        """The source of a tool job (its spec or the stored ``to_dict``); None when the source was an upload."""
        data = spec.to_dict() if isinstance(spec, ToolSpec) else spec
        job, index = data.get("source_job"), data.get("source_index")
        return ImageRef(str(job), int(index)) if job and isinstance(index, int) else None


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str  # the capability: "upscale-hd" | "upscale-pro" | "outpaint" | "detail"
    tool: str
    mode: str
    title: str
    regions: frozenset[Region]
    uploads: bool


@dataclass(frozen=True, slots=True)
class SourceImage:
    """The image a tool works on: its size, and where it is (an upstream item of an account, or an upload)."""

    width: int
    height: int
    item_id: str | None = None  # with history_id: a result already in account ``account_key``
    history_id: str | None = None
    account_key: str | None = None
    job_id: str | None = None
    index: int | None = None


def capability_name(tool: str, mode: str) -> str:
    return f"upscale-{mode}" if tool == "upscale" else tool


def _info(name: str, cap: ToolCapability) -> ToolInfo:
    return ToolInfo(name, cap.tool, cap.mode, cap.title, cap.regions, cap.uploads)


def available(regions: Iterable[Region]) -> list[ToolInfo]:
    """The tools the configured accounts' sites offer (front ends show buttons for these)."""
    wanted = set(regions)
    return [_info(name, cap) for name, cap in TOOLS.items() if cap.regions & wanted]


def tool_model(name: str) -> ModelInfo:
    """The capability as the dispatcher sees a model: it picks an account on one of its regions, and names results."""
    cap = TOOLS[name]
    return ModelInfo(
        name=name,
        key=POSTEDIT_ROOT_MODEL,
        kind="image",
        title=cap.title,
        regions=cap.regions,
        resolutions=("2k",),
        default_resolution="2k",
    )


def _bad(message: str, param: str, **details: Any) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code="invalid_tool_param", details=details)


def check_tool(
    params: ToolParams,
    regions: frozenset[Region],
    *,
    width: int | None = None,
    height: int | None = None,
    switched_off: frozenset[Region] = frozenset(),
) -> ToolInfo:
    """Params and capability (PROTOCOL.md §11.1), before anything is looked up, uploaded or spent; with the source's
    ``width`` and ``height`` (a front end knows them from the stored result) its size limits too."""
    info = _check_params(params, regions - switched_off)
    if width and height:
        build_spec(params, info, SourceImage(width, height), param="image_id")
    return info


def _check_params(params: ToolParams, regions: frozenset[Region]) -> ToolInfo:
    name = capability_name(params.tool, params.mode)
    cap = TOOLS[name]
    if not cap.regions & regions:
        param = "mode" if params.tool == "upscale" else "tool"
        raise InvalidRequestError(
            f"{cap.title} is not offered to the configured Jimeng account(s): it is known on the Chinese site only, "
            "and a site's live catalogue can switch it off",
            param=param,
            code="tool_unavailable",
            details={"capability": name},
        )
    if params.tool != "upscale" and params.mode != "hd":
        raise _bad(f"'mode' is for upscale, not {params.tool}", "mode")
    if params.tool != "outpaint":
        for field in ("zoom", "ratio", "expand", "count"):
            if getattr(params, field) is not None:
                raise _bad(f"'{field}' is for outpaint, not {params.tool}", field)
        if params.prompt.strip():
            raise _bad(f"{params.tool} takes no prompt", "prompt")
        return _info(name, cap)
    given = [f for f in ("zoom", "ratio", "expand") if getattr(params, f) is not None]
    if len(given) > 1:
        raise _bad(f"give one of zoom, ratio or expand, not {' and '.join(given)}", given[1])
    lo, hi = OUTPAINT_ZOOM_RANGE
    if params.zoom is not None and not lo <= params.zoom <= hi:
        raise _bad(f"zoom must be between {lo} and {hi}", "zoom", zoom=params.zoom, min=lo, max=hi)
    if params.ratio is not None and params.ratio not in RATIOS:
        raise _bad(f"ratio must be one of {', '.join(RATIOS)}", "ratio", ratio=params.ratio, allowed=list(RATIOS))
    if params.expand is not None:
        sides = params.expand.model_dump()
        if any(not 0 <= v <= OUTPAINT_MAX_EXTENT for v in sides.values()) or not any(sides.values()):
            raise _bad(
                f"expand takes top, bottom, left, right between 0 and {OUTPAINT_MAX_EXTENT} (fractions of the image), "
                "at least one above 0",
                "expand",
                **sides,
            )
    if params.count is not None and params.count not in OUTPAINT_COUNTS:
        raise _bad(
            f"count must be {OUTPAINT_COUNTS[0]}–{OUTPAINT_COUNTS[-1]}",
            "count",
            count=params.count,
            allowed=f"{OUTPAINT_COUNTS[0]}–{OUTPAINT_COUNTS[-1]}",
        )
    if len(params.prompt) > MAX_TOOL_PROMPT_CHARS:
        raise _bad(f"the prompt is longer than {MAX_TOOL_PROMPT_CHARS} characters", "prompt")
    return _info(name, cap)


def parse_expand(value: Any, param: str = "expand") -> Expand:
    """An ``expand`` object from a front end's JSON (a typo'd side is a 400, not a silent 0)."""
    try:
        return Expand.model_validate(value)
    except ValidationError:
        raise _bad("expand is an object with top, bottom, left, right (numbers)", param) from None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A validated tool job, ready to become a draft (``core.tool_drafts``)."""

    model: ModelInfo  # the capability (tool_model); its ``name`` is the capability name
    tool: str
    mode: str
    prompt: str
    count: int
    width: int  # expected output size
    height: int
    source_width: int
    source_height: int
    item_id: str | None = None
    history_id: str | None = None
    account_key: str | None = None
    source_job: str | None = None
    source_index: int | None = None
    extents: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # top, bottom, left, right
    image_ratio: int = 1
    uploads: int = 0  # 1: the source is an upload (a reference image for the dispatcher)
    notes: tuple[str, ...] = ()

    @property
    def capability(self) -> str:
        return self.model.name

    @property
    def source(self) -> ImageRef | None:
        if self.source_job is None or self.source_index is None:
            return None
        return ImageRef(self.source_job, self.source_index)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["model"] = self.model.name
        d["extents"], d["notes"] = list(self.extents), list(self.notes)
        return d


def tool_spec_from_dict(data: Mapping[str, Any]) -> ToolSpec:
    """A stored spec back (restart recovery)."""
    name = str(data.get("model"))
    if name not in TOOLS:
        raise InvalidRequestError(f"tool '{name}' is no longer known", param="tool", code="model_gone")
    known = {f.name for f in fields(ToolSpec)} - {"model"}
    values = {k: v for k, v in data.items() if k in known}
    values["extents"] = tuple(values.get("extents") or (0.0, 0.0, 0.0, 0.0))
    values["notes"] = tuple(values.get("notes") or ())
    return ToolSpec(model=tool_model(name), **values)


def _extents(params: ToolParams, w: int, h: int) -> tuple[float, float, float, float]:
    if params.expand is not None:
        e = params.expand
        return (e.top, e.bottom, e.left, e.right)
    if params.ratio is not None:
        a, b = (int(x) for x in params.ratio.split(":"))
        target, have = a / b, w / h
        if abs(target - have) / target < 0.02:
            raise InvalidRequestError(
                f"the image already is {params.ratio}: zoom out or expand it instead",
                param="ratio",
                code="ratio_unchanged",
                details={"ratio": params.ratio, "width": w, "height": h},
            )
        grow = target * h / w - 1 if target > have else w / (target * h) - 1
        if grow / 2 > OUTPAINT_MAX_EXTENT:
            raise _bad(f"{params.ratio} is too far from this image's shape to outpaint to", "ratio", ratio=params.ratio)
        side = round(grow / 2, 4)
        return (0.0, 0.0, side, side) if target > have else (side, side, 0.0, 0.0)
    side = round(((params.zoom or OUTPAINT_DEFAULT_ZOOM) - 1) / 2, 4)
    return (side, side, side, side)


def check_size(src: SourceImage, param: str) -> None:
    w, h = src.width, src.height
    if w and h and min(w, h) < TOOL_MIN_EDGE:
        raise InvalidRequestError(
            f"the image is too small for this tool ({w}×{h}; the shorter edge must be at least {TOOL_MIN_EDGE} px)",
            param=param,
            code="image_too_small",
            details={"width": w, "height": h, "min_edge": TOOL_MIN_EDGE},
        )
    if max(w, h) > TOOL_MAX_EDGE:
        raise InvalidRequestError(
            f"the image is too large for this tool ({w}×{h}; the longer edge may be at most {TOOL_MAX_EDGE} px)",
            param=param,
            code="image_too_large",
            details={"width": w, "height": h, "max_edge": TOOL_MAX_EDGE},
        )


def build_spec(params: ToolParams, info: ToolInfo, src: SourceImage, *, param: str) -> ToolSpec:
    """The spec for ``params`` on ``src``; size problems name ``param`` (``image`` or ``image_id``)."""
    check_size(src, param)
    w, h = src.width, src.height
    extents = (0.0, 0.0, 0.0, 0.0)
    count, ratio_code = 1, IMAGE_RATIO_CODES[nearest_ratio(w, h)]
    out_w, out_h = w, h
    if info.name == "upscale-hd":
        out_w, out_h = w * 2, h * 2
    elif info.name == "upscale-pro":
        scale = PRO_HD_EDGE / max(w, h)
        out_w, out_h = round(w * scale), round(h * scale)
    elif info.name == "outpaint":
        extents = _extents(params, w, h)
        top, bottom, left, right = extents
        out_w, out_h = round(w * (1 + left + right)), round(h * (1 + top + bottom))
        if max(out_w, out_h) > OUTPAINT_MAX_SIZE:
            raise InvalidRequestError(
                f"the outpainted image would be {out_w}×{out_h}, more than {OUTPAINT_MAX_SIZE} px",
                param=param,
                code="image_too_large",
                details={"width": out_w, "height": out_h, "max_edge": OUTPAINT_MAX_SIZE},
            )
        ratio_code = IMAGE_RATIO_CODES[params.ratio or nearest_ratio(out_w, out_h)]
        count = params.count or OUTPAINT_COUNTS[0]
    return ToolSpec(
        model=tool_model(info.name),
        tool=info.tool,
        mode=info.mode,
        prompt=params.prompt.strip() if info.name == "outpaint" else "",
        count=count,
        width=out_w,
        height=out_h,
        source_width=w,
        source_height=h,
        item_id=src.item_id,
        history_id=src.history_id,
        account_key=src.account_key,
        source_job=src.job_id,
        source_index=src.index,
        extents=extents,
        image_ratio=ratio_code,
        uploads=0 if src.item_id else 1,
    )
