"""Running an accepted job on an account: pick one (failover), upload the references, submit, poll.

``Dispatcher.run`` is the whole path of a new job; ``Dispatcher.resume`` takes over a job a previous process had
already submitted (restart recovery). Refusals that mean "this account cannot take it now" (``RET_FAILOVER``) move the
job to the next account; a quota refusal first claims the account's daily credits once; rate limits wait for a slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.accounts import Account
from core.drafts import blend as blend_body
from core.drafts import text_to_image as t2i_body
from core.drafts import video as video_body
from core.errors import (
    APIError,
    GenerationFailedError,
    JimengError,
    JobTimeoutError,
    QuotaError,
    RateLimitError,
    RiskControlError,
    TransportError,
    UploadError,
    classify_ret,
)
from core.jobs import Job, JobResult, JobState
from core.ledger import Ledger
from core.omni import MediaSpec, upload_materials
from core.params import ImageSpec, VideoSpec
from core.policy import RATE_LIMIT_RETRIES
from core.poller import AccountPoller, Resubmit
from core.pollshare import AccountShare
from core.pool import AccountPool
from core.results import Asset, RecordView, download_renditions, parse_record
from core.timings import Timing, Timings
from core.tool_drafts import tool_body
from core.tool_spec import ToolSpec, with_billed_note
from core.transport import Upstream
from core.upload import ImageUploader
from core.wire import PATH_GENERATE, PATH_LOCAL_ITEM_LIST, REGIONS, RET_FAILOVER, Region

log = logging.getLogger(__name__)

Spec = ImageSpec | VideoSpec | ToolSpec
ResumeMode = Literal["unconfirmed", "confirmed"]


def generate_body(spec: Spec, submit_id: str, region: Region, uploaded: list[Any]) -> dict[str, Any]:
    """The generate body of a job, given the account's region and its uploaded reference images (if any)."""
    if isinstance(spec, MediaSpec):  # omni reference, frame interpolation (core.omni, core.interpolate)
        return spec.body(submit_id, region, uploaded)
    if isinstance(spec, ToolSpec):
        return tool_body(spec, submit_id, region, uploaded)
    if isinstance(spec, VideoSpec):
        first = uploaded[0] if uploaded else None
        last = uploaded[1] if len(uploaded) > 1 else None
        return video_body(spec, submit_id, region, first_frame=first, last_frame=last)
    if spec.references:
        return blend_body(spec, uploaded, submit_id, region)
    return t2i_body(spec, submit_id, region)


def needs_refs(spec: Spec) -> bool:
    if isinstance(spec, MediaSpec):
        return spec.needs_upload
    if isinstance(spec, ToolSpec):
        return spec.uploads > 0
    return spec.frames > 0 if isinstance(spec, VideoSpec) else spec.references > 0


def total_items(spec: Spec) -> int:
    return spec.count if isinstance(spec, ImageSpec | ToolSpec) else 1


def timing_keys(spec: Spec) -> tuple[str, str]:
    """Where a job's generation time is learned: the model at this resolution and count (duration for a video;
    compositions apart), then the model alone as a coarse hint (core.timings)."""
    if isinstance(spec, ToolSpec):
        return f"{spec.model.name}|{spec.count}", spec.model.name
    if isinstance(spec, VideoSpec):
        exact = f"{spec.model.key}|{spec.resolution}|{spec.duration}s|{spec.frames}f"
    else:
        exact = f"{spec.model.key}|{spec.resolution}|{spec.count}|{'blend' if spec.references else 't2i'}"
    return exact, spec.model.key


class _NoSlot(Exception):
    """The slot taken as if this process were alone on the store was refused (``AccountPool.confirm``)."""


