"""The protocol as data: app ids, regions, error texts, size tables, and the image and video model tables.

Written from ``docs/PROTOCOL.md`` (PROTOCOL.md §1, §6–§7); nothing here is imported from ``core/``.
"""

from __future__ import annotations

from dataclasses import dataclass

AID_CN = 513695
AID_INTL = 513641
INTL_REGIONS = frozenset({"us", "hk", "jp", "sg"})
ALL_REGIONS = frozenset({"cn"}) | INTL_REGIONS
SIGV4_REGION = {
    "cn": "cn-north-1",
    "us": "us-east-1",
    "hk": "ap-southeast-1",
    "jp": "ap-southeast-1",
    "sg": "ap-southeast-1",
}
SPACE_CN = "tb4s082cfz"
SPACE_INTL = "wopfjsm1ax"
SIGN_APPVR = "8.4.0"
SIGN_PF = "7"

ERRMSG = {
    "0": "success",
    "-4": "shark check reject",
    "1000": "invalid parameter",
    "1002": "common error",
    "1006": "积分不足",
    "1014": "system busy",  # LUPIN saw this string with 1014; the real sign_error text is unknown
    "1015": "login error",
    "1019": "shark not pass",
    "3000": "region not allow",
    "3018": "permission denied",
    "4013": "生成失败，疑似存在异常行为，请重新尝试",
    "5001": "credit prededuct failed",
    "34010100": "param error",
}
# INVENTED (switch: invented_texts): errmsg strings nobody has captured.
INVENTED_ERRMSG = {
    "1001": "invalid params",  # the bundle's name is invalid_params
    "1010": "concurrency limit",
    "1018": "punish limit",
    "2008": "param error",  # get_history without count
}
STARLING = {
    "1006": ("web_dre_m10n_generate_popup_credit_ininsufficient_title", "积分不足"),
    "4013": ("web_risk_control_message_reject_generation", "生成失败，疑似存在异常行为，请重新尝试"),
}
FAIL_MESSAGES = {
    # fail_code -> (starling key, message). Only the 2038 message is real (AICF); no key was published.
    # INVENTED (switch: invented_texts): both keys, the 2039 message and the generic toast.
    "2038": ("web_text_security_block_toast", "你输入的文字不符合平台规则，请修改后重试"),
    "2039": ("web_image_security_block_toast", "你上传的图片不符合平台规则，请修改后重试"),
}
GENERIC_FAIL = ("web_generate_failed_toast", "生成失败，请重试")
TERMINAL = frozenset({10, 30, 40, 50, 100})

# PROTOCOL.md §6 size tables --------------------------------------------------------------------------------
RATIOS = {1: (1, 1), 2: (3, 4), 3: (16, 9), 4: (4, 3), 5: (9, 16), 6: (2, 3), 7: (3, 2), 8: (21, 9)}
SIZES_2K = {
    1: (2048, 2048),
    2: (1728, 2304),
    3: (2560, 1440),
    4: (2304, 1728),
    5: (1440, 2560),
    6: (1664, 2496),
    7: (2496, 1664),
    8: (3024, 1296),
}
SIZES_4K = {
    1: (4096, 4096),
    2: (3520, 4693),
    3: (5404, 3040),
    4: (4693, 3520),
    5: (3040, 5404),
    6: (3328, 4992),
    7: (4992, 3328),
    8: (6197, 2656),
}
SIZES_1K_NEW = {
    1: (1024, 1024),
    2: (768, 1024),
    3: (1024, 576),
    4: (1024, 768),
    5: (576, 1024),
    6: (682, 1024),
    7: (1024, 682),
    8: (1195, 512),
}
SIZES_1K_LEGACY = {
    1: (1328, 1328),
    2: (1104, 1472),
    3: (1664, 936),
    4: (1472, 1104),
    5: (936, 1664),
    6: (1056, 1584),
    7: (1584, 1056),
    8: (2016, 846),
}


def sizes_15k(scale: float) -> dict[int, tuple[int, int]]:
    """PROTOCOL.md §6.3: 1.5k sizes were never published. INVENTED (switch: size_15k_scale): ``scale`` x the 2k table."""
    return {k: (round(w * scale), round(h * scale)) for k, (w, h) in SIZES_2K.items()}


