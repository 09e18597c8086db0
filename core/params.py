"""What a caller asks for, and its validation against a model's capabilities.

Validation never falls back silently: a model that is not offered in the configured regions, a resolution the model
lacks, or a count out of range is refused with an ``InvalidRequestError`` that names the parameter.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.catalogue import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from core.errors import InvalidRequestError
from core.geometry import image_geometry, video_geometry
from core.registry import ModelInfo, Registry
from core.tool_spec import ToolSpec, tool_spec_from_dict
from core.wire import IMAGE_RATIO_CODES, VIDEO_RATIOS, VIDEO_RESOLUTION_SIZES, Region

MAX_PROMPT_CHARS = 4000
SPEC_LOADERS: dict[str, Callable[[dict[str, Any], Registry], VideoSpec]] = {}  # spec "mode" → loader (core.video_tools)


class ImageParams(BaseModel):
    """Text-to-image request. Geometry precedence: ratio > size > width/height (as the seed gateway documents)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str
    model: str | None = None
    negative_prompt: str = ""
    ratio: str | None = None  # "16:9", or "auto" for intelligent ratio
    resolution: str | None = None  # "1k" | "1.5k" | "2k" | "4k"
    size: str | None = None  # "WxH"
    width: int | None = None
    height: int | None = None
    sample_strength: float = 0.5
    count: int | None = None
    intelligent_ratio: bool = False
    seed: int | None = None

    @classmethod
    def from_spec(
        cls, spec: ImageSpec | Mapping[str, Any], *, prompt: str | None = None, new_seed: bool = True
    ) -> ImageParams:
        """The request again, from a validated spec or its stored ``to_dict`` (Reroll, Vary): same model, geometry,
        count and strength; another ``prompt`` if given, and a new seed unless ``new_seed=False``."""
        data = spec.to_dict() if isinstance(spec, ImageSpec) else spec
        return cls(
            prompt=data.get("prompt", "") if prompt is None else prompt,
            model=data.get("model"),
            negative_prompt=data.get("negative_prompt", ""),
            ratio="auto" if data.get("intelligent_ratio") else data.get("ratio"),
            resolution=data.get("resolution"),
            count=data.get("count"),
            sample_strength=data.get("sample_strength", 0.5),
            seed=None if new_seed else data.get("seed"),
        )


class VideoParams(BaseModel):
    """Video request: text-to-video, or first frame / first + last frame (references given separately)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str = ""
    model: str | None = None
    duration: int | None = None  # seconds
    ratio: str | None = None
    resolution: str | None = None
    size: str | None = None  # "WxH": the nearest ratio and the resolution by its short edge, unless given above
    seed: int | None = None
    frames: int = Field(default=0, ge=0, le=2)  # how many frame images the caller supplies (0, 1 first, 2 first+last)

    @classmethod
    def from_spec(
        cls, spec: VideoSpec | Mapping[str, Any], *, prompt: str | None = None, new_seed: bool = True
    ) -> VideoParams:
        """The request again, from a validated spec or its stored ``to_dict`` (Reroll): same model, duration, ratio,
        resolution and number of frames; another ``prompt`` if given, and a new seed unless ``new_seed=False``."""
        data = spec.to_dict() if isinstance(spec, VideoSpec) else spec
        return cls(
            prompt=data.get("prompt", "") if prompt is None else prompt,
            model=data.get("model"),
            duration=data.get("duration"),
            ratio=data.get("ratio"),
            resolution=data.get("resolution"),
            seed=None if new_seed else data.get("seed"),
            frames=data.get("frames") or 0,
        )


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """A validated image (or composition) request, ready to become a draft."""

    model: ModelInfo
    prompt: str
    negative_prompt: str
    ratio: str
    width: int
    height: int
    resolution: str
    count: int
    sample_strength: float
    intelligent_ratio: bool
    seed: int
    references: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ratio_code(self) -> int:
        return IMAGE_RATIO_CODES[self.ratio]

    def for_region(self, region: Region) -> ImageSpec:
        """Apply a model's forced geometry on a site (nanobanana on US: 1024² tagged 2k)."""
        forced = self.model.forced.get(region)
        if not forced:
            return self
        ratio, w, h, res = forced
        return ImageSpec(**{**_fields(self), "ratio": ratio, "width": w, "height": h, "resolution": res})

    def to_dict(self) -> dict[str, Any]:
        d = _fields(self)
        d["model"] = self.model.name
        return d


