"""Geometry: what a caller's ratio, ``"WxH"`` size or width and height mean, for images and for videos.

Images: ``ratio`` > ``size`` > ``width``/``height``; a size maps to the nearest of ``RATIOS`` and to the resolution
bucket of its longest edge (``RESOLUTION_BY_LONG_EDGE``). Videos (OpenAI's ``size``): the nearest of ``VIDEO_RATIOS``
and the resolution whose short edge covers the size's short edge (``VIDEO_RESOLUTION_SIZES``). Front ends hand these
values to ``ImageParams`` / ``VideoParams`` and never parse sizes themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import InvalidRequestError
from core.wire import (
    IMAGE_RATIO_CODES,
    RATIOS,
    RESOLUTION_BY_LONG_EDGE,
    RESOLUTIONS,
    VIDEO_RATIOS,
    VIDEO_RESOLUTION_SIZES,
)

_IMAGE_SIZE_RE = re.compile(r"^\s*(\d{2,5})\s*[x×*:,]\s*(\d{2,5})\s*$", re.IGNORECASE)
_VIDEO_SIZE_RE = re.compile(r"^\s*(\d{2,5})\s*[x×*]\s*(\d{2,5})\s*$", re.IGNORECASE)
AUTO_RATIOS = ("auto", "smart", "intelligent")


def nearest_ratio(width: int, height: int, ratios: Iterable[str] = RATIOS) -> str:
    target = width / height

    def distance(r: str) -> float:
        a, b = r.split(":")
        return abs(int(a) / int(b) - target)

    return min(ratios, key=distance)


def image_bucket(width: int, height: int) -> str:
    """The image resolution bucket of a size: by its longest edge."""
    edge = max(width, height)
    for limit, bucket in RESOLUTION_BY_LONG_EDGE:
        if edge <= limit:
            return bucket
    return "4k"


def _size(size: str, pattern: re.Pattern[str], example: str, *, shown: int | None = None) -> tuple[int, int]:
    m = pattern.match(size)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise InvalidRequestError(
            f"size must look like {example}, got '{size[:shown]}'",
            param="size",
            code="bad_size",
            details={"value": size[:shown]},
        )
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True, slots=True)
class ImageGeometry:
    """What the caller asked for; ``None`` where the model's default applies."""

    ratio: str | None
    resolution: str | None
    intelligent: bool


def image_geometry(
    *,
    ratio: str | None,
    resolution: str | None,
    size: str | None,
    width: int | None,
    height: int | None,
    intelligent: bool,
) -> ImageGeometry:
    """An image request's ratio and resolution: ``ratio`` > ``size`` > ``width``/``height``; "auto" asks for the
    automatic ratio. Unknown names and malformed sizes raise ``InvalidRequestError`` naming the parameter."""
    res = resolution.strip().lower() if resolution else None
    if res is not None and res not in RESOLUTIONS:
        raise InvalidRequestError(
            f"unknown resolution '{resolution}'; use one of {', '.join(RESOLUTIONS)}",
            param="resolution",
            code="unknown_resolution",
            details={"value": resolution, "allowed": ", ".join(RESOLUTIONS)},
        )
    chosen: str | None = None
    if ratio:
        r = ratio.strip().lower()
        if r in AUTO_RATIOS:
            intelligent = True
        elif r in IMAGE_RATIO_CODES:
            chosen = r
        else:
            raise InvalidRequestError(
                f"unknown ratio '{ratio}'; use one of {', '.join(RATIOS)} or 'auto'",
                param="ratio",
                code="unknown_ratio",
                details={"value": ratio, "allowed": ", ".join(RATIOS)},
            )
    elif size:
        w, h = _size(size, _IMAGE_SIZE_RE, "2048x2048")
        chosen, res = nearest_ratio(w, h), res or image_bucket(w, h)
    elif width is not None or height is not None:
        if width is None or height is None:
            raise InvalidRequestError(
                "give both width and height, or neither",
                param="width" if width is None else "height",
                code="width_height_pair",
            )
        if width <= 0 or height <= 0:
            raise InvalidRequestError("width and height must be positive", param="width", code="width_height_positive")
        chosen, res = nearest_ratio(width, height), res or image_bucket(width, height)
    return ImageGeometry(chosen, res, intelligent)


def nearest_video_ratio(width: int, height: int) -> str:
    return nearest_ratio(width, height, VIDEO_RATIOS)


def video_resolution(width: int, height: int) -> str:
    """The smallest video resolution whose short edge covers the size's short edge (the largest one past them)."""
    edge = min(width, height)
    by_edge = sorted(VIDEO_RESOLUTION_SIZES, key=lambda r: min(VIDEO_RESOLUTION_SIZES[r]["1:1"]))
    return next((r for r in by_edge if edge <= min(VIDEO_RESOLUTION_SIZES[r]["1:1"])), by_edge[-1])


def video_geometry(size: str) -> tuple[str, str]:
    """OpenAI's video ``size`` (``"1280x720"``) → (the nearest video ratio, the resolution by the short edge)."""
    w, h = _size(size, _VIDEO_SIZE_RE, "1280x720", shown=40)
    return nearest_video_ratio(w, h), video_resolution(w, h)
