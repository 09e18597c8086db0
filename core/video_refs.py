"""Video and audio references (Seedance omni reference, frame interpolation): what a file is, how long it lasts, and
the limits checked before anything is uploaded or spent (PROTOCOL.md §11.6).

Durations are read from the containers themselves — MP4/MOV ``mvhd``, WAV ``fmt``/``data`` chunks, MP3 frame
headers (or the Xing/Info frame count) — so no ffmpeg and no extra dependency: a few dozen lines of ``struct``
cover exactly the formats upstream takes. Parsing runs in a thread (``probe_all``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.catalogue import OMNI_LIMITS
from core.errors import InvalidRequestError
from core.media import RefImage

MediaKind = Literal["image", "video", "audio"]

# Our own byte limits (upstream's are unknown, PROTOCOL.md §11.6): a refusal here is cheaper than a failed upload.
MAX_VIDEO_BYTES = 50 * 1024 * 1024
MAX_AUDIO_BYTES = 15 * 1024 * 1024
VIDEO_FORMATS = frozenset({"mp4", "mov"})  # ISO-BMFF: the duration is in ``mvhd``
AUDIO_FORMATS = frozenset({"mp3", "wav"})  # what the web app takes (PROTOCOL.md §11.6)

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")
_EXT_KIND: dict[str, MediaKind] = {
    **dict.fromkeys(("png", "jpg", "jpeg", "webp", "gif", "bmp", "heic", "avif", "tif", "tiff"), "image"),
    **dict.fromkeys(("mp4", "mov", "m4v", "webm", "mkv", "avi", "flv", "3gp"), "video"),
    **dict.fromkeys(("mp3", "wav", "ogg", "oga", "opus", "flac", "m4a", "aac", "wma", "amr"), "audio"),
}


@dataclass(frozen=True, slots=True)
class RefMedia:
    """A video or audio reference as the caller gave it (bytes). ``probe()`` says what it is."""

    data: bytes = field(repr=False)
    name: str | None = None
    content_type: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, name: str | None = None, content_type: str | None = None) -> RefMedia:
        return cls(bytes(data), name, content_type)

    @classmethod
    def from_path(cls, path: str | Path) -> RefMedia:
        """A local file (the CLI only)."""
        p = Path(path)
        return cls(p.read_bytes(), p.name, None)

    @property
    def kind(self) -> MediaKind:
        return sniff_kind(self.data, self.name, self.content_type)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a video/audio file is: ``format`` (mp4, mov, mp3, wav, or what we recognised and refuse: ogg, flac...),
    its length in milliseconds and, for a video, its frame size."""

    kind: MediaKind
    format: str
    duration_ms: int = 0
    width: int = 0
    height: int = 0


def kind_of(ref: Any) -> MediaKind:
    return ref.kind if isinstance(ref, RefMedia) else "image"


def sniff_kind(data: bytes, name: str | None = None, content_type: str | None = None) -> MediaKind:
    """Image, video or audio: the bytes' magic numbers first, then the content type, then the file extension."""
    fmt = sniff_format(data)
    if fmt in ("png", "jpeg", "gif", "bmp", "webp"):
        return "image"
    if fmt in ("mp4", "mov", "webm", "avi"):
        return "video"
    if fmt in ("mp3", "wav", "ogg", "flac", "m4a", "aac"):
        return "audio"
    ctype = (content_type or "").split(";")[0].strip().lower()
    for prefix in ("image", "video", "audio"):
        if ctype.startswith(prefix + "/"):
            return "image" if prefix == "image" else "video" if prefix == "video" else "audio"
    ext = (name or "").rsplit(".", 1)[-1].lower() if name and "." in name else ""
    return _EXT_KIND.get(ext, "image")


def reference_from_bytes(data: bytes, name: str | None = None, content_type: str | None = None) -> RefImage | RefMedia:
    """One uploaded file as a reference: a ``RefImage`` for images (prepared like compose), else a ``RefMedia``."""
    if sniff_kind(data, name, content_type) == "image":
        return RefImage.from_bytes(data, name=name)
    return RefMedia.from_bytes(data, name, content_type)


