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
from core import Asset, Engine, Job, JobResult, JobState
from core.media import RefImage

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)
IN_LINE = frozenset({JobState.QUEUED, JobState.UPLOADING})  # the states in which ``Job.cancel`` still works


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
    runs on. Asynchronous video tasks do not use this: their caller polls later.

    The caller is looked for every ``disconnect_check_s`` only while the job is in our line; once it left the line
    the handler wakes at the job's next event only (a refused submit puts it back in line, and the checks resume), so
    a 60 s job no longer wakes the event loop twice a second for a check that cannot cancel anything (issue #7)."""
    waiter = asyncio.ensure_future(job.wait())
    every = settings_of(request).disconnect_check_s
    changes = job.events()  # the current snapshot, then every change, ending with the terminal event
    change: asyncio.Future[Any] | None = None
    try:
        while not waiter.done():
            if change is None:
                change = asyncio.ensure_future(anext(changes, None))
            timeout = every if job.state in IN_LINE else None
            done, _ = await asyncio.wait({waiter, change}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if caller_gone(request) and job.cancel():
                log.info("job %s: its caller left before it was submitted; cancelled", job.id)
            if change in done:
                if change.result() is None:
                    break  # the events ended: the job is terminal, its result follows
                change = None  # the next event, on the next round
        return await waiter
    except asyncio.CancelledError:
        job.cancel()
        raise
    finally:
        if not waiter.done():
            waiter.cancel()
        if change is not None and not change.done():
            change.cancel()  # ends the events at their wait (their listener goes)
        else:
            await changes.aclose()


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
