"""Jimeng (即梦) / Dreamina upstream emulator — a real aiohttp server on 127.0.0.1 for tests.

Written from ``shared/jimeng/PROTOCOL.md`` (and its fixtures) only; it imports nothing from ``core/``.
One app serves every upstream host the client talks to (the client rewrites scheme+host to ``FakeJimeng.url``
and keeps path and query):

* ``POST /mweb/...``, ``/commerce/...``, ``/passport/...`` — the web API (§2–§4, §7, §9)
* ``GET|POST /?Action=ApplyImageUpload|CommitImageUpload|ApplyUploadInner|CommitUploadInner`` — ImageX / VOD (§3.6, §3.7)
* ``POST /upload/v1/<StoreUri>`` — upload nodes
* ``GET /img/<token>.webp`` and ``GET /vid/<token>[-hq].mp4`` — the result CDN

Behaviour that PROTOCOL marks as unknown and that this emulator had to invent is flagged ``INVENTED`` in comments.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import random
import re
import string
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from . import _sigv4
from ._jimeng_media import image_info, make_mp4, make_webp, probe_mp4

log = logging.getLogger("tests.fakes.jimeng")

# --------------------------------------------------------------------------------------------- constants

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
    "1001": "invalid params",  # INVENTED errmsg (bundle name invalid_params)
    "1002": "common error",
    "1006": "积分不足",
    "1010": "concurrency limit",  # INVENTED errmsg
    "1014": "system busy",  # LUPIN saw this string with 1014; the real sign_error text is unknown
    "1015": "login error",
    "1018": "punish limit",  # INVENTED errmsg
    "1019": "shark not pass",
    "2008": "param error",  # INVENTED errmsg (get_history without count)
    "3000": "region not allow",
    "3018": "permission denied",
    "4013": "生成失败，疑似存在异常行为，请重新尝试",
    "5001": "credit prededuct failed",
    "34010100": "param error",
}
STARLING = {
    "1006": ("web_dre_m10n_generate_popup_credit_ininsufficient_title", "积分不足"),
    "4013": ("web_risk_control_message_reject_generation", "生成失败，疑似存在异常行为，请重新尝试"),
}
FAIL_MESSAGES = {
    # fail_code -> (starling key, message). Only the 2038 message is real (AICF); the key is not published.
    "2038": ("web_text_security_block_toast", "你输入的文字不符合平台规则，请修改后重试"),  # key INVENTED
    "2039": ("web_image_security_block_toast", "你上传的图片不符合平台规则，请修改后重试"),  # INVENTED
}
TERMINAL = frozenset({10, 30, 40, 50, 100})

# §6 size tables --------------------------------------------------------------------------------
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
# §6.5: 1.5k sizes were never published — INVENTED as 0.75 x the 2k table.
SIZES_15K = {k: (round(w * 0.75), round(h * 0.75)) for k, (w, h) in SIZES_2K.items()}
RESOLUTION_NAMES = {"1k": "标清 1K", "1.5k": "标清 1.5K", "2k": "高清 2K", "4k": "超清 4K"}


QUEUED_FRACTION = 0.15  # share of a job's duration spent queued (status 20) before generation starts


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
    # NOT in PROTOCOL §5.1 — only discoverable through get_common_config (proves a client merges the catalogue).
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
    "dreamina_veo3_generate_video": VideoModel("Veo 3", _ASIA, {"*": _b("generate_video_veo3")}),
    "dreamina_veo3.1_generate_video": VideoModel("Veo 3.1", _ASIA, {"*": _b("generate_video_veo3.1")}),
    "dreamina_sora2_generate_video": VideoModel("Sora 2", _ASIA, {"*": _b("generate_video_sora2")}),
}
# US site: only 3.5 Pro and 3.0 (PROTOCOL §1.3).
_US_VIDEO = {"dreamina_ic_generate_video_model_vgfm_3.5_pro", "dreamina_ic_generate_video_model_vgfm_3.0"}
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


def _video_size(resolution: str, aspect: tuple[int, int]) -> tuple[int, int]:
    base = VIDEO_RESOLUTIONS.get(resolution, 720)
    a, b = aspect
    if a >= b:
        return round(base * a / b / 2) * 2, base
    return base, round(base * b / a / 2) * 2


# --------------------------------------------------------------------------------------------- public data


@dataclass
class FakeAccount:
    sessionid: str
    region: str = "cn"
    gift: int = 100
    purchase: int = 0
    vip: int = 0
    daily_quota: int = 66
    valid: bool = True
    fail_generate: list[str] = field(default_factory=list)
    claimed_on: date | None = None
    receive_fault: str | None = None
    next_outcomes: list[tuple] = field(default_factory=list)
    max_concurrent: int | None = None
    user_id: int = 0

    @property
    def total(self) -> int:
        return self.gift + self.purchase + self.vip

    @property
    def is_cn(self) -> bool:
        return self.region == "cn"

    @property
    def aid(self) -> int:
        return AID_CN if self.is_cn else AID_INTL

    @property
    def space(self) -> str:
        return SPACE_CN if self.is_cn else SPACE_INTL


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body_bytes: bytes
    json: Any
    sessionid: str | None
    time: float
    action: str | None


@dataclass
class FakeJob:
    submit_id: str
    history_id: str
    sessionid: str
    kind: str  # "image" | "blend" | "video"
    model_key: str
    draft: dict
    width: int
    height: int
    count: int
    started: float
    duration: float
    outcome: tuple
    benefit_type: str | None = None
    price: int = 0
    prompt: str = ""
    resolution: str = ""
    image_ratio: int | None = None
    references: list[str] = field(default_factory=list)
    video_ms: int = 0
    created_wall: float = 0.0
    draft_content: str = ""
    item_ids: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    cover_tokens: list[str] = field(default_factory=list)
    origin_history_id: str | None = None
    forecast_cost: int = 0
    generate_logid: str = ""


@dataclass
class _Sts:
    access_key_id: str
    secret: str
    token: str
    sessionid: str
    region: str
    expires: float


@dataclass
class _Store:
    kind: str  # "image" | "vod"
    store_uri: str
    auth: str
    sessionid: str
    file_size: int
    session_key: str
    vid: str | None = None
    data: bytes | None = None
    committed: bool = False


@dataclass
class _Asset:
    kind: str  # "img" | "vid" | "upload"
    width: int
    height: int
    seed: str
    duration_ms: int = 0
    data: bytes | None = None
    content_type: str = "image/webp"


# --------------------------------------------------------------------------------------------- helpers


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _cookie_sessionid(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep and k.strip() == "sessionid":
            return v.strip() or None
    return None


class _Reject(Exception):
    """A business error on generate: answered as ``ret`` with ``fail_code``/starling data."""

    def __init__(self, ret: str, errmsg: str | None = None, fail_code: str = "") -> None:
        super().__init__(ret)
        self.ret = ret
        self.errmsg = errmsg
        self.fail_code = fail_code


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------------- the server


class FakeJimeng:
    """The emulator. ``await start()``, point the client's JIMENG_UPSTREAM_URL at ``url``, ``await close()``."""

    def __init__(
        self,
        *,
        image_seconds: float = 0.6,
        video_seconds: float = 1.5,
        jitter: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self.image_seconds = image_seconds
        self.video_seconds = video_seconds
        self.jitter = jitter
        self.clock = clock
        self._rng = random.Random(seed)
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.url = ""
        self.accounts: dict[str, FakeAccount] = {}
        self.requests: list[Recorded] = []
        self.jobs: dict[str, FakeJob] = {}
        self.sign_check = False
        self.sign_exempt: set[str] = {"/mweb/v1/get_upload_token"}  # §2.3: evidently not validated there
        self.shark = False
        self.upload_faults: list[str] = []
        self.common_config_enabled = True
        self.duplicate_submits = 0
        self.generate_delay = 0.0  # seconds to hold an accepted generate's reply
        self._jobs_by_history: dict[str, FakeJob] = {}
        self._ledger: dict[str, list[dict]] = {}
        self._sts: dict[str, _Sts] = {}
        self._stores: dict[str, _Store] = {}
        self._sessions: dict[str, str] = {}
        self.uploaded_images: dict[str, dict] = {}  # uri -> {sessionid,width,height,format,size,md5,token}
        self.uploaded_vids: dict[str, dict] = {}  # vid -> {sessionid,uri,width,height,duration,size}
        self._assets: dict[str, _Asset] = {}
        self._media_tasks: dict[str, asyncio.Future[bytes]] = {}
        self._cdn_secret = self._rng.randbytes(16)
        self._url_epoch = 0
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._record_middleware], client_max_size=256 * 1024**2)
        self._routes()

    # ------------------------------------------------------------------ lifecycle / public helpers

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        for fut in self._media_tasks.values():
            fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add_account(
        self,
        sessionid: str,
        *,
        region: str = "cn",
        credits: int = 100,
        vip: int = 0,
        purchase: int = 0,
        daily_quota: int | None = None,
        valid: bool = True,
    ) -> FakeAccount:
        region = region.lower()
        if region not in ALL_REGIONS:
            raise ValueError(f"unknown region {region!r}")
        acct = FakeAccount(
            sessionid=sessionid,
            region=region,
            gift=credits,
            purchase=purchase,
            vip=vip,
            daily_quota=daily_quota if daily_quota is not None else (66 if region == "cn" else 50),
            valid=valid,
            user_id=self._rng.randrange(10**15, 10**16),
        )
        self.accounts[sessionid] = acct
        return acct

    def calls(self, path_suffix_or_action: str, sessionid: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (r.path.endswith(path_suffix_or_action) or r.action == path_suffix_or_action)
            and (sessionid is None or r.sessionid == sessionid)
        ]

    def invalidate_urls(self) -> None:
        """Every CDN URL handed out before this call answers 403 from now on (new polls hand out fresh ones)."""
        self._url_epoch += 1

    def ledger(self, sessionid: str) -> list[dict]:
        return list(self._ledger.get(sessionid, []))

    # ------------------------------------------------------------------ plumbing

    def _routes(self) -> None:
        r = self.app.router
        r.add_route("*", "/", self._root)
        mweb = {
            "/mweb/v1/aigc_draft/generate": self._generate,
            "/mweb/v1/get_history_by_ids": self._history_by_ids,
            "/mweb/v1/get_local_item_list": self._local_item_list,
            "/mweb/v1/get_history": self._get_history,
            "/mweb/v1/get_history_queue_info": self._queue_info,
            "/mweb/v1/get_upload_token": self._upload_token,
            "/mweb/v1/get_common_config": self._common_config,
            "/mweb/v1/get_image_by_uri": self._image_by_uri,
            "/mweb/v1/get_user_info": self._user_info,
            "/mweb/v1/algo_proxy": self._algo_proxy,
            "/commerce/v1/benefits/user_credit": self._user_credit,
            "/commerce/v1/benefits/credit_receive": self._credit_receive,
            "/commerce/v1/benefits/user_credit_history": self._credit_history,
            "/passport/account/info/v2": self._passport,
        }
        for path, handler in mweb.items():
            r.add_post(path, handler)
        r.add_post("/upload/v1/{store_uri:.+}", self._upload_bytes)
        r.add_get("/img/{name}", self._cdn_image)
        r.add_get("/vid/{name}", self._cdn_video)
        r.add_route("*", "/{tail:.*}", self._not_found)

    @web.middleware
    async def _record_middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        body = await request.read()
        parsed: Any = None
        if body:
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=CIMultiDict(request.headers),
                body_bytes=body,
                json=parsed,
                sessionid=_cookie_sessionid(request.headers.get("Cookie")),
                time=self.clock(),
                action=request.query.get("Action"),
            )
        )
        return await handler(request)

    def _logid(self) -> str:
        return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + self._rng.randbytes(10).hex().upper()

    def _hex(self, n: int) -> str:
        return self._rng.randbytes((n + 1) // 2).hex()[:n]

    def _digits(self, n: int) -> str:
        return str(self._rng.randrange(10 ** (n - 1), 10**n))

    def _alnum(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def _mweb(self, ret: str = "0", data: Any = None, errmsg: str | None = None) -> web.Response:
        body = {
            "ret": ret,
            "errmsg": errmsg if errmsg is not None else ERRMSG.get(ret, "error"),
            "systime": str(int(time.time())),
            "logid": self._logid(),
            "data": data if data is not None else {},
        }
        return web.Response(text=_dumps(body), content_type="application/json")

    def _gen_error(
        self, acct: FakeAccount | None, ret: str, errmsg: str | None = None, fail_code: str = ""
    ) -> web.Response:
        key, msg = STARLING.get(ret, ("", ""))
        if ret == "1006":
            fail_code = fail_code or "1006"
            if acct is not None and not acct.is_cn:
                errmsg, msg = errmsg or "Not enough credits left", "Not enough credits left"
        if ret == "4013":
            fail_code = fail_code or "4013"
        data = {"aigc_data": None, "fail_code": fail_code, "fail_starling_key": key, "fail_starling_message": msg}
        return self._mweb(ret, data, errmsg)

    def _commerce(
        self, region: str | None, ret: str = "0", data: Any = None, errmsg: str | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"ret": ret, "errmsg": errmsg if errmsg is not None else ERRMSG.get(ret, "error")}
        if region is None or region == "cn":
            body["svr_time"] = int(time.time())
        else:
            body["systime"] = str(int(time.time() * 1000))
        body["log_id"] = self._logid()
        if data is not None:
            body["response"] = _dumps(data)
            body["sign"] = base64.b64encode(self._rng.randbytes(128)).decode()
            body["data"] = data
        return web.Response(text=_dumps(body), content_type="application/json")

    def _request_regions(self, request: web.Request) -> set[str]:
        """Region classes ("cn"/"intl") implied by the query; empty when the query says nothing."""
        out: set[str] = set()
        reg = request.query.get("region", "").strip().lower()
        if reg == "cn":
            out.add("cn")
        elif reg in INTL_REGIONS:
            out.add("intl")
        aid = request.query.get("aid", "").strip()
        if aid == str(AID_CN):
            out.add("cn")
        elif aid == str(AID_INTL):
            out.add("intl")
        return out

    def _account_of(self, request: web.Request) -> FakeAccount | None:
        sid = _cookie_sessionid(request.headers.get("Cookie"))
        if sid is None and request.path == "/commerce/v1/benefits/user_credit_history":
            auth = request.headers.get("Authorization", "")
            if auth.lower().startswith("bearer "):
                sid = auth[7:].strip()
        acct = self.accounts.get(sid) if sid else None
        return acct if acct is not None and acct.valid else None

    def _sign_ok(self, request: web.Request) -> bool:
        dt = request.headers.get("Device-Time", "")
        tdid = request.headers.get("Tdid", "")
        src = f"9e2c|{request.path[-7:]}|{SIGN_PF}|{SIGN_APPVR}|{dt}|{tdid}|11ac"
        return bool(dt) and request.headers.get("Sign", "").lower() == hashlib.md5(src.encode()).hexdigest()

    def _gate(self, request: web.Request, acct: FakeAccount | None) -> str | None:
        """Login, region and sign checks shared by /mweb and /commerce. Returns a ret code or None."""
        if acct is None:
            return "1015"
        cls = "cn" if acct.is_cn else "intl"
        if any(c != cls for c in self._request_regions(request)):
            return "3000"
        if self.sign_check and request.path not in self.sign_exempt and not self._sign_ok(request):
            return "1014"
        return None

    async def _json_body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"code": 404, "message": f"not found: {request.method} {request.path}"}, status=404)

    # ------------------------------------------------------------------ CDN

    def _sig(self, path: str, epoch: int) -> str:
        return hmac.new(self._cdn_secret, f"{path}|{epoch}".encode(), hashlib.sha256).hexdigest()[:32]

    def _cdn_url(self, path: str) -> str:
        expires = int(time.time()) + 7 * 86400
        return f"{self.url}{path}?x-expires={expires}&x-signature={self._sig(path, self._url_epoch)}"

    def _register_asset(self, kind: str, width: int, height: int, seed: str, duration_ms: int = 0) -> str:
        token = self._hex(32)
        self._assets[token] = _Asset(kind, width, height, seed, duration_ms)
        return token

    def _cdn_check(self, request: web.Request) -> web.Response | None:
        sig = request.query.get("x-signature", "")
        try:
            expires = int(request.query.get("x-expires", "0"))
        except ValueError:
            expires = 0
        if expires < time.time() or not hmac.compare_digest(sig, self._sig(request.path, self._url_epoch)):
            return web.Response(status=403, text="403 Forbidden: signature expired or invalid")
        return None

    async def _media(self, token: str, build: Callable[[], bytes]) -> bytes:
        asset = self._assets[token]
        if asset.data is not None:
            return asset.data
        fut = self._media_tasks.get(token)
        if fut is None:
            fut = asyncio.ensure_future(asyncio.to_thread(build))
            self._media_tasks[token] = fut
        data = await asyncio.shield(fut)
        asset.data = data
        return data

    async def _cdn_image(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["name"].rsplit(".", 1)[0]
        asset = self._assets.get(token)
        if asset is None or asset.kind not in ("img", "upload"):
            return web.Response(status=404, text="404 Not Found")
        if (denied := self._cdn_check(request)) is not None:
            return denied
        data = await self._media(token, functools.partial(make_webp, asset.width, asset.height, asset.seed))
        return web.Response(body=data, content_type=asset.content_type)

    async def _cdn_video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"].rsplit(".", 1)[0]
        token = name.removesuffix("-hq")
        asset = self._assets.get(token)
        if asset is None or asset.kind != "vid":
            return web.Response(status=404, text="404 Not Found")
        if (denied := self._cdn_check(request)) is not None:
            return denied
        data = await self._media(token, functools.partial(make_mp4, asset.width, asset.height, asset.duration_ms))
        return web.Response(body=data, content_type="video/mp4")

    # ------------------------------------------------------------------ generate (§4)

    async def _generate(self, request: web.Request) -> web.Response:
        sid = _cookie_sessionid(request.headers.get("Cookie"))
        known = self.accounts.get(sid) if sid else None
        if known is not None and known.fail_generate:
            return self._gen_error(known, str(known.fail_generate.pop(0)))
        acct = self._account_of(request)
        if acct is None:
            return self._gen_error(None, "1015")
        cls = "cn" if acct.is_cn else "intl"
        if any(c != cls for c in self._request_regions(request)):
            return self._gen_error(acct, "3000")
        body = await self._json_body(request)
        root_model = ""
        if isinstance(body, dict) and isinstance(body.get("extend"), dict):
            root_model = str(body["extend"].get("root_model") or "")
        if self.shark and "seedance" in root_model and "a_bogus" not in request.query:
            return self._gen_error(acct, "1019")
        if self.sign_check:
            if not self._sign_ok(request):
                return self._gen_error(acct, "1014")
            if request.headers.get("Appvr") != SIGN_APPVR:
                return self._gen_error(acct, "3018")
        try:
            job, duplicate = self._parse_and_submit(acct, body)
        except _Reject as rej:
            return self._gen_error(acct, rej.ret, rej.errmsg, rej.fail_code)
        if duplicate:
            self.duplicate_submits += 1
        now = self.clock()
        if self.generate_delay:
            # The job exists (and is charged) but the reply is held back: lets a test kill the client between
            # "submit sent" and "reply read".
            await asyncio.sleep(self.generate_delay)
        return self._mweb("0", {"aigc_data": self._record(job, now, for_generate=True)})

    def _parse_and_submit(self, acct: FakeAccount, body: Any) -> tuple[FakeJob, bool]:
        if not isinstance(body, dict):
            raise _Reject("1002")
        submit_id = body.get("submit_id")
        if not isinstance(submit_id, str) or not submit_id:
            raise _Reject("1000")
        draft_raw = body.get("draft_content")
        if not isinstance(draft_raw, str):
            raise _Reject("1002")  # AICF: an object instead of a JSON string → 1002 "common error"
        try:
            draft = json.loads(draft_raw)
        except ValueError:
            raise _Reject("1002") from None
        if not isinstance(draft, dict):
            raise _Reject("1002")
        extend = body.get("extend")
        if not isinstance(extend, dict) or not isinstance(extend.get("root_model"), str):
            raise _Reject("1000")  # INVENTED code for a missing root_model
        hci = body.get("http_common_info")
        if not isinstance(hci, dict) or "aid" not in hci:
            raise _Reject("1000")  # INVENTED code for a missing http_common_info.aid
        if str(hci["aid"]) != str(acct.aid):
            raise _Reject("3000")
        comps = draft.get("component_list")
        if not isinstance(comps, list) or not comps or not all(isinstance(c, dict) for c in comps):
            raise _Reject("1001")
        main_id = draft.get("main_component_id")
        comp = next((c for c in comps if c.get("id") == main_id), comps[-1])

        origin: FakeJob | None = None
        if body.get("action") == 2:  # §4.10 continuation
            origin = self._jobs_by_history.get(str(body.get("history_id", "")))
            if origin is None or origin.sessionid != acct.sessionid:
                raise _Reject("1000")

        spec = self._parse_component(acct, comp, extend)
        if origin is not None:
            # INVENTED: a continuation adds metrics_extra.generateCount images (default: the draft's count).
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                n = json.loads(body.get("metrics_extra") or "{}").get("generateCount")
                if _is_int(n) and 1 <= n <= 8 and spec["kind"] != "video":
                    spec["count"] = n

        existing = self.jobs.get(submit_id)
        if existing is not None:
            # INVENTED (real behaviour unknown, PROTOCOL §8.4/§12): a re-submitted submit_id creates no second
            # job and no second charge; the answer describes the existing job.
            if existing.sessionid != acct.sessionid:
                raise _Reject("1000")
            return existing, True

        if acct.max_concurrent is not None:
            now = self.clock()
            running = sum(
                1
                for j in self.jobs.values()
                if j.sessionid == acct.sessionid and self._state(j, now)[0] not in TERMINAL
            )
            if running >= acct.max_concurrent:
                raise _Reject("1010")

        price = spec["price"]
        if acct.total < price:
            raise _Reject("1006")
        self._charge(acct, price)
        job = self._create_job(acct, submit_id, draft, draft_raw, spec, origin)
        title = "视频生成" if spec["kind"] == "video" else "图片生成"
        self._ledger.setdefault(acct.sessionid, []).append(
            {
                "amount": price,
                "create_time": int(time.time()),
                "title": title,
                "submit_id": submit_id,
                "status": 1,
                "_type": 2,
            }
        )
        return job, False

    def _check_uri(self, uri: Any) -> str:
        if not isinstance(uri, str) or uri not in self.uploaded_images:
            raise _Reject("1000")
        return uri

    def _parse_component(self, acct: FakeAccount, comp: dict, extend: dict) -> dict:
        root_model = extend["root_model"]
        abilities = comp.get("abilities")
        if not isinstance(abilities, dict):
            raise _Reject("1001")
        ctype = comp.get("type")
        if ctype == "image_base_component":
            return self._parse_image(acct, comp, abilities, root_model)
        if ctype == "video_base_component":
            return self._parse_video(acct, abilities, extend, root_model)
        raise _Reject("1001")

    def _parse_image(self, acct: FakeAccount, comp: dict, abilities: dict, root_model: str) -> dict:
        gtype = comp.get("generate_type")
        refs: list[str] = []
        if gtype == "generate" and isinstance(abilities.get("generate"), dict):
            kind, ability = "image", abilities["generate"]
        elif gtype == "blend" and isinstance(abilities.get("blend"), dict):
            kind, ability = "blend", abilities["blend"]
            ab_list = ability.get("ability_list")
            if not isinstance(ab_list, list) or not ab_list:
                raise _Reject("1000")
            for ab in ab_list:
                if not isinstance(ab, dict):
                    raise _Reject("1000")
                uris = list(ab.get("image_uri_list") or [])
                for img in ab.get("image_list") or []:
                    if not isinstance(img, dict):
                        raise _Reject("1000")
                    uris.append(img.get("image_uri") or img.get("uri"))
                if not uris:
                    raise _Reject("1000")
                for u in uris:
                    if self._check_uri(u) not in refs:
                        refs.append(u)
        else:
            raise _Reject("1001")  # post-edit tools (§4.13) and unknown abilities are not emulated
        core = ability.get("core_param")
        if not isinstance(core, dict):
            raise _Reject("1001")
        model_key = core.get("model")
        if model_key != root_model:
            raise _Reject("1000")  # INVENTED code: core_param.model must equal extend.root_model
        model = IMAGE_MODELS.get(model_key)
        if model is None or acct.region not in model.regions:
            raise _Reject("1000")  # INVENTED code: unknown model / not offered on this site
        lii = core.get("large_image_info")
        if not isinstance(lii, dict):
            raise _Reject("1000")
        w, h, rt = lii.get("width"), lii.get("height"), lii.get("resolution_type")
        if not (_is_int(w) and _is_int(h) and w > 0 and h > 0) or rt not in ("1k", "1.5k", "2k", "4k"):
            raise _Reject("1000")
        ratio = core.get("image_ratio")
        if ratio is not None and not (_is_int(ratio) and 1 <= ratio <= 8):
            log.warning("image_ratio %r outside 1..8 (tolerated, as upstream does)", ratio)
        if kind == "blend" and model.input_limit is not None and len(refs) > model.input_limit:
            raise _Reject("1000")
        gen_option = abilities.get("gen_option")
        if not isinstance(gen_option, dict):
            gen_option = ability.get("gen_option") if isinstance(ability.get("gen_option"), dict) else {}
        gen_count = gen_option.get("gen_count")
        if model.count_options is None:
            count = 1
        elif model.forced_count is not None:
            count = model.forced_count
        elif gen_count is None:
            count = model.default_count
        elif _is_int(gen_count) and gen_count in model.count_options:
            count = gen_count
        else:
            raise _Reject("1000")  # INVENTED code for a gen_count outside generate_count_options
        per_image = 2 if rt == "4k" else 1
        return {
            "kind": kind,
            "model_key": model_key,
            "width": w,
            "height": h,
            "count": count,
            "price": per_image * count,
            "prompt": str(core.get("prompt", "")),
            "resolution": rt,
            "image_ratio": ratio if _is_int(ratio) else None,
            "references": refs,
            "benefit_type": None,
            "video_ms": 0,
        }

    def _parse_video(self, acct: FakeAccount, abilities: dict, extend: dict, root_model: str) -> dict:
        gv = abilities.get("gen_video")
        if not isinstance(gv, dict):
            raise _Reject("1001")
        t2v = gv.get("text_to_video_params")
        if not isinstance(t2v, dict):
            raise _Reject("1001")
        inputs = t2v.get("video_gen_inputs")
        if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
            raise _Reject("1001")
        inp = inputs[0]
        if "model_req_key" in t2v and t2v["model_req_key"] != root_model:
            raise _Reject("1000")
        model = VIDEO_MODELS.get(root_model)
        if model is None or acct.region not in model.regions or (acct.region == "us" and root_model not in _US_VIDEO):
            raise _Reject("1000")
        resolution = inp.get("resolution") or "720p"
        if resolution not in VIDEO_RESOLUTIONS:
            raise _Reject("1000")
        dur = inp.get("duration_ms")
        if not (_is_int(dur) and 1000 <= dur <= 60000):
            raise _Reject("1000")
        aspect_s = t2v.get("video_aspect_ratio") or "16:9"
        if aspect_s not in VIDEO_ASPECTS:
            raise _Reject("1000")
        aspect = VIDEO_ASPECTS[aspect_s]
        refs: list[str] = []
        for key in ("first_frame_image", "end_frame_image"):
            frame = inp.get(key)
            if frame is None:
                continue
            if not isinstance(frame, dict):
                raise _Reject("1000")
            refs.append(self._check_uri(frame.get("image_uri") or frame.get("uri")))
        uei = inp.get("unified_edit_input")
        if isinstance(uei, dict):
            for mat in uei.get("material_list") or []:
                if not isinstance(mat, dict):
                    raise _Reject("1000")
                if isinstance(mat.get("image_info"), dict):
                    refs.append(self._check_uri(mat["image_info"].get("image_uri") or mat["image_info"].get("uri")))
                for k in ("video_info", "audio_info"):
                    if isinstance(mat.get(k), dict) and mat[k].get("vid") not in self.uploaded_vids:
                        raise _Reject("1000")
        if refs and refs[0] in self.uploaded_images:  # §4.7: with a frame the output follows the image aspect
            ref = self.uploaded_images[refs[0]]
            if ref["width"] and ref["height"]:
                target = ref["width"] / ref["height"]
                aspect = min(VIDEO_ASPECTS.values(), key=lambda a: abs(a[0] / a[1] - target))
        mvci = extend.get("m_video_commerce_info")
        benefit = mvci.get("benefit_type") if isinstance(mvci, dict) else None
        allowed = model.benefit.get(resolution, model.benefit["*"])
        if benefit not in allowed:
            raise _Reject("5001")
        for extra in extend.get("m_video_commerce_info_list") or []:
            if not isinstance(extra, dict) or extra.get("benefit_type") not in allowed:
                raise _Reject("5001")
        w, h = _video_size(resolution, aspect)
        return {
            "kind": "video",
            "model_key": root_model,
            "width": w,
            "height": h,
            "count": 1,
            "price": 10,
            "prompt": str(inp.get("prompt", "")),
            "resolution": resolution,
            "image_ratio": None,
            "references": refs,
            "benefit_type": benefit,
            "video_ms": dur,
        }

    def _charge(self, acct: FakeAccount, price: int) -> None:
        left = price
        for attr in ("gift", "purchase", "vip"):
            take = min(left, getattr(acct, attr))
            setattr(acct, attr, getattr(acct, attr) - take)
            left -= take

    def _create_job(
        self, acct: FakeAccount, submit_id: str, draft: dict, draft_raw: str, spec: dict, origin: FakeJob | None
    ) -> FakeJob:
        base = self.video_seconds if spec["kind"] == "video" else self.image_seconds
        duration = max(0.01, base * (1 + self._rng.uniform(-self.jitter, self.jitter)))
        outcome = tuple(acct.next_outcomes.pop(0)) if acct.next_outcomes else ("ok",)
        history_id = self._digits(13)
        while history_id in self._jobs_by_history:
            history_id = self._digits(13)
        job = FakeJob(
            submit_id=submit_id,
            history_id=history_id,
            sessionid=acct.sessionid,
            kind=spec["kind"],
            model_key=spec["model_key"],
            draft=draft,
            width=spec["width"],
            height=spec["height"],
            count=spec["count"],
            started=self.clock(),
            duration=duration,
            outcome=outcome,
            benefit_type=spec["benefit_type"],
            price=spec["price"],
            prompt=spec["prompt"],
            resolution=spec["resolution"],
            image_ratio=spec["image_ratio"],
            references=spec["references"],
            video_ms=spec["video_ms"],
            created_wall=round(time.time(), 3),
            draft_content=draft_raw,
            origin_history_id=origin.history_id if origin else None,
            forecast_cost=spec["price"] * 4,  # forecasts overestimate (§9.3)
            generate_logid=self._logid(),
        )
        for i in range(job.count):
            job.item_ids.append(self._digits(19))
            seed = f"{submit_id}:{i}"
            if job.kind == "video":
                job.tokens.append(self._register_asset("vid", job.width, job.height, seed, job.video_ms))
            else:
                job.tokens.append(self._register_asset("img", job.width, job.height, seed))
            scale = 360 / max(job.width, job.height)
            job.cover_tokens.append(
                self._register_asset("img", max(1, round(job.width * scale)), max(1, round(job.height * scale)), seed)
            )
        self.jobs[submit_id] = job
        self._jobs_by_history[history_id] = job
        return job

    # ------------------------------------------------------------------ job progression (§7)

    def _state(self, job: FakeJob, now: float) -> tuple[int, int, str, float | None]:
        """(status, items available, fail_code, seconds-after-start at which it became terminal)."""
        el = max(0.0, now - job.started)
        d = job.duration
        kind = job.outcome[0] if job.outcome else "ok"

        def normal(frac: float) -> tuple[int, int]:
            if frac < QUEUED_FRACTION:
                return 20, 0
            if frac < 0.4:
                return 42, 0
            if frac < 1.0:
                return 45, min(job.count, int((frac - 0.4) / 0.6 * (job.count + 1)))
            return 50, job.count

        if kind == "never":
            return 20, 0, "", None
        if kind == "stall_45":
            st, n = normal(min(el / d, 0.999))
            return st, min(n, max(1, job.count - 1)), "", None
        if kind == "fail":
            status = int(job.outcome[1]) if len(job.outcome) > 1 else 30
            code = str(job.outcome[2]) if len(job.outcome) > 2 else ""
            at = {10: 0.15, 40: 1.0}.get(status, 0.6) * d
            if el >= at:
                return status, 0, code, at
            st, _ = normal(el / d)
            return st, 0, "", None
        st, n = normal(el / d)
        return st, n, "", (d if st == 50 else None)

    def _item(self, job: FakeJob, i: int, *, hq: bool = False) -> dict:
        item_id = job.item_ids[i]
        cover = self._cdn_url(f"/img/{job.cover_tokens[i]}.webp")
        common: dict[str, Any] = {
            "id": item_id,
            "effect_id": item_id,
            "effect_type": 0 if job.kind == "video" else 9,
            "title": "",
            "description": job.prompt,
            "cover_url": cover,
            "status": 144,
            "create_time": int(job.created_wall),
        }
        if job.kind == "video":
            vid = "v0" + hashlib.sha256(job.tokens[i].encode()).hexdigest()[:28]
            url = self._cdn_url(f"/vid/{job.tokens[i]}.mp4")
            rendition = {"vid": vid, "fps": 24, "width": job.width, "height": job.height, "video_url": url}
            video = {
                "video_id": vid,
                "duration_ms": job.video_ms,
                "transcoded_video": {job.resolution: rendition, "origin": {"video_url": url}},
                "play_url": url,
            }
            if hq:
                common["transcoded_video"] = {"origin": {"video_url": self._cdn_url(f"/vid/{job.tokens[i]}-hq.mp4")}}
            return {"common_attr": common, "video": video}
        url = self._cdn_url(f"/img/{job.tokens[i]}.webp")
        common["item_urls"] = [url]
        return {
            "common_attr": common,
            "image": {
                "format": "webp",
                "large_images": [{"image_url": url, "width": job.width, "height": job.height, "format": "webp"}],
            },
        }

    def _record(self, job: FakeJob, now: float, *, for_generate: bool = False) -> dict:
        status, n_items, fail_code, term_at = self._state(job, now)
        # §7.3: forecast_queue_cost is the estimated queue WAIT in seconds (not the time until the job is done).
        queue_wait = max(0.0, QUEUED_FRACTION * job.duration - (now - job.started))
        queued = status == 20
        queue_len = sum(1 for j in self.jobs.values() if j.sessionid == job.sessionid and self._state(j, now)[0] == 20)
        fkey, fmsg = ("", "")
        if status in (10, 30, 40):
            fkey, fmsg = FAIL_MESSAGES.get(
                fail_code, ("web_generate_failed_toast", "生成失败，请重试")
            )  # INVENTED default
        finish = int(job.created_wall + term_at) if term_at is not None else 0
        model_name = (IMAGE_MODELS.get(job.model_key) or VIDEO_MODELS.get(job.model_key)).name  # type: ignore[union-attr]
        rec: dict[str, Any] = {
            "generate_type": None if job.kind == "video" else (12 if job.kind == "blend" else 1),  # video value unknown
            "history_record_id": job.history_id,
            "origin_history_record_id": job.origin_history_id,
            "created_time": job.created_wall,
            "item_list": [self._item(job, i) for i in range(n_items)],
            "origin_item_list": [],
            "task": {
                "task_id": job.history_id,
                "submit_id": job.submit_id,
                "aid": 0,
                "status": status,
                "finish_time": finish,
                "history_id": job.history_id,
                "task_payload": None,
                "original_input": None,
                "req_first_frame_image": None,
            },
            "status": status,
            # like the captures: 0 until generation is under way (a client must not finish on len(items) == 0)
            "total_image_count": job.count if status in (45, 50) else 0,
            "finished_image_count": n_items,
            "model_info": {"model_name": model_name, "model_req_key": job.model_key},
            "forecast_generate_cost": job.forecast_cost,
            "forecast_queue_cost": round(queue_wait) if queued else 0,
            "queue_info": {
                "queue_idx": 1 if queued else 0,
                "priority": 3,
                "queue_status": 1 if queued else 2,  # INVENTED meaning
                "queue_length": max(1, queue_len) if queued else 0,
                "polling_config": {"interval_seconds": 30, "timeout_seconds": 86400},
            },
            "fail_code": fail_code,
            "fail_starling_key": fkey,
            "fail_starling_message": fmsg,
            "draft_content": job.draft_content,  # §7.3: the record echoes the draft (exact field name unpublished)
        }
        if for_generate:
            rec.update(
                {
                    "mode": "workbench",
                    "uid": str(self.accounts[job.sessionid].user_id),
                    "history_group_key": job.prompt,
                    "submit_id": job.submit_id,
                    "generate_id": job.generate_logid,
                    "forecast_queue_cost": round(queue_wait),
                }
            )
        return rec

    async def _history_by_ids(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        if not isinstance(body, dict):
            return self._mweb("1000")
        sids, hids = body.get("submit_ids"), body.get("history_ids")
        if sids is None and hids is None:
            return self._mweb("1000")  # INVENTED: neither key
        if (sids is not None and not isinstance(sids, list)) or (hids is not None and not isinstance(hids, list)):
            return self._mweb("1000")
        now = self.clock()
        data: dict[str, Any] = {}
        for key, index in ((sids or [], self.jobs), (hids or [], self._jobs_by_history)):
            for ident in key:
                job = index.get(str(ident))
                if job is not None and job.sessionid == acct.sessionid:
                    data[str(ident)] = self._record(job, now)
        return self._mweb("0", data)

    async def _local_item_list(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        ids = body.get("item_id_list") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            return self._mweb("1000")
        now = self.clock()
        wanted = {str(i) for i in ids}
        items = []
        for job in self.jobs.values():
            if job.sessionid != acct.sessionid:
                continue
            _, n, _, _ = self._state(job, now)
            items.extend(self._item(job, i, hq=True) for i in range(n) if job.item_ids[i] in wanted)
        return self._mweb("0", {"item_list": items})

    async def _get_history(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        count = body.get("count") if isinstance(body, dict) else None
        if not _is_int(count) or count <= 0:
            return self._mweb("2008")
        now = self.clock()
        mine = [j for j in self.jobs.values() if j.sessionid == acct.sessionid][::-1]
        # INVENTED list key: the real one was never published (§3.15).
        return self._mweb(
            "0", {"history_list": [self._record(j, now) for j in mine[:count]], "has_more": len(mine) > count}
        )

    async def _queue_info(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        ids = body.get("history_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            return self._mweb("1000")
        now = self.clock()
        data = {}  # INVENTED shape (response never captured, §3.9)
        for hid in ids:
            job = self._jobs_by_history.get(str(hid))
            if job is not None and job.sessionid == acct.sessionid:
                rec = self._record(job, now)
                data[str(hid)] = {"queue_info": rec["queue_info"], "forecast_queue_cost": rec["forecast_queue_cost"]}
        return self._mweb("0", data)

    # ------------------------------------------------------------------ catalogue, user, misc

    def _catalogue(self, region: str) -> list[dict]:
        out = []
        for key, m in IMAGE_MODELS.items():
            if not m.listed or region not in m.regions:
                continue
            rmap = {}
            for bucket in m.buckets:
                table = {
                    "1k": SIZES_1K_LEGACY if m.legacy_1k else SIZES_1K_NEW,
                    "1.5k": SIZES_15K,
                    "2k": SIZES_2K,
                    "4k": SIZES_4K,
                }[bucket]
                rmap[bucket] = {
                    "resolution_type": bucket,
                    "resolution_name": RESOLUTION_NAMES[bucket],
                    # INVENTED key names "width"/"height" (the real ones were not published, §3.13)
                    "image_ratio_sizes": [{"ratio_type": rt, "width": w, "height": h} for rt, (w, h) in table.items()],
                }
            entry: dict[str, Any] = {
                "model_req_key": key,
                "model_name": m.name,
                "is_new_model": m.is_new,
                "feats": {"t2i": True, "byte_edit": m.input_limit is not None or key == "high_aes_general_v50"},
                "generate_count_options": list(m.count_options) if m.count_options else None,
                "default_generate_count": m.default_count if m.count_options else None,
                "default_resolution_type": "2k" if "2k" in m.buckets else m.buckets[0],
                "resolution_map": rmap,
            }
            if m.input_limit is not None:
                entry["input_image_limit"] = [{"max_image_num": m.input_limit, "ability_name": "byte_edit"}]
            out.append(entry)
        return out

    async def _common_config(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        if not self.common_config_enabled:
            return self._mweb("1002")
        return self._mweb("0", {"model_list": self._catalogue(acct.region)})

    async def _user_info(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        return self._mweb(
            "0",
            {  # INVENTED field layout (AICF only says it contains the nickname)
                "user_id": acct.user_id,
                "user_id_str": str(acct.user_id),
                "nickname": f"user{str(acct.user_id)[-4:]}",
                "screen_name": f"user{str(acct.user_id)[-4:]}",
                "avatar_url": f"{self.url}/img/avatar.webp",
            },
        )

    async def _passport(self, request: web.Request) -> web.Response:
        # INVENTED shapes per PROTOCOL §3.4 "Emulator note" (no capture exists).
        acct = self._account_of(request)
        if acct is None:
            return web.json_response({"message": "error", "data": {"error_code": 1, "description": "session expired"}})
        return web.json_response(
            {
                "message": "success",
                "data": {
                    "user_id": acct.user_id,
                    "user_id_str": str(acct.user_id),
                    "app_id": acct.aid,
                    "screen_name": f"user{str(acct.user_id)[-4:]}",
                    "avatar_url": f"{self.url}/img/avatar.webp",
                },
            }
        )

    async def _image_by_uri(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        body = await self._json_body(request)
        uris = body.get("uris") if isinstance(body, dict) else None
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            return self._mweb("1000")
        out = {}
        for u in uris:
            info = self.uploaded_images.get(u)
            if info is not None:
                out[u] = {
                    "image_uri": u,
                    "image_url": self._cdn_url(f"/img/{info['token']}.webp"),
                    "width": info["width"],
                    "height": info["height"],
                    "format": info["format"],
                }
        return self._mweb("0", {"uri2image": out})

    async def _algo_proxy(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        body = await self._json_body(request)
        files = body.get("file_list") if isinstance(body, dict) else None
        if not isinstance(files, list):
            return self._mweb("1000")
        for f in files:
            if not isinstance(f, dict) or f.get("file_uri") not in self.uploaded_images:
                return self._mweb("1000")
        return self._mweb("0", {})  # INVENTED payload (never inspected by peers)

    # ------------------------------------------------------------------ credits (§3.1–3.3, §9)

    def _end_of_day(self, acct: FakeAccount) -> int:
        tz = timezone(timedelta(hours=8)) if acct.is_cn else UTC
        return int(datetime.combine(self.today(), datetime.max.time().replace(microsecond=0), tz).timestamp())

    def _credit_payload(self, acct: FakeAccount) -> dict:
        data: dict[str, Any] = {
            "credit": {"vip_credit": acct.vip, "gift_credit": acct.gift, "purchase_credit": acct.purchase}
        }
        if acct.gift > 0:
            eod = self._end_of_day(acct)
            data["expiring_credits"] = [{"credit_amount": acct.gift, "expire_time": eod}]
            data["credits_detail"] = {"gift_credits": [{"residual_credits": acct.gift, "credits_life_end": eod}]}
        else:
            data["credits_detail"] = {}
        return data

    def _commerce_region(self, request: web.Request, acct: FakeAccount | None) -> str:
        if acct is not None:
            return acct.region
        return "intl" if "intl" in self._request_regions(request) else "cn"

    async def _user_credit(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._commerce(self._commerce_region(request, acct), err, {})
        assert acct is not None
        return self._commerce(acct.region, "0", self._credit_payload(acct))

    async def _credit_receive(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._commerce(self._commerce_region(request, acct), err, {})
        assert acct is not None
        zero = {"is_first_receive": False, "receive_quota": 0, "has_popup": False, "receive_inter_days": 0}
        if acct.receive_fault is not None:
            return self._commerce(acct.region, str(acct.receive_fault), zero)
        body = await self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("time_zone"), str):
            return self._commerce(acct.region, "34010100", None)
        today = self.today()
        if acct.claimed_on == today:
            # INVENTED: the reply when already claimed today is unknown (§3.2); we answer ret 0 with quota 0.
            return self._commerce(acct.region, "0", zero)
        acct.claimed_on = today
        acct.gift += acct.daily_quota
        self._ledger.setdefault(acct.sessionid, []).append(
            {
                "amount": acct.daily_quota,
                "create_time": int(time.time()),
                "title": "每日免费积分",  # INVENTED title
                "submit_id": "",
                "status": 1,
                "_type": 1,
            }
        )
        return self._commerce(
            acct.region,
            "0",
            {"is_first_receive": False, "receive_quota": acct.daily_quota, "has_popup": False, "receive_inter_days": 1},
        )

    async def _credit_history(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._commerce(self._commerce_region(request, acct), err, {})
        assert acct is not None
        body = await self._json_body(request)
        body = body if isinstance(body, dict) else {}
        count = body.get("count", 20)
        count = count if _is_int(count) and count > 0 else 20
        try:
            offset = int(body.get("cursor") or 0)
        except (TypeError, ValueError):
            offset = 0
        htype = body.get("history_type")
        recs = [r for r in reversed(self._ledger.get(acct.sessionid, [])) if htype not in (1, 2) or r["_type"] == htype]
        page = [{k: v for k, v in r.items() if not k.startswith("_")} for r in recs[offset : offset + count]]
        return self._commerce(
            acct.region,
            "0",
            {
                "total_credit": acct.total,
                "records": page,
                "new_cursor": str(offset + len(page)),
                "has_more": offset + len(page) < len(recs),
            },
        )

    # ------------------------------------------------------------------ uploads (§3.5–3.7)

    async def _upload_token(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        body = await self._json_body(request)
        if not isinstance(body, dict) or body.get("scene") not in (1, 2):
            return self._mweb("1000")  # INVENTED: scene is always sent by peers
        ak = "AKTP" + self._alnum(44)
        secret = self._alnum(40)
        expires = int(time.time()) + 3600
        token_doc = {
            "LTAccessKeyID": "AKLT" + self._alnum(40),
            "AccessKeyID": ak,
            "SignedSecretAccessKey": self._alnum(40),
            "ExpiredTime": expires,
            "PolicyString": '{"Statement":[{"Effect":"Allow","Action":["ImageX:*","vod:*"],"Resource":["*"]}]}',
        }
        session_token = "STS2" + base64.b64encode(_dumps(token_doc).encode()).decode()
        self._sts[ak] = _Sts(ak, secret, session_token, acct.sessionid, acct.region, expires)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        return self._mweb(
            "0",
            {
                "access_key_id": ak,
                "secret_access_key": secret,
                "session_token": session_token,
                "service_id": acct.space,
                "space_name": acct.space,
                "upload_domain": host,
                "expired_time": expires,
            },
        )

    def _take_fault(self, step: str) -> str | None:
        for i, f in enumerate(self.upload_faults):
            if f.startswith(step + "_") or (step == "upload" and f == "crc_mismatch"):
                return self.upload_faults.pop(i)
        return None

    def _openapi_error(self, request: web.Request, status: int, code_n: int, code: str, message: str) -> web.Response:
        action = request.query.get("Action", "")
        vod = action in ("ApplyUploadInner", "CommitUploadInner")
        body = {
            "ResponseMetadata": {
                "RequestId": self._logid(),
                "Action": action,
                "Version": request.query.get("Version", "2020-11-19" if vod else "2018-08-01"),
                "Service": "vod" if vod else "imagex",
                "Region": "cn-north-1",
                "Error": {"CodeN": code_n, "Code": code, "Message": message},
            }
        }
        return web.json_response(body, status=status)

    def _openapi_ok(self, request: web.Request, result: dict, sts: _Sts) -> web.Response:
        action = request.query.get("Action", "")
        vod = action in ("ApplyUploadInner", "CommitUploadInner")
        rid = self._logid()
        return web.json_response(
            {
                "ResponseMetadata": {
                    "RequestId": rid,
                    "Action": action,
                    "Version": request.query.get("Version", ""),
                    "Service": "vod" if vod else "imagex",
                    "Region": SIGV4_REGION[sts.region],
                },
                "Result": {**result, "RequestId": rid},
            }
        )

    def _verify_sigv4(self, request: web.Request, body: bytes, service: str) -> _Sts | web.Response:
        auth_header = request.headers.get("Authorization", "")
        try:
            auth = _sigv4.parse_authorization(auth_header)
        except ValueError:
            return self._openapi_error(request, 401, 100024, "InvalidAuthorization", "InvalidAuthorization")
        sts = self._sts.get(auth.access_key_id)
        if sts is None or sts.expires < time.time():
            return self._openapi_error(
                request,
                401,
                100029,
                "CheckAuthenticationError",
                f"CheckAuthenticationError, reason: `The accessKey '{auth.access_key_id}' can not be found`.",
            )
        if auth.region != SIGV4_REGION[sts.region]:
            # §1.3: international STS keys on the CN ImageX region (and vice versa) are "not found" upstream.
            return self._openapi_error(
                request,
                401,
                100029,
                "CheckAuthenticationError",
                f"CheckAuthenticationError, reason: `The accessKey '{auth.access_key_id}' can not be found`.",
            )
        mismatch = self._openapi_error(
            request,
            403,
            100010,  # INVENTED CodeN
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
        amz_date = request.headers.get("X-Amz-Date", "")
        required = {"x-amz-date", "x-amz-security-token"}
        if request.method == "POST":
            required.add("x-amz-content-sha256")
        payload_hash = hashlib.sha256(body).hexdigest()
        if (
            not required <= set(auth.signed_headers)
            or request.headers.get("X-Amz-Security-Token") != sts.token
            or amz_date[:8] != auth.date
            or auth.service != service
            or (request.method == "POST" and request.headers.get("X-Amz-Content-Sha256") != payload_hash)
        ):
            return mismatch
        headers = {k.lower(): v for k, v in request.headers.items()}
        expected = _sigv4.expected_signatures(
            secret=sts.secret,
            auth=auth,
            method=request.method,
            query_pairs=list(request.query.items()),
            headers=headers,
            payload_hash=payload_hash,
        )
        if auth.signature not in expected:
            return mismatch
        return sts

    async def _root(self, request: web.Request) -> web.Response:
        action = request.query.get("Action")
        handlers = {
            ("GET", "ApplyImageUpload"): self._apply_image,
            ("POST", "CommitImageUpload"): self._commit_image,
            ("GET", "ApplyUploadInner"): self._apply_vod,
            ("POST", "CommitUploadInner"): self._commit_vod,
        }
        handler = handlers.get((request.method, action or ""))
        if handler is None:
            return await self._not_found(request)
        return await handler(request)

    def _new_store(self, request: web.Request, sts: _Sts, kind: str, size: int) -> _Store:
        space = SPACE_CN if sts.region == "cn" else SPACE_INTL
        if kind == "image":
            prefix = f"tos-cn-i-{space}" if sts.region == "cn" else f"tos-alisg-i-{space}-sg"
        else:
            prefix = f"tos-cn-v-{space}" if sts.region == "cn" else f"tos-alisg-v-{space}-sg"
        uri = f"{prefix}/{self._hex(32)}"
        auth = f"SpaceKey/{space}/1/:version:v2:" + base64.b64encode(self._rng.randbytes(48)).decode()
        store = _Store(kind, uri, auth, sts.sessionid, size, session_key="")
        self._stores[uri] = store
        return store

    def _check_size(self, request: web.Request) -> int | None:
        try:
            size = int(request.query.get("FileSize", ""))
        except ValueError:
            return None
        return size if size > 0 else None

    async def _apply_image(self, request: web.Request) -> web.Response:
        sts = self._verify_sigv4(request, await request.read(), "imagex")
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("apply"):
            return self._openapi_error(
                request, 403, 100010, "SignatureDoesNotMatch", "injected fault: SignatureDoesNotMatch"
            )
        space = SPACE_CN if sts.region == "cn" else SPACE_INTL
        size = self._check_size(request)
        if request.query.get("ServiceId") != space or size is None:
            return self._openapi_error(
                request, 400, 100004, "InvalidParameter", "invalid ServiceId or FileSize"
            )  # INVENTED
        store = self._new_store(request, sts, "image", size)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        addr: dict[str, Any] = {
            "StoreInfos": [{"StoreUri": store.store_uri, "Auth": store.auth, "UploadID": self._hex(32)}],
            "UploadHosts": [host],
            "UploadHost": host,
        }
        store.session_key = base64.b64encode(_dumps(addr).encode()).decode()
        addr["SessionKey"] = store.session_key
        self._sessions[store.session_key] = store.store_uri
        return self._openapi_ok(request, {"UploadAddress": addr}, sts)

    async def _apply_vod(self, request: web.Request) -> web.Response:
        sts = self._verify_sigv4(request, await request.read(), "vod")
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("apply"):
            return self._openapi_error(
                request, 403, 100010, "SignatureDoesNotMatch", "injected fault: SignatureDoesNotMatch"
            )
        size = self._check_size(request)
        space_ok = request.query.get("SpaceName") in ("dreamina", SPACE_CN if sts.region == "cn" else SPACE_INTL)
        if not space_ok or size is None:
            return self._openapi_error(
                request, 400, 100004, "InvalidParameter", "invalid SpaceName or FileSize"
            )  # INVENTED
        store = self._new_store(request, sts, "vod", size)
        store.vid = "v0" + self._alnum(28, string.ascii_lowercase + string.digits)
        host = self.url.split("://", 1)[-1] if self.url else request.host
        node: dict[str, Any] = {
            "Vid": store.vid,
            "UploadHost": host,
            "Type": "normal",
            "StoreInfos": [{"StoreUri": store.store_uri, "Auth": store.auth, "UploadID": self._hex(32)}],
        }
        store.session_key = base64.b64encode(_dumps(node).encode()).decode()
        node["SessionKey"] = store.session_key
        self._sessions[store.session_key] = store.store_uri
        return self._openapi_ok(request, {"InnerUploadAddress": {"UploadNodes": [node]}}, sts)

    async def _upload_bytes(self, request: web.Request) -> web.Response:
        store = self._stores.get(request.match_info["store_uri"])
        if store is None:
            return web.json_response({"code": 4004, "message": "store uri not found"}, status=404)  # INVENTED
        if request.headers.get("Authorization") != store.auth:
            return web.json_response({"code": 4001, "message": "auth failed"}, status=401)  # INVENTED
        body = await request.read()
        fault = self._take_fault("upload")
        if fault == "upload_500":
            return web.json_response({"code": 5000, "message": "internal error (injected)"}, status=500)
        crc = f"{zlib.crc32(body) & 0xFFFFFFFF:08x}"
        sent = request.headers.get("Content-CRC32", "")
        if fault == "crc_mismatch" or not re.fullmatch(r"[0-9a-f]{8}", sent) or sent != crc:
            return web.json_response({"code": 4003, "message": "crc32 mismatch"}, status=400)  # INVENTED body
        if len(body) != store.file_size:
            return web.json_response({"code": 4002, "message": "file size mismatch"}, status=400)  # INVENTED
        store.data = body
        return web.json_response({"code": 2000, "message": "Success", "data": {"crc32": crc}})

    async def _commit_store(self, request: web.Request, service: str) -> tuple[_Sts, _Store | None] | web.Response:
        body = await request.read()
        sts = self._verify_sigv4(request, body, service)
        if isinstance(sts, web.Response):
            return sts
        if self._take_fault("commit"):
            return self._openapi_error(request, 500, 100001, "InternalError", "injected fault")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        key = doc.get("SessionKey") if isinstance(doc, dict) else None
        uri = self._sessions.get(key) if isinstance(key, str) else None
        store = self._stores.get(uri) if uri else None
        if store is None or store.sessionid != sts.sessionid:
            return self._openapi_error(request, 400, 100004, "InvalidParameter", "invalid SessionKey")  # INVENTED
        return sts, store

    async def _commit_image(self, request: web.Request) -> web.Response:
        res = await self._commit_store(request, "imagex")
        if isinstance(res, web.Response):
            return res
        sts, store = res
        assert store is not None
        info = image_info(store.data) if store.data is not None else None
        if store.kind != "image" or store.data is None or info is None:
            return self._openapi_ok(request, {"Results": [{"Uri": store.store_uri, "UriStatus": 2001}]}, sts)
        width, height, fmt = info
        md5 = hashlib.md5(store.data).hexdigest()
        token = self._hex(32)
        self._assets[token] = _Asset(
            "upload", width, height, token, data=store.data, content_type=f"image/{fmt or 'png'}"
        )
        store.committed = True
        self.uploaded_images[store.store_uri] = {
            "sessionid": store.sessionid,
            "width": width,
            "height": height,
            "format": fmt,
            "size": len(store.data),
            "md5": md5,
            "token": token,
        }
        plugin = {
            "FileName": store.store_uri.rsplit("/", 1)[-1],
            "SourceUri": store.store_uri,
            "ImageUri": store.store_uri,
            "ImageWidth": width,
            "ImageHeight": height,
            "ImageMd5": md5,
            "ImageFormat": fmt,
            "ImageSize": len(store.data),
            "FrameCnt": 1,
        }
        return self._openapi_ok(
            request, {"Results": [{"Uri": store.store_uri, "UriStatus": 2000}], "PluginResult": [plugin]}, sts
        )

    async def _commit_vod(self, request: web.Request) -> web.Response:
        res = await self._commit_store(request, "vod")
        if isinstance(res, web.Response):
            return res
        sts, store = res
        assert store is not None
        if store.kind != "vod" or store.data is None or store.vid is None:
            return self._openapi_error(request, 400, 100004, "InvalidParameter", "nothing uploaded")  # INVENTED
        meta = probe_mp4(store.data) or {"width": 0, "height": 0, "duration": 0.0}
        store.committed = True
        self.uploaded_vids[store.vid] = {
            "sessionid": store.sessionid,
            "uri": store.store_uri,
            **meta,
            "size": len(store.data),
        }
        video_meta = {
            "Uri": store.store_uri,
            "Width": meta["width"],
            "Height": meta["height"],
            "Duration": meta["duration"],
            "Size": len(store.data),
            "Md5": hashlib.md5(store.data).hexdigest(),
            "Format": "mp4" if meta["width"] else "",
            "Codec": "h264" if meta["width"] else "",
            "Bitrate": int(len(store.data) * 8 / meta["duration"]) if meta["duration"] else 0,
            "Fps": 24 if meta["width"] else 0,
        }
        return self._openapi_ok(request, {"Results": [{"Vid": store.vid, "VideoMeta": video_meta}]}, sts)


__all__ = ["FakeAccount", "FakeJimeng", "FakeJob", "Recorded"]
