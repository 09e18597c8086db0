"""The model registry: the static table of ``core.wire`` merged with the live catalogue (PROTOCOL.md §7.4).

User-facing names (``jimeng-4.5``) map to internal keys. The live catalogue (``get_common_config``) may add models and
change count options / resolution buckets / sizes; it never removes a model from the static table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.catalogue import IMAGE_MODELS, VIDEO_MODELS, ImageModelSpec, VideoModelSpec
from core.wire import IMAGE_RATIO_CODES, RESOLUTIONS, SIZES, Region

log = logging.getLogger(__name__)

Kind = Literal["image", "video"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What front ends need to present and validate a model."""

    name: str
    key: str
    kind: Kind
    title: str
    regions: frozenset[Region]
    resolutions: tuple[str, ...]
    default_resolution: str
    # images
    count_options: tuple[int, ...] | None = None
    default_count: int = 1
    max_references: int = 0
    intelligent_ratio: bool = False
    legacy: bool = False
    sizes: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # bucket → ratio → (w, h)
    forced: dict[Region, tuple[str, int, int, str]] = field(default_factory=dict)
    # videos
    durations: tuple[int, ...] = ()
    default_duration: int = 0
    benefit_types: dict[str, str] = field(default_factory=dict)
    sends_resolution: bool = True
    commerce_amount: bool = False
    function_mode: str = ""
    frames: bool = False
    omni: bool = False  # takes image/video/audio references (core.video_tools.validate_omni)
    draft_mode: bool = False  # Seedance 2.5 draft
    from_catalogue: bool = False

    @property
    def count_range(self) -> tuple[int, int]:
        opts = self.count_options or (self.default_count,)
        return min(opts), max(opts)

    def size(self, resolution: str, ratio: str) -> tuple[int, int]:
        return self.sizes.get(resolution, {}).get(ratio) or SIZES[resolution][ratio]


def _image_info(name: str, spec: ImageModelSpec) -> ModelInfo:
    return ModelInfo(
        name=name,
        key=spec.key,
        kind="image",
        title=spec.title,
        regions=spec.regions,
        resolutions=spec.resolutions,
        default_resolution=spec.default_resolution,
        count_options=spec.count_options,
        default_count=spec.default_count,
        max_references=spec.max_references,
        intelligent_ratio=spec.intelligent_ratio,
        legacy=spec.legacy,
        forced=dict(spec.forced),
    )


def _video_info(name: str, spec: VideoModelSpec) -> ModelInfo:
    return ModelInfo(
        name=name,
        key=spec.key,
        kind="video",
        title=spec.title,
        regions=spec.regions,
        resolutions=spec.resolutions,
        default_resolution=spec.resolutions[0],
        durations=spec.durations,
        default_duration=spec.default_duration,
        benefit_types=dict(spec.benefit_types),
        sends_resolution=spec.sends_resolution,
        commerce_amount=spec.commerce_amount,
        function_mode=spec.function_mode,
        frames=spec.frames,
        omni=spec.omni,
        draft_mode=spec.draft_mode,
    )


_KEY_VERSION = re.compile(r"v(\d)(\d)")


def _name_for_key(key: str, title: str) -> str:
    """A user-facing name for a model only the catalogue knows: ``jimeng-<title slug>``."""
    slug = re.sub(r"[^a-z0-9.]+", "-", title.lower()).strip("-")
    slug = slug.removeprefix("seedream-")
    return f"jimeng-{slug}" if slug else key