@dataclass(frozen=True, slots=True)
class VideoSpec:
    model: ModelInfo
    prompt: str
    duration: int
    ratio: str
    resolution: str
    seed: int
    frames: int
    notes: tuple[str, ...] = field(default=())

    @property
    def benefit_type(self) -> str:
        return self.model.benefit_types[self.resolution]

    @property
    def size(self) -> tuple[int, int]:
        return VIDEO_RESOLUTION_SIZES.get(self.resolution, VIDEO_RESOLUTION_SIZES["720p"])[self.ratio]

    def to_dict(self) -> dict[str, Any]:
        d = _fields(self)
        d["model"] = self.model.name
        return d


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _random_seed() -> int:
    return random.randint(1, 2**32 - 1)


def _pick_model(registry: Registry, name: str | None, default: str, kind: str, regions: frozenset[Region]) -> ModelInfo:
    wanted = name or default
    model = registry.get(wanted)
    if model is None or model.kind != kind:
        names = ", ".join(m.name for m in registry.all(kind, regions)) or "none"  # type: ignore[arg-type]
        raise InvalidRequestError(
            f"unknown {kind} model '{wanted}'; available: {names}",
            param="model",
            code="unknown_model",
            details={"model": wanted, "available": names},
        )
    if not model.regions & regions:
        offered = ", ".join(sorted(r.value for r in model.regions))
        have = ", ".join(sorted(r.value for r in regions)) or "none"
        raise InvalidRequestError(
            f"model '{model.name}' is not offered on the configured Jimeng sites ({have}); it exists on: {offered}",
            param="model",
            code="model_not_offered",
            details={"model": model.name, "have": have, "offered": offered},
        )
    return model