RESOLUTION_NAMES = {"1k": "标清 1K", "1.5k": "标清 1.5K", "2k": "高清 2K", "4k": "超清 4K"}


@dataclass(frozen=True)
class ImageModel:
    name: str
    regions: frozenset[str]
    count_options: tuple[int, ...] | None  # None: gen_count ignored (3.x / legacy) → 1 image
    default_count: int
    buckets: tuple[str, ...]
    input_limit: int | None = 10
    listed: bool = True  # appears in get_common_config
    forced_count: int | None = None  # mj82: any gen_count is raised to 4
    is_new: bool = False
    legacy_1k: bool = False


_CN = frozenset({"cn"})
_CN_ASIA = frozenset({"cn", "hk", "jp", "sg"})
_INTL = INTL_REGIONS
_ASIA = frozenset({"hk", "jp", "sg"})
_C18 = (1, 2, 3, 4, 5, 6, 7, 8)
_C14 = (1, 2, 3, 4)

IMAGE_MODELS: dict[str, ImageModel] = {
    "high_aes_general_v50p_large": ImageModel("Seedream 5.0 Pro", _CN, _C14, 2, ("1.5k", "2k", "4k")),
    "high_aes_general_v50_flash": ImageModel("Seedream 5.0 Flash", _CN, _C14, 4, ("1.5k", "2k"), is_new=True),
    "high_aes_general_v50": ImageModel("Seedream 5.0 Lite", _CN_ASIA, _C18, 4, ("2k", "4k"), input_limit=None),
    "high_aes_general_v43": ImageModel("Seedream 4.7", _CN, _C18, 4, ("2k", "4k")),
    "high_aes_general_v42": ImageModel("Seedream 4.6", _CN_ASIA, _C18, 4, ("2k", "4k")),
    "high_aes_general_v40l": ImageModel("Seedream 4.5", ALL_REGIONS, _C18, 4, ("2k", "4k")),
    "high_aes_general_v41": ImageModel("Seedream 4.1", ALL_REGIONS, _C18, 4, ("2k", "4k")),
    "high_aes_general_v40": ImageModel("Seedream 4.0", ALL_REGIONS, _C18, 4, ("2k", "4k")),
    "high_aes_general_v30l_art_fangzhou:general_v3.0_18b": ImageModel(
        "Seedream 3.1", _CN, None, 1, ("1k", "2k"), legacy_1k=True
    ),
    "high_aes_general_v30l:general_v3.0_18b": ImageModel("Seedream 3.0", ALL_REGIONS, None, 1, ("1k",), legacy_1k=True),
    "high_aes_general_v21_L:general_v2.1_L": ImageModel("2.1", _CN, None, 1, ("1k",), None, False, legacy_1k=True),
    "high_aes_general_v20_L:general_v2.0_L": ImageModel("2.0 Pro", _CN, None, 1, ("1k",), None, False, legacy_1k=True),
    "high_aes_general_v20:general_v2.0": ImageModel("2.0", _CN, None, 1, ("1k",), None, False, legacy_1k=True),
    "high_aes_general_v14:general_v1.4": ImageModel("1.4", _CN, None, 1, ("1k",), None, False, legacy_1k=True),
    "text2img_xl_sft": ImageModel("XL Pro", _CN, None, 1, ("1k",), None, False, legacy_1k=True),
    "jm_image_model_yc_mj82": ImageModel("图片美学模型 V8.2", _CN, (4,), 4, ("1k", "2k"), 20, forced_count=4),
    "external_model_gemini_flash_image_v25": ImageModel("Nano Banana", _INTL, None, 1, ("1k", "2k")),
    "dreamina_image_lib_1": ImageModel("Nano Banana Pro", _INTL, None, 1, ("1k", "2k", "4k")),
    # NOT in PROTOCOL.md §7.2 — only discoverable through get_common_config (proves a client merges the catalogue).
    "high_aes_general_v60_preview": ImageModel("Seedream 6.0 Preview", _CN, _C14, 4, ("2k", "4k"), is_new=True),
}


