"""Jimeng's wire protocol: sites and hosts, the request envelope, paths, job status, ret codes, size tables, uploads.

Facts about the upstream only (our own timings and limits are in ``core.policy``, the models in ``core.catalogue``).
When the upstream changes, the change is one edit here plus the emulator. Citations ``PROTOCOL.md §N.M`` refer to
``docs/PROTOCOL.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

# --------------------------------------------------------------------------------------------------------------------
# Regions and hosts (PROTOCOL.md §1.3)


class Region(StrEnum):
    CN = "cn"
    US = "us"
    HK = "hk"
    JP = "jp"
    SG = "sg"

    @property
    def is_international(self) -> bool:
        return self is not Region.CN


@dataclass(frozen=True, slots=True)
class RegionInfo:
    api_base: str
    commerce_base: str
    web_origin: str
    aid: int
    region_query: str  # value of the ``region`` query parameter
    lan: str  # ``Lan`` header
    loc: str  # ``Loc`` header
    imagex_host: str  # fallback when get_upload_token has no upload_domain
    imagex_service_id: str  # fallback when get_upload_token has no space_name / service_id
    aws_region: str  # SigV4 region for ImageX / VOD
    sends_web_id: bool  # ``webId`` query parameter (CN only, PROTOCOL.md §2.1)


REGIONS: Final[dict[Region, RegionInfo]] = {
    Region.CN: RegionInfo(
        api_base="https://jimeng.jianying.com",
        commerce_base="https://jimeng.jianying.com",
        web_origin="https://jimeng.jianying.com",
        aid=513695,
        region_query="cn",
        lan="zh-Hans",
        loc="cn",
        imagex_host="imagex.bytedanceapi.com",
        imagex_service_id="tb4s082cfz",
        aws_region="cn-north-1",
        sends_web_id=True,
    ),
    Region.US: RegionInfo(
        api_base="https://dreamina-api.us.capcut.com",
        commerce_base="https://commerce.us.capcut.com",
        web_origin="https://dreamina.capcut.com",
        aid=513641,
        region_query="US",
        lan="en",
        loc="us",
        imagex_host="imagex16-normal-us-ttp.capcutapi.us",
        imagex_service_id="wopfjsm1ax",
        aws_region="us-east-1",
        sends_web_id=False,
    ),
    Region.HK: RegionInfo(
        api_base="https://mweb-api-sg.capcut.com",
        commerce_base="https://commerce-api-sg.capcut.com",
        web_origin="https://dreamina.capcut.com",
        aid=513641,
        region_query="HK",
        lan="en",
        loc="hk",
        imagex_host="imagex-normal-sg.capcutapi.com",
        imagex_service_id="wopfjsm1ax",
        aws_region="ap-southeast-1",
        sends_web_id=False,
    ),
    Region.JP: RegionInfo(
        api_base="https://mweb-api-sg.capcut.com",
        commerce_base="https://commerce-api-sg.capcut.com",
        web_origin="https://dreamina.capcut.com",
        aid=513641,
        region_query="JP",
        lan="ja",
        loc="jp",
        imagex_host="imagex-normal-sg.capcutapi.com",
        imagex_service_id="wopfjsm1ax",
        aws_region="ap-southeast-1",
        sends_web_id=False,
    ),
    Region.SG: RegionInfo(
        api_base="https://mweb-api-sg.capcut.com",
        commerce_base="https://commerce-api-sg.capcut.com",
        web_origin="https://dreamina.capcut.com",
        aid=513641,
        region_query="SG",
        lan="en",
        loc="sg",
        imagex_host="imagex-normal-sg.capcutapi.com",
        imagex_service_id="wopfjsm1ax",
        aws_region="ap-southeast-1",
        sends_web_id=False,
    ),
}

# Token prefixes (PROTOCOL.md §1.2): "<region>-<sessionid>"; no prefix means CN.
TOKEN_REGION_PREFIXES: Final[dict[str, Region]] = {
    "us-": Region.US,
    "hk-": Region.HK,
    "jp-": Region.JP,
    "sg-": Region.SG,
}
PROXY_SCHEMES: Final[tuple[str, ...]] = ("http://", "https://", "socks://", "socks4://", "socks5://")

# --------------------------------------------------------------------------------------------------------------------
# Versions (PROTOCOL.md §5.8) and the request envelope (PROTOCOL.md §2.1–2.4)

APP_VERSION: Final = "8.4.0"  # ``Appvr`` header; must equal the version inside Sign (PROTOCOL.md §2.3)
DA_VERSION: Final = "3.3.28"  # ``da_version`` query; also the draft ``version`` (AICF, Sept 2026)
WEB_VERSION: Final = "7.5.0"
APP_SDK_VERSION: Final = "48.0.0"
PLATFORM_CODE: Final = "7"  # ``Pf`` header
AIGC_FEATURES: Final = "app_lip_sync"
DRAFT_MIN_VERSION_IMAGE: Final = "3.0.2"
DRAFT_MIN_VERSION_BLEND: Final = "3.0.2"  # AICF real drafts (IPTAG used 3.2.9)
DRAFT_MIN_VERSION_VIDEO: Final = "3.0.5"
VIDEO_COMPONENT_MIN_VERSION: Final = "1.0.0"

# Post-edit tools on images (PROTOCOL.md §11.1): generate calls whose component names the tool. Per tool: the
# component ``generate_type`` string, the component ``gen_type`` (None: not sent) and ``postedit_param.generate_type``.
DRAFT_MIN_VERSION_POSTEDIT: Final = "3.2.9"
POSTEDIT_ROOT_MODEL: Final = "high_aes_general_v50"  # extend.root_model of every post-edit capture
POSTEDIT_WIRE: Final[dict[str, tuple[str, int | None, int]]] = {
    "upscale-hd": ("normal_hd", 13, 13),
    "upscale-pro": ("pro_hd", 35, 35),
    "outpaint": ("painting", 8, 8),
    "detail": ("super_resolution", None, 2),
}
PRO_HD_FIELDS: Final[dict[str, object]] = {
    "hd_scene_type": "auto",
    "original_image_strength": 0.65,
    "detail_strength": 0.65,
    "resolution_type": "2k",
}
PRO_HD_SCENE: Final = "ImageProHD"  # metrics_extra sceneOptions of pro_hd
# The flag in get_common_config ``feats`` (PROTOCOL.md §7.4) that offers a tool: only ``pro_hd`` was seen there; the
# others are the tools' wire names, honoured only when the catalogue says false (absent: offered).
POSTEDIT_FEATS: Final[dict[str, str]] = {
    "upscale-hd": "normal_hd",
    "upscale-pro": "pro_hd",
    "outpaint": "painting",
    "detail": "super_resolution",
}
OUTPAINT_MAX_SIZE: Final = 12960  # up_scale.max_size, as the web app sends it

SIGN_PREFIX: Final = "9e2c"
SIGN_SUFFIX: Final = "11ac"
SIGN_PATH_CHARS: Final = 7

USER_AGENT: Final = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/152.0.0.0 Safari/537.36"
)
SEC_CH_UA: Final = '"Chromium";v="152", "Not?A_Brand";v="24", "Google Chrome";v="152"'

# Headers sent on every /mweb, /commerce and /passport call; region-specific ones are added by the transport.
BASE_HEADERS: Final[dict[str, str]] = {
    "accept": "application/json, text/plain, */*",
    "accept-language": "zh-CN,zh;q=0.9",
    "app-sdk-version": APP_SDK_VERSION,
    "appvr": APP_VERSION,
    "pf": PLATFORM_CODE,
    "priority": "u=1, i",
    "sec-ch-ua": SEC_CH_UA,
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"macOS"',
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
    "sign-ver": "1",
    "tdid": "",
    "user-agent": USER_AGENT,
}

# --------------------------------------------------------------------------------------------------------------------
# Paths (PROTOCOL.md §2.7, §5, §8)

PATH_GENERATE: Final = "/mweb/v1/aigc_draft/generate"
PATH_HISTORY_BY_IDS: Final = "/mweb/v1/get_history_by_ids"
PATH_LOCAL_ITEM_LIST: Final = "/mweb/v1/get_local_item_list"
PATH_COMMON_CONFIG: Final = "/mweb/v1/get_common_config"
PATH_UPLOAD_TOKEN: Final = "/mweb/v1/get_upload_token"
PATH_USER_INFO: Final = "/mweb/v1/get_user_info"
PATH_USER_CREDIT: Final = "/commerce/v1/benefits/user_credit"
PATH_USER_CREDIT_HISTORY: Final = "/commerce/v1/benefits/user_credit_history"  # the ledger (PROTOCOL.md §3.3)
CREDIT_HISTORY_SPENDING: Final = 2  # history_type of charges (1: income) (PROTOCOL.md §3.3)
PATH_CREDIT_RECEIVE: Final = "/commerce/v1/benefits/credit_receive"

CREDIT_RECEIVE_TIME_ZONE: Final = "Asia/Shanghai"  # all peers send this, for every region (PROTOCOL.md §3.2)

# --------------------------------------------------------------------------------------------------------------------
# Job status (PROTOCOL.md §8.3)


class TaskStatus(IntEnum):
    UNKNOWN = -1
    INIT = 0
    PRE_CHECK_REJECT = 10
    SUBMITTED = 20
    GENERATE_FAILED = 30
    POST_CHECK_REJECT = 40
    THINKING = 42
    PARTIAL_SUCCESS = 45  # not terminal in practice: keep polling, harvest when all items are present
    SUCCESS = 50
    DELETED = 100


STATUS_FAILED: Final = frozenset({10, 30, 40, 100})
STATUS_SUCCESS: Final = 50
STATUS_QUEUED: Final = frozenset({0, 20})

# --------------------------------------------------------------------------------------------------------------------
# Error codes (PROTOCOL.md §10.2–10.4) → our error classes (names in core.errors)

RET_OK: Final = "0"
RET_SESSION_INVALID: Final = "1015"  # login error: the session id is dead
RET_NO_CREDITS: Final = "1006"  # not enough credits
RET_CONCURRENCY_LIMIT: Final = "1010"  # too many jobs at once on this account
RET_CLASSES: Final[dict[str, str]] = {
    "1015": "auth",
    "1006": "quota",
    "4001": "quota",
    "5000": "quota",
    "121101": "quota",
    "1": "rate",
    "1010": "rate",
    "1057": "rate",
    "2014": "rate",
    "2020": "rate",
    "10020": "rate",
    "-4": "risk",
    "1014": "risk",
    "1018": "risk",
    "1019": "risk",
    "1021": "risk",
    "2035": "risk",
    "4013": "risk",
    "3000": "region",
    "1063": "content",
    "1159": "content",
    "2003": "content",
    "2004": "content",
    "2005": "content",
    "2038": "content",
    "2039": "content",
    "2041": "content",
    "2042": "content",
    "2043": "content",
    "2047": "content",
    "2048": "content",
    "2050": "content",
    "1000": "param",
    "1001": "param",
    "1002": "param",
    "1161": "param",
    "1162": "param",
    "2008": "param",
    "3018": "param",
    "3021": "param",
    "4003": "param",
    "4010": "param",
    "5001": "param",
    "34010100": "param",
    "2002": "upstream",
    "1017": "upstream",
}

# Refusals of a submit that mean "this account cannot take it now"; the pool tries the next account (issue #2 §3).
RET_FAILOVER: Final = frozenset({"1015", "1006", "1019", "4013", "3000", "1010", "1018", "1021", "-4", "121101"})

# --------------------------------------------------------------------------------------------------------------------
# Image sizes (PROTOCOL.md §6)

RATIOS: Final[tuple[str, ...]] = ("1:1", "3:4", "16:9", "4:3", "9:16", "2:3", "3:2", "21:9")
# ``image_ratio`` enum (PROTOCOL.md §6.1, web bundle): ratio → code.
IMAGE_RATIO_CODES: Final[dict[str, int]] = {r: i + 1 for i, r in enumerate(RATIOS)}

RESOLUTIONS: Final[tuple[str, ...]] = ("1k", "1.5k", "2k", "4k")

SIZES: Final[dict[str, dict[str, tuple[int, int]]]] = {
    # PROTOCOL.md §6.2 "new 1k" table with 4:3 and 3:4 the right way round (AICF mj82 resolution_map).
    "1k": {
        "1:1": (1024, 1024),
        "3:4": (768, 1024),
        "16:9": (1024, 576),
        "4:3": (1024, 768),
        "9:16": (576, 1024),
        "2:3": (682, 1024),
        "3:2": (1024, 682),
        "21:9": (1195, 512),
    },
    # PROTOCOL.md §6.3: sizes never published; 0.75 × the 2k table (invented, like the emulator's).
    "1.5k": {
        "1:1": (1536, 1536),
        "3:4": (1296, 1728),
        "16:9": (1920, 1080),
        "4:3": (1728, 1296),
        "9:16": (1080, 1920),
        "2:3": (1248, 1872),
        "3:2": (1872, 1248),
        "21:9": (2268, 972),
    },
    # PROTOCOL.md §6.4: all sources agree.
    "2k": {
        "1:1": (2048, 2048),
        "3:4": (1728, 2304),
        "16:9": (2560, 1440),
        "4:3": (2304, 1728),
        "9:16": (1440, 2560),
        "2:3": (1664, 2496),
        "3:2": (2496, 1664),
        "21:9": (3024, 1296),
    },
    # PROTOCOL.md §6.5 Table A (web bundle / get_common_config); area based, copied not computed.
    "4k": {
        "1:1": (4096, 4096),
        "3:4": (3520, 4693),
        "16:9": (5404, 3040),
        "4:3": (4693, 3520),
        "9:16": (3040, 5404),
        "2:3": (3328, 4992),
        "3:2": (4992, 3328),
        "21:9": (6197, 2656),
    },
}
# Longest edge that still counts as a bucket, for mapping an arbitrary W×H to a resolution (PROTOCOL.md §6.6).
RESOLUTION_BY_LONG_EDGE: Final[tuple[tuple[int, str], ...]] = (
    (1300, "1k"),
    (1900, "1.5k"),
    (3100, "2k"),
    (10_000, "4k"),
)


# Video sizes (PROTOCOL.md §6.7)

VIDEO_RATIOS: Final[tuple[str, ...]] = ("1:1", "4:3", "3:4", "16:9", "9:16", "21:9")
VIDEO_FPS: Final = 24
VIDEO_RESOLUTION_SIZES: Final[dict[str, dict[str, tuple[int, int]]]] = {
    "480p": {
        "1:1": (480, 480),
        "4:3": (640, 480),
        "3:4": (480, 640),
        "16:9": (854, 480),
        "9:16": (480, 854),
        "21:9": (1120, 480),
    },
    "720p": {
        "1:1": (720, 720),
        "4:3": (960, 720),
        "3:4": (720, 960),
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "21:9": (1680, 720),
    },
    "1080p": {
        "1:1": (1080, 1080),
        "4:3": (1440, 1080),
        "3:4": (1080, 1440),
        "16:9": (1920, 1080),
        "9:16": (1080, 1920),
        "21:9": (2520, 1080),
    },
}

# --------------------------------------------------------------------------------------------------------------------
# Uploads (PROTOCOL.md §4.1–4.3): reference images in, ImageX upload, VOD. Owned by core/upload.py, core/sigv4.py, core/media.py.

UPLOAD_TOKEN_SCENE_IMAGEX: Final = 2  # get_upload_token {"scene": 2}: ImageX (its STS also signs VOD, PROTOCOL.md §4.1)

SIGV4_ALGORITHM: Final = "AWS4-HMAC-SHA256"
IMAGEX_SERVICE: Final = "imagex"  # SigV4 service name; the AWS region is ``RegionInfo.aws_region``
IMAGEX_VERSION: Final = "2018-08-01"
IMAGEX_ACTION_APPLY: Final = "ApplyImageUpload"
IMAGEX_ACTION_COMMIT: Final = "CommitImageUpload"
# IPTAG's signed-header sets (PROTOCOL.md §4.2), accepted upstream: GET signs date + token, POST adds the body hash.
IMAGEX_SIGNED_HEADERS_GET: Final[tuple[str, ...]] = ("x-amz-date", "x-amz-security-token")
IMAGEX_SIGNED_HEADERS_POST: Final[tuple[str, ...]] = ("x-amz-content-sha256", "x-amz-date", "x-amz-security-token")
IMAGEX_URI_STATUS_OK: Final = 2000  # Commit ``Results[0].UriStatus`` (2001 = failure)
IMAGEX_RETRY_CODES: Final = frozenset({"SignatureDoesNotMatch", "CheckAuthenticationError", "InvalidAuthorization"})
IMAGEX_TRANSIENT_CODES: Final = frozenset({"InternalError", "ServiceUnavailable", "Throttling", "RequestTimeout"})

UPLOAD_NODE_PATH: Final = "/upload/v1/"  # POST https://<UploadHost>/upload/v1/<StoreUri>
UPLOAD_NODE_OK_CODE: Final = 2000

# What we send upstream. Formats Jimeng takes as they are (PROTOCOL.md §4.4: png/jpeg/webp); anything else is converted.
UPLOAD_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP"})

# VOD (video/audio references, PROTOCOL.md §4.3; core/vod.py). Audio goes up as FileType=video too (AICF, WWZ); the
# Commit's content-type is sent but not signed (AICF). The Seedance draft constants are in core/catalogue.py.
VOD_HOST: Final = "vod.bytedanceapi.com"
VOD_SERVICE: Final = "vod"  # SigV4 service name
VOD_VERSION: Final = "2020-11-19"
VOD_ACTION_APPLY, VOD_ACTION_COMMIT = "ApplyUploadInner", "CommitUploadInner"
VOD_SPACE_FALLBACK: Final = "dreamina"  # SpaceName (AICF's CN captures)
VOD_FILE_TYPE: Final = "video"
VOD_COMMIT_CONTENT_TYPE: Final = "text/plain;charset=UTF-8"
