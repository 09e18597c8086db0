"""``FakeJimeng``: the aiohttp app that serves every upstream host, its routes, the request log and the public
helpers tests use. The handlers live in the mixins (submit, drafts, jobs, accounts, uploads, cdn)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from .records import Asset, FakeAccount, FakeJob, Recorded, Store, Sts, cookie_sessionid
from .submit import SubmitMixin
from .switches import Switches
from .tables import ALL_REGIONS
from .uploads import UploadsMixin

log = logging.getLogger("emulator")

WEB_API = {
    "/mweb/v1/aigc_draft/generate": "_generate",
    "/mweb/v1/get_history_by_ids": "_history_by_ids",
    "/mweb/v1/get_local_item_list": "_local_item_list",
    "/mweb/v1/get_history": "_get_history",
    "/mweb/v1/get_history_queue_info": "_queue_info",
    "/mweb/v1/get_upload_token": "_upload_token",
    "/mweb/v1/get_common_config": "_common_config",
    "/mweb/v1/get_image_by_uri": "_image_by_uri",
    "/mweb/v1/get_user_info": "_user_info",
    "/mweb/v1/algo_proxy": "_algo_proxy",
    "/commerce/v1/benefits/user_credit": "_user_credit",
    "/commerce/v1/benefits/credit_receive": "_credit_receive",
    "/commerce/v1/benefits/user_credit_history": "_credit_history",
    "/passport/account/info/v2": "_passport",
}


class FakeJimeng(SubmitMixin, UploadsMixin):
    """The emulator. ``await start()``, point the client's JIMENG_UPSTREAM_URL at ``url``, ``await close()``.

    ``image_seconds`` / ``video_seconds``: how long a job takes (± ``jitter``, a fraction); ``clock``: the time
    source jobs progress on; ``seed``: ids and jitter are reproducible; ``max_recorded``: keep only the last N
    requests in ``requests`` (None: all, as tests want). ``switches`` and any keyword named like a field of
    :class:`emulator.Switches` (``duplicate_submit="new_job"``, ...) set the behaviours the emulator had to guess.

    Fault switches, settable at any time: ``sign_check`` (verify the web ``Sign`` header), ``shark`` (Seedance
    submits without ``a_bogus`` get 1019), ``upload_faults``, ``common_config_enabled``, ``generate_delay``; per
    account see :class:`emulator.FakeAccount`.
    """

    def __init__(
        self,
        *,
        image_seconds: float = 0.6,
        video_seconds: float = 1.5,
        jitter: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        max_recorded: int | None = None,
        switches: Switches | None = None,
        **switch_values: Any,
    ) -> None:
        self.switches = Switches(**{**vars(switches or Switches()), **switch_values})
        self.image_seconds = image_seconds
        self.video_seconds = video_seconds
        self.jitter = jitter
        self.clock = clock
        self.max_recorded = max_recorded
        self._rng = random.Random(seed)
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.url = ""
        self.accounts: dict[str, FakeAccount] = {}
        self.requests: list[Recorded] = []
        self.jobs: dict[str, FakeJob] = {}
        self.sign_check = False
        self.sign_exempt: set[str] = {"/mweb/v1/get_upload_token"}  # PROTOCOL.md §2.3: evidently not validated there
        self.shark = False
        self.upload_faults: list[str] = []
        self.common_config_enabled = True
        self.duplicate_submits = 0
        self.generate_delay = 0.0  # seconds to hold an accepted generate's reply
        self._jobs_by_history: dict[str, FakeJob] = {}
        self._ledger: dict[str, list[dict]] = {}
        self._sts: dict[str, Sts] = {}
        self._stores: dict[str, Store] = {}
        self._sessions: dict[str, str] = {}
        self.uploaded_images: dict[str, dict] = {}
        self.uploaded_vids: dict[str, dict] = {}
        self._assets: dict[str, Asset] = {}
        self._media_tasks: dict[str, asyncio.Future[bytes]] = {}
        self._cdn_secret = self._rng.randbytes(16)
        self._url_epoch = 0
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._record_middleware], client_max_size=256 * 1024**2)
        self._routes()

    # ------------------------------------------------------------------ lifecycle / public helpers

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}"
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
        """Recorded requests whose path ends with the argument (or whose ``Action`` is it), optionally of one
        account."""
        return [
            r
            for r in self.requests
            if (r.path.endswith(path_suffix_or_action) or r.action == path_suffix_or_action)
            and (sessionid is None or r.sessionid == sessionid)
        ]

    # ------------------------------------------------------------------ plumbing

    def _routes(self) -> None:
        r = self.app.router
        r.add_route("*", "/", self._root)
        for path, name in WEB_API.items():
            r.add_post(path, getattr(self, name))
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
                sessionid=cookie_sessionid(request.headers.get("Cookie")),
                time=self.clock(),
                action=request.query.get("Action"),
            )
        )
        if self.max_recorded is not None and len(self.requests) > self.max_recorded * 2:
            del self.requests[: len(self.requests) - self.max_recorded]
        response = await handler(request)
        log.debug("%s %s → %s", request.method, request.path, getattr(response, "status", "?"))
        return response
