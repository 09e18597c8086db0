"""Reference images in, safely: bytes, files, data URLs / base64 and http(s) URLs → images Jimeng accepts.

URLs are fetched by ``core.fetch`` (size cap, timeouts, no private addresses). The real format is sniffed with Pillow; formats upstream does
not take are converted, EXIF orientation is applied, and oversized images are downscaled. Pillow runs in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import unquote_to_bytes

import aiohttp
from PIL import Image, ImageOps, UnidentifiedImageError
from yarl import URL

from core.decoding import DECODE_BUDGET, return_freed_memory
from core.errors import InvalidRequestError, UploadError
from core.fetch import FetchPolicy, ImageRefused, fetch_url, too_large
from core.policy import (
    PREPARE_CONCURRENCY,
    REQUEST_DECODE_MAX_PIXELS,
    SOURCE_MAX_PIXELS,
    UPLOAD_JPEG_QUALITY,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_EDGE,
)
from core.wire import UPLOAD_FORMATS

log = logging.getLogger(__name__)

T = TypeVar("T")
_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


# ---------------------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class RefImage:
    """One reference image as the caller gave it. Nothing is read or downloaded until ``prepare_all``."""

    kind: Literal["bytes", "path", "url"]
    data: bytes | None = field(default=None, repr=False)
    path: str | None = None
    url: str | None = None
    name: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, name: str | None = None) -> RefImage:
        return cls("bytes", data=bytes(data), name=name)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> RefImage:
        """A local file. Only for trusted callers (the CLI); ``parse`` never turns user text into a path."""
        p = os.fspath(path)
        return cls("path", path=p, name=Path(p).name)

    @classmethod
    def from_url(cls, url: str) -> RefImage:
        u = url.strip()
        try:
            u.encode("utf-8")
            parsed = URL(u) if "://" in u else None
            _ = parsed.port if parsed is not None else None  # a non-numeric or out-of-range port raises here
        except (ValueError, UnicodeError) as exc:
            reason = str(exc).removeprefix("Invalid URL: ")[:100] if isinstance(exc, ValueError) else "not text"
            raise InvalidRequestError(f"a reference image URL is malformed ({reason})", param="image") from None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidRequestError("a reference image URL must be an absolute http(s) URL", param="image")
        return cls("url", url=u, name=parsed.name or None)

    @classmethod
    def from_data_url(cls, value: str) -> RefImage:
        """A ``data:`` URL (base64 or percent-encoded) or bare base64 (standard or URL-safe alphabet)."""
        text = value.strip()
        if text[:5].lower() == "data:":
            header, sep, payload = text[5:].partition(",")
            if not sep:
                raise InvalidRequestError("malformed data URL (no comma)", param="image")
            if header.lower().endswith(";base64"):
                return cls("bytes", data=_b64decode(payload), name=None)
            return cls("bytes", data=unquote_to_bytes(payload), name=None)
        return cls("bytes", data=_b64decode(text), name=None)

    @classmethod
    def parse(cls, value: str, *, allow_path: bool = False) -> RefImage:
        """A string from a user: an http(s) URL, a ``data:`` URL or bare base64.

        A local file path only with ``allow_path=True`` (the admin CLI): front ends must never let a user name a file
        on the server.
        """
        text = value.strip()
        if not text:
            raise InvalidRequestError("an empty string is not a reference image", param="image")
        lower = text[:8].lower()
        if lower.startswith(("http://", "https://")):
            return cls.from_url(text)
        if lower.startswith("data:"):
            return cls.from_data_url(text)
        if "://" in text[:16]:
            raise InvalidRequestError("only http(s) URLs, data URLs or base64 are accepted as images", param="image")
        if allow_path:
            path = Path(text).expanduser()
            if path.is_file():
                return cls.from_path(path)
            try:
                return cls.from_data_url(text)
            except InvalidRequestError:
                raise InvalidRequestError(f"no such image file: {text[:200]}", param="image") from None
        return cls.from_data_url(text)

    def describe(self) -> str:
        if self.kind == "url" and self.url:
            u = URL(self.url)
            return f"{u.host}{u.path}"[:80]
        return self.name or self.kind


def _b64decode(payload: str) -> bytes:
    raw = "".join(payload.split()).encode()
    if not raw or not set(raw) <= _BASE64_CHARS:
        raise InvalidRequestError("the image is not a URL, a data URL or valid base64", param="image")
    raw = raw.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError("the image is not valid base64", param="image") from exc


def as_ref(value: Any) -> RefImage:
    """Accept what trusted code may pass: RefImage, bytes, a path object, or a user string (see ``parse``)."""
    if isinstance(value, RefImage):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return RefImage.from_bytes(bytes(value))
    if isinstance(value, os.PathLike):
        return RefImage.from_path(value)
    if isinstance(value, str):
        return RefImage.parse(value)
    raise InvalidRequestError(f"cannot use a {type(value).__name__} as a reference image", param="image")


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """Image bytes ready for ImageX: a format upstream takes, oriented, within the size limits."""

    data: bytes = field(repr=False)
    width: int
    height: int
    format: str  # "jpeg" | "png" | "webp"
    index: int
    source_format: str = ""
    converted: bool = False
    source_size: tuple[int, int] = (0, 0)  # as sent, before any downscale (the image tools' size limits)


# ---------------------------------------------------------------------------------------------------------------- decode


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)


def _encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        im.save(buf, "PNG", optimize=False)
    else:
        im.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _draft(im: Image.Image) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when that still covers the upload edge (no-op for other formats)."""
    if im.format == "JPEG" and max(im.size) > UPLOAD_MAX_EDGE:
        im.draft(im.mode, (UPLOAD_MAX_EDGE, UPLOAD_MAX_EDGE))


