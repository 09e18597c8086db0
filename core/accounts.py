"""Jimeng accounts: one session id each, its health, credits and daily claim state, and what front ends see of it.

The pool that rotates between them is ``core.pool``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from core.daily import CHINA_TZ as CHINA_TZ  # re-exported: Jimeng's day lives in core.daily
from core.daily import china_today as china_today
from core.errors import (
    InvalidRequestError,
)
from core.policy import (
    DEFAULT_ACCOUNT_CONCURRENCY,
)
from core.tokens import Token
from core.wire import (
    Region,
)

log = logging.getLogger(__name__)


class AccountState(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # 1015: the session is dead until the owner replaces it
    NO_CREDITS = "no_credits"  # 1006 after a failed daily claim: until the next daily reset
    COOLDOWN = "cooldown"  # risk control / region / rate limit: until cooldown_until


@dataclass(frozen=True, slots=True)
class Credits:
    gift: int = 0
    purchase: int = 0
    vip: int = 0

    @property
    def total(self) -> int:
        return self.gift + self.purchase + self.vip

    def to_dict(self) -> dict[str, int]:
        return {"gift": self.gift, "purchase": self.purchase, "vip": self.vip, "total": self.total}


@dataclass(frozen=True, slots=True)
class ClaimResult:
    account: str  # masked
    ok: bool
    granted: int = 0
    already: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """A snapshot for front ends (``/credits``, ``/token/points``); nothing secret in it."""

    masked: str
    key: str
    region: str
    state: str
    credits: Credits | None
    credits_checked_at: float | None
    last_claim_day: str | None
    last_claim_ok: bool | None
    last_claim_message: str
    in_flight: int
    limit: int
    cooldown_until: float | None
    last_error: str | None


def parse_credits(data: Any) -> Credits:
    """``data.credit.{gift,purchase,vip}_credit``; take the detail list when it is ahead (PROTOCOL.md §3.1 gotcha)."""
    credit = data.get("credit") if isinstance(data, dict) else None
    credit = credit if isinstance(credit, dict) else {}

    def num(v: Any) -> int:
        try:
            return int(v or 0)
        except (TypeError, ValueError):
            return 0

    gift = num(credit.get("gift_credit"))
    detail = data.get("credits_detail") if isinstance(data, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("gift_credits"), list):
        detail_gift = sum(num(g.get("residual_credits")) for g in detail["gift_credits"] if isinstance(g, dict))
        gift = max(gift, detail_gift)
    return Credits(gift=gift, purchase=num(credit.get("purchase_credit")), vip=num(credit.get("vip_credit")))


class Account:
    def __init__(self, token: Token, *, limit: int = DEFAULT_ACCOUNT_CONCURRENCY, pooled: bool = True) -> None:
        if token.proxy and not token.proxy.lower().startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"account {token.masked}: only http(s) proxies are supported, not {token.proxy.split(':', 1)[0]}",
                param="token",
            )
        self.token = token
        self.web_id = str(
            random.randint(10**18, 10**19 - 1)
        )  # one per account, in both webId and _tea_web_id (PROTOCOL.md §2.1)
        self.limit = limit
        self.pooled = pooled
        self.state = AccountState.OK
        self.cooldown_until = 0.0
        self.cooldown_level = 0
        self.credits: Credits | None = None
        self.credits_checked_at: float | None = None
        self.last_claim_day: date | None = None  # day of the last successful claim
        self.last_claim_ok: bool | None = None
        self.last_claim_message = ""
        self.no_credits_day: date | None = None
        self.in_flight = 0
        self.last_used = 0.0
        self.last_error: str | None = None

    @property
    def masked(self) -> str:
        return self.token.masked

    @property
    def key(self) -> str:
        return self.token.key

    @property
    def region(self) -> Region:
        return self.token.region

    def __repr__(self) -> str:
        return f"Account({self.masked}, {self.state.value}, {self.in_flight}/{self.limit})"

    def snapshot(self) -> dict[str, Any]:
        """What survives a restart (no secrets: the key is a fingerprint)."""
        return {
            "state": self.state.value,
            "cooldown_until": self.cooldown_until,
            "cooldown_level": self.cooldown_level,
            "credits": self.credits.to_dict() if self.credits else None,
            "credits_checked_at": self.credits_checked_at,
            "last_claim_day": self.last_claim_day.isoformat() if self.last_claim_day else None,
            "last_claim_ok": self.last_claim_ok,
            "last_claim_message": self.last_claim_message,
            "no_credits_day": self.no_credits_day.isoformat() if self.no_credits_day else None,
            "last_error": self.last_error,
        }

    def restore(self, data: dict[str, Any]) -> None:
        try:
            self.state = AccountState(data.get("state", "ok"))
            self.cooldown_until = float(data.get("cooldown_until") or 0.0)
            self.cooldown_level = int(data.get("cooldown_level") or 0)
            c = data.get("credits")
            self.credits = Credits(c["gift"], c["purchase"], c["vip"]) if isinstance(c, dict) else None
            self.credits_checked_at = data.get("credits_checked_at")
            day = data.get("last_claim_day")
            self.last_claim_day = date.fromisoformat(day) if day else None
            self.last_claim_ok = data.get("last_claim_ok")
            self.last_claim_message = str(data.get("last_claim_message") or "")
            nday = data.get("no_credits_day")
            self.no_credits_day = date.fromisoformat(nday) if nday else None
            self.last_error = data.get("last_error")
        except (KeyError, TypeError, ValueError):
            log.warning("account %s: stored state unreadable; starting fresh", self.masked)

    def status(self) -> AccountStatus:
        return AccountStatus(
            masked=self.masked,
            key=self.key,
            region=self.region.value,
            state=self.state.value,
            credits=self.credits,
            credits_checked_at=self.credits_checked_at,
            last_claim_day=self.last_claim_day.isoformat() if self.last_claim_day else None,
            last_claim_ok=self.last_claim_ok,
            last_claim_message=self.last_claim_message,
            in_flight=self.in_flight,
            limit=self.limit,
            cooldown_until=self.cooldown_until if self.state is AccountState.COOLDOWN else None,
            last_error=self.last_error,
        )
