"""The engine: the one object front ends hold. Validate → pick an account → (upload) → submit → poll → deliver.

Front ends call ``imagine`` / ``compose`` / ``video``, get a ``Job`` back at once (validation errors raise right away),
and render its events. Every accepted job ends as ``SUCCEEDED`` or ``FAILED`` with a typed reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp

from core.accounts import CHINA_TZ, Account, AccountPool, AccountStatus, ClaimResult, china_today
from core.catalogue import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from core.drafts import UploadedImage
from core.drafts import blend as blend_body
from core.drafts import text_to_image as t2i_body
from core.drafts import video as video_body
from core.errors import (
    APIError,
    AuthError,
    InvalidRequestError,
    JimengError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RiskControlError,
    TransportError,
    UploadError,
    classify_ret,
    error_from_dict,
)
from core.jobs import Job, JobKind, JobRecord, JobResult, JobState, JobStore, MemoryJobStore
from core.params import (
    ImageParams,
    ImageSpec,
    VideoParams,
    VideoSpec,
    spec_from_dict,
    validate_image,
    validate_video,
)
from core.policy import CREDIT_REFRESH_S, DEFAULT_ACCOUNT_CONCURRENCY, RATE_LIMIT_RETRIES
from core.poller import AccountPoller, Durations, Resubmit, Timing
from core.registry import Kind, ModelInfo, Registry
from core.results import Asset
from core.results import item_id as result_item_id
from core.retention import Download, ResultKeeper, open_asset
from core.store import SqliteJobStore
from core.tokens import Token, parse_tokens
from core.transport import Upstream
from core.wire import (
    PATH_COMMON_CONFIG,
    PATH_GENERATE,
    PATH_LOCAL_ITEM_LIST,
    PATH_USER_INFO,
    REGIONS,
    RET_FAILOVER,
    Region,
)

log = logging.getLogger(__name__)


BuildBody = Callable[[str, Region, list[UploadedImage]], dict[str, Any]]


def _builder(spec: ImageSpec | VideoSpec) -> BuildBody:
    """The generate body of a job, given the account's region and its uploaded reference images (if any)."""

    def build(submit_id: str, region: Region, uploaded: list[UploadedImage]) -> dict[str, Any]:
        if isinstance(spec, VideoSpec):
            first = uploaded[0] if uploaded else None
            last = uploaded[1] if len(uploaded) > 1 else None
            return video_body(spec, submit_id, region, first_frame=first, last_frame=last)
        if spec.references:
            return blend_body(spec, uploaded, submit_id, region)
        return t2i_body(spec, submit_id, region)

    return build


def _needs_refs(spec: ImageSpec | VideoSpec) -> bool:
    return spec.frames > 0 if isinstance(spec, VideoSpec) else spec.references > 0


