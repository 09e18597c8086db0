"""Small real video and audio files for the omni-reference and frame-interpolation tests: an MP4/MOV skeleton
(``ftyp`` + ``moov/mvhd`` + one ``trak/tkhd``, enough for any reader of the container's duration and frame size), a
PCM WAV written by the standard library, and a run of MPEG-1 layer III frames."""

from __future__ import annotations

import io
import struct
import wave


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def make_mp4(
    seconds: float = 3.0, width: int = 640, height: int = 360, *, brand: bytes = b"isom", pad: int = 0
) -> bytes:
    """An ISO-BMFF file lasting ``seconds`` (timescale 1000) with a ``width``×``height`` track; ``pad`` bytes of
    ``mdat`` make it as large as a test needs."""
    timescale, duration = 1000, round(seconds * 1000)
    mvhd = struct.pack(">B3xIIII", 0, 0, 0, timescale, duration) + b"\0" * 80
    tkhd = struct.pack(">B3xIIIIIQ", 0, 0, 0, 1, 0, duration, 0) + b"\0" * 8 + b"\0" * 36
    tkhd += struct.pack(">II", width << 16, height << 16)
    moov = _box(b"moov", _box(b"mvhd", mvhd) + _box(b"trak", _box(b"tkhd", tkhd)))
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + brand) if brand else _box(b"wide", b"")
    return ftyp + moov + _box(b"mdat", b"\0" * pad)


def make_wav(seconds: float = 2.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * round(rate * seconds))
    return buf.getvalue()


def make_mp3(seconds: float = 2.0) -> bytes:
    """MPEG-1 layer III, 128 kbps, 44.1 kHz frames of silence behind an empty ID3v2 tag."""
    header = bytes([0xFF, 0xFB, 0x90, 0x00])
    length = 1152 // 8 * 128000 // 44100
    frames = round(seconds * 44100 / 1152)
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + (header + b"\0" * (length - 4)) * frames


OGG = b"OggS\x00\x02" + b"\0" * 200
FLAC = b"fLaC" + b"\0" * 200
