"""The model catalogue: image and video models, their keys on the wire, regions, sizes, counts, durations.

The built-in table; ``core.registry`` merges the live catalogue (get_common_config) over it at start and daily.
Citations ``PROTOCOL.md §N.M`` refer to ``docs/PROTOCOL.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from core.wire import Region

# --------------------------------------------------------------------------------------------------------------------
# Models (PROTOCOL.md §7)

ALL_REGIONS: Final = frozenset(Region)
INTL_ASIA: Final = frozenset({Region.HK, Region.JP, Region.SG})
CN_ONLY: Final = frozenset({Region.CN})


@dataclass(frozen=True, slots=True)
class ImageModelSpec:
    key: str  # internal req key on the wire
    title: str
    regions: frozenset[Region]
    resolutions: tuple[str, ...]
    default_resolution: str = "2k"
    count_options: tuple[int, ...] | None = (1, 2, 3, 4, 5, 6, 7, 8)  # None: gen_count ignored (one job, model decides)
    default_count: int = 4
    max_references: int = 10
    intelligent_ratio: bool = False
    legacy: bool = False
    # Region-specific forced geometry (nanobanana on US: 1024² tagged "2k", ratio 1).
    forced: dict[Region, tuple[str, int, int, str]] = field(default_factory=dict)


_COUNT_1_4: Final = (1, 2, 3, 4)

IMAGE_MODELS: Final[dict[str, ImageModelSpec]] = {
    "jimeng-5.0-pro": ImageModelSpec(
        "high_aes_general_v50p_large",
        "Seedream 5.0 Pro",
        CN_ONLY,
        ("1.5k", "2k", "4k"),
        count_options=_COUNT_1_4,
        default_count=2,
    ),
    "jimeng-5.0-flash": ImageModelSpec(
        "high_aes_general_v50_flash", "Seedream 5.0 Flash", CN_ONLY, ("1.5k", "2k"), count_options=_COUNT_1_4
    ),
    "jimeng-5.0": ImageModelSpec(
        "high_aes_general_v50", "Seedream 5.0 Lite", CN_ONLY | INTL_ASIA, ("2k", "4k"), intelligent_ratio=True
    ),
    "jimeng-4.7": ImageModelSpec("high_aes_general_v43", "Seedream 4.7", CN_ONLY, ("2k", "4k")),
    "jimeng-4.6": ImageModelSpec(
        "high_aes_general_v42", "Seedream 4.6", CN_ONLY | INTL_ASIA, ("2k", "4k"), intelligent_ratio=True
    ),
    "jimeng-4.5": ImageModelSpec(
        "high_aes_general_v40l", "Seedream 4.5", ALL_REGIONS, ("2k", "4k"), intelligent_ratio=True
    ),
    "jimeng-4.1": ImageModelSpec(
        "high_aes_general_v41", "Seedream 4.1", ALL_REGIONS, ("2k", "4k"), intelligent_ratio=True
    ),
    "jimeng-4.0": ImageModelSpec(
        "high_aes_general_v40", "Seedream 4.0", ALL_REGIONS, ("1k", "2k", "4k"), intelligent_ratio=True
    ),
    "jimeng-3.1": ImageModelSpec(
        "high_aes_general_v30l_art_fangzhou:general_v3.0_18b",
        "Seedream 3.1",
        CN_ONLY,
        ("1k", "2k"),
        default_resolution="1k",
        count_options=None,
        default_count=1,
    ),
    "jimeng-3.0": ImageModelSpec(
        "high_aes_general_v30l:general_v3.0_18b",
        "Seedream 3.0",
        ALL_REGIONS,
        ("1k",),
        default_resolution="1k",
        count_options=None,
        default_count=1,
    ),
    "jimeng-aesthetic-8.2": ImageModelSpec(
        "jm_image_model_yc_mj82",
        "Aesthetic model V8.2",
        CN_ONLY,
        ("1k", "2k"),
        default_resolution="1k",
        count_options=(4,),
        max_references=20,
    ),
    "jimeng-2.1": ImageModelSpec(
        "high_aes_general_v21_L:general_v2.1_L", "Jimeng 2.1", CN_ONLY, ("1k",), "1k", None, 1, 1, legacy=True
    ),
    "jimeng-2.0-pro": ImageModelSpec(
        "high_aes_general_v20_L:general_v2.0_L", "Jimeng 2.0 Pro", CN_ONLY, ("1k",), "1k", None, 1, 1, legacy=True
    ),
    "jimeng-2.0": ImageModelSpec(
        "high_aes_general_v20:general_v2.0", "Jimeng 2.0", CN_ONLY, ("1k",), "1k", None, 1, 1, legacy=True
    ),
    "jimeng-1.4": ImageModelSpec(
        "high_aes_general_v14:general_v1.4", "Jimeng 1.4", CN_ONLY, ("1k",), "1k", None, 1, 1, legacy=True
    ),
    "jimeng-xl-pro": ImageModelSpec(
        "text2img_xl_sft", "Jimeng XL Pro", CN_ONLY, ("1k",), "1k", None, 1, 1, legacy=True
    ),
    "nanobanana": ImageModelSpec(
        "external_model_gemini_flash_image_v25",
        "Nano Banana (Gemini 2.5 Flash Image)",
        frozenset({Region.US}) | INTL_ASIA,
        ("1k",),
        default_resolution="1k",
        count_options=None,
        default_count=1,
        forced={Region.US: ("1:1", 1024, 1024, "2k")},
    ),
    "nanobananapro": ImageModelSpec(
        "dreamina_image_lib_1",
        "Nano Banana Pro",
        frozenset({Region.US}) | INTL_ASIA,
        ("1k", "2k", "4k"),
        count_options=None,
        default_count=1,
    ),
}
DEFAULT_IMAGE_MODEL: Final = "jimeng-4.5"


@dataclass(frozen=True, slots=True)
class ToolCapability:
    """A post-edit tool and mode on images (PROTOCOL.md §11.1); ``core.tool_spec`` validates against it."""

    tool: str  # "upscale" | "outpaint" | "detail"
    mode: str  # "hd" | "pro" for upscale; "" otherwise
    title: str
    regions: frozenset[Region]
    uploads: bool = True  # False: only a result of ours (upstream failed detail repair on uploads, status 30)


# Every capture is CN (AICF, Sept 2026); whether the international sites offer these tools is unknown.
TOOLS: Final[dict[str, ToolCapability]] = {
    "upscale-hd": ToolCapability("upscale", "hd", "Upscale 2× (超清)", CN_ONLY),
    "upscale-pro": ToolCapability("upscale", "pro", "Smart upscale to 2K (智能超清)", CN_ONLY),
    "outpaint": ToolCapability("outpaint", "", "Outpaint / zoom out (扩图)", CN_ONLY),
    "detail": ToolCapability("detail", "", "Detail repair (细节修复)", CN_ONLY, uploads=False),
}


@dataclass(frozen=True, slots=True)
class VideoModelSpec:
    key: str
    title: str
    regions: frozenset[Region]
    durations: tuple[int, ...]  # seconds
    resolutions: tuple[str, ...]
    benefit_types: dict[str, str]  # resolution → benefit_type (a wrong one is refused with ret 5001)
    default_duration: int = 5
    sends_resolution: bool = True  # IPTAG: 3.0-pro / 3.5-pro take no ``resolution`` field
    commerce_amount: bool = False  # Seedance 4.x family sends ``amount`` = output seconds (AICF)
    function_mode: str = "first_last_frames"
    frames: bool = True  # accepts first / last frame images
    omni: bool = False  # takes image/video/audio references (omni reference, PROTOCOL.md §11.2)
    draft_mode: bool = False  # Seedance 2.5 样片 draft (PROTOCOL.md §11.4)


def _same(benefit: str, *resolutions: str) -> dict[str, str]:
    return dict.fromkeys(resolutions, benefit)


_SEEDANCE_DURATIONS: Final = tuple(range(4, 16))

VIDEO_MODELS: Final[dict[str, VideoModelSpec]] = {
    "jimeng-video-3.5-pro": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm_3.5_pro",
        "Video 3.5 Pro (Seedance 1.5 Pro)",
        ALL_REGIONS,
        (5, 10, 12),
        ("720p",),
        _same("dreamina_video_seedance_15_pro", "720p"),
        sends_resolution=False,
    ),
    "jimeng-video-3.0-pro": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm_3.0_pro",
        "Video 3.0 Pro",
        CN_ONLY | INTL_ASIA,
        (5, 10),
        ("1080p",),
        _same("basic_video_operation_vgfm_v_three", "1080p"),
        sends_resolution=False,
    ),
    "jimeng-video-3.0": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm_3.0",
        "Video 3.0",
        ALL_REGIONS,
        (5, 10),
        ("720p", "1080p"),
        _same("basic_video_operation_vgfm_v_three", "720p", "1080p"),
    ),
    "jimeng-video-3.0-fast": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm_3.0_fast",
        "Video 3.0 Fast",
        CN_ONLY | INTL_ASIA,
        (5, 10),
        ("720p", "1080p"),
        {"720p": "basic_video_operation_vgfm_v_three", "1080p": "basic_video_operation_vgfm_v_three_1080"},
    ),
    "jimeng-video-2.0": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm_lite",
        "Video 2.0",
        CN_ONLY | INTL_ASIA,
        (5,),
        ("720p",),
        _same("basic_video_operation_vgfm_v_three", "720p"),
    ),
    "jimeng-video-2.0-pro": VideoModelSpec(
        "dreamina_ic_generate_video_model_vgfm1.0",
        "Video 2.0 Pro",
        CN_ONLY | INTL_ASIA,
        (5,),
        ("720p",),
        _same("basic_video_operation_vgfm_v_three", "720p"),
    ),
    "jimeng-video-seedance-2.0": VideoModelSpec(
        "dreamina_seedance_40_pro",
        "Seedance 2.0",
        CN_ONLY,
        _SEEDANCE_DURATIONS,
        ("720p",),
        _same("dreamina_video_seedance_20_pro", "720p"),
        omni=True,
    ),
    "jimeng-video-seedance-2.0-fast": VideoModelSpec(
        "dreamina_seedance_40",
        "Seedance 2.0 Fast",
        CN_ONLY,
        _SEEDANCE_DURATIONS,
        ("720p",),
        _same("dreamina_seedance_20_fast", "720p"),
        omni=True,
    ),
    "jimeng-video-seedance-2.5-draft": VideoModelSpec(
        "dreamina_seedance_45_pro_draft",
        "Seedance 2.5 draft (480p preview)",
        CN_ONLY,
        (5,),
        ("480p",),
        _same("seedance_25_draft_480p_no_input_video_output", "480p"),
        commerce_amount=True,
        function_mode="omni_reference",
        frames=False,
        draft_mode=True,
    ),
    "jimeng-video-seedance-2.0-mini": VideoModelSpec(
        "dreamina_seedance_40_mini",
        "Seedance 2.0 mini",
        CN_ONLY,
        (4, 5),
        ("720p",),
        _same("seedance_20_mini_720p_output_5s", "720p"),
        commerce_amount=True,
        function_mode="omni_reference",
        frames=False,
        omni=True,
    ),
    "jimeng-video-seedance-2.0-vip": VideoModelSpec(
        "dreamina_seedance_40_pro_vision",
        "Seedance 2.0 VIP",
        CN_ONLY,
        (5,),
        ("720p", "1080p"),
        {"720p": "seedance_20_pro_720p_output", "1080p": "seedance_20_pro_1080p_output"},
        commerce_amount=True,
        function_mode="omni_reference",
        frames=False,
        omni=True,
    ),
    "jimeng-video-seedance-2.0-fast-vip": VideoModelSpec(
        "dreamina_seedance_40_vision",
        "Seedance 2.0 Fast VIP",
        CN_ONLY,
        (5,),
        ("720p",),
        _same("dreamina_seedance_20_fast_5s", "720p"),
        commerce_amount=True,
        function_mode="omni_reference",
        frames=False,
        omni=True,
    ),
    "jimeng-video-veo3": VideoModelSpec(
        "dreamina_veo3_generate_video",
        "Veo 3",
        INTL_ASIA,
        (8,),
        ("720p",),
        _same("generate_video_veo3", "720p"),
        8,
        False,
    ),
    "jimeng-video-veo3.1": VideoModelSpec(
        "dreamina_veo3.1_generate_video",
        "Veo 3.1",
        INTL_ASIA,
        (8,),
        ("720p",),
        _same("generate_video_veo3.1", "720p"),
        8,
        False,
    ),
    "jimeng-video-sora2": VideoModelSpec(
        "dreamina_sora2_generate_video",
        "Sora 2",
        INTL_ASIA,
        (4, 8, 12),
        ("720p",),
        _same("generate_video_sora2", "720p"),
        4,
        False,
    ),
}
DEFAULT_VIDEO_MODEL: Final = "jimeng-video-3.5-pro"

# Omni reference (PROTOCOL.md §11.2, §11.6): the web app's limits, and the benefit type when a video reference is
# present on the Feb-2026 keys (WWZ/FRAN ``_with_video``; the 4.x ``mini``/``vision`` keys keep their own, AICF).
DEFAULT_OMNI_MODEL: Final = "jimeng-video-seedance-2.0-mini"
OMNI_LIMITS: Final[dict[str, int]] = {
    "image": 9,
    "video": 3,
    "audio": 3,
    "total": 12,
    "seconds": 15,  # one reference video or audio
    "video_seconds_total": 15,  # all reference videos together
}
OMNI_BENEFIT_WITH_VIDEO: Final[dict[str, str]] = {
    "dreamina_seedance_40_pro": "dreamina_video_seedance_20_pro_with_video",
    "dreamina_seedance_40": "dreamina_seedance_20_fast_with_video",
}
# Frame interpolation (补帧, PROTOCOL.md §11.3) runs under this model's key; where it is offered, so is interpolation.
FRAME_INTERPOLATION_MODEL: Final = "jimeng-video-seedance-2.0-mini"

# Draft marks of the Seedance extras (PROTOCOL.md §11.2–11.4): draft min_version, min_features, fixed values.
DRAFT_MIN_VERSION_OMNI: Final = "3.3.9"
OMNI_MIN_FEATURES: Final[tuple[str, ...]] = ("AIGC_Video_UnifiedEdit",)
MATERIAL_TYPE_CODES: Final[dict[str, int]] = {"image": 1, "video": 2, "audio": 3}  # sceneOptions.materialTypes
DRAFT_MIN_VERSION_INTERPOLATE: Final = "3.1.0"
INTERPOLATE_BENEFIT: Final = "video_frame_interpolation"
INTERPOLATE_SCENE: Final = "insert_frame"
INTERPOLATE_PROCESS_TYPE: Final = 3
INTERPOLATE_TARGET_FPS: Final = 60
DRAFT_MIN_VERSION_SEEDANCE25: Final = "3.3.28"
SEEDANCE25_MIN_FEATURES: Final[tuple[str, ...]] = ("AIGC_Video_Seedance25ResultAction",)
