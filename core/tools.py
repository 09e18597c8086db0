"""Image tools (issue #14; PROTOCOL.md §11.1): find the source image, check it, and hand the job to the dispatcher.

The source is either a result of ours (``ImageRef``: a job and an image index; the store keeps each image's upstream
item id and the job's history id in its result) or an upload (bytes, URL, data URL — as for compositions). A referenced
result runs on the account that made it (upstream items belong to one account); when that account is gone, upscale and
outpaint upload our copy instead, detail repair (which upstream only does on its own items) is refused. Every refusal
here comes before any upload or credit is spent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.accounts import Account
from core.errors import InvalidRequestError, JimengError
from core.fetch import FetchPolicy
from core.jobs import JobResult, JobState
from core.media import PreparedImage, RefImage, prepare_all
from core.results import Asset
from core.tool_spec import (
    Expand,
    ImageRef,
    SourceImage,
    ToolInfo,
    ToolParams,
    ToolSpec,
    available,
    build_spec,
    capability_name,
    check_size,
    check_tool,
)
from core.wire import POSTEDIT_FEATS, POSTEDIT_ROOT_MODEL, Region

if TYPE_CHECKING:
    from core.engine import Engine

__all__ = [
    "Expand",
    "ImageRef",
    "ToolInfo",
    "ToolParams",
    "ToolSpec",
    "available",
    "check_tool",
    "prepare_tool",
    "switched_off",
]

log = logging.getLogger(__name__)

REFERABLE_KINDS = frozenset({"image", "compose", "tool"})


def _not_found(ref: ImageRef, why: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"image {ref} {why}", param="image_id", code="image_not_found", details={"image_id": str(ref)}
    )


def _owned(owner: Mapping[str, Any], required: Mapping[str, Any] | None) -> bool:
    return required is None or all(owner.get(k) == v for k, v in required.items())


async def _referenced(
    engine: Engine, ref: ImageRef, require_owner: Mapping[str, Any] | None
) -> tuple[JobResult, Asset, str | None]:
    """The stored result, the image and the account key of a result of ours (or image_not_found)."""
    rec = await engine.store.get(ref.job_id)
    if rec is None or not _owned(rec.owner, require_owner):
        raise _not_found(ref, "was not found")
    if rec.kind not in REFERABLE_KINDS:
        raise _not_found(ref, f"is not an image (job kind {rec.kind})")
    if rec.state != JobState.SUCCEEDED.value or not rec.result:
        raise _not_found(ref, "is not a finished image (its job has not succeeded)")
    result = JobResult.from_dict(rec.result)
    images = result.images
    if not 0 <= ref.index < len(images):
        raise _not_found(ref, f"does not exist: that job made {len(images)} image(s)")
    if not result.history_id and rec.history_id:
        result = JobResult.from_dict({**rec.result, "history_id": rec.history_id})
    return result, images[ref.index], rec.account_key


def _usable(engine: Engine, key: str | None, info: ToolInfo, among: Sequence[Account] | None) -> Account | None:
    """The account that made a result, if this caller may use it for this tool now."""
    acc = engine.pool.get(key) if key else None
    if acc is None or acc.region not in info.regions:
        return None
    if among is not None:
        return acc if any(a.key == acc.key for a in among) else None
    return acc if acc.pooled else None


def switched_off(engine: Engine, params: ToolParams) -> frozenset[Region]:
    """Sites whose live catalogue says the tool is off (``feats`` of the root model false, PROTOCOL.md §7.4)."""
    flag = POSTEDIT_FEATS[capability_name(params.tool, params.mode)]
    return frozenset(
        r
        for (r, key), feats in engine.registry.feats.items()
        if key == POSTEDIT_ROOT_MODEL and feats.get(flag) is False
    )


async def _our_copy(engine: Engine, asset: Asset) -> bytes:
    """The bytes of a result of ours (the kept copy, else upstream's URL), to upload it again elsewhere."""
    try:
        async with engine.download(asset) as dl:
            return await dl.read(engine.config.max_download_bytes)
    except (JimengError, OSError) as err:
        why = err.message if isinstance(err, JimengError) else type(err).__name__
        raise InvalidRequestError(
            f"the image could not be read again ({why}); send the image itself instead",
            param="image_id",
            code="image_not_found",
        ) from None


async def _prepare(engine: Engine, image: Any) -> PreparedImage:
    policy = FetchPolicy(allow_private=engine.config.allow_private_urls, max_bytes=engine.config.max_download_bytes)
    return (await prepare_all([image], http=engine.http, policy=policy))[0]


async def prepare_tool(
    engine: Engine,
    params: ToolParams,
    image: Any,
    *,
    accounts: Sequence[Account] | None = None,
    require_owner: Mapping[str, Any] | None = None,
) -> tuple[ToolSpec, list[PreparedImage], Sequence[Account] | None]:
    """(spec, the upload if any, the accounts it may run on). Raises before anything is uploaded or spent."""
    info = check_tool(params, engine._regions_for(accounts), switched_off=switched_off(engine, params))
    if isinstance(image, ImageRef):
        return await _from_result(engine, params, info, image, accounts, require_owner)
    if not info.uploads:
        raise InvalidRequestError(
            "detail repair works only on an image made here: pass its image id, not the image itself "
            "(Jimeng fails detail repair of uploaded images)",
            param="image",
            code="detail_needs_result",
        )
    prepared = await _prepare(engine, image)
    sw, sh = prepared.source_size if prepared.source_size != (0, 0) else (prepared.width, prepared.height)
    check_size(SourceImage(sw, sh), "image")
    spec = build_spec(params, info, SourceImage(prepared.width, prepared.height), param="image")
    return spec, [prepared], accounts


async def _from_result(
    engine: Engine,
    params: ToolParams,
    info: ToolInfo,
    ref: ImageRef,
    accounts: Sequence[Account] | None,
    require_owner: Mapping[str, Any] | None,
) -> tuple[ToolSpec, list[PreparedImage], Sequence[Account] | None]:
    result, asset, account_key = await _referenced(engine, ref, require_owner)
    width, height = asset.width or result.width, asset.height or result.height
    acc = _usable(engine, account_key, info, accounts)
    # Both go on the wire as numbers (PROTOCOL.md §11.1): anything else cannot be referenced.
    referable = bool(asset.item_id and asset.item_id.isdigit() and (result.history_id or "").isdigit())
    if acc is not None and referable:
        src = SourceImage(width, height, asset.item_id, result.history_id, acc.key, ref.job_id, ref.index)
        return build_spec(params, info, src, param="image_id"), [], [acc]
    if not info.uploads:
        if not referable:
            raise InvalidRequestError(
                f"image {ref} has no Jimeng item id on record, so it cannot be detail-repaired",
                param="image_id",
                code="image_not_referable",
            )
        raise InvalidRequestError(
            f"the account that made image {ref} is no longer available, and detail repair only works on that "
            "account's own images",
            param="image_id",
            code="source_account_gone",
        )
    # The account is gone (or the item id unknown): upload our copy instead, on any account.
    check_size(SourceImage(width, height), "image_id")
    log.info("image %s: its account is not available; uploading our copy for %s", ref, info.name)
    prepared = await _prepare(engine, RefImage.from_bytes(await _our_copy(engine, asset), name=f"{ref}.img"))
    src = SourceImage(prepared.width, prepared.height, job_id=ref.job_id, index=ref.index)
    return build_spec(params, info, src, param="image_id"), [prepared], accounts