class Registry:
    def __init__(self) -> None:
        self._models: dict[str, ModelInfo] = {}
        for name, spec in IMAGE_MODELS.items():
            self._models[name] = _image_info(name, spec)
        for vname, vspec in VIDEO_MODELS.items():
            self._models[vname] = _video_info(vname, vspec)
        self._by_key = {m.key: m.name for m in self._models.values()}
        # The live catalogue's feature flags per site and model key (PROTOCOL.md §7.4 ``feats``; the image tools).
        self.feats: dict[tuple[Region, str], dict[str, bool]] = {}

    def get(self, name: str) -> ModelInfo | None:
        """Look a model up by user-facing name or by internal key (case-insensitive for names)."""
        if name in self._models:
            return self._models[name]
        lowered = name.strip().lower()
        if lowered in self._models:
            return self._models[lowered]
        if name in self._by_key:
            return self._models[self._by_key[name]]
        return None

    def all(self, kind: Kind | None = None, regions: Iterable[Region] | None = None) -> list[ModelInfo]:
        wanted = set(regions) if regions is not None else None
        return [
            m
            for m in self._models.values()
            if (kind is None or m.kind == kind) and (wanted is None or m.regions & wanted)
        ]

    def merge_catalogue(self, region: Region, data: Any) -> list[str]:
        """Merge a ``get_common_config`` reply for ``region``. Returns the names of models it added."""
        added: list[str] = []
        models = data.get("model_list") if isinstance(data, dict) else None
        if not isinstance(models, list):
            return added
        for entry in models:
            if not isinstance(entry, dict) or not isinstance(entry.get("model_req_key"), str):
                continue
            key: str = entry["model_req_key"]
            if isinstance(feats := entry.get("feats"), dict):
                self.feats[(region, key)] = {k: v for k, v in feats.items() if isinstance(v, bool)}
            name = self._by_key.get(key)
            current = self._models.get(name) if name else None
            sizes, buckets = _parse_resolution_map(entry.get("resolution_map"))
            counts = entry.get("generate_count_options")
            count_options = tuple(int(c) for c in counts) if isinstance(counts, list) and counts else None
            default_count = entry.get("default_generate_count")
            limits = entry.get("input_image_limit")
            max_refs = None
            if isinstance(limits, list):
                for lim in limits:
                    if isinstance(lim, dict) and lim.get("ability_name") == "byte_edit":
                        max_refs = int(lim.get("max_image_num") or 0) or None
            if current is None:
                title = str(entry.get("model_name") or key)
                name = _name_for_key(key, title)
                if name in self._models:
                    name = key
                info = ModelInfo(
                    name=name,
                    key=key,
                    kind="image",
                    title=title,
                    regions=frozenset({region}),
                    resolutions=buckets or ("2k",),
                    default_resolution=str(entry.get("default_resolution_type") or (buckets or ("2k",))[0]),
                    count_options=count_options,
                    default_count=int(default_count) if isinstance(default_count, int) else 4,
                    max_references=max_refs or 0,
                    sizes=sizes,
                    from_catalogue=True,
                )
                self._models[name] = info
                self._by_key[key] = name
                added.append(name)
                continue
            changes: dict[str, Any] = {"regions": current.regions | {region}}
            if sizes:
                changes["sizes"] = {**current.sizes, **sizes}
                changes["resolutions"] = tuple(r for r in RESOLUTIONS if r in set(current.resolutions) | set(buckets))
            if count_options:
                changes["count_options"] = count_options
            if isinstance(default_count, int) and default_count > 0:
                changes["default_count"] = default_count
            if max_refs:
                changes["max_references"] = max_refs
            self._models[current.name] = replace(current, **changes)
        if added:
            log.info("model catalogue (%s) added: %s", region.value, ", ".join(added))
        return added


def _parse_resolution_map(raw: Any) -> tuple[dict[str, dict[str, tuple[int, int]]], tuple[str, ...]]:
    sizes: dict[str, dict[str, tuple[int, int]]] = {}
    if not isinstance(raw, dict):
        return sizes, ()
    code_to_ratio = {code: ratio for ratio, code in IMAGE_RATIO_CODES.items()}
    for bucket, spec in raw.items():
        if bucket not in RESOLUTIONS or not isinstance(spec, dict):
            continue
        table: dict[str, tuple[int, int]] = {}
        for item in spec.get("image_ratio_sizes") or []:
            if not isinstance(item, dict):
                continue
            ratio = code_to_ratio.get(item.get("ratio_type"))  # type: ignore[arg-type]
            w, h = item.get("width"), item.get("height")
            if ratio and isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
                table[ratio] = (w, h)
        sizes[bucket] = table
    buckets = tuple(r for r in RESOLUTIONS if r in sizes)
    return {k: v for k, v in sizes.items() if v}, buckets