def _check_text(text: str, param: str) -> str:
    """Text Jimeng can take: encodable as UTF-8 (a lone surrogate such as ``"\\ud800"`` is not) and not over
    ``MAX_PROMPT_CHARS``. Checked here, once, so every front end refuses it before a job exists."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(
            f"the {param.replace('_', ' ')} is not valid Unicode text (it contains a lone surrogate)",
            param=param,
            code="invalid_text",
        ) from None
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"the {param.replace('_', ' ')} is longer than {MAX_PROMPT_CHARS} characters",
            param=param,
            code="prompt_too_long" if param == "prompt" else "text_too_long",
            details={"max": MAX_PROMPT_CHARS},
        )
    return text


def _check_prompt(prompt: str, *, required: bool) -> str:
    text = _check_text(prompt.strip(), "prompt")
    if required and not text:
        raise InvalidRequestError("the prompt is empty", param="prompt", code="prompt_empty")
    return text


def validate_image(
    params: ImageParams,
    registry: Registry,
    regions: frozenset[Region],
    *,
    default_model: str = DEFAULT_IMAGE_MODEL,
    references: int | None = None,
) -> ImageSpec:
    """Check an image request (``references=None``) or a composition from ``references`` images against the model;
    return the exact geometry to send. The one place that checks the number of references."""
    prompt = _check_prompt(params.prompt, required=True)
    model = _pick_model(registry, params.model, default_model, "image", regions)
    if not 0.0 <= params.sample_strength <= 1.0:
        raise InvalidRequestError(
            "sample_strength must be between 0 and 1", param="sample_strength", code="strength_range"
        )
    if references is not None:
        if references < 1:
            raise InvalidRequestError(
                "a composition needs at least one reference image", param="images", code="no_images"
            )
        if model.max_references <= 0:
            raise InvalidRequestError(
                f"model '{model.name}' cannot compose from reference images",
                param="model",
                code="no_references",
                details={"model": model.name},
            )
        if references > model.max_references:
            raise InvalidRequestError(
                f"too many reference images: {references}; '{model.name}' takes 1–{model.max_references}",
                param="images",
                code="too_many_references",
                details={"count": references, "max": model.max_references, "model": model.name},
            )

    geometry = image_geometry(
        ratio=params.ratio,
        resolution=params.resolution,
        size=params.size,
        width=params.width,
        height=params.height,
        intelligent=params.intelligent_ratio,
    )
    ratio, resolution, intelligent = geometry.ratio, geometry.resolution, geometry.intelligent
    notes: list[str] = []
    if intelligent and not model.intelligent_ratio:
        raise InvalidRequestError(
            f"model '{model.name}' does not support the automatic ratio",
            param="ratio",
            code="auto_ratio_unsupported",
            details={"model": model.name},
        )
    if intelligent and references:
        notes.append("automatic ratio is not used for compositions; 1:1 was used")
        intelligent = False
    ratio = ratio or "1:1"
    resolution = resolution or model.default_resolution
    if resolution not in model.resolutions:
        raise InvalidRequestError(
            f"model '{model.name}' does not support {resolution}; it supports {', '.join(model.resolutions)}",
            param="resolution",
            code="resolution_unsupported",
            details={"model": model.name, "resolution": resolution, "allowed": ", ".join(model.resolutions)},
        )

    if params.count is None:
        count = model.default_count if model.count_options else 1
    else:
        count = params.count
        if model.count_options is None:
            if count != 1:
                raise InvalidRequestError(
                    f"model '{model.name}' makes one image per job; count must be 1",
                    param="n",
                    code="count_single",
                    details={"model": model.name},
                )
        elif count not in model.count_options:
            lo, hi = model.count_range
            allowed = (
                f"{lo}–{hi}" if hi - lo + 1 == len(model.count_options) else ", ".join(map(str, model.count_options))
            )
            raise InvalidRequestError(
                f"count must be {allowed} for '{model.name}', got {count}",
                param="n",
                code="count_range",
                details={"model": model.name, "count": count, "allowed": allowed},
            )

    width, height = model.size(resolution, ratio)
    return ImageSpec(
        model=model,
        prompt=prompt,
        negative_prompt=_check_text(params.negative_prompt.strip(), "negative_prompt"),
        ratio=ratio,
        width=width,
        height=height,
        resolution=resolution,
        count=count,
        sample_strength=float(params.sample_strength),
        intelligent_ratio=intelligent,
        seed=params.seed if params.seed is not None else _random_seed(),
        references=references or 0,
        notes=tuple(notes),
    )


def validate_video(
    params: VideoParams,
    registry: Registry,
    regions: frozenset[Region],
    *,
    default_model: str = DEFAULT_VIDEO_MODEL,
) -> VideoSpec:
    """Check a video request against the model. A ``size`` fills in the ratio and resolution not given, and a problem
    with what it filled in is reported under ``size``."""
    size_ratio, size_resolution = video_geometry(params.size) if params.size else (None, None)
    model = _pick_model(registry, params.model, default_model, "video", regions)
    prompt = _check_prompt(params.prompt, required=params.frames == 0)
    duration = params.duration if params.duration is not None else model.default_duration
    if duration not in model.durations:
        allowed = _describe_durations(model.durations)
        raise InvalidRequestError(
            f"'{model.name}' makes videos of {allowed} seconds, not {duration}",
            param="duration",
            code="duration_unsupported",
            details={"model": model.name, "duration": duration, "allowed": allowed},
        )
    resolution = (params.resolution or size_resolution or model.default_resolution).strip().lower()
    if resolution not in model.resolutions:
        raise InvalidRequestError(
            f"'{model.name}' supports {', '.join(model.resolutions)}, not {resolution}",
            param="size" if size_resolution and not params.resolution else "resolution",
            code="resolution_unsupported",
            details={"model": model.name, "resolution": resolution, "allowed": ", ".join(model.resolutions)},
        )
    if params.frames and not model.frames:
        raise InvalidRequestError(
            f"'{model.name}' does not take first/last frame images",
            param="model",
            code="frames_unsupported",
            details={"model": model.name},
        )
    ratio = (params.ratio or size_ratio or "16:9").strip()
    if ratio not in VIDEO_RATIOS:
        raise InvalidRequestError(
            f"unknown video ratio '{ratio}'; use one of {', '.join(VIDEO_RATIOS)}",
            param="ratio",
            code="unknown_ratio",
            details={"value": ratio, "allowed": ", ".join(VIDEO_RATIOS)},
        )
    notes: tuple[str, ...] = ()
    if params.frames and (params.ratio or size_ratio):
        notes = ("the ratio is ignored when a frame image is given; the video follows the image's aspect",)
    return VideoSpec(
        model=model,
        prompt=prompt,
        duration=duration,
        ratio=ratio,
        resolution=resolution,
        seed=params.seed if params.seed is not None else _random_seed(),
        frames=params.frames,
        notes=notes,
    )


def _describe_durations(durations: tuple[int, ...]) -> str:
    if len(durations) > 3 and list(durations) == list(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}–{durations[-1]}"
    return ", ".join(map(str, durations))


def spec_from_dict(kind: str, data: dict[str, Any], registry: Registry) -> ImageSpec | VideoSpec | ToolSpec:
    """Rebuild a stored spec (``to_dict``) against the current registry (restart recovery, buttons)."""
    if kind == "tool":
        return tool_spec_from_dict(data)
    model = registry.get(str(data.get("model")))
    if model is None:
        raise InvalidRequestError(
            f"model '{data.get('model')}' is no longer known",
            param="model",
            code="model_gone",
            details={"model": data.get("model")},
        )
    if kind == "video" and data.get("mode") in SPEC_LOADERS:  # omni / frame interpolation (core.video_tools)
        return SPEC_LOADERS[data["mode"]](data, registry)
    fields = {k: v for k, v in data.items() if k != "model"}
    fields["notes"] = tuple(fields.get("notes") or ())
    if kind == "video":
        return VideoSpec(model=model, **{k: fields[k] for k in VideoSpec.__slots__ if k in fields})
    return ImageSpec(model=model, **{k: fields[k] for k in ImageSpec.__slots__ if k in fields})
