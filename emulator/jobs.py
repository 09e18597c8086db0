"""Jobs over time (PROTOCOL.md §8): how a job moves through its statuses, and the history endpoints that report it.

A job takes ``duration`` seconds on the emulator's clock (``image_seconds`` / ``video_seconds``, with ``jitter``):
status 20 (queued) for the first ``QUEUED_FRACTION``, then 42, then 45 while its items appear one by one (item k
at 0.4 + 0.6·k/(n+1) of the duration), then 50 with every item. That timeline is our guess; the switches
``queue``, ``status_45`` and ``items_during_45`` change it (a line with places before generation; 42 straight to
50; items only with the final status). ``FakeAccount.next_outcomes`` makes a job fail (``("fail", status,
fail_code)``), never leave the queue (``("never",)``), stop at 45 with an item missing (``("stall_45",)``) or be
done at once (``("instant",)``). ``ready_at`` / ``done_at`` say when a client could have had the result.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from aiohttp import web

from .cdn import CdnMixin
from .records import FakeJob, is_int
from .tables import FAIL_MESSAGES, GENERIC_FAIL, IMAGE_MODELS, VIDEO_MODELS

QUEUED_FRACTION = 0.15  # share of a job's duration spent queued (status 20) before generation starts
TERMINAL = frozenset({10, 30, 40, 50, 100})


class JobsMixin(CdnMixin):
    jobs: dict[str, FakeJob]
    _jobs_by_history: dict[str, FakeJob]

    def _state(self, job: FakeJob, now: float) -> tuple[int, int, str, float | None]:
        """(status, items available, fail_code, seconds-after-start at which it became terminal)."""
        queue = job.queue_s
        el = max(0.0, now - job.started)
        d = job.duration
        kind = job.outcome[0] if job.outcome else "ok"
        sw = self.switches

        def normal(frac: float) -> tuple[int, int]:
            if frac < 0:
                return 20, 0  # INVENTED (switch: queue): waiting in the line (queue=positions)
            if frac < QUEUED_FRACTION and sw.queue == "short":
                return 20, 0  # INVENTED (switch: queue): the first 15 % queued
            if frac < 0.4:
                return 42, 0
            if frac < 1.0:
                if not sw.status_45:  # INVENTED (switch: status_45): 45 before 50, or straight from 42 to 50
                    return 42, 0
                if not sw.items_during_45:  # INVENTED (switch: items_during_45): items during 45, or only at 50
                    return 45, 0
                return 45, min(job.count, int((frac - 0.4) / 0.6 * (job.count + 1)))
            return 50, job.count

        frac = (el - queue) / d
        if kind == "never":
            return 20, 0, "", None
        if kind == "stall_45":
            st, n = normal(min(frac, 0.999))
            return st, min(n, max(1, job.count - 1)), "", None
        if kind == "fail":
            status = int(job.outcome[1]) if len(job.outcome) > 1 else 30
            code = str(job.outcome[2]) if len(job.outcome) > 2 else ""
            at = queue + {10: 0.15, 40: 1.0}.get(status, 0.6) * d
            if el >= at:
                return status, 0, code, at
            st, _ = normal(frac)
            return st, 0, "", None
        st, n = normal(frac)
        return st, n, "", (queue + d if st == 50 else None)

    def done_at(self, submit_id: str) -> float:
        """When the job reaches status 50, on the emulator's clock."""
        job = self.jobs[submit_id]
        return job.started + job.queue_s + job.duration

    def ready_at(self, submit_id: str) -> float:
        """When a client could first have every result: the final 50, or status 45 with every item present (item k
        appears at 0.4 + 0.6·k/(n+1) of the generation time) when items fill during 45."""
        job = self.jobs[submit_id]
        frac = 1.0
        if self.switches.status_45 and self.switches.items_during_45:
            frac = min(1.0, 0.4 + 0.6 * job.count / (job.count + 1))
            while frac < 1.0 and int((frac - 0.4) / 0.6 * (job.count + 1)) < job.count:  # float rounding
                frac += 1e-9
        return job.started + job.queue_s + job.duration * frac

    def _jobs_of(self, sessionid: str) -> list[FakeJob]:
        """Every job of an account, oldest first (with duplicate_submit=new_job, ``jobs`` keeps only the newest
        job of a submit_id; the history index keeps them all)."""
        return [j for j in self._jobs_by_history.values() if j.sessionid == sessionid]

    def _running(self, sessionid: str, now: float) -> int:
        return sum(1 for j in self._jobs_of(sessionid) if self._state(j, now)[0] not in TERMINAL)

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

    def _fail_texts(self, fail_code: str) -> tuple[str, str]:
        key, msg = FAIL_MESSAGES.get(fail_code, GENERIC_FAIL)  # INVENTED (switch: invented_texts)
        if fail_code == "2038":
            return self.switches.text(key), msg  # the 2038 message is real, its key is not
        return self.switches.text(key), self.switches.text(msg)

    def _record(self, job: FakeJob, now: float, *, for_generate: bool = False) -> dict:
        status, n_items, fail_code, term_at = self._state(job, now)
        # PROTOCOL.md §10.2: forecast_queue_cost is the estimated queue WAIT in seconds (not the time until the job is done).
        queued = status == 20
        if job.queue_s:  # INVENTED (switch: queue): a line with places, and a forecast that is only a forecast
            left = max(0.0, job.queue_s - (now - job.started))
            queue_wait = left * job.queue_bias
            queue_idx = max(1, math.ceil(job.queue_ahead * left / job.queue_s)) if queued else 0
            queue_len = job.queue_ahead + 3
        else:
            queue_wait = max(0.0, QUEUED_FRACTION * job.duration - (now - job.started))
            queue_idx = 1 if queued else 0
            queue_len = sum(1 for j in self._jobs_of(job.sessionid) if self._state(j, now)[0] == 20)
        fkey, fmsg = self._fail_texts(fail_code) if status in (10, 30, 40) else ("", "")
        finish = int(job.created_wall + term_at) if term_at is not None else 0
        model_name = (IMAGE_MODELS.get(job.model_key) or VIDEO_MODELS.get(job.model_key)).name  # type: ignore[union-attr]
        q_queued, q_running = self.switches.queue_status  # INVENTED (switch: queue_status_codes)
        rec: dict[str, Any] = {
            "generate_type": job.generate_type
            if job.generate_type is not None
            else (None if job.kind == "video" else (12 if job.kind == "blend" else 1)),  # video value unknown
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
                "queue_idx": queue_idx,
                "priority": 3,
                "queue_status": q_queued if queued else q_running,
                "queue_length": max(1, queue_len) if queued else 0,
                "polling_config": {"interval_seconds": 30, "timeout_seconds": 86400},
            },
            "fail_code": fail_code,
            "fail_starling_key": fkey,
            "fail_starling_message": fmsg,
            "draft_content": job.draft_content,  # PROTOCOL.md §8.2: the record echoes the draft (exact field name unpublished)
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

    # ------------------------------------------------------------------ endpoints

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
            return self._mweb(self.switches.invalid_ret)  # INVENTED (switch: invalid_ret): neither key
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
        for job in self._jobs_of(acct.sessionid):
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
        if not is_int(count) or count <= 0:
            return self._mweb("2008")
        now = self.clock()
        mine = self._jobs_of(acct.sessionid)[::-1]
        key = self.switches.history_list_key  # INVENTED (switch: history_list_key): never published (PROTOCOL.md §8.5)
        return self._mweb("0", {key: [self._record(j, now) for j in mine[:count]], "has_more": len(mine) > count})

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
        data = {}
        if self.switches.invented_payloads:  # INVENTED (switch: invented_payloads): never captured (PROTOCOL.md §8.5)
            for hid in ids:
                job = self._jobs_by_history.get(str(hid))
                if job is not None and job.sessionid == acct.sessionid:
                    rec = self._record(job, now)
                    data[str(hid)] = {
                        "queue_info": rec["queue_info"],
                        "forecast_queue_cost": rec["forecast_queue_cost"],
                    }
        return self._mweb("0", data)