def sniff_format(data: bytes) -> str:
    head = data[:16]
    if head.startswith(_IMAGE_MAGIC[0]):
        return "png"
    if head.startswith(_IMAGE_MAGIC[1]):
        return "jpeg"
    if head.startswith(b"GIF8"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "m4a"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"  # an older QuickTime file: atoms without a leading ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3") or _mp3_frame(data, 0) is not None:
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    if head.startswith(b"BM"):
        return "bmp"
    return ""


# ---------------------------------------------------------------------------------------------------------------- MP4


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1 and pos + 16 <= end:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def probe_mp4(data: bytes) -> tuple[int, int, int] | None:
    """(duration ms, width, height) from ``moov/mvhd`` and the first track header with a frame size."""
    moov = next(((s, e) for k, s, e in _boxes(data, 0, len(data)) if k == b"moov"), None)
    if moov is None:
        return None
    duration_ms = width = height = 0
    for kind, s, e in _boxes(data, *moov):
        if kind == b"mvhd" and e - s >= 32:
            if data[s] == 1:
                timescale, dur = struct.unpack(">IQ", data[s + 20 : s + 32])
            else:
                timescale, dur = struct.unpack(">II", data[s + 12 : s + 20])
            duration_ms = round(dur * 1000 / timescale) if timescale else 0
        elif kind == b"trak" and not width:
            for k2, s2, e2 in _boxes(data, s, e):
                if k2 == b"tkhd" and e2 - s2 >= 84:
                    w, h = struct.unpack(">II", data[e2 - 8 : e2])
                    width, height = w >> 16, h >> 16
    return duration_ms, width, height


# ---------------------------------------------------------------------------------------------------------------- audio


def probe_wav(data: bytes) -> int | None:
    """Length in ms from the ``fmt`` byte rate and the ``data`` chunk size."""
    pos, byte_rate, data_size = 12, 0, None
    while pos + 8 <= len(data):
        cid, size = struct.unpack("<4sI", data[pos : pos + 8])
        if cid == b"fmt " and size >= 16:
            byte_rate = int(struct.unpack("<I", data[pos + 16 : pos + 20])[0])
        elif cid == b"data":
            data_size = min(int(size), len(data) - pos - 8)
            break
        pos += 8 + size + (size & 1)
    if not byte_rate or data_size is None:
        return None
    return round(data_size * 1000 / byte_rate)


_MP3_BITRATES = {  # kbps by (MPEG-1?, layer 3) index 1..14
    True: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame length in bytes, samples in the frame, sample rate) of an MPEG layer III frame header at ``pos``."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    b1, b2 = data[pos + 1], data[pos + 2]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_i, rate_i, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or bitrate_i in (0, 15) or rate_i == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[mpeg1][bitrate_i - 1] * 1000
    rate = _MP3_RATES[version][rate_i]
    samples = 1152 if mpeg1 else 576
    return samples // 8 * bitrate // rate + padding, samples, rate


def probe_mp3(data: bytes) -> int | None:
    """Length in ms: the Xing/Info frame count when present, else every frame walked."""
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        s = data[6:10]
        pos = 10 + ((s[0] & 0x7F) << 21 | (s[1] & 0x7F) << 14 | (s[2] & 0x7F) << 7 | (s[3] & 0x7F))
    while pos < len(data) and _mp3_frame(data, pos) is None and pos < 65536:
        pos += 1  # padding or junk before the first frame
    first = _mp3_frame(data, pos)
    if first is None:
        return None
    length, samples, rate = first
    head = data[pos : pos + length]
    for tag in (b"Xing", b"Info"):
        at = head.find(tag)
        if at >= 0 and len(head) >= at + 12 and struct.unpack(">I", head[at + 4 : at + 8])[0] & 1:
            frames = int(struct.unpack(">I", head[at + 8 : at + 12])[0])
            return round(frames * samples * 1000 / rate)
    total = 0.0
    while (frame := _mp3_frame(data, pos)) is not None:
        total += frame[1] * 1000 / frame[2]
        pos += frame[0]
    return round(total)


def probe(ref: RefMedia) -> MediaInfo:
    """What the file is and how long it lasts. An unknown format gives ``format=""``; a known format whose length
    cannot be read gives ``duration_ms=0`` (``check_media`` refuses both)."""
    fmt = sniff_format(ref.data)
    kind = ref.kind
    if fmt in ("mp4", "mov"):
        found = probe_mp4(ref.data)
        if found is None:
            return MediaInfo("video", fmt)
        ms, w, h = found
        return MediaInfo("video", fmt, ms, w, h)
    if fmt == "wav":
        return MediaInfo("audio", fmt, probe_wav(ref.data) or 0)
    if fmt == "mp3":
        return MediaInfo("audio", fmt, probe_mp3(ref.data) or 0)
    return MediaInfo(kind, fmt)