class _Refused(Exception):
    """Upstream refused a submit before accepting it (nothing was created or charged)."""

    def __init__(self, error: APIError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(slots=True)
class EngineConfig:
    """Everything the engine needs, passed in by an entry point (core never reads the environment)."""

    tokens: str | Sequence[str | Token] = ""
    upstream_url: str | None = None
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    default_image_model: str = DEFAULT_IMAGE_MODEL
    default_video_model: str = DEFAULT_VIDEO_MODEL
    timing: Timing = field(default_factory=Timing)
    maintenance: bool = True  # daily claim + credit refresh in the background
    load_catalogue: bool = True
    max_resubmits: int = 1
    allow_private_urls: bool = False
    max_download_bytes: int = 20 * 1024 * 1024
    data_dir: Path | None = None  # None: jobs live in memory only, results are not kept locally
    keep_results: bool = True
    retention_days: float = 7.0
    max_storage_mb: int = 2048


class Engine:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        config: EngineConfig,
        *,
        store: JobStore | None = None,
        clock: Callable[[], float] = time.time,
        today: Callable[[], date] = china_today,
    ) -> None:
        self.http = http
        self.config = config
        self.upstream = Upstream(http, upstream_url=config.upstream_url, clock=clock)
        self.registry = Registry()
        self.pool = AccountPool(self.upstream, limit=config.account_concurrency, clock=clock, today=today)
        if store is None:
            store = SqliteJobStore(config.data_dir / "jobs.sqlite3") if config.data_dir else MemoryJobStore()
        self.store: JobStore = store
        self.keeper: ResultKeeper | None = None
        if config.data_dir is not None and config.keep_results:
            self.keeper = ResultKeeper(
                self.upstream,
                self.store,
                config.data_dir / "results",
                retention_s=config.retention_days * 86400,
                max_bytes=config.max_storage_mb * 1024 * 1024,
            )
        self._settling: dict[str, asyncio.Future[None]] = {}  # jobs whose results are being copied locally
        self._writes: set[asyncio.Task[None]] = set()  # account-state saves: flushed, never cancelled, at close
        self._deliver: Callable[[Job], Awaitable[None]] | None = None
        self._to_deliver: list[Job] = []
        self.pool.on_change = self._persist_account
        self.pool.on_evict = self._forget_accounts
        self.durations = Durations()
        self._pollers: dict[str, AccountPoller] = {}
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._maintenance: asyncio.Task[None] | None = None
        tokens = config.tokens if not isinstance(config.tokens, str) else parse_tokens(config.tokens)
        for tok in tokens:
            self.pool.add(tok if isinstance(tok, Token) else parse_tokens(tok)[0])
        self._uploader: Any = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.store.open()
        saved = await self.store.load_accounts()
        for acc in self.pool.accounts():
            if acc.key in saved:
                acc.restore(saved[acc.key])
        if self.config.load_catalogue:
            await self.load_catalogue()
        await self._recover()
        if self.config.maintenance and self._maintenance is None:
            self._maintenance = asyncio.create_task(self._maintain_forever(), name="jimeng-maintenance")

    async def close(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
        tasks = [*self._tasks, *([self._maintenance] if self._maintenance else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for p in self._pollers.values():
            await p.close()
        self._maintenance = None
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.store.close()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------------ accounts

    def accounts(self) -> list[Account]:
        return self.pool.accounts()

    def regions(self) -> frozenset[Region]:
        return self.pool.regions()

    def adhoc_accounts(self, tokens: str | Sequence[Token]) -> list[Account]:
        """Accounts from a caller's own token list (the API's Bearer mode); they are not used for anyone else."""
        toks = parse_tokens(tokens) if isinstance(tokens, str) else list(tokens)
        return [self.pool.add(t, pooled=False) for t in toks]

    def status(self, accounts: Sequence[Account] | None = None) -> list[AccountStatus]:
        return [a.status() for a in (accounts if accounts is not None else self.accounts())]

    async def refresh_credits(self, accounts: Sequence[Account] | None = None) -> list[AccountStatus]:
        targets = list(accounts if accounts is not None else self.accounts())
        results = await asyncio.gather(*(self.pool.refresh_credits(a) for a in targets), return_exceptions=True)
        for acc, res in zip(targets, results, strict=True):
            if isinstance(res, BaseException) and not isinstance(res, JimengError):
                raise res
            if isinstance(res, JimengError):
                log.warning("credits of %s: %s", acc.masked, res.message)
        return self.status(targets)

    async def claim_daily(self, accounts: Sequence[Account] | None = None, *, force: bool = False) -> list[ClaimResult]:
        targets = list(accounts if accounts is not None else self.accounts())
        claims = await asyncio.gather(*(self.pool.claim_daily(a, force=force) for a in targets))
        await self.refresh_credits(targets)
        return list(claims)

    async def check_token(self, token: str) -> bool:
        """Is this session id alive? (``get_user_info``: ret 0 when the session is valid, 1015 otherwise.)"""
        acc = self.adhoc_accounts(token)[0]
        try:
            await self.upstream.call(acc, PATH_USER_INFO, {})
        except AuthError:
            return False
        return True

    async def load_catalogue(self) -> None:
        """Merge the live model catalogue (§3.13) over the static table, once per configured site."""
        by_region: dict[Region, Account] = {}
        for acc in self.accounts():
            if self.pool.usable(acc):
                by_region.setdefault(acc.region, acc)
        for region, acc in by_region.items():
            try:
                data = await self.upstream.call(acc, PATH_COMMON_CONFIG, {})
            except JimengError as err:
                log.info("model catalogue unavailable on %s (%s); using the built-in table", region.value, err.message)
                continue
            self.registry.merge_catalogue(region, data)
            listed = {m.get("model_req_key") for m in (data or {}).get("model_list", []) if isinstance(m, dict)}
            default = self.registry.get(self.config.default_image_model)
            if default and region in default.regions and listed and default.key not in listed:
                log.warning(
                    "the default image model %s is not in the %s catalogue; keeping it, but upstream may refuse it",
                    default.name,
                    region.value,
                )

    async def _maintain_forever(self) -> None:
        while True:
            try:
                await self.claim_daily()
                if self.config.load_catalogue:
                    await self.load_catalogue()
                if self.keeper is not None:
                    await self.keeper.evict()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("daily maintenance failed")
            now = datetime.now(CHINA_TZ)
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), CHINA_TZ)
            wait = min(CREDIT_REFRESH_S, (midnight - now).total_seconds() + 60)
            await asyncio.sleep(wait)
            if datetime.now(CHINA_TZ).date() == now.date():
                await self.refresh_credits()

    # ------------------------------------------------------------------------------------------------ models

    def models(self, kind: Kind | None = None, *, accounts: Sequence[Account] | None = None) -> list[ModelInfo]:
        regions = frozenset(a.region for a in accounts) if accounts is not None else self.regions()
        return self.registry.all(kind, regions)

    def _regions_for(self, accounts: Sequence[Account] | None) -> frozenset[Region]:
        regions = frozenset(a.region for a in accounts) if accounts is not None else self.regions()
        if not regions:
            raise NoAccountError("no Jimeng session id is configured")
        return regions

    # ------------------------------------------------------------------------------------------------ jobs

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def validate_image(
        self, params: ImageParams, *, references: int | None = None, accounts: Sequence[Account] | None = None
    ) -> ImageSpec:
        """The one validation of an image request (``references=None``) or of a composition from that many images;
        pass the spec it returns to ``imagine`` / ``compose``."""
        return validate_image(
            params,
            self.registry,
            self._regions_for(accounts),
            default_model=self.config.default_image_model,
            references=references,
        )

    def validate_video(self, params: VideoParams, *, accounts: Sequence[Account] | None = None) -> VideoSpec:
        return validate_video(
            params, self.registry, self._regions_for(accounts), default_model=self.config.default_video_model
        )

    async def imagine(
        self,
        params: ImageParams | ImageSpec,
        *,
        owner: dict[str, Any] | None = None,
        accounts: Sequence[Account] | None = None,
    ) -> Job:
        """Text-to-image. Takes the params (validated here) or the spec ``validate_image`` already returned. Raises
        InvalidRequestError at once for bad input; otherwise returns a running Job."""
        spec = params if isinstance(params, ImageSpec) else self.validate_image(params, accounts=accounts)
        if spec.references:
            raise InvalidRequestError("this spec is for a composition: use compose()", code="spec_mismatch")
        return await self._launch("image", spec, owner=owner, among=accounts, total=spec.count)

    async def compose(
        self,
        params: ImageParams | ImageSpec,
        images: Sequence[Any],
        *,
        owner: dict[str, Any] | None = None,
        accounts: Sequence[Account] | None = None,
    ) -> Job:
        """Image-to-image from references (``core.media.RefImage``); ``validate_image(params, references=n)`` is the
        one place that checks their number, before any download, upload or credit is spent."""
        if isinstance(params, ImageSpec):
            spec = params
            if spec.references != len(images):
                raise InvalidRequestError(
                    f"the spec was validated for {spec.references} reference image(s), got {len(images)}",
                    param="images",
                    code="spec_mismatch",
                )
        else:
            spec = self.validate_image(params, references=len(images), accounts=accounts)
        prepared = await self._prepare_refs(images)
        return await self._launch("compose", spec, owner=owner, among=accounts, total=spec.count, refs=prepared)

    async def video(
        self,
        params: VideoParams | VideoSpec,
        *,
        first_frame: Any = None,
        last_frame: Any = None,
        owner: dict[str, Any] | None = None,
        accounts: Sequence[Account] | None = None,
    ) -> Job:
        """Text-to-video, or video from a first frame (and optionally a last frame). Takes the params or the spec
        ``validate_video`` returned."""
        if last_frame is not None and first_frame is None:
            raise InvalidRequestError(
                "a last frame needs a first frame too", param="last_frame", code="last_frame_needs_first"
            )
        frames = [f for f in (first_frame, last_frame) if f is not None]
        if isinstance(params, VideoSpec):
            spec = params
            if spec.frames != len(frames):
                raise InvalidRequestError(
                    f"the spec was validated for {spec.frames} frame(s), got {len(frames)}",
                    param="first_frame",
                    code="spec_mismatch",
                )
        else:
            spec = self.validate_video(params.model_copy(update={"frames": len(frames)}), accounts=accounts)
        prepared = await self._prepare_refs(frames) if frames else []
        return await self._launch("video", spec, owner=owner, among=accounts, total=1, refs=prepared)

    async def _prepare_refs(self, images: Sequence[Any]) -> list[Any]:
        from core.media import FetchPolicy, prepare_all

        policy = FetchPolicy(allow_private=self.config.allow_private_urls, max_bytes=self.config.max_download_bytes)
        return await prepare_all(images, http=self.http, policy=policy)

    async def _launch(
        self,
        kind: JobKind,
        spec: ImageSpec | VideoSpec,
        *,
        owner: dict[str, Any] | None,
        among: Sequence[Account] | None,
        total: int,
        refs: list[Any] | None = None,
    ) -> Job:
        job = Job(kind, spec, owner=owner)
        job.publish(JobState.QUEUED, total=total)
        if refs and self.keeper is not None:
            job.refs = await self.keeper.keep_refs(job.id, refs)
        self._jobs[job.id] = job
        # Not awaited: the store's single writer commits it before anything queued later (the SUBMITTING save, which
        # carries the body and IS awaited before the request leaves), so the caller does not wait for a commit.
        self._track_write(self._save(job))
        self._spawn(job, self._attempt_accounts(job, spec, _builder(spec), among=among, total=total, refs=refs or []))
        return job

    async def _kept_refs(self, rec: JobRecord) -> list[Any]:
        if not rec.refs or self.keeper is None:
            return []
        return await self.keeper.load_refs(rec.refs) or []

    async def references(self, job_id: str) -> list[Any] | None:
        """The reference images a job was made from (``core.media.RefImage``), when the data directory kept them."""
        from core.media import RefImage

        rec = await self.store.get(job_id)
        if rec is None or not rec.refs or self.keeper is None:
            return None
        prepared = await self.keeper.load_refs(rec.refs)
        return (
            [RefImage.from_bytes(p.data, name=f"reference-{p.index + 1}.{p.format}") for p in prepared]
            if prepared
            else None
        )

    def _spawn(self, job: Job, work: Coroutine[Any, Any, JobResult]) -> None:
        task = asyncio.create_task(self._run(job, work), name=f"job:{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, work: Coroutine[Any, Any, JobResult]) -> None:
        try:
            result = await work
        except asyncio.CancelledError:
            if isinstance(self.store, MemoryJobStore):  # nothing will resume it: say so
                job.fail(JimengError("the service stopped before the job finished"))
                await self._save(job)
            raise
        except JimengError as err:
            job.fail(err)
        except Exception as exc:
            log.exception("job %s (%s) failed unexpectedly", job.id, job.kind)
            job.fail(JimengError(f"internal error ({type(exc).__name__})"))
        else:
            if self.keeper is not None:
                self.keeper.begin(job.id, result.assets)
                self._settling[job.id] = asyncio.get_running_loop().create_future()
            job.succeed(result)  # deliver at once; the local copies follow (download() waits for a copy in progress)
        await self._save(job)
        if job.state is JobState.SUCCEEDED and self.keeper is not None:
            try:
                await self._keep(job)
            finally:
                settling = self._settling.pop(job.id, None)
                if settling is not None and not settling.done():
                    settling.set_result(None)
        if job.recovered:
            await self._hand_over(job)

    async def _keep(self, job: Job) -> None:
        """Copy a finished job's files into the data directory, then record their paths."""
        assert self.keeper is not None
        result = job.last_event.result
        if result is None:
            return
        try:
            assets = await self.keeper.keep(job.id, result.assets)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: keeping its results locally failed; the upstream URLs stay", job.id)
            return
        job.replace_result(replace(result, assets=assets))
        await self._save(job)

    async def settled(self, job_id: str) -> JobResult | None:
        """A finished job's result once its files are kept locally (paths set), or None if it did not succeed."""
        job = self._jobs.get(job_id)
        if job is not None:
            await job.wait_terminal()
            settling = self._settling.get(job_id)
            if settling is not None:
                await asyncio.shield(settling)  # the copy, and the record updated with its paths
            if job.last_event.result is not None and all(a.path for a in job.last_event.result.assets):
                return job.last_event.result
        rec = await self.store.get(job_id)
        return JobResult.from_dict(rec.result) if rec is not None and rec.result else None

    async def _attempt_accounts(
        self,
        job: Job,
        spec: ImageSpec | VideoSpec,
        build: BuildBody,
        *,
        among: Sequence[Account] | None,
        total: int,
        refs: list[Any],
    ) -> JobResult:
        tried: set[str] = set()
        claimed: set[str] = set()
        last_error: JimengError | None = None
        rate_retries = 0
        model = spec.model

        def queued(pos: int, length: int) -> None:
            job.publish(JobState.QUEUED, queue_position=pos, queue_length=length)

        while True:
            acc = await self.pool.acquire(
                model.regions, among=among, exclude=tried, last_error=last_error if tried else None, on_queue=queued
            )
            job.account = acc.masked
            try:
                try:
                    uploaded = await self._upload(job, acc, refs) if refs else []
                except UploadError as upload_err:
                    if upload_err.ret not in RET_FAILOVER:
                        raise
                    # The account itself was refused (expired session, risk control...): try the next one.
                    self.pool.note_refusal(acc, classify_ret(upload_err.ret or ""))
                    tried.add(acc.key)
                    last_error = upload_err
                    continue
                body = build(job.submit_id, acc.region, uploaded)
                while True:
                    try:
                        result = await self._submit_and_poll(job, acc, spec, body, total)
                    except _Refused as refused:
                        err = refused.error
                        if (
                            isinstance(err, QuotaError)
                            and acc.key not in claimed
                            and not self.pool.claimed_today(acc)
                            and (await self._claim_for(job, acc, claimed)).ok
                        ):
                            continue  # claimed today's free credits: submit again on the same account
                        if err.ret not in RET_FAILOVER:
                            raise err from None
                        self.pool.note_refusal(acc, err)
                        last_error = err
                        if isinstance(err, RateLimitError) and not isinstance(err, RiskControlError):
                            rate_retries += 1
                            if rate_retries > RATE_LIMIT_RETRIES:
                                raise err from None
                            log.info(
                                "job %s: %s is busy (ret %s); waiting for a free slot", job.id, acc.masked, err.ret
                            )
                            break  # the account cools down briefly; acquire waits for it (or another account)
                        tried.add(acc.key)
                        log.info("job %s: %s refused it (ret %s); trying another account", job.id, acc.masked, err.ret)
                        break
                    self.pool.note_success(acc)
                    return result
            finally:
                await self.pool.release(acc)

    async def _claim_for(self, job: Job, acc: Account, claimed: set[str]) -> ClaimResult:
        claimed.add(acc.key)
        claim = await self.pool.claim_daily(acc)
        if claim.ok:
            log.info("job %s: claimed daily credits on %s; submitting again", job.id, acc.masked)
        return claim

    async def _upload(self, job: Job, acc: Account, refs: list[Any]) -> list[UploadedImage]:
        job.publish(JobState.UPLOADING)
        if self._uploader is None:
            from core.upload import ImageUploader

            self._uploader = ImageUploader(self.upstream)
        uploaded: list[UploadedImage] = await self._uploader.upload_all(acc, refs)
        return uploaded

    def _poller(self, acc: Account) -> AccountPoller:
        poller = self._pollers.get(acc.key)
        if poller is None:
            poller = AccountPoller(self.upstream, acc, self.config.timing, self.durations, clock=time.monotonic)
            self._pollers[acc.key] = poller
        return poller

    async def _submit_and_poll(
        self,
        job: Job,
        acc: Account,
        spec: ImageSpec | VideoSpec,
        body: dict[str, Any],
        total: int,
        *,
        resume: Literal["unconfirmed", "confirmed"] | None = None,
    ) -> JobResult:
        kind: Literal["image", "video"] = "video" if isinstance(spec, VideoSpec) else "image"
        info = REGIONS[acc.region]
        referer = f"{info.web_origin}/ai-tool/generate?type={kind}"
        resubmits = 0
        while True:
            unconfirmed = False
            queue_eta: float | None = None
            if resume is not None:
                # After a restart: the job row says where it was. Never submit blindly; poll by submit_id first.
                unconfirmed, resume = resume == "unconfirmed", None
                log.info("job %s: resuming on %s (%s)", job.id, acc.masked, "unconfirmed" if unconfirmed else "running")
            else:
                job.publish(JobState.SUBMITTING)
                # Exactly once: the row with this submit_id and the exact body is on disk BEFORE the request leaves.
                await self._save(job, account_key=acc.key, body=body)
                try:
                    data = await self.upstream.call(acc, PATH_GENERATE, body, submit=True, referer=referer)
                except APIError as err:
                    raise _Refused(err) from None
                except TransportError as err:
                    if not err.maybe_sent:
                        raise
                    # The reply was lost: upstream may or may not have the job. Poll for it by submit_id; if it
                    # never shows up, submit again with the same submit_id (never a second job for one request).
                    log.warning("job %s: submit reply lost (%s); checking whether Jimeng has it", job.id, err.message)
                    unconfirmed = True
                else:
                    aigc = (data or {}).get("aigc_data") if isinstance(data, dict) else None
                    if isinstance(aigc, dict):
                        hid = aigc.get("history_record_id")
                        job.history_id = str(hid) if hid else None
                        cost = aigc.get("forecast_queue_cost")
                        queue_eta = float(cost) if isinstance(cost, int | float) and cost > 0 else None
            job.publish(JobState.PENDING, total=total)
            await self._save(job, account_key=acc.key)
            future = self._poller(acc).track(
                job,
                kind=kind,
                model_key=spec.model.key,
                expected_total=total,
                queue_eta_s=queue_eta,
                unconfirmed=unconfirmed,
            )
            try:
                assets, view, partial = await future
            except Resubmit:
                if resubmits >= self.config.max_resubmits:
                    raise TransportError(
                        "Jimeng never confirmed the job; it was not charged", submit_id=job.submit_id
                    ) from None
                resubmits += 1
                continue
            break
        if kind == "video":
            assets = await self._better_video(acc, assets)
        width = spec.size[0] if isinstance(spec, VideoSpec) else spec.width
        height = spec.size[1] if isinstance(spec, VideoSpec) else spec.height
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
        )

    async def _better_video(self, acc: Account, assets: list[Asset]) -> list[Asset]:
        """Swap each video's preview URL for the higher-bitrate rendition the web app's own download uses (§3.10
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
        data = data if isinstance(data, dict) else {}
        items = data.get("item_list") or data.get("local_item_list") or []

        def origin(node: Any) -> Any:
            tv = node.get("transcoded_video") if isinstance(node, dict) else None
            org = tv.get("origin") if isinstance(tv, dict) else None
            return org.get("video_url") if isinstance(org, dict) else None

        found: dict[str, str] = {}
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not (iid := result_item_id(item)):
                continue
            video: dict[str, Any] = item["video"] if isinstance(item.get("video"), dict) else {}
            # §3.10 priority (IPTAG): the download rendition first, then the history item's own fields.
            candidates = (
                origin(item.get("common_attr")),
                origin(video),
                video.get("download_url"),
                video.get("play_url"),
                video.get("url"),
            )
            url = next((u for u in candidates if isinstance(u, str) and u.startswith(("http://", "https://"))), None)
            if url:
                found[iid] = url.replace("\\u0026", "&")
        better = [replace(a, url=found[a.item_id]) if a.item_id in found else a for a in assets]
        if found:
            log.debug("using the download rendition for %d video(s) on %s", len(found), acc.masked)
        return better

    @asynccontextmanager
    async def download(self, asset: Asset, *, chunk_size: int = 1 << 16) -> AsyncIterator[Download]:
        """Stream a result file: the local copy when the store kept one (it outlives upstream's signed URL), else
        upstream. Front ends read results only through this."""
        if not asset.path and self.keeper is not None:
            path = await self.keeper.local_path(asset.url)  # kept already, or being kept right now: wait for it
            if path:
                asset = replace(asset, path=path)
        async with open_asset(self.upstream, asset, chunk_size=chunk_size) as dl:
            yield dl

    # ------------------------------------------------------------------------------------------------ durability

    def set_delivery_handler(self, handler: Callable[[Job], Awaitable[None]] | None) -> None:
        """Who delivers jobs that outlived the process that started them (restart recovery). The handler gets each
        such job once it is terminal; when it returns, the job is marked delivered. Front ends deliver their own
        live jobs and call ``mark_delivered``."""
        self._deliver = handler
        if handler is not None and self._to_deliver:
            pending, self._to_deliver = self._to_deliver, []
            for job in pending:
                self._track_task(asyncio.create_task(self._hand_over(job), name=f"deliver:{job.id}"))

    async def mark_delivered(self, job_id: str) -> None:
        await self.store.mark_delivered(job_id)

    async def active_jobs(self, owner_key: str | None = None, owner_value: Any = None) -> int:
        """Jobs not yet finished, counted from the store (so limits hold across restarts)."""
        return await self.store.count_active(owner_key=owner_key, owner_value=owner_value)

    async def job_record(self, job_id: str) -> JobRecord | None:
        return await self.store.get(job_id)

    def _track_task(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_over(self, job: Job) -> None:
        if self._deliver is None:
            self._to_deliver.append(job)
            return
        try:
            await self._deliver(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering recovered job %s failed; it stays undelivered", job.id)
            return
        await self.store.mark_delivered(job.id)

    def _forget_accounts(self, keys: list[str]) -> None:
        for key in keys:
            poller = self._pollers.get(key)
            if poller is not None and not len(poller):
                del self._pollers[key]

    def _track_write(self, write: Coroutine[Any, Any, None]) -> None:
        """Start a store write now without waiting for it; close() flushes the ones still running."""
        task = asyncio.create_task(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _persist_account(self, acc: Account) -> None:
        if acc.pooled:
            self._track_write(self.store.save_account(acc.key, acc.snapshot()))

    async def _recover(self) -> None:
        """Resume every job a previous process left unfinished; hand finished-but-undelivered ones over again."""
        for rec in await self.store.active():
            if rec.id in self._jobs:
                continue
            try:
                spec = spec_from_dict(rec.kind, rec.spec, self.registry)
            except JimengError as err:
                await self._fail_record(rec, err)
                continue
            job = Job(rec.kind, spec, owner=rec.owner, job_id=rec.id, submit_id=rec.submit_id)  # type: ignore[arg-type]
            job.recovered, job.history_id = True, rec.history_id
            total = spec.count if isinstance(spec, ImageSpec) else 1
            acc = self.pool.get(rec.account_key) if rec.account_key else None
            if rec.body is not None and rec.state in ("submitting", "pending", "generating"):
                if acc is None or not acc.pooled:
                    await self._fail_record(
                        rec,
                        JimengError("the service restarted and the account that ran this job is no longer configured"),
                    )
                    continue
                self._jobs[job.id] = job
                acc.in_flight += 1  # the slot it held before the restart
                job.account = acc.masked
                mode: Literal["unconfirmed", "confirmed"] = "unconfirmed" if rec.state == "submitting" else "confirmed"
                job.publish(JobState.PENDING, total=total)
                self._spawn(job, self._resume(job, acc, spec, rec.body, total, mode))
            elif not _needs_refs(spec) or (kept := await self._kept_refs(rec)):
                # Never submitted (nothing was charged): run it from the start, with its kept references if any.
                self._jobs[job.id] = job
                job.refs = rec.refs
                job.publish(JobState.QUEUED, total=total)
                refs = kept if _needs_refs(spec) else []
                self._spawn(job, self._attempt_accounts(job, spec, _builder(spec), among=None, total=total, refs=refs))
            else:
                await self._fail_record(
                    rec,
                    JimengError("the service restarted before the reference images were uploaded; nothing was charged"),
                )
        for rec in await self.store.undelivered():
            if rec.id in self._jobs:
                continue
            done = self._job_from_terminal(rec)
            if done is not None:
                self._jobs[done.id] = done
                await self._hand_over(done)

    async def _resume(
        self,
        job: Job,
        acc: Account,
        spec: ImageSpec | VideoSpec,
        body: dict[str, Any],
        total: int,
        mode: Literal["unconfirmed", "confirmed"],
    ) -> JobResult:
        try:
            return await self._submit_and_poll(job, acc, spec, body, total, resume=mode)
        except _Refused as refused:
            raise refused.error from None
        finally:
            await self.pool.release(acc)

    async def _fail_record(self, rec: JobRecord, err: JimengError) -> None:
        err.submit_id = rec.submit_id
        rec.state, rec.error = JobState.FAILED.value, err.to_dict()
        await self.store.save(rec)
        log.warning("job %s could not be resumed: %s", rec.id, err.message)
        job = self._job_from_terminal(rec)
        if job is not None:
            self._jobs[job.id] = job
            if self._deliver is not None:
                self._track_task(asyncio.create_task(self._hand_over(job)))
            else:
                self._to_deliver.append(job)

    def _job_from_terminal(self, rec: JobRecord) -> Job | None:
        try:
            spec = spec_from_dict(rec.kind, rec.spec, self.registry)
        except JimengError:
            return None
        job = Job(rec.kind, spec, owner=rec.owner, job_id=rec.id, submit_id=rec.submit_id)  # type: ignore[arg-type]
        job.recovered, job.history_id = True, rec.history_id
        if rec.state == JobState.SUCCEEDED.value and rec.result:
            job.succeed(JobResult.from_dict(rec.result))
        else:
            job.fail(error_from_dict(rec.error or {}))
        return job

    async def _save(self, job: Job, *, account_key: str | None = None, body: dict[str, Any] | None = None) -> None:
        ev = job.last_event
        record = JobRecord(
            id=job.id,
            kind=job.kind,
            spec=job.spec.to_dict(),
            owner=job.owner,
            submit_id=job.submit_id,
            state=ev.state.value,
            account_key=account_key,
            history_id=job.history_id,
            body=body,
            result=ev.result.to_dict() if ev.result else None,
            error=ev.error.to_dict() if ev.error else None,
            finished=ev.finished,
            total=ev.total,
            refs=job.refs,
        )
        try:
            await self.store.save(record)
        except Exception:
            log.exception("could not save job %s", job.id)
