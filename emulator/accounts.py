"""Accounts (PROTOCOL.md §3): credits and the ledger, the daily claim, who the user is, and the model catalogue an
account's site publishes (``get_common_config``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from .base import EmulatorBase
from .records import FakeAccount, is_int
from .tables import (
    IMAGE_MODELS,
    RESOLUTION_NAMES,
    SIZES_1K_LEGACY,
    SIZES_1K_NEW,
    SIZES_2K,
    SIZES_4K,
    sizes_15k,
)


class AccountsMixin(EmulatorBase):
    common_config_enabled: bool
    _ledger: dict[str, list[dict]]

    def ledger(self, sessionid: str) -> list[dict]:
        """The account's credit history (charges and claims), oldest first."""
        return list(self._ledger.get(sessionid, []))

    def _charge(self, acct: FakeAccount, price: int, title: str, submit_id: str) -> None:
        left = price
        for attr in ("gift", "purchase", "vip"):
            take = min(left, getattr(acct, attr))
            setattr(acct, attr, getattr(acct, attr) - take)
            left -= take
        entry = {"amount": price, "create_time": int(time.time()), "title": title, "submit_id": submit_id, "status": 1}
        self._ledger.setdefault(acct.sessionid, []).append({**entry, "_type": 2})

    # ------------------------------------------------------------------ credits

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
            # INVENTED (switch: reclaim_ret): the reply when already claimed today is unknown (PROTOCOL.md §3.2); by default
            # ret 0 with quota 0.
            return self._commerce(acct.region, self.switches.reclaim_ret, zero)
        acct.claimed_on = today
        acct.gift += acct.daily_quota
        self._ledger.setdefault(acct.sessionid, []).append(
            {
                "amount": acct.daily_quota,
                "create_time": int(time.time()),
                "title": self.switches.text("每日免费积分"),  # INVENTED (switch: invented_texts)
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
        count = count if is_int(count) and count > 0 else 20
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

    # ------------------------------------------------------------------ who the user is

    async def _user_info(self, request: web.Request) -> web.Response:
        acct = self._account_of(request)
        if (err := self._gate(request, acct)) is not None:
            return self._mweb(err)
        assert acct is not None
        if not self.switches.invented_payloads:
            return self._mweb("0", {})
        return self._mweb(
            "0",
            {  # INVENTED (switch: invented_payloads): field layout (AICF only says it contains the nickname)
                "user_id": acct.user_id,
                "user_id_str": str(acct.user_id),
                "nickname": f"user{str(acct.user_id)[-4:]}",
                "screen_name": f"user{str(acct.user_id)[-4:]}",
                "avatar_url": f"{self.url}/img/avatar.webp",
            },
        )

    async def _passport(self, request: web.Request) -> web.Response:
        # INVENTED (switch: invented_payloads): shapes per PROTOCOL.md §3.4 "Emulator note" (no capture exists).
        if not self.switches.invented_payloads:
            return await self._not_found(request)
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

    # ------------------------------------------------------------------ the catalogue

    def _catalogue(self, region: str) -> list[dict]:
        wkey, hkey = (
            self.switches.size_keys
        )  # INVENTED (switch: catalogue_size_keys): never published (PROTOCOL.md §7.4)
        tables = {
            "1.5k": sizes_15k(self.switches.size_15k_scale),  # INVENTED (switch: size_15k_scale)
            "2k": SIZES_2K,
            "4k": SIZES_4K,
        }
        out = []
        for key, m in IMAGE_MODELS.items():
            if not m.listed or region not in m.regions:
                continue
            rmap = {}
            for bucket in m.buckets:
                table = (SIZES_1K_LEGACY if m.legacy_1k else SIZES_1K_NEW) if bucket == "1k" else tables[bucket]
                rmap[bucket] = {
                    "resolution_type": bucket,
                    "resolution_name": RESOLUTION_NAMES[bucket],
                    "image_ratio_sizes": [{"ratio_type": rt, wkey: w, hkey: h} for rt, (w, h) in table.items()],
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
