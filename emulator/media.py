"""Media bytes for the Jimeng emulator: real WebP images (Pillow) and a tiny, valid, hand-built MP4.

The MP4 is written box by box (ISO-BMFF: ftyp + moov + mdat) around one H.264 IDR frame that is also
written by hand: Baseline profile, CAVLC, every macroblock ``I_16x16`` with DC prediction and no residual,
which decodes to a flat mid-grey picture of the requested size. No external tool, no download, deterministic.
"""

from __future__ import annotations

import hashlib
import io
import struct

from PIL import Image, ImageDraw

# --------------------------------------------------------------------------------------------- images


def _colour(seed: str, salt: str) -> tuple[int, int, int]:
    d = hashlib.sha256(f"{salt}:{seed}".encode()).digest()
    return d[0], d[1], d[2]


def make_webp(width: int, height: int, seed: str) -> bytes:
    """A cheap but real WebP image of exactly ``width`` x ``height``: a solid colour plus two shapes."""
    im = Image.new("RGB", (width, height), _colour(seed, "bg"))
    draw = ImageDraw.Draw(im)
    draw.rectangle([width // 8, height // 8, width // 2, height // 2], fill=_colour(seed, "a"))
    draw.rectangle([width // 2, height // 2, width * 7 // 8, height * 7 // 8], fill=_colour(seed, "b"))
    buf = io.BytesIO()
    im.save(buf, "WEBP", lossless=True, method=0)
    return buf.getvalue()


def image_info(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, format lower-case) of image bytes, or None if Pillow cannot read them."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").lower()
            return im.width, im.height, fmt
    except Exception:
        return None


# --------------------------------------------------------------------------------------------- H.264


class _Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> None:
        self.bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, v: int) -> None:
        x = v + 1
        n = x.bit_length()
        self.u(n - 1, 0)
        self.u(n, x)

    def se(self, v: int) -> None:
        self.ue(2 * v - 1 if v > 0 else -2 * v)

    def trailing(self) -> None:
        self.bits.append(1)
        while len(self.bits) % 8:
            self.bits.append(0)

    def tobytes(self) -> bytes:
        out = bytearray()
        for i in range(0, len(self.bits), 8):
            byte = 0
            for b in self.bits[i : i + 8]:
                byte = (byte << 1) | b
            out.append(byte)
        return bytes(out)


def _ebsp(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (00 00 0x with x<=3 → 00 00 03 0x)."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _nal(ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    return bytes([(ref_idc << 5) | nal_type]) + _ebsp(rbsp)


def _h264_frame(width: int, height: int) -> tuple[bytes, bytes, bytes]:
    """(SPS, PPS, IDR slice) NAL units, without start codes."""
    mbw, mbh = (width + 15) // 16, (height + 15) // 16
    crop_r, crop_b = (mbw * 16 - width) // 2, (mbh * 16 - height) // 2

    sps = _Bits()
    sps.u(8, 66)  # profile_idc: Baseline
    sps.u(8, 0xC0)  # constraint_set0/1
    level = 40 if mbw * mbh > 1620 else 31
    sps.u(8, level)
    sps.ue(0)  # seq_parameter_set_id
    sps.ue(0)  # log2_max_frame_num_minus4
    sps.ue(2)  # pic_order_cnt_type
    sps.ue(1)  # max_num_ref_frames
    sps.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    sps.ue(mbw - 1)
    sps.ue(mbh - 1)
    sps.u(1, 1)  # frame_mbs_only_flag
    sps.u(1, 1)  # direct_8x8_inference_flag
    if crop_r or crop_b:
        sps.u(1, 1)
        sps.ue(0)
        sps.ue(crop_r)
        sps.ue(0)
        sps.ue(crop_b)
    else:
        sps.u(1, 0)
    sps.u(1, 0)  # vui_parameters_present_flag
    sps.trailing()

    pps = _Bits()
    pps.ue(0)  # pic_parameter_set_id
    pps.ue(0)  # seq_parameter_set_id
    pps.u(1, 0)  # entropy_coding_mode_flag (CAVLC)
    pps.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    pps.ue(0)  # num_slice_groups_minus1
    pps.ue(0)  # num_ref_idx_l0_default_active_minus1
    pps.ue(0)  # num_ref_idx_l1_default_active_minus1
    pps.u(1, 0)  # weighted_pred_flag
    pps.u(2, 0)  # weighted_bipred_idc
    pps.se(0)  # pic_init_qp_minus26
    pps.se(0)  # pic_init_qs_minus26
    pps.se(0)  # chroma_qp_index_offset
    pps.u(1, 1)  # deblocking_filter_control_present_flag
    pps.u(1, 0)  # constrained_intra_pred_flag
    pps.u(1, 0)  # redundant_pic_cnt_present_flag
    pps.trailing()

    sl = _Bits()
    sl.ue(0)  # first_mb_in_slice
    sl.ue(7)  # slice_type: I (all slices)
    sl.ue(0)  # pic_parameter_set_id
    sl.u(4, 0)  # frame_num (log2_max_frame_num = 4)
    sl.ue(0)  # idr_pic_id
    sl.u(1, 0)  # no_output_of_prior_pics_flag
    sl.u(1, 0)  # long_term_reference_flag
    sl.se(0)  # slice_qp_delta
    sl.ue(1)  # disable_deblocking_filter_idc
    for _ in range(mbw * mbh):
        sl.ue(3)  # mb_type I_16x16_2_0_0: DC prediction, no coded luma/chroma AC
        sl.ue(0)  # intra_chroma_pred_mode: DC
        sl.se(0)  # mb_qp_delta
        sl.u(1, 1)  # Intra16x16DCLevel coeff_token: TotalCoeff 0 (nC 0..1)
    sl.trailing()
    return _nal(3, 7, sps.tobytes()), _nal(3, 8, pps.tobytes()), _nal(3, 5, sl.tobytes())


# --------------------------------------------------------------------------------------------- MP4


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def make_mp4(width: int = 64, height: int = 64, duration_ms: int = 1000) -> bytes:
    """A valid MP4 (``ftyp`` major brand ``isom``) with one H.264 video track of one grey frame that lasts
    ``duration_ms``. A few hundred bytes for small sizes; ~1 byte per 16x16 macroblock for large ones."""
    width = max(16, int(width)) // 2 * 2
    height = max(16, int(height)) // 2 * 2
    duration_ms = max(1, int(duration_ms))
    sps, pps, idr = _h264_frame(width, height)
    sample = struct.pack(">I", len(idr)) + idr

    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"avc1", b"mp41")
    avcc = _box(
        b"avcC",
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = _box(
        b"avc1",
        b"\x00" * 6,
        struct.pack(">H", 1),  # data_reference_index
        b"\x00" * 16,
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x00480000, 0x00480000),
        b"\x00" * 4,
        struct.pack(">H", 1),  # frame_count
        b"\x00" * 32,  # compressorname
        struct.pack(">Hh", 0x0018, -1),
        avcc,
    )

    def moov(chunk_offset: int) -> bytes:
        stbl = _box(
            b"stbl",
            _full(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
            _full(b"stts", 0, 0, struct.pack(">III", 1, 1, duration_ms)),
            _full(b"stss", 0, 0, struct.pack(">II", 1, 1)),
            _full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
            _full(b"stsz", 0, 0, struct.pack(">III", 0, 1, len(sample))),
            _full(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
        )
        minf = _box(
            b"minf",
            _full(b"vmhd", 0, 1, struct.pack(">HHHH", 0, 0, 0, 0)),
            _box(b"dinf", _full(b"dref", 0, 0, struct.pack(">I", 1), _full(b"url ", 0, 1))),
            stbl,
        )
        mdia = _box(
            b"mdia",
            _full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 1000, duration_ms, 0x55C4, 0)),
            _full(b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", b"\x00" * 12, b"VideoHandler\x00"),
            minf,
        )
        tkhd = _full(
            b"tkhd",
            0,
            3,
            struct.pack(">IIIII", 0, 0, 1, 0, duration_ms),
            b"\x00" * 8,
            struct.pack(">hhhH", 0, 0, 0, 0),
            _MATRIX,
            struct.pack(">II", width << 16, height << 16),
        )
        mvhd = _full(
            b"mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, 1000, duration_ms),
            struct.pack(">IH", 0x00010000, 0x0100),
            b"\x00" * 10,
            _MATRIX,
            b"\x00" * 24,
            struct.pack(">I", 2),
        )
        return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))

    head_len = len(ftyp) + len(moov(0))
    return ftyp + moov(head_len + 8) + _box(b"mdat", sample)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None):
    """Yield (type, payload_start, box_end) for the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8 or pos + size > end:
            return
        yield kind.decode("latin-1"), pos + 8, pos + size
        pos += size


def probe_mp4(data: bytes) -> dict | None:
    """Minimal reader: {'width','height','duration'(s)} from mvhd/tkhd of an MP4, or None."""
    boxes = {k: (s, e) for k, s, e in iter_boxes(data)}
    if "ftyp" not in boxes or "moov" not in boxes:
        return None
    ms, me = boxes["moov"]
    info: dict = {"width": 0, "height": 0, "duration": 0.0}
    for kind, s, e in iter_boxes(data, ms, me):
        if kind == "mvhd" and data[s] == 0:
            timescale, dur = struct.unpack(">II", data[s + 12 : s + 20])
            info["duration"] = dur / timescale if timescale else 0.0
        if kind == "trak":
            for k2, s2, e2 in iter_boxes(data, s, e):
                if k2 == "tkhd" and data[s2] == 0 and e2 - s2 >= 84:
                    w, h = struct.unpack(">II", data[s2 + 76 : s2 + 84])
                    if w and not info["width"]:
                        info["width"], info["height"] = w >> 16, h >> 16
    return info
