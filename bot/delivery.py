"""Getting result files to Discord: download through the engine, fit them under the upload limit, else link them.

Images over the limit are re-encoded (WebP quality first, then smaller sizes) with Pillow in a worker thread; only if
that fails is the image sent as a link. Videos are attached when they fit, else linked with their expiry.

Discord refuses a request body over 25 MiB whatever the per-file limit (a boosted server allows 50/100 MiB files), so
each file is kept within ``REQUEST_BUDGET`` too and the files are grouped into messages of at most 10 files and
``REQUEST_BUDGET`` bytes; the first group goes with the result, the rest as follow-ups.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import discord
from PIL import Image, UnidentifiedImageError

from core import Asset, Engine, JimengError

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
MAX_REQUEST_BYTES = 25 * 1024 * 1024  # Discord's cap on one request body (26,214,400 bytes)
REQUEST_BUDGET = MAX_REQUEST_BYTES - 256 * 1024  # room for payload_json (embed, components) and multipart headers
DOWNLOAD_CAP = 64 * 1024 * 1024  # never buffer more than this of one result
QUALITIES = (90, 80, 65, 50)
SCALED_QUALITIES = (80, 60)
SCALE_STEP = 0.75
MIN_EDGE = 256

_EXT = {"image/webp": "webp", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "video/mp4": "mp4"}


@dataclass(slots=True)
class Upload:
    filename: str
    data: bytes = field(repr=False)
    reencoded: bool = False

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename)


@dataclass(slots=True)
class Plan:
    uploads: list[Upload] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)

    def batches(self) -> Iterator[list[Upload]]:
        """The uploads in order, grouped so no message has more than 10 files or ``REQUEST_BUDGET`` bytes."""
        batch: list[Upload] = []
        size = 0
        for upload in self.uploads:
            if batch and (len(batch) == MAX_FILES_PER_MESSAGE or size + len(upload.data) > REQUEST_BUDGET):
                yield batch
                batch, size = [], 0
            batch.append(upload)
            size += len(upload.data)
        if batch:
            yield batch


def shrink_image(data: bytes, limit: int) -> bytes | None:
    """Re-encode ``data`` as WebP so it fits in ``limit`` bytes: lower quality first, then smaller sizes. Sync."""
    try:
        with Image.open(io.BytesIO(data)) as src:
            src.load()
            im = src.convert("RGBA" if src.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None

    def encode(img: Image.Image, quality: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=quality, method=4)
        return buf.getvalue()

    out = b""
    for q in QUALITIES:
        out = encode(im, q)
        if len(out) <= limit:
            return out
    # Encoded size grows with the area: jump straight to the scale that should fit, then step down from there.
    w, h = im.size
    scale = min(SCALE_STEP, math.sqrt(limit / max(1, len(out))) * 0.9)
    while max(w, h) * scale >= MIN_EDGE:
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        small = im.resize(size, Image.Resampling.LANCZOS)
        for q in SCALED_QUALITIES:
            out = encode(small, q)
            if len(out) <= limit:
                return out
        scale *= SCALE_STEP
    return None


def _ext(content_type: str, asset: Asset) -> str:
    return _EXT.get(content_type) or (asset.format or ("mp4" if asset.kind == "video" else "webp")).lower()


async def _link_maker(engine: Engine, job_id: str | None) -> Callable[[int, Asset], str]:
    """Where a file too large to upload is linked: our signed link to the kept copy when the engine signs links (it
    lives as long as the copy, core/links.py), else upstream's URL (it expires within hours)."""
    record = None
    if job_id and engine.links is not None:
        await engine.settled(job_id)  # the copies are kept and recorded (downloads wait for them anyway)
        record = await engine.job_record(job_id)
    kept = (record.result or {}).get("assets", []) if record is not None else []

    def link(index: int, asset: Asset) -> str:
        if record is not None and engine.links is not None and index < len(kept) and kept[index].get("path"):
            return engine.links.url(record, index) or asset.url
        return asset.url

    return link


async def plan_delivery(
    engine: Engine, assets: Sequence[Asset], limit: int, *, stem: str, job_id: str | None = None
) -> Plan:
    """Download each asset via ``engine.download`` and decide: upload as is, upload re-encoded, or link. ``limit`` is
    the per-file upload limit; no file is planned above ``REQUEST_BUDGET`` either. With ``job_id`` (``assets`` being
    that job's result, in order) and signed links on, links point at our kept copies, and a re-encoded image also
    gets a link to its full-quality original."""
    limit = min(limit, REQUEST_BUDGET)
    plan = Plan()
    link = await _link_maker(engine, job_id)
    for n, asset in enumerate(assets, 1):
        label = f"{stem}_{n}"
        try:
            async with engine.download(asset) as dl:
                ext = _ext(dl.content_type, asset)
                if asset.kind == "video" and dl.size is not None and dl.size > limit:
                    plan.links.append((f"{label}.{ext}", link(n - 1, asset)))
                    continue
                try:
                    data = await dl.read(limit=limit if asset.kind == "video" else DOWNLOAD_CAP)
                except JimengError:  # the video is larger than it said, or than the limit
                    plan.links.append((f"{label}.{ext}", link(n - 1, asset)))
                    continue
        except JimengError as err:
            log.warning("could not download %s result %d: %s", stem, n, err.message)
            plan.links.append((f"{label}", link(n - 1, asset)))
            continue
        if len(data) <= limit:
            plan.uploads.append(Upload(f"{label}.{ext}", data))
            continue
        if asset.kind == "image":
            smaller = await asyncio.to_thread(shrink_image, data, limit)
            if smaller is not None:
                log.info("re-encoded %s (%d bytes) to %d bytes to fit %d", label, len(data), len(smaller), limit)
                plan.uploads.append(Upload(f"{label}.webp", smaller, reencoded=True))
                if (original := link(n - 1, asset)) != asset.url:  # ours lives as long as the kept copy
                    plan.links.append((f"{label}.{ext}", original))
                continue
        plan.links.append((f"{label}.{ext}", link(n - 1, asset)))
    return plan