# ---------------------------------------------------------------------------------------------------------------- checks


def _refuse(message: str, code: str, **details: Any) -> InvalidRequestError:
    return InvalidRequestError(message, param="references", code=code, details=details)


def check_counts(kinds: Sequence[str]) -> None:
    """The web app's limits on how many references of each kind (PROTOCOL.md §11.6)."""
    if not kinds:
        raise _refuse("omni-reference video needs at least one reference file", "no_references")
    total = OMNI_LIMITS["total"]
    if len(kinds) > total:
        raise _refuse(
            f"too many references: {len(kinds)}; at most {total}",
            "too_many_references",
            kind="all",
            count=len(kinds),
            max=total,
        )
    for kind in ("image", "video", "audio"):
        n, cap = sum(1 for k in kinds if k == kind), OMNI_LIMITS[kind]
        if n > cap:
            raise _refuse(
                f"too many {kind} references: {n}; at most {cap}", "too_many_references", kind=kind, count=n, max=cap
            )
    unknown = [k for k in kinds if k not in ("image", "video", "audio")]
    if unknown:
        raise _refuse(f"unknown reference kind '{unknown[0]}'", "reference_unreadable", kind=unknown[0])


def check_media(info: MediaInfo, size: int, index: int) -> None:
    """One video/audio file against the formats upstream takes and the limits (before any upload)."""
    n = index + 1
    if info.kind == "video" and info.format not in VIDEO_FORMATS:
        shown = info.format or "unknown"
        raise _refuse(
            f"reference {n}: video format {shown} is not accepted; use MP4 or MOV",
            "reference_video_format",
            index=index,
            format=shown,
        )
    if info.kind == "audio" and info.format not in AUDIO_FORMATS:
        shown = info.format or "unknown"
        raise _refuse(
            f"reference {n}: audio format {shown} is not accepted; use MP3 or WAV",
            "reference_audio_format",
            index=index,
            format=shown,
        )
    if info.kind == "image":
        raise _refuse(f"reference {n} is not a video or audio file we can read", "reference_unreadable", index=index)
    cap = MAX_VIDEO_BYTES if info.kind == "video" else MAX_AUDIO_BYTES
    if size > cap:
        raise _refuse(
            f"reference {n} ({info.kind}) is {size / 1e6:.1f} MB; at most {cap // (1024 * 1024)} MB",
            "reference_too_large",
            index=index,
            kind=info.kind,
            size=size,
            max=cap,
        )
    if info.duration_ms <= 0:
        raise _refuse(f"reference {n}: cannot read the length of this {info.kind}", "reference_unreadable", index=index)
    max_ms = OMNI_LIMITS["seconds"] * 1000
    if info.duration_ms > max_ms:
        raise _refuse(
            f"reference {n} ({info.kind}) lasts {info.duration_ms / 1000:.1f} s; at most {OMNI_LIMITS['seconds']} s",
            "reference_too_long",
            index=index,
            kind=info.kind,
            seconds=round(info.duration_ms / 1000, 2),
            max=OMNI_LIMITS["seconds"],
        )


def check_total_video(infos: Sequence[MediaInfo]) -> None:
    total = sum(i.duration_ms for i in infos if i.kind == "video")
    cap = OMNI_LIMITS["video_seconds_total"]
    if total > cap * 1000:
        raise _refuse(
            f"the reference videos last {total / 1000:.1f} s together; at most {cap} s",
            "reference_videos_too_long",
            seconds=round(total / 1000, 2),
            max=cap,
        )


async def probe_all(refs: Sequence[RefMedia], indexes: Sequence[int]) -> list[MediaInfo]:
    """Probe and check each file (in a thread: parsing stays off the event loop); ``indexes`` are their positions
    among all references, for the error messages."""

    def work() -> list[MediaInfo]:
        infos = []
        for ref, i in zip(refs, indexes, strict=True):
            info = probe(ref)
            check_media(info, len(ref.data), i)
            infos.append(info)
        check_total_video(infos)
        return infos

    return await asyncio.to_thread(work)
