"""``/v1/images/generations``, ``/v1/images/compositions``, ``/v1/images/edits``."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

from aiohttp import web

from api.body import read_input
from api.errors import bad_request, renamed_params
from api.handlers.common import as_list, caller_of, engine_of, launch, parse, refs, wait_for_caller
from api.keys import STREAMING
from api.schemas import CompositionRequest, EditRequest, ImageRequest, ResponseFormat
from core import Engine, Job, JobResult
from core.tools import ImageRef

log = logging.getLogger(__name__)

_SENTINEL = "\u0000data\u0000"


async def generations(request: web.Request) -> web.StreamResponse:
    form = await read_input(request)
    if form.files:
        raise bad_request("this endpoint takes no files; use /v1/images/compositions", param="image")
    req = parse(ImageRequest, form.fields)
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        spec = engine.validate_image(req.to_params(), accounts=caller.accounts)
        return await engine.imagine(spec, owner=caller.owner_tag, accounts=caller.accounts)

    job = await launch(request, start)
    return await render(request, engine, await wait_for_caller(request, job), req.format, job_id=job.id)


async def compositions(request: web.Request) -> web.StreamResponse:
    form = await read_input(request)
    files = form.pop_files("images", "image")
    if form.files:
        raise bad_request(f"unexpected file field '{next(iter(form.files))}'", param=next(iter(form.files)))
    fields = dict(form.fields)
    fields["images"] = as_list(fields.get("images")) + as_list(fields.pop("image", None))
    req = parse(CompositionRequest, fields)
    return await _compose(request, req, refs(req.image_values(), files), renames={"image": "images"})


async def edits(request: web.Request) -> web.StreamResponse:
    form = await read_input(request)
    if "mask" in form.files or form.fields.get("mask"):
        raise bad_request(
            "Jimeng has no mask input: describe the change in the prompt and send only 'image'",
            param="mask",
            code="unsupported_parameter",
        )
    files = form.pop_files("image", "images")
    if form.files:
        name = next(iter(form.files))
        raise bad_request(f"unexpected file field '{name}'", param=name)
    fields = dict(form.fields)
    urls = as_list(fields.pop("image", None)) + as_list(fields.pop("images", None))
    req = parse(EditRequest, fields)
    images = refs([u for u in urls if isinstance(u, str)], files)
    return await _compose(request, req, images, renames={"images": "image"})


async def _compose(
    request: web.Request, req: ImageRequest, images: list[Any], *, renames: dict[str, str] | None = None
) -> web.StreamResponse:
    """A composition of ``images``; core checks their number (none, or more than the model takes, is a 400)."""
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        spec = engine.validate_image(req.to_params(), references=len(images), accounts=caller.accounts)
        return await engine.compose(spec, images, owner=caller.owner_tag, accounts=caller.accounts)

    with renamed_params(renames or {}):
        job = await launch(request, start)
        result = await wait_for_caller(request, job)
    extra = {
        "input_images": len(images),
        "composition_type": "multi_image_synthesis" if len(images) > 1 else "single_image_transform",
    }
    return await render(request, engine, result, req.format, extra, job_id=job.id)


def image_ids(result: JobResult, job_id: str | None) -> list[str | None]:
    """Each image's public id, ``<job id>-<k>`` (core.tools.ImageRef): what /v1/images/upscale and friends take."""
    return [str(ImageRef(job_id, i)) if job_id else None for i in range(len(result.images))]


def envelope(result: JobResult, extra: dict[str, Any] | None = None, job_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"created": int(time.time())}
    ids = image_ids(result, job_id)
    body["data"] = [{"url": a.url, **({"id": i} if i else {})} for a, i in zip(result.images, ids, strict=True)]
    if result.images:
        first = result.images[0]
        if first.width and first.height:
            body["size"] = f"{first.width}x{first.height}"
    if result.notes:
        body["notes"] = list(result.notes)
    body.update(extra or {})
    return body


async def render(
    request: web.Request,
    engine: Engine,
    result: JobResult,
    fmt: ResponseFormat,
    extra: dict[str, Any] | None = None,
    *,
    job_id: str | None = None,
) -> web.StreamResponse:
    body = envelope(result, extra, job_id)
    if fmt == "url":
        await _our_links(engine, body, job_id)
        return web.json_response(body, dumps=_dumps)
    return await stream_b64(request, engine, result, body, image_ids(result, job_id))


async def _our_links(engine: Engine, body: dict[str, Any], job_id: str | None) -> None:
    """With signed links on (core/links.py), answer with ours: they live as long as the kept copy, upstream's hours."""
    if engine.links is None or not job_id:
        return
    await engine.settled(job_id)  # the copies are on disk and recorded
    record = await engine.job_record(job_id)
    if record is None:
        return
    for index, entry in enumerate(body["data"]):
        entry["url"] = engine.links.url(record, index) or entry["url"]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


async def stream_b64(
    request: web.Request, engine: Engine, result: JobResult, body: dict[str, Any], ids: list[str | None] | None = None
) -> web.StreamResponse:
    """Write ``{"created":..,"data":[{"b64_json":"..."},..],..}`` while reading each image from ``engine.download``:
    one chunk in memory at a time, whatever the size or number of images."""
    body["data"] = _SENTINEL
    head, tail = _dumps(body).split(json.dumps(_SENTINEL), 1)
    try:
        return await _write_b64(request, engine, result, body, head, tail, ids or [])
    except _ClientGone:  # the caller left mid-answer: nothing to report to anyone, and not our error
        log.info("%s %s: the client left during the b64_json answer", request.method, request.path)
        return request[_RESPONSE]


class _ClientGone(Exception):
    """A write found the connection closed (not a ClientError, so engine.download does not take it for its own)."""


_RESPONSE: web.RequestKey[web.StreamResponse] = web.RequestKey("b64_response")


async def _write(resp: web.StreamResponse, data: bytes) -> None:
    try:
        await resp.write(data)
    except ConnectionResetError as exc:
        raise _ClientGone from exc


async def _write_b64(
    request: web.Request,
    engine: Engine,
    result: JobResult,
    body: dict[str, Any],
    head: str,
    tail: str,
    ids: list[str | None],
) -> web.StreamResponse:
    resp: web.StreamResponse | None = None
    for i, asset in enumerate(result.images):
        async with engine.download(asset) as dl:
            if resp is None:  # the first file opened: from here on errors can no longer become a JSON error
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json; charset=utf-8"})
                request[STREAMING] = True
                request[_RESPONSE] = resp
                try:
                    await resp.prepare(request)
                except ConnectionResetError as exc:
                    raise _ClientGone from exc
                await _write(resp, (head + "[").encode())
            await _write(resp, b'{"b64_json":"' if i == 0 else b',{"b64_json":"')
            carry = b""
            async for chunk in dl.chunks:
                buf = carry + chunk if carry else chunk
                cut = len(buf) - len(buf) % 3
                if cut:
                    await _write(resp, base64.b64encode(buf[:cut]))
                carry = buf[cut:]
            if carry:
                await _write(resp, base64.b64encode(carry))
            image_id = ids[i] if i < len(ids) else None
            await _write(resp, f'","id":"{image_id}"}}'.encode() if image_id else b'"}')
    if resp is None:  # no images at all
        body["data"] = []
        return web.json_response(body, dumps=_dumps)
    await _write(resp, ("]" + tail).encode())
    try:
        await resp.write_eof()
    except ConnectionResetError as exc:
        raise _ClientGone from exc
    return resp
