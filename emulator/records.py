"""What the emulator keeps: accounts, jobs, the request log, STS keys, upload stores, CDN assets; small helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from multidict import CIMultiDict

from .tables import AID_CN, AID_INTL, SPACE_CN, SPACE_INTL


@dataclass
class FakeAccount:
    """One emulated Jimeng account. Tests steer it through ``fail_generate`` (ret codes the next submits answer),
    ``next_outcomes`` (how the next jobs end: ``("ok",)``, ``("fail", status, fail_code)``, ``("never",)``,
    ``("stall_45",)``, ``("instant",)`` — done before the first poll can arrive), ``receive_fault`` (a ret code for the daily claim), ``max_concurrent`` and ``valid``."""

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
    """One request as it reached the emulator (``FakeJimeng.requests``)."""

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
    queue_s: float = 0.0  # switch queue=positions: seconds in line before its ``duration`` starts
    queue_ahead: int = 0  # ... its place in that line when submitted
    queue_bias: float = 1.0  # ... how far forecast_queue_cost is off
    generate_type: int | None = None  # the record's generate_type when the draft sets it (post-edit tools)


@dataclass
class Sts:
    access_key_id: str
    secret: str
    token: str
    sessionid: str
    region: str
    expires: float


@dataclass
class Store:
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
class Asset:
    kind: str  # "img" | "vid" | "upload"
    width: int
    height: int
    seed: str
    duration_ms: int = 0
    data: bytes | None = None
    content_type: str = "image/webp"


class Reject(Exception):
    """A business error on generate: answered as ``ret`` with ``fail_code``/starling data."""

    def __init__(self, ret: str, errmsg: str | None = None, fail_code: str = "") -> None:
        super().__init__(ret)
        self.ret = ret
        self.errmsg = errmsg
        self.fail_code = fail_code


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def cookie_sessionid(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep and k.strip() == "sessionid":
            return v.strip() or None
    return None


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
