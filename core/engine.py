"""The engine: the one object front ends hold. Validate → pick an account → (upload) → submit → poll → deliver.
Front ends call ``imagine`` / ``compose`` / ``video``, get a ``Job`` back at once (validation errors raise right away),
and render its events. Every accepted job ends as ``SUCCEEDED`` or ``FAILED`` with a typed reason.

This module is the facade and the lifecycle; the work is done by ``core.dispatch`` (failover, upload, submit, poll),
``core.recovery`` (restarts and deliveries of jobs that outlived their process), ``core.maintenance`` (the daily
claim, catalogue and credits) and ``core.ledger`` (what the store keeps of each job).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from typing import Any

import aiohttp

from core.accounts import Account, AccountStatus, ClaimResult, china_today
from core.backends import accepting, make_store
from core.config import EngineConfig
from core.dispatch import Dispatcher, total_items
from core.errors import AuthError, InvalidRequestError, JimengError, NoAccountError
from core.fetch import FetchPolicy
from core.jobs import Job, JobKind, JobRecord, JobResult, JobState, JobStore, MemoryJobStore
from core.ledger import Ledger
from core.links import ResultLinks
from core.maintenance import Step, load_catalogue, maintain_forever
from core.media import PreparedImage, RefImage, prepare_all
from core.params import ImageParams, ImageSpec, VideoParams, VideoSpec, validate_image, validate_video
from core.pool import AccountPool
from core.recovery import Deliveries, Recovery
from core.registry import Kind, ModelInfo, Registry
from core.results import Asset
from core.retention import Download, ResultKeeper, open_asset
from core.shared import share
from core.timings import Timings
from core.tokens import Token, parse_tokens
from core.tools import ToolInfo, ToolParams, ToolSpec, check_tool, prepare_tool, switched_off
from core.transport import Upstream
from core.video_tools import VideoToolsMixin
from core.wire import PATH_USER_INFO, Region

log = logging.getLogger(__name__)


class Engine(VideoToolsMixin):  # omni reference, frame interpolation: core/video_tools.py
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
        self.store: JobStore = make_store(config) if store is None else store  # core.backends
        self.keeper: ResultKeeper | None = None
        if config.data_dir is not None and config.keep_results:
            self.keeper = ResultKeeper(
                self.upstream,
                self.store,
                config.data_dir / "results",
                retention_s=config.retention_days * 86400,
                max_bytes=config.max_storage_mb * 1024 * 1024,
            )
        self.links: ResultLinks | None = None
        if self.keeper is not None and config.public_base_url and config.link_secret:
            secret = config.link_secret.encode()
            self.links = ResultLinks(config.public_base_url, secret, config.retention_days * 86400, clock)
        self.ledger = Ledger(self.store)
        self.timings = Timings(on_change=self.ledger.save_timing)
        self.dispatcher = Dispatcher(
            self.upstream,
            self.pool,
            self.ledger,
            timing=config.timing,
            timings=self.timings,
            max_resubmits=config.max_resubmits,
        )
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._maintenance: asyncio.Task[None] | None = None
        self.deliveries = Deliveries(self.store, self._track_task)
        self.recovery = Recovery(
            self.store,
            self.registry,
            self.pool,
            self.dispatcher,
            self.keeper,
            self.deliveries,
            self._jobs,
            self._spawn,
        )
        self.pool.on_change = self.ledger.save_account
        self.shared = share(self)  # other processes on this data directory (issue #16), or None
        self.pool.on_evict = self.dispatcher.forget
        tokens = config.tokens if not isinstance(config.tokens, str) else parse_tokens(config.tokens)
        for tok in tokens:
            self.pool.add(tok if isinstance(tok, Token) else parse_tokens(tok)[0])

    # ------------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.store.open()
        saved = await self.store.load_accounts()
        for acc in self.pool.accounts():
            if acc.key in saved:
                acc.restore(saved[acc.key])
        self.timings.load(await self.store.load_timings())  # learned timings: a restarted process starts warm
        if self.config.load_catalogue:
            await self.load_catalogue()
        if self.shared is not None:  # a lease, and a heartbeat that also adopts the jobs of processes gone
            await self.shared.start()  # (after the catalogue: a job's spec may name a model only it has)
        await self.recovery.recover()
        if self.config.maintenance and self._maintenance is None:
            daily: list[Step] = [self.claim_daily]
            if self.config.load_catalogue:
                daily.append(self.load_catalogue)
            if self.keeper is not None:
                daily.append(self.keeper.evict)
            self._maintenance = asyncio.create_task(
                maintain_forever(daily, self.refresh_credits), name="jimeng-maintenance"
            )

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.stop()
        tasks = [*self._tasks, *([self._maintenance] if self._maintenance else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.shared is not None:
            await self.shared.leave()
        await self.dispatcher.close()
        self._maintenance = None
        await self.ledger.flush()
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
        """Merge the live model catalogue (PROTOCOL.md §7.4) over the static table, once per configured site."""
        await load_catalogue(self.upstream, self.pool, self.registry, self.config.default_image_model)

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
        return await self._launch("image", spec, owner=owner, among=accounts)

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
        return await self._launch("compose", spec, owner=owner, among=accounts, refs=prepared)

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
        return await self._launch("video", spec, owner=owner, among=accounts, refs=prepared)

    def check_tool(self, params: ToolParams, *, accounts: Sequence[Account] | None = None, **size: Any) -> ToolInfo:
        return check_tool(params, self._regions_for(accounts), switched_off=switched_off(self, params), **size)

    async def tool(self, params: ToolParams, image: Any, *, owner: dict[str, Any] | None = None, **kw: Any) -> Job:
        spec, refs, among = await prepare_tool(self, params, image, **kw)  # core.tools: accounts=, require_owner=
        return await self._launch("tool", spec, owner=owner, among=among, refs=refs)

    async def _prepare_refs(self, images: Sequence[Any]) -> list[PreparedImage]:
        policy = FetchPolicy(allow_private=self.config.allow_private_urls, max_bytes=self.config.max_download_bytes)
        return await prepare_all(images, http=self.http, policy=policy)

    async def _launch(
        self,
        kind: JobKind,
        spec: ImageSpec | VideoSpec | ToolSpec,
        *,
        owner: dict[str, Any] | None,
        among: Sequence[Account] | None,
        refs: list[PreparedImage] | None = None,
    ) -> Job:
        await accepting(self.store)  # the database is away (PostgreSQL): StoreUnavailableError, nothing started
        job = Job(kind, spec, owner=owner)
        job.publish(JobState.QUEUED, total=total_items(spec))
        if refs and self.keeper is not None:
            job.refs = await self.keeper.keep_refs(job.id, refs)
        self._jobs[job.id] = job
        # Not awaited: the store's single writer commits it before anything queued later (the SUBMITTING save, which
        # carries the body and IS awaited before the request leaves), so the caller does not wait for a commit.
        self.ledger.save_soon(job)
        self._spawn(job, self.dispatcher.run(job, spec, among=among, refs=list(refs or [])))
        return job

    async def references(self, job_id: str) -> list[RefImage] | None:
        """The reference images a job was made from, when the data directory kept them."""
        rec = await self.store.get(job_id)
        if rec is None or not rec.refs or self.keeper is None:
            return None
        prepared = await self.keeper.load_refs(rec.refs)
        return (
            [RefImage.from_bytes(p.data, name=f"reference-{p.index + 1}.{p.format}") for p in prepared]
            if prepared
            else None
        )

    # ------------------------------------------------------------------------------------------------ running

    def _spawn(self, job: Job, work: Coroutine[Any, Any, JobResult]) -> None:
        self._track_task(asyncio.create_task(self._run(job, work), name=f"job:{job.id}"))

    def _track_task(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, work: Coroutine[Any, Any, JobResult]) -> None:
        try:
            result = await work
        except asyncio.CancelledError:
            if isinstance(self.store, MemoryJobStore):  # nothing will resume it: say so
                job.fail(JimengError("the service stopped before the job finished"))
                await self.ledger.save(job)
            raise
        except JimengError as err:
            job.fail(err)
        except Exception as exc:
            log.exception("job %s (%s) failed unexpectedly", job.id, job.kind)
            job.fail(JimengError(f"internal error ({type(exc).__name__})"))
        else:
            if self.keeper is not None:
                self.keeper.begin_job(job.id, result.assets)
            job.succeed(result)  # deliver at once; the local copies follow (download() waits for a copy in progress)
        await self.ledger.save(job)
        if job.state is JobState.SUCCEEDED and self.keeper is not None:
            await self.keeper.keep_job(job, self.ledger.save)
        if job.recovered:
            await self.deliveries.hand_over(job)

    async def settled(self, job_id: str) -> JobResult | None:
        """A finished job's result once its files are kept locally (paths set), or None if it did not succeed."""
        job = self._jobs.get(job_id)
        if job is not None:
            await job.wait_terminal()
            if self.keeper is not None:
                await self.keeper.settled(job_id)  # the copy, and the record updated with its paths
            if job.last_event.result is not None and all(a.path for a in job.last_event.result.assets):
                return job.last_event.result
        rec = await self.store.get(job_id)
        return JobResult.from_dict(rec.result) if rec is not None and rec.result else None

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
        """Who delivers jobs that outlived their process (the handler returns: marked delivered). Front ends deliver
        their own live jobs and call ``mark_delivered``, or hand outcomes out from the store (``serve_from_store``)."""
        self.deliveries.set_handler(handler)

    def serve_from_store(self) -> None:
        """Outcomes are handed out from stored rows (the API): a terminal row is delivered; no bot takes it over."""
        self.ledger.stamp_delivered = True

    async def mark_delivered(self, job_id: str) -> None:
        await self.store.mark_delivered(job_id)

    async def active_jobs(self, owner_key: str | None = None, owner_value: Any = None) -> int:
        """Jobs not yet finished, counted from the store (so limits hold across restarts)."""
        return await self.store.count_active(owner_key=owner_key, owner_value=owner_value)

    async def job_record(self, job_id: str) -> JobRecord | None:
        return await self.store.get(job_id)
