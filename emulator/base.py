"""What every handler shares: the reply envelopes, random ids, who is calling, and the login/region/sign gate."""

from __future__ import annotations

import base64
import json
import random
import string
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from .records import FakeAccount, cookie_sessionid, dumps
from .signing import web_sign_ok
from .switches import Switches
from .tables import AID_CN, AID_INTL, ERRMSG, INTL_REGIONS, INVENTED_ERRMSG, STARLING


class EmulatorBase:
    """State and helpers the handler mixins of :class:`emulator.FakeJimeng` rely on."""

    url: str
    accounts: dict[str, FakeAccount]
    switches: Switches
    clock: Callable[[], float]
    today: Callable[[], date]
    sign_check: bool
    sign_exempt: set[str]
    _rng: random.Random

    # ------------------------------------------------------------------ ids

    def _logid(self) -> str:
        return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + self._rng.randbytes(10).hex().upper()

    def _hex(self, n: int) -> str:
        return self._rng.randbytes((n + 1) // 2).hex()[:n]

    def _digits(self, n: int) -> str:
        return str(self._rng.randrange(10 ** (n - 1), 10**n))

    def _alnum(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    # ------------------------------------------------------------------ envelopes

    def _errmsg(self, ret: str) -> str:
        if ret in ERRMSG:
            return ERRMSG[ret]
        if ret in INVENTED_ERRMSG:
            return self.switches.text(INVENTED_ERRMSG[ret])  # INVENTED (switch: invented_texts)
        return "error"

    def _mweb(self, ret: str = "0", data: Any = None, errmsg: str | None = None) -> web.Response:
        body = {
            "ret": ret,
            "errmsg": errmsg if errmsg is not None else self._errmsg(ret),
            "systime": str(int(time.time())),
            "logid": self._logid(),
            "data": data if data is not None else {},
        }
        return web.Response(text=dumps(body), content_type="application/json")

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
        body: dict[str, Any] = {"ret": ret, "errmsg": errmsg if errmsg is not None else self._errmsg(ret)}
        if region is None or region == "cn":
            body["svr_time"] = int(time.time())
        else:
            body["systime"] = str(int(time.time() * 1000))
        body["log_id"] = self._logid()
        if data is not None:
            body["response"] = dumps(data)
            body["sign"] = base64.b64encode(self._rng.randbytes(128)).decode()
            body["data"] = data
        return web.Response(text=dumps(body), content_type="application/json")

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"code": 404, "message": f"not found: {request.method} {request.path}"}, status=404)

    # ------------------------------------------------------------------ who is calling

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
        sid = cookie_sessionid(request.headers.get("Cookie"))
        if sid is None and request.path == "/commerce/v1/benefits/user_credit_history":
            auth = request.headers.get("Authorization", "")
            if auth.lower().startswith("bearer "):
                sid = auth[7:].strip()
        acct = self.accounts.get(sid) if sid else None
        return acct if acct is not None and acct.valid else None

    def _gate(self, request: web.Request, acct: FakeAccount | None) -> str | None:
        """Login, region and sign checks shared by /mweb and /commerce. Returns a ret code or None."""
        if acct is None:
            return "1015"
        cls = "cn" if acct.is_cn else "intl"
        if any(c != cls for c in self._request_regions(request)):
            return "3000"
        if self.sign_check and request.path not in self.sign_exempt and not web_sign_ok(request):
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