@dataclass(frozen=True)
class VideoModel:
    name: str
    regions: frozenset[str]
    benefit: dict[str, frozenset[str]]  # resolution ("*" = any) -> accepted benefit types


def _b(*names: str) -> frozenset[str]:
    return frozenset(names)


_V3 = "basic_video_operation_vgfm_v_three"
VIDEO_MODELS: dict[str, VideoModel] = {
    "dreamina_ic_generate_video_model_vgfm_3.5_pro": VideoModel(
        "视频 3.5 Pro", ALL_REGIONS, {"*": _b("dreamina_video_seedance_15_pro")}
    ),
    "dreamina_ic_generate_video_model_vgfm_3.0": VideoModel("视频 3.0", ALL_REGIONS, {"*": _b(_V3)}),
    "dreamina_ic_generate_video_model_vgfm_3.0_pro": VideoModel("视频 3.0 Pro", _CN_ASIA, {"*": _b(_V3, _V3 + "_pro")}),
    "dreamina_ic_generate_video_model_vgfm_3.0_fast": VideoModel(
        "视频 3.0 Fast", _CN_ASIA, {"720p": _b(_V3), "1080p": _b(_V3 + "_1080"), "*": _b(_V3)}
    ),
    "dreamina_ic_generate_video_model_vgfm_lite": VideoModel("视频 2.0", _CN_ASIA, {"*": _b(_V3)}),
    "dreamina_ic_generate_video_model_vgfm1.0": VideoModel("视频 2.0 Pro", _CN_ASIA, {"*": _b(_V3)}),
    "dreamina_seedance_40_mini": VideoModel(
        "即梦 Seedance 2.0 mini", _CN, {"*": _b("seedance_20_mini_720p_output_5s")}
    ),
    "dreamina_seedance_40_vision": VideoModel(
        "即梦 Seedance 2.0 Fast VIP", _CN, {"*": _b("dreamina_seedance_20_fast_5s")}
    ),
    "dreamina_seedance_40_pro_vision": VideoModel(
        "即梦 Seedance 2.0 VIP",
        _CN,
        {
            "720p": _b("seedance_20_pro_720p_output"),
            "1080p": _b("seedance_20_pro_1080p_output"),
            "*": _b("seedance_20_pro_720p_output"),
        },
    ),
    "dreamina_seedance_40_pro": VideoModel("即梦 Seedance 2.0", _CN, {"*": _b("dreamina_video_seedance_20_pro")}),
    "dreamina_seedance_40": VideoModel("即梦 Seedance 2.0 Fast", _CN, {"*": _b("dreamina_seedance_20_fast")}),
    "dreamina_seedance_45_pro_draft": VideoModel(  # PROTOCOL.md §11.4: draft (样片) mode only
        "即梦 Seedance 2.5 样片", _CN, {"*": _b("seedance_25_draft_480p_no_input_video_output")}
    ),
    "dreamina_veo3_generate_video": VideoModel("Veo 3", _ASIA, {"*": _b("generate_video_veo3")}),
    "dreamina_veo3.1_generate_video": VideoModel("Veo 3.1", _ASIA, {"*": _b("generate_video_veo3.1")}),
    "dreamina_sora2_generate_video": VideoModel("Sora 2", _ASIA, {"*": _b("generate_video_sora2")}),
}
# US site: only 3.5 Pro and 3.0 (PROTOCOL.md §1.3).
US_VIDEO = {"dreamina_ic_generate_video_model_vgfm_3.5_pro", "dreamina_ic_generate_video_model_vgfm_3.0"}
VIDEO_RESOLUTIONS = {"480p": 480, "720p": 720, "1080p": 1080}
VIDEO_ASPECTS = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "21:9": (21, 9),
    "2:3": (2, 3),
    "3:2": (3, 2),
}


def video_size(resolution: str, aspect: tuple[int, int]) -> tuple[int, int]:
    base = VIDEO_RESOLUTIONS.get(resolution, 720)
    a, b = aspect
    if a >= b:
        return round(base * a / b / 2) * 2, base
    return base, round(base * b / a / 2) * 2
