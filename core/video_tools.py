"""The engine's video tools (issue #14): omni-reference video, frame interpolation, and the capabilities that gate
them. ``Engine`` inherits this mixin; the interface is written up in ``docs/CORE.md`` ("Video references").

Every check here runs before a job exists, so a refusal spends nothing: the capability on the accounts' sites, the
model, the number and kinds of references, then (``omni_video``/``interpolate``) each file's format, size and length.
Accepted jobs go through the dispatcher like any other (failover, exactly-once submit, polling, recovery, ledger).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.catalogue import DEFAULT_OMNI_MODEL, FRAME_INTERPOLATION_MODEL
from core.errors import InvalidRequestError
from core.interpolate import InterpolateSpec, source_from_record, source_vid
from core.jobs import Job, JobResult, JobState
from core.omni import MediaSpec, OmniSpec, PreparedMedia, check_prompt_refs
from core.params import SPEC_LOADERS, VideoParams, VideoSpec, validate_video
from core.video_refs import RefMedia, check_counts, kind_of, probe_all
from core.wire import Region

if TYPE_CHECKING:
    from core.accounts import Account
    from core.config import EngineConfig
    from core.dispatch import Dispatcher
    from core.jobs import JobStore
    from core.ledger import Ledger
    from core.media import PreparedImage
    from core.pool import AccountPool
    from core.registry import Registry
    from core.transport import Upstream

CAP_OMNI = "video.omni"
CAP_INTERPOLATE = "video.interpolate"
CAP_SEEDANCE25 = "video.seedance25"


class VideoToolsMixin:
    if TYPE_CHECKING:
        registry: Registry
        upstream: Upstream
        config: EngineConfig
        store: JobStore
        pool: AccountPool
        dispatcher: Dispatcher
        ledger: Ledger
        _jobs: dict[str, Job]

        def _regions_for(self, accounts: Sequence[Account] | None) -> frozenset[Region]: ...
        async def _prepare_refs(self, images: Sequence[Any]) -> list[PreparedImage]: ...
        def _spawn(self, job: Job, work: Coroutine[Any, Any, JobResult]) -> None: ...

    # ------------------------------------------------------------------------------------------------ capabilities

    def video_capabilities(self, accounts: Sequence[Account] | None = None) -> frozenset[str]:
        regions = self._regions_for(accounts)
        videos = self.registry.all("video", regions)
        caps = set()
        if any(m.omni for m in videos):
            caps.add(CAP_OMNI)
        interp = self.registry.get(FRAME_INTERPOLATION_MODEL)
        if interp is not None and interp.regions & regions:
            caps.add(CAP_INTERPOLATE)
        if any(m.draft_mode for m in videos):
            caps.add(CAP_SEEDANCE25)
        return frozenset(caps)

    def _require(self, capability: str, accounts: Sequence[Account] | None) -> None:
        if capability not in self.video_capabilities(accounts):
            raise InvalidRequestError(
                f"{capability.split('.')[-1]} is not offered on the configured Jimeng sites",
                param="model",
                code="capability_unavailable",
                details={"capability": capability},
            )

    # ------------------------------------------------------------------------------------------------ omni

    def validate_omni(
        self, params: VideoParams, *, kinds: Sequence[str], accounts: Sequence[Account] | None = None
    ) -> OmniSpec:
        """Pure and instant: the capability, the model, the number of references of each kind, the prompt's ``@n``."""
        self._require(CAP_OMNI, accounts)
        kinds = ["image" if k in ("bytes", "path", "url") else k for k in kinds]  # a RefImage's own .kind is its source
        check_counts(kinds)
        wanted = params.model_copy(update={"model": params.model or DEFAULT_OMNI_MODEL, "frames": 0})
        base = validate_video(wanted, self.registry, self._regions_for(accounts), default_model=DEFAULT_OMNI_MODEL)
        if not base.model.omni:
            raise InvalidRequestError(
                f"'{base.model.name}' does not take reference files; use a Seedance 2.0 model",
                param="model",
                code="omni_unsupported",
                details={"model": base.model.name},
            )
        check_prompt_refs(base.prompt, len(kinds))
        return OmniSpec(**_video_fields(base), mode="omni", kinds=tuple(kinds))

    async def omni_video(
        self,
        spec: OmniSpec | VideoParams,
        references: Sequence[Any],
        *,
        owner: dict[str, Any] | None = None,
        accounts: Sequence[Account] | None = None,
    ) -> Job:
        """Measure and check every reference (before any upload or credit), then run the job."""
        kinds = [kind_of(r) for r in references]
        if not isinstance(spec, OmniSpec):
            spec = self.validate_omni(spec, kinds=kinds, accounts=accounts)
        elif list(spec.kinds) != kinds:
            raise InvalidRequestError(
                f"the spec was validated for references {list(spec.kinds)}, got {kinds}",
                param="references",
                code="references_mismatch",
            )
        media_at = [i for i, k in enumerate(kinds) if k != "image"]
        infos = await probe_all([references[i] for i in media_at], media_at)
        images = await self._prepare_refs([r for r in references if kind_of(r) == "image"]) if "image" in kinds else []
        refs: list[Any] = []
        durations: list[int] = []
        img_iter, info_iter = iter(images), iter(infos)
        for i, ref in enumerate(references):
            if kinds[i] == "image":
                refs.append(replace(next(img_iter), index=i))
                durations.append(0)
            else:
                info = next(info_iter)
                refs.append(PreparedMedia(ref.data, info, i, ref.name or ""))
                durations.append(info.duration_ms)
        spec = replace(spec, durations_ms=tuple(durations))
        return self._start_media(spec, refs, owner=owner, among=accounts)

    # ------------------------------------------------------------------------------------------------ interpolation

    async def interpolate(
        self,
        source: str | RefMedia,
        *,
        index: int = 0,
        prompt: str = "",
        owner: dict[str, Any] | None = None,
        accounts: Sequence[Account] | None = None,
    ) -> Job:
        """24 → 60 fps of one of our video results (a job id; runs on the account that made it) or of an uploaded
        video (``RefMedia``)."""
        self._require(CAP_INTERPOLATE, accounts)
        model = self.registry.get(FRAME_INTERPOLATION_MODEL)
        assert model is not None
        base: dict[str, Any] = {
            "model": model,
            "prompt": prompt.strip(),
            "ratio": "16:9",
            "resolution": "720p",
            "seed": 0,
            "frames": 0,
        }
        if isinstance(source, RefMedia):
            infos = await probe_all([source], [0])
            if infos[0].kind != "video":
                raise InvalidRequestError(
                    "frame interpolation needs a video",
                    param="source",
                    code="interpolate_source",
                    details={"reason": "not_video"},
                )
            ms = infos[0].duration_ms
            spec = InterpolateSpec(**base, duration=max(1, round(ms / 1000)), mode="interpolate", source_ms=ms)
            return self._start_media(
                spec, [PreparedMedia(source.data, infos[0], 0, source.name or "")], owner=owner, among=accounts
            )
        rec = await self.store.get(source)
        src = source_from_record(rec, index)
        src_account = rec.account_key or "" if rec is not None else ""
        acc = self.pool.get(src_account)
        if acc is None or (accounts is not None and acc.key not in {a.key for a in accounts}):
            raise InvalidRequestError(
                "the account that made that video is not available to this caller",
                param="source",
                code="interpolate_source",
                details={"reason": "account_gone" if acc is None else "not_yours", "account": src_account[:4]},
            )
        vid = await source_vid(self.upstream, acc, src["source_submit_id"], src["item_id"])
        spec = InterpolateSpec(
            **base, duration=src["source_ms"] // 1000, mode="interpolate", source_vid=vid, account_key=acc.key, **src
        )
        return self._start_media(spec, [], owner=owner, among=[acc])

    # ------------------------------------------------------------------------------------------------ launching

    def _start_media(
        self, spec: MediaSpec, refs: list[Any], *, owner: dict[str, Any] | None, among: Sequence[Account] | None
    ) -> Job:
        """Like ``Engine._launch``, without keeping the references (recovery cannot re-upload them: a job that never
        reached Jimeng fails after a restart with "nothing was charged")."""
        job = Job("video", spec, owner=owner)
        job.publish(JobState.QUEUED, total=1)
        self._jobs[job.id] = job
        self.ledger.save_soon(job)
        self._spawn(job, self.dispatcher.run(job, spec, among=among, refs=refs))
        return job


def _video_fields(spec: VideoSpec) -> dict[str, Any]:
    return {n: getattr(spec, n) for n in VideoSpec.__slots__}


def media_spec_from_dict(data: dict[str, Any], registry: Registry) -> VideoSpec:
    """A stored omni/interpolation spec back (restart recovery): the resumed job keeps its exact body."""
    model = registry.get(str(data.get("model")))
    if model is None:
        raise InvalidRequestError(f"model '{data.get('model')}' is no longer known", param="model", code="model_gone")
    cls = OmniSpec if data.get("mode") == "omni" else InterpolateSpec
    names = [n for c in cls.__mro__ for n in getattr(c, "__slots__", ()) if n != "model"]
    fields = {n: data[n] for n in names if n in data}
    for n in ("notes", "kinds", "durations_ms"):
        if n in fields:
            fields[n] = tuple(fields[n])
    return cls(model=model, **fields)


SPEC_LOADERS.update(omni=media_spec_from_dict, interpolate=media_spec_from_dict)