def _shrink(im: Image.Image) -> Image.Image:
    """Within the upload edge, before any conversion (one full-size copy at most). From 1.5× the edge up, by an
    integer box reduction (its only buffer is the small result; LANCZOS would hold an edge × full-height strip,
    131 MB for an 8000 px image), so the result is between 1/2 and 1× the edge; below that, LANCZOS."""
    edge = max(im.size)
    if edge <= UPLOAD_MAX_EDGE:
        return im
    if edge >= UPLOAD_MAX_EDGE * 3 // 2 and im.mode not in ("P", "1", "I;16"):  # modes reduce() refuses
        return im.reduce(-(-edge // UPLOAD_MAX_EDGE))
    return ImageOps.contain(im, (UPLOAD_MAX_EDGE, UPLOAD_MAX_EDGE), Image.Resampling.LANCZOS)


def decoded_pixels(data: bytes) -> int:
    """The pixels ``normalise`` will decode, from the header only (blocking but cheap). 1 if it is no image:
    ``normalise`` says why."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            _draft(im)
            return max(1, im.width * im.height)
    except Exception:  # any failure is normalise's to report
        return 1


def normalise(data: bytes, index: int) -> PreparedImage:
    """Sniff, orient, convert and downscale one image (blocking: call in a thread)."""
    if not data:
        raise ImageRefused("the image is empty")
    try:
        im: Image.Image = Image.open(io.BytesIO(data))
        source = (im.format or "").upper()
        if im.width * im.height > SOURCE_MAX_PIXELS:
            raise ImageRefused(f"the image is too large to process ({im.width}×{im.height})")
        source_size = im.size  # before the draft: the bytes as sent are this large
        source_edge = max(source_size)
        _draft(im)
        im.seek(0)
        animated = bool(getattr(im, "is_animated", False))
        im.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("the image has too many pixels to process") from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused("this is not an image Jimeng can use (unrecognised format)") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRefused("the image is damaged or truncated") from exc

    orientation = im.getexif().get(0x0112, 1)
    needs_turn = orientation not in (None, 1)
    too_big = source_edge > UPLOAD_MAX_EDGE or len(data) > UPLOAD_MAX_BYTES
    odd_mode = im.mode not in ("RGB", "RGBA", "L", "LA", "P")  # CMYK, I;16, F ... re-encode for safety
    if source in UPLOAD_FORMATS and not (animated or needs_turn or too_big or odd_mode):
        return PreparedImage(data, im.width, im.height, source.lower(), index, source.lower(), False, source_size)

    if needs_turn:
        turned = ImageOps.exif_transpose(im)
        if turned is not None:
            im = turned
    im = _shrink(im)
    alpha = _has_alpha(im)
    if alpha:
        im, fmt = im.convert("RGBA"), "PNG"
    elif im.mode in ("P", "1"):  # palette images (GIF, 8-bit BMP/PNG) stay lossless
        im, fmt = im.convert("RGB"), "PNG"
    else:
        im, fmt = im.convert("RGB"), "JPEG"
    if max(im.size) > UPLOAD_MAX_EDGE:
        im.thumbnail((UPLOAD_MAX_EDGE, UPLOAD_MAX_EDGE), Image.Resampling.LANCZOS)
    quality = UPLOAD_JPEG_QUALITY
    out = _encode(im, fmt, quality)
    for _ in range(8):
        if len(out) <= UPLOAD_MAX_BYTES:
            break
        if fmt == "PNG" and not alpha:
            fmt = "JPEG"
            im = im.convert("RGB")
        elif fmt == "JPEG" and quality > 80:
            quality -= 6
        else:
            im = im.resize((max(1, im.width * 3 // 4), max(1, im.height * 3 // 4)), Image.Resampling.LANCZOS)
        out = _encode(im, fmt, quality)
    else:
        raise ImageRefused("the image could not be brought under the upload size limit")
    return PreparedImage(out, im.width, im.height, fmt.lower(), index, source.lower(), True, source_size)


# ---------------------------------------------------------------------------------------------------------------- driver


@dataclass(slots=True)
class RequestPixels:
    """What is left of one request's decoding allowance (``REQUEST_DECODE_MAX_PIXELS``)."""

    left: int = REQUEST_DECODE_MAX_PIXELS

    def take(self, pixels: int) -> None:
        if pixels > self.left:
            raise ImageRefused(
                f"the reference images together are too large to process (more than {REQUEST_DECODE_MAX_PIXELS:,}"
                " pixels); send smaller images"
            )
        self.left -= pixels


async def prepare_one(
    ref: RefImage,
    index: int,
    *,
    http: aiohttp.ClientSession,
    policy: FetchPolicy,
    allowance: RequestPixels | None = None,
) -> PreparedImage:
    """Read or download one reference and normalise it, holding its decoded pixels from the process-wide
    ``DECODE_BUDGET`` (and, given ``allowance``, from the request's). Failures raise ``UploadError`` naming it."""
    try:
        if ref.kind == "bytes":
            data = ref.data or b""
            if len(data) > policy.max_bytes:
                raise ImageRefused(too_large(policy.max_bytes))
        elif ref.kind == "path":
            data = await asyncio.to_thread(_read_file, ref.path or "", policy.max_bytes)
        else:
            data = await fetch_url(ref.url or "", http=http, policy=policy)
        pixels = await asyncio.to_thread(decoded_pixels, data)
        (allowance or RequestPixels()).take(pixels)
        async with DECODE_BUDGET.hold(pixels):
            prepared = await asyncio.to_thread(_normalise_and_trim, data, index)
    except ImageRefused as exc:
        raise UploadError(f"reference image {index + 1} ({ref.describe()}): {exc}", index=index) from None
    if prepared.converted:
        log.debug(
            "reference %d: %s %d bytes → %s %dx%d %d bytes",
            index + 1,
            prepared.source_format,
            len(data),
            prepared.format,
            prepared.width,
            prepared.height,
            len(prepared.data),
        )
    return prepared


def _normalise_and_trim(data: bytes, index: int) -> PreparedImage:
    try:
        return normalise(data, index)
    finally:
        return_freed_memory()


def _read_file(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise ImageRefused("the file does not exist") from exc
    except IsADirectoryError as exc:
        raise ImageRefused("that is a directory, not an image file") from exc
    except OSError as exc:
        raise ImageRefused(f"the file could not be read ({type(exc).__name__})") from exc
    if len(data) > limit:
        raise ImageRefused(too_large(limit))
    return data


async def gather_bounded(factories: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the coroutines with at most ``limit`` at once; on failure cancel the ones after it and raise the first
    error by position (so "reference 2 failed" wins over "reference 5 failed" whatever finished first: the ones
    before a failure still run to their end, as one of them may fail too)."""
    sem = asyncio.Semaphore(max(1, limit))
    results: list[T | None] = [None] * len(factories)
    errors: dict[int, BaseException] = {}
    tasks: list[asyncio.Task[None]] = []

    async def run(i: int) -> None:
        async with sem:
            try:
                results[i] = await factories[i]()
            except Exception as exc:
                errors[i] = exc
                for later in tasks[i + 1 :]:
                    later.cancel()

    tasks.extend(asyncio.create_task(run(i)) for i in range(len(factories)))
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    if errors:
        raise errors[min(errors)] from None
    return cast(list[T], results)


async def prepare_all(
    images: Sequence[Any], *, http: aiohttp.ClientSession, policy: FetchPolicy | None = None
) -> list[PreparedImage]:
    """Prepare every reference in parallel (bounded), in order. The first failing reference (by position) is raised
    as ``UploadError`` whose ``index`` is 0-based and whose message counts from 1."""
    pol = policy or FetchPolicy()
    refs: list[RefImage] = []
    for i, value in enumerate(images):
        try:
            refs.append(as_ref(value))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"reference image {i + 1}: {exc.message}", param=exc.param) from None

    allowance = RequestPixels()

    def factory(i: int, ref: RefImage) -> Callable[[], Awaitable[PreparedImage]]:
        return lambda: prepare_one(ref, i, http=http, policy=pol, allowance=allowance)

    return await gather_bounded([factory(i, r) for i, r in enumerate(refs)], PREPARE_CONCURRENCY)
