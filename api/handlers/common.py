"""Small helpers every handler shares."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.auth import Caller
from api.body import UploadedFile
from api.errors import from_validation
from api.keys import ACTIVE, CALLER, QUOTA, SERVICES, SETTINGS, STREAMING
from api.settings import ApiSettings
from core import Asset, Engine, Job, JobResult
from core.media import RefImage

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


def engine_of(request: web.Request) -> Engine:
    return request.app[SERVICES].engine


def settings_of(request: web.Request) -> ApiSettings:
    return request.app[SETTINGS]


def caller_of(request: web.Request) -> Caller:
    return request[CALLER]


def parse(model: type[M], data: Mapping[str, Any], *, renames: Mapping[str, str] | None = None) -> M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise from_validation(exc, renames=renames) from None


async def launch(request: web.Request, start: Callable[[], Awaitable[Job]]) -> Job:
    """Start a job for the caller, counted against the key's daily quota. ``start`` validates the request once
    (``engine.validate_image`` / ``validate_video``) and hands the spec to the engine."""
    caller = caller_of(request)
    quota, active = request.app[QUOTA], request.app[ACTIVE]
    async with quota.admit(caller, engine_of(request)) as ticket:  # counted from the store (issue #15)
        active.check(caller)
        job = await start()
        ticket.count(job)
    active.hold(caller, job)
    return job


def caller_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def wait_for_caller(request: web.Request, job: Job) -> JobResult:
    """The job's result, for a synchronous caller. If the caller disconnects while the job is still in our line
    (not yet submitted), the job is cancelled (``Job.cancel``): no credits are spent for nobody. A submitted job
    runs on. Asynchronous video tasks do not use this: their caller polls later."""
    waiter = asyncio.ensure_future(job.wait())
    every = settings_of(request).disconnect_check_s
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=every)
            if done:
                return waiter.result()
            if caller_gone(request) and job.cancel():
                log.info("job %s: its caller left before it was submitted; cancelled", job.id)
    except asyncio.CancelledError:
        job.cancel()
        raise
    finally:
        if not waiter.done():
            waiter.cancel()


def refs(values: Sequence[str], files: Sequence[UploadedFile] = ()) -> list[Any]:
    """Reference images: uploaded files first, then URL / data-URL strings (parsed by core, never as paths)."""
    out: list[Any] = [RefImage.from_bytes(f.data, f.filename) for f in files]
    out.extend(v for v in values if isinstance(v, str))
    return out


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


async def stream_asset(
    request: web.Request, engine: Engine, asset: Asset, headers: Mapping[str, str] | None = None
) -> web.StreamResponse:
    """Answer with a result file, streamed from ``engine.download`` (the kept copy when there is one)."""
    async with engine.download(asset) as dl:
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_type = dl.content_type
        if dl.size is not None:
            resp.content_length = dl.size
        request[STREAMING] = True
        await resp.prepare(request)
        async for chunk in dl.chunks:
            await resp.write(chunk)
    await resp.write_eof()
    return resp
