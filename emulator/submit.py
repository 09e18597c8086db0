"""Submitting a job (PROTOCOL.md §5): ``aigc_draft/generate`` — the gate (login, region, shark, sign), the per-account
injected failures, idempotency by submit_id, concurrency, the charge, and the new job's results-to-be."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from .accounts import AccountsMixin
from .drafts import DraftsMixin
from .jobs import JobsMixin
from .omni import OmniMixin
from .records import FakeAccount, FakeJob, Reject, cookie_sessionid, is_int
from .signing import web_sign_ok
from .tables import SIGN_APPVR


class SubmitMixin(JobsMixin, DraftsMixin, AccountsMixin, OmniMixin):
    image_seconds: float
    video_seconds: float
    jitter: float
    shark: bool
    generate_delay: float
    duplicate_submits: int

    async def _generate(self, request: web.Request) -> web.Response:
        sid = cookie_sessionid(request.headers.get("Cookie"))
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
            if not web_sign_ok(request):
                return self._gen_error(acct, "1014")
            if request.headers.get("Appvr") != SIGN_APPVR:
                return self._gen_error(acct, "3018")
        try:
            job, duplicate = self._parse_and_submit(acct, body)
        except Reject as rej:
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
            raise Reject("1002")
        submit_id = body.get("submit_id")
        if not isinstance(submit_id, str) or not submit_id:
            raise Reject("1000")
        draft_raw = body.get("draft_content")
        if not isinstance(draft_raw, str):
            raise Reject("1002")  # AICF: an object instead of a JSON string → 1002 "common error"
        try:
            draft = json.loads(draft_raw)
        except ValueError:
            raise Reject("1002") from None
        if not isinstance(draft, dict):
            raise Reject("1002")
        extend = body.get("extend")
        if not isinstance(extend, dict) or not isinstance(extend.get("root_model"), str):
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): no extend.root_model
        hci = body.get("http_common_info")
        if not isinstance(hci, dict) or "aid" not in hci:
            raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): no http_common_info.aid
        if str(hci["aid"]) != str(acct.aid):
            raise Reject("3000")
        comps = draft.get("component_list")
        if not isinstance(comps, list) or not comps or not all(isinstance(c, dict) for c in comps):
            raise Reject("1001")
        main_id = draft.get("main_component_id")
        comp = next((c for c in comps if c.get("id") == main_id), comps[-1])

        origin: FakeJob | None = None
        if body.get("action") == 2:  # PROTOCOL.md §5.7 continuation
            origin = self._jobs_by_history.get(str(body.get("history_id", "")))
            if origin is None or origin.sessionid != acct.sessionid:
                raise Reject("1000")

        spec = self._video_extra(acct, comp, extend, draft) or self._parse_component(acct, comp, extend)  # omni.py
        if origin is not None and self.switches.continuation_count:
            # INVENTED (switch: continuation_count): a continuation adds metrics_extra.generateCount images.
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                n = json.loads(body.get("metrics_extra") or "{}").get("generateCount")
                if is_int(n) and 1 <= n <= 8 and spec["kind"] != "video":
                    spec["count"] = n

        existing = self.jobs.get(submit_id)
        duplicate = existing is not None
        if existing is not None:
            # INVENTED (switch: duplicate_submit; real behaviour unknown, PROTOCOL.md §10.4/§13). By default a
            # re-submitted submit_id creates no second job and no second charge: the answer describes the
            # existing job.
            if existing.sessionid != acct.sessionid:
                raise Reject(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret)
            if self.switches.duplicate_submit == "reject":
                self.duplicate_submits += 1
                raise Reject(self.switches.invalid_ret)
            if self.switches.duplicate_submit == "dedupe":
                return existing, True

        if acct.max_concurrent is not None and self._running(acct.sessionid, self.clock()) >= acct.max_concurrent:
            raise Reject("1010")

        price = spec["price"]
        if acct.total < price:
            raise Reject("1006")
        self._charge(acct, price, "视频生成" if spec["kind"] == "video" else "图片生成", submit_id)
        return self._create_job(acct, submit_id, draft, draft_raw, spec, origin), duplicate

    def _create_job(
        self, acct: FakeAccount, submit_id: str, draft: dict, draft_raw: str, spec: dict, origin: FakeJob | None
    ) -> FakeJob:
        base = self.video_seconds if spec["kind"] == "video" else self.image_seconds
        duration = max(0.01, base * (1 + self._rng.uniform(-self.jitter, self.jitter)))
        outcome = tuple(acct.next_outcomes.pop(0)) if acct.next_outcomes else spec.get("outcome") or ("ok",)
        if outcome[0] == "instant":
            duration, outcome = 0.01, ("ok",)
        queue = (0.0, 0, 1.0)
        if self.switches.queue == "positions":  # INVENTED (switch: queue): a line with places, before generation
            queue = (duration * self._rng.uniform(0.1, 0.4), self._rng.randint(2, 6), self._rng.uniform(0.7, 1.3))
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
            origin_history_id=origin.history_id if origin else spec.get("origin_history_id"),
            generate_type=spec.get("generate_type"),
            forecast_cost=spec["price"] * 4,  # forecasts overestimate (PROTOCOL.md §3.5)
            generate_logid=self._logid(),
            queue_s=queue[0],
            queue_ahead=queue[1],
            queue_bias=queue[2],
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