class _Refused(Exception):
    """Upstream refused a submit before accepting it (nothing was created or charged)."""

    def __init__(self, error: APIError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class _Attempts:
    """What one job has been through on its way across accounts."""

    tried: set[str]
    claimed: set[str]
    last_error: JimengError | None = None
    rate_retries: int = 0


class Dispatcher:
    def __init__(
        self,
        upstream: Upstream,
        pool: AccountPool,
        ledger: Ledger,
        *,
        timing: Timing,
        timings: Timings,
        max_resubmits: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.pool = pool
        self.ledger = ledger
        self.timing = timing
        self.timings = timings
        self.max_resubmits = max_resubmits
        self._clock = clock
        self._uploader = ImageUploader(upstream)
        self._pollers: dict[str, AccountPoller] = {}
        self.polls: Callable[[Account], AccountShare] | None = None  # with other processes (core.shared)

    async def close(self) -> None:
        for p in self._pollers.values():
            await p.close()

    def forget(self, keys: list[str]) -> None:
        """Callers' accounts the pool forgot: drop their pollers once idle (no job, and not polling for other
        processes' jobs on the account: core.pollshare, a holder goes on after its own jobs end)."""
        for key in keys:
            poller = self._pollers.get(key)
            if poller is not None and not len(poller) and (poller._task is None or poller._task.done()):
                del self._pollers[key]

    # ------------------------------------------------------------------------------------------------ failover

    async def run(self, job: Job, spec: Spec, *, among: Sequence[Account] | None, refs: list[Any]) -> JobResult:
        """Take an account (waiting in line if all are busy), and run the job there; move to the next account on a
        refusal that is the account's, not the job's."""
        seen = _Attempts(tried=set(), claimed=set())
        if isinstance(spec, ToolSpec | MediaSpec) and spec.account_key:  # a result of ours: its item is there only
            among = [a for a in (self.pool.get(spec.account_key),) if a is not None]

        def queued(pos: int, length: int) -> None:
            job.publish(JobState.QUEUED, queue_position=pos, queue_length=length)

        while True:
            acc = await job.unless_cancelled(  # Job.cancel() takes it out of the line
                self.pool.acquire(
                    spec.model.regions,
                    among=among,
                    exclude=seen.tried,
                    last_error=seen.last_error if seen.tried else None,
                    on_queue=queued,
                    holder=job.id,
                )
            )
            job.account = acc.masked
            try:
                result = await self._on_account(job, acc, spec, refs, seen)
            finally:
                await self.pool.release(acc, job.id)
            if result is not None:
                return result

    async def _on_account(
        self, job: Job, acc: Account, spec: Spec, refs: list[Any], seen: _Attempts
    ) -> JobResult | None:
        """The job's result, or None when it should go on with another (or the same, later) account."""
        if refs and not await self.pool.confirm(job.id):  # the slot is the store's before any upload
            return None
        try:
            uploaded = await job.unless_cancelled(self._upload(job, acc, refs)) if refs else []
        except UploadError as err:
            if err.ret not in RET_FAILOVER:
                raise
            # The account itself was refused (expired session, risk control...): try the next one.
            self.pool.note_refusal(acc, classify_ret(err.ret or ""))
            seen.tried.add(acc.key)
            seen.last_error = err
            return None
        body = generate_body(spec, job.submit_id, acc.region, uploaded)
        while True:
            try:
                result = await self._submit_and_poll(job, acc, spec, body)
            except _NoSlot:  # another process holds the account's slots: nothing was sent, back in line
                job.publish(JobState.QUEUED)
                self.ledger.save_soon(job)
                return None
            except _Refused as refused:
                if await self._claimed_credits(job, acc, refused.error, seen):
                    continue  # claimed today's free credits: submit again on the same account
                self._next_account(job, acc, refused.error, seen)
                return None
            self.pool.note_success(acc)
            return result

    async def _claimed_credits(self, job: Job, acc: Account, err: APIError, seen: _Attempts) -> bool:
        """Out of credits on an account that has not claimed today's: claim once, then the job may submit again."""
        if not isinstance(err, QuotaError) or acc.key in seen.claimed or self.pool.claimed_today(acc):
            return False
        seen.claimed.add(acc.key)
        claim = await self.pool.claim_daily(acc)
        if claim.ok:
            log.info("job %s: claimed daily credits on %s; submitting again", job.id, acc.masked)
        return claim.ok

    def _next_account(self, job: Job, acc: Account, err: APIError, seen: _Attempts) -> None:
        """A refused submit: raise it when it is the job's fault or retries ran out; otherwise note it on the account
        so the next ``acquire`` skips (or waits for) it."""
        if err.ret not in RET_FAILOVER:
            raise err from None
        self.pool.note_refusal(acc, err)
        seen.last_error = err
        if isinstance(err, RateLimitError) and not isinstance(err, RiskControlError):
            seen.rate_retries += 1
            if seen.rate_retries > RATE_LIMIT_RETRIES:
                raise err from None
            # The account cools down briefly; acquire waits for it (or another account).
            log.info("job %s: %s is busy (ret %s); waiting for a free slot", job.id, acc.masked, err.ret)
            return
        seen.tried.add(acc.key)
        log.info("job %s: %s refused it (ret %s); trying another account", job.id, acc.masked, err.ret)

    async def _upload(self, job: Job, acc: Account, refs: list[Any]) -> list[Any]:
        job.publish(JobState.UPLOADING)
        if isinstance(job.spec, MediaSpec):  # images to ImageX, videos and audio to VOD
            return await upload_materials(self._uploader, acc, refs)
        return await self._uploader.upload_all(acc, refs)

    # ------------------------------------------------------------------------------------------------ restart

    async def resume(self, job: Job, acc: Account, spec: Spec, body: dict[str, Any], mode: ResumeMode) -> JobResult:
        """Go on with a job a previous process had submitted (or was submitting) on ``acc``, whose slot it holds."""
        try:
            return await self._submit_and_poll(job, acc, spec, body, resume=mode)
        except _Refused as refused:
            raise refused.error from None
        finally:
            await self.pool.release(acc, job.id)

    # ------------------------------------------------------------------------------------------------ submit & poll

    def _poller(self, acc: Account) -> AccountPoller:
        poller = self._pollers.get(acc.key)
        if poller is None:
            poller = AccountPoller(self.upstream, acc, self.timing, self.timings, clock=self._clock)
            poller.share = self.polls(acc) if self.polls is not None else None  # one poller for all (core.pollshare)
            self._pollers[acc.key] = poller
        return poller

    async def _submit(
        self, job: Job, acc: Account, kind: Literal["image", "video"], body: dict[str, Any]
    ) -> tuple[bool, RecordView | None]:
        """Send the generate request. Returns (unconfirmed, the record it answered with): unconfirmed when the reply
        was lost. The record carries upstream's queue place and forecast (PROTOCOL.md §8.2)."""
        job.check_cancelled()  # the last moment a cancelled job can stop: nothing has left yet
        job.publish(JobState.SUBMITTING)
        # Exactly once: the row with this submit_id and the exact body is on disk BEFORE the request leaves.
        await self.ledger.save(job, account_key=acc.key, body=body)
        if not await self.pool.confirm(job.id):  # its slot, granted in that same transaction (a process alone)
            raise _NoSlot
        referer = f"{REGIONS[acc.region].web_origin}/ai-tool/generate?type={kind}"
        try:
            data = await self.upstream.call(acc, PATH_GENERATE, body, submit=True, referer=referer)
        except APIError as err:
            raise _Refused(err) from None
        except TransportError as err:
            if not err.maybe_sent:
                raise
            # The reply was lost: upstream may or may not have the job. Poll for it by submit_id; if it never shows
            # up, submit again with the same submit_id (never a second job for one request).
            log.warning("job %s: submit reply lost (%s); checking whether Jimeng has it", job.id, err.message)
            return True, None
        aigc = data.get("aigc_data") if isinstance(data, dict) else None
        if not isinstance(aigc, dict):
            return False, None
        hid = aigc.get("history_record_id")
        job.history_id = str(hid) if hid else None
        return False, parse_record(aigc, kind)

    async def _submit_and_poll(
        self, job: Job, acc: Account, spec: Spec, body: dict[str, Any], *, resume: ResumeMode | None = None
    ) -> JobResult:
        kind: Literal["image", "video"] = "video" if isinstance(spec, VideoSpec) else "image"
        total = total_items(spec)
        resubmits = 0
        resumed = resume is not None  # submitted by a previous process: when it started is unknown
        while True:
            if resume is not None:
                # After a restart: the job row says where it was. Never submit blindly; poll by submit_id first.
                unconfirmed, answer, resume = resume == "unconfirmed", None, None
                log.info("job %s: resuming on %s (%s)", job.id, acc.masked, "unconfirmed" if unconfirmed else "running")
            else:
                unconfirmed, answer = await self._submit(job, acc, kind, body)
            accepted = self._clock()
            future = self._poller(acc).track(  # publishes PENDING, with upstream's queue place and the ETA
                job,
                kind=kind,
                keys=timing_keys(spec),
                expected_total=total,
                answer=answer,
                unconfirmed=unconfirmed,
                teach=not resumed,
            )
            await self.ledger.save(job, account_key=acc.key)
            try:
                assets, view, partial = await future
            except (GenerationFailedError, JobTimeoutError) as err:
                if isinstance(spec, ToolSpec):
                    err.message = with_billed_note(err.message)
                    err.args = (err.message,)
                raise
            except Resubmit:
                if resubmits >= self.max_resubmits:
                    raise TransportError(
                        "Jimeng never confirmed the job; it was not charged", submit_id=job.submit_id
                    ) from None
                resubmits += 1
                continue
            break
        if kind == "video":
            assets = await self._better_video(acc, assets)
        width, height = spec.size if isinstance(spec, VideoSpec) else (spec.width, spec.height)
        return JobResult(
            assets=tuple(assets),
            model=spec.model.name,
            submit_id=job.submit_id,
            history_id=job.history_id or (view.history_id if view else None),
            width=width,
            height=height,
            elapsed_s=round(job.elapsed_s, 3),
            partial=partial,
            notes=spec.notes,
            generation_s=None if resumed else round(self._clock() - accepted, 3),
        )

    async def _better_video(self, acc: Account, assets: list[Asset]) -> list[Asset]:
        """Swap each video's preview URL for the higher-bitrate rendition the web app's own download uses (PROTOCOL.md §9.2
        ``get_local_item_list``). Any failure keeps the history URL: the job has already succeeded."""
        wanted = [a.item_id for a in assets if a.kind == "video" and a.item_id]
        if not wanted:
            return assets
        body = {
            "item_id_list": wanted,
            "pack_item_opt": {"scene": 1, "need_data_integrity": True},
            "is_for_video_download": True,
        }
        try:
            data = await self.upstream.call(acc, PATH_LOCAL_ITEM_LIST, body)
        except JimengError as err:
            log.info("download rendition unavailable on %s (%s); keeping the preview URL", acc.masked, err.message)
            return assets
        found = download_renditions(data)
        if found:
            log.debug("using the download rendition for %d video(s) on %s", len(found), acc.masked)
        return [replace(a, url=found[a.item_id]) if a.item_id in found else a for a in assets]
