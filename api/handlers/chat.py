"""``POST /v1/chat/completions``: the last user message is the prompt; image models draw, video models film.

``image_url`` parts of that message become composition references (or the first and last frame of a video). The
answer is markdown. With ``stream: true`` the reply is SSE in the chunk shape the official SDK parses: progress lines
while the job runs, the result, a final chunk with ``finish_reason: "stop"``, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import web

from api.body import read_json
from api.errors import bad_request, from_core
from api.handlers.common import caller_gone, caller_of, engine_of, launch, parse, refs, settings_of, wait_for_caller
from api.keys import STREAMING
from api.schemas import ChatRequest
from core import ImageParams, Job, JobEvent, JobResult, JobState, VideoParams
from core.errors import JimengError

log = logging.getLogger(__name__)


async def completions(request: web.Request) -> web.StreamResponse:
    req = parse(ChatRequest, await read_json(request))
    if req.n is not None and req.n != 1:
        raise bad_request("only n=1 is supported (one answer per request)", param="n")
    prompt, urls = req.last_user()
    engine, caller = engine_of(request), caller_of(request)
    info = engine.registry.get(req.model)
    if info is None:
        raise bad_request(f"unknown model '{req.model[:60]}'; GET /v1/models lists the models", param="model")
    if info.kind == "video":
        if len(urls) > 2:
            raise bad_request("a video takes at most two images (first and last frame)", param="messages")
        frames = refs(urls)
        first, last = (frames[0] if frames else None), (frames[1] if len(frames) > 1 else None)
        vparams = VideoParams(
            prompt=prompt,
            model=info.name,
            duration=req.duration,
            ratio=req.ratio,
            resolution=req.resolution,
            frames=len(frames),
        )

        async def start() -> Job:
            spec = engine.validate_video(vparams, accounts=caller.accounts)
            return await engine.video(
                spec, first_frame=first, last_frame=last, owner=caller.owner_tag, accounts=caller.accounts
            )

    else:
        iparams = ImageParams(
            prompt=prompt,
            model=info.name,
            ratio=req.ratio,
            resolution=req.resolution,
            size=req.size,
            negative_prompt=req.negative_prompt or "",
        )
        images = refs(urls)

        async def start() -> Job:
            if not images:
                spec = engine.validate_image(iparams, accounts=caller.accounts)
                return await engine.imagine(spec, owner=caller.owner_tag, accounts=caller.accounts)
            spec = engine.validate_image(iparams, references=len(images), accounts=caller.accounts)
            return await engine.compose(spec, images, owner=caller.owner_tag, accounts=caller.accounts)

    job = await launch(request, start)
    if req.stream:
        return await _stream(request, job, req.model)
    result = await wait_for_caller(request, job)
    return web.json_response(
        {
            "id": f"chatcmpl-{job.id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": markdown(result), "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    )


def markdown(result: JobResult) -> str:
    lines = [f"![image {i}]({a.url})" for i, a in enumerate(result.images, 1)]
    lines += [
        f"[▶ video {i}]({a.url})" if len(result.videos) > 1 else f"[▶ video]({a.url})"
        for i, a in enumerate(result.videos, 1)
    ]
    lines += [f"_{note}_" for note in result.notes]
    return "\n\n".join(lines)


def describe(ev: JobEvent, kind: str, *, ticking: bool = False) -> str:
    """One progress line for people (``ticking``: a repeat of the last one, without its now stale ETA)."""
    if ticking:
        ev = replace(ev, eta_s=None)
    if ev.state is JobState.QUEUED:
        return f"⏳ waiting for a free account (#{ev.queue_position} in line)" if ev.queue_position else "⏳ queued"
    if ev.state is JobState.UPLOADING:
        return "⏫ uploading the reference images"
    if ev.state is JobState.SUBMITTING:
        return "📨 submitting to Jimeng"
    if ev.state is JobState.PENDING:
        eta = f", about {ev.eta_s:.0f} s left" if ev.eta_s else ""
        if ev.queue_position:
            return f"⏳ in Jimeng's queue (#{ev.queue_position}/{ev.queue_length or '?'}){eta}"
        return f"⏳ in Jimeng's queue{eta}"
    if ev.state is JobState.GENERATING:
        what = "🎬 making the video" if kind == "video" else "🎨 drawing"
        count = f" {ev.finished}/{ev.total}" if ev.total and kind != "video" else ""
        eta = f", about {ev.eta_s:.0f} s left" if ev.eta_s else ""
        return f"{what}{count}{eta}"
    return ev.state.value


async def _stream(request: web.Request, job: Job, model: str) -> web.StreamResponse:
    settings = settings_of(request)
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    request[STREAMING] = True
    await resp.prepare(request)
    cid, created = f"chatcmpl-{job.id}", int(time.time())

    async def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        await resp.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")

    await chunk({"role": "assistant", "content": ""})
    last_line, last_state, last_sent, last_kept = "", None, 0.0, time.monotonic()
    last_ev: JobEvent | None = None
    final: JobEvent | None = None
    # Issue #11: while upstream says nothing new, a line with the time waited every ``tick`` seconds (the answer
    # grows by these lines, so they stay sparse: 5 × stream_progress_s, at least 1 s).
    tick = max(5 * settings.stream_progress_s, 1.0)
    try:
        # Wake at least every disconnect_check_s, so a caller who leaves while the job waits in our line is noticed.
        silence = min(settings.keepalive_s, tick, settings.disconnect_check_s)
        async with contextlib.aclosing(_with_keepalive(job.events(), silence)) as events:
            async for ev in events:
                if caller_gone(request):
                    _abandon(job, cid)
                    return resp
                now = time.monotonic()
                if ev is not None:
                    if ev.state.terminal:
                        final = ev
                        break
                    last_ev = ev
                    line = describe(ev, job.kind)
                    if line != last_line and (ev.state != last_state or now - last_sent >= settings.stream_progress_s):
                        await chunk({"content": line + "\n"})
                        last_line, last_state, last_sent = line, ev.state, now
                        continue
                if last_ev is not None and now - last_sent >= tick:
                    waited = f"{describe(last_ev, job.kind, ticking=True)} · {job.elapsed_s:.0f} s"
                    await chunk({"content": waited + "\n"})
                    last_sent = now
                elif ev is None and now - max(last_sent, last_kept) >= settings.keepalive_s - 1e-3:
                    await resp.write(b": keep-alive\n\n")
                    last_kept = now
        if final is not None and final.result is not None:
            await chunk({"content": ("\n" if last_line else "") + markdown(final.result)})
            await chunk({}, finish="stop")
        else:
            err = final.error if final is not None and final.error is not None else JimengError("the job failed")
            body = from_core(err, server_mode=caller_of(request).mode == "server").body()
            await resp.write(b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
    except ConnectionResetError:
        _abandon(job, cid)
    except asyncio.CancelledError:
        job.cancel()
        raise
    return resp


def _abandon(job: Job, cid: str) -> None:
    """The client left the stream: like a synchronous caller (``wait_for_caller``), a job still in our line is
    cancelled and never submitted; a submitted one runs to its end (credits are already spent)."""
    if job.cancel():
        log.info("chat stream %s: the client left before the job was submitted; cancelled", cid)
    else:
        log.debug("chat stream %s: the client went away; the job continues", cid)


async def _with_keepalive(events: AsyncIterator[JobEvent], every: float) -> AsyncGenerator[JobEvent | None, None]:
    """The events, with ``None`` whenever ``every`` seconds pass without one (never cancelling the iterator)."""
    pending: asyncio.Future[JobEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                ev = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield ev
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
