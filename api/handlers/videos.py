"""Videos: the seeds' synchronous ``/v1/videos/generations`` and OpenAI's asynchronous video tasks
(``POST /v1/videos``, ``GET /v1/videos/{id}``, ``GET /v1/videos/{id}/content``, ``GET /v1/videos``).

A task is a core job of kind ``video`` whose owner tag is the caller's fingerprint; another caller gets 404. Tasks are
read from ``engine.job(id)`` while the job lives in this process and from ``engine.store`` otherwise, so a durable
store plugs in without changes here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.body import read_input
from api.errors import ApiError, bad_request, from_core, renamed_params
from api.handlers import video_refs
from api.handlers.common import (
    as_list,
    caller_of,
    engine_of,
    launch,
    parse,
    refs,
    settings_of,
    stream_asset,
    wait_for_caller,
)
from api.schemas import InputReference, VideoCreateRequest, VideoGenerationRequest
from core import Asset, Job, JobEvent, JobRecord, JobState, VideoParams
from core.errors import JimengError
from core.geometry import nearest_video_ratio

PREFIX = "video_"


def _frames(job_frames: list[Any], param: str) -> tuple[Any, Any]:
    if len(job_frames) > 2:
        raise bad_request("give at most two frame images: the first frame and the last frame", param=param)
    return (job_frames[0] if job_frames else None), (job_frames[1] if len(job_frames) > 1 else None)


# ---------------------------------------------------------------------------------------------------- synchronous


async def generations(request: web.Request) -> web.Response:
    form = await read_input(request)
    files = [f for group in form.files.values() for f in group]
    fields = dict(form.fields)
    for key in ("file_paths", "filePaths"):
        if key in fields:
            fields[key] = as_list(fields[key])
    req = parse(VideoGenerationRequest, fields)
    first, last = _frames(refs(req.frames(), files), "file_paths")
    ratio = req.ratio
    if not ratio and req.width and req.height and req.width > 0 and req.height > 0:
        ratio = nearest_video_ratio(req.width, req.height)  # the seeds' width/height: the ratio only
    params = VideoParams(
        prompt=req.prompt,
        model=req.model,
        duration=req.duration,
        ratio=ratio,
        resolution=req.resolution,
        seed=req.seed,
        frames=len([f for f in (first, last) if f is not None]),
    )
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        spec = engine.validate_video(params, accounts=caller.accounts)
        return await engine.video(
            spec, first_frame=first, last_frame=last, owner=caller.owner_tag, accounts=caller.accounts
        )

    with renamed_params({"first_frame": "file_paths", "last_frame": "file_paths", "image": "file_paths"}):
        job = await launch(request, start)
    result = await wait_for_caller(request, job)
    url = result.videos[0].url if result.videos else None
    body: dict[str, Any] = {
        "created": int(time.time()),
        "data": [{"url": v.url, "revised_prompt": req.prompt} for v in result.videos],
        "videoUrl": url,
    }
    if result.notes:
        body["notes"] = list(result.notes)
    return web.json_response(body)


# ---------------------------------------------------------------------------------------------------- tasks


@dataclass(slots=True)
class Task:
    """A video task as the API shows it, from a live job or a stored record."""

    id: str
    owner: dict[str, Any]
    created_at: int
    state: str
    model: str
    prompt: str
    seconds: int
    size: str
    progress: int
    completed_at: int | None = None
    error: dict[str, Any] | None = None
    assets: list[Asset] = field(default_factory=list)

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": PREFIX + self.id,
            "object": "video",
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "expires_at": None,
            "status": _STATUS.get(self.state, "queued"),
            "model": self.model,
            "progress": self.progress,
            "prompt": self.prompt,
            "seconds": str(self.seconds),
            "size": self.size,
            "error": self.error,
            "remixed_from_video_id": None,
        }


_STATUS = {
    JobState.QUEUED.value: "queued",
    JobState.PENDING.value: "queued",
    JobState.UPLOADING.value: "in_progress",
    JobState.SUBMITTING.value: "in_progress",
    JobState.GENERATING.value: "in_progress",
    JobState.SUCCEEDED.value: "completed",
    JobState.FAILED.value: "failed",
}


def progress_of(ev: JobEvent) -> int:
    if ev.state is JobState.SUCCEEDED:
        return 100
    if ev.state is JobState.GENERATING:
        if ev.eta_s is not None and ev.elapsed_s > 0:
            return max(20, min(95, 20 + int(75 * ev.elapsed_s / (ev.elapsed_s + ev.eta_s))))
        return 50
    return {JobState.UPLOADING: 5, JobState.SUBMITTING: 10, JobState.PENDING: 15}.get(ev.state, 0)


def _error_body(err: JimengError) -> dict[str, Any]:
    api = from_core(err)
    return {"code": api.code or "error", "message": api.message, "param": api.param, "type": api.type}


def task_from_job(job: Job, record: JobRecord | None = None) -> Task:
    """A live job as a task; ``record`` (its stored row) gives the real creation time of a job that a restart
    recovered (the live object was made at the restart)."""
    ev = job.last_event
    spec = job.spec
    w, h = spec.size
    result = ev.result
    if result is not None and result.width and result.height:
        w, h = result.width, result.height
    created = record.created_at if record is not None and job.recovered else job.created_at
    done_at = int(job.finished_at) if ev.state.terminal and job.finished_at is not None else None
    return Task(
        id=job.id,
        owner=job.owner,
        created_at=int(created),
        state=ev.state.value,
        model=spec.model.name,
        prompt=spec.prompt,
        seconds=spec.duration,
        size=f"{w}x{h}",
        progress=progress_of(ev),
        completed_at=done_at,
        error=_error_body(ev.error) if ev.error is not None else None,
        assets=list(result.videos) if result else [],
    )


def task_from_record(record: JobRecord) -> Task:
    spec = record.spec
    result = record.result or {}
    assets = [Asset.from_dict(a) for a in result.get("assets", []) if a.get("kind") == "video"]
    w, h = result.get("width") or 0, result.get("height") or 0
    terminal = record.state in (JobState.SUCCEEDED.value, JobState.FAILED.value)
    error = None
    if record.error:
        error = {
            "code": record.error.get("kind") or "error",
            "message": record.error.get("message") or "failed",
            "param": record.error.get("param"),
            "type": record.error.get("type"),
        }
    return Task(
        id=record.id,
        owner=record.owner,
        created_at=int(record.created_at),
        state=record.state,
        model=str(spec.get("model", "")),
        prompt=str(spec.get("prompt", "")),
        seconds=int(spec.get("duration") or 0),
        size=f"{w}x{h}" if w and h else str(spec.get("resolution", "")),
        progress=100 if record.state == JobState.SUCCEEDED.value else 0,
        completed_at=int(record.updated_at) if terminal else None,
        error=error,
        assets=assets,
    )


async def find_task(request: web.Request, video_id: str) -> Task:
    """The caller's task, or 404 (also for someone else's task: its existence is not revealed)."""
    missing = ApiError(404, f"no video task '{video_id[:64]}'", param="video_id", code="not_found")
    if not video_id.startswith(PREFIX):
        raise missing
    job_id = video_id[len(PREFIX) :]
    engine = engine_of(request)
    job = engine.job(job_id)
    task: Task | None = None
    if job is not None:
        if job.kind == "video":
            task = task_from_job(job, await engine.store.get(job_id) if job.recovered else None)
    else:
        record = await engine.store.get(job_id)
        if record is not None and record.kind == "video":
            task = task_from_record(record)
    if task is None or task.owner.get("api_owner") != caller_of(request).owner:
        raise missing
    return task


def _task_response(request: web.Request, task: Task, status: int = 200) -> web.Response:
    headers = {"openai-poll-after-ms": str(settings_of(request).poll_after_ms)}
    return web.json_response(task.to_openai(), status=status, headers=headers)


async def create(request: web.Request) -> web.Response:
    form = await read_input(request)
    files = form.pop_files("input_reference")
    if form.files:
        name = next(iter(form.files))
        raise bad_request(f"unexpected file field '{name}'", param=name)
    req = parse(VideoCreateRequest, form.fields)
    omni = video_refs.omni_refs(engine_of(request), req, files)  # several / video / audio references (issue #14)
    if omni is not None:
        return _task_response(request, task_from_job(await video_refs.create_omni(request, req, omni)))
    frame: Any = None
    if files:
        frame = refs([], files[:1])[0]
    elif isinstance(req.input_reference, InputReference):
        if req.input_reference.file_id:
            raise bad_request(
                "file ids are not supported; send the image itself or an image_url",
                param="input_reference",
                code="unsupported_parameter",
            )
        frame = req.input_reference.image_url
    elif isinstance(req.input_reference, str) and req.input_reference.strip():
        frame = req.input_reference
    params = VideoParams(  # core maps ``size`` to the ratio and resolution not given, and names it in errors
        prompt=req.prompt,
        model=req.model,
        duration=req.seconds,
        ratio=req.ratio,
        resolution=req.resolution,
        size=req.size,
        seed=req.seed,
        frames=0 if frame is None else 1,
    )
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        spec = engine.validate_video(params, accounts=caller.accounts)
        return await engine.video(spec, first_frame=frame, owner=caller.owner_tag, accounts=caller.accounts)

    with renamed_params({"duration": "seconds", "first_frame": "input_reference", "image": "input_reference"}):
        job = await launch(request, start)
    return _task_response(request, task_from_job(job))


async def retrieve(request: web.Request) -> web.Response:
    return _task_response(request, await find_task(request, request.match_info["video_id"]))


async def list_tasks(request: web.Request) -> web.Response:
    caller = caller_of(request)
    engine = engine_of(request)
    try:
        limit = max(1, min(100, int(request.query.get("limit", "20"))))
    except ValueError:
        raise bad_request("limit must be a number", param="limit") from None
    records = await engine.store.list_owner("api_owner", caller.owner, limit=limit)
    data = []
    for record in records:
        if record.kind != "video":
            continue
        job = engine.job(record.id)
        data.append((task_from_job(job, record) if job is not None else task_from_record(record)).to_openai())
    if request.query.get("order") == "asc":
        data.reverse()
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
    )


async def content(request: web.Request) -> web.StreamResponse:
    task = await find_task(request, request.match_info["video_id"])
    variant = request.query.get("variant", "video")
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise bad_request(f"unknown variant '{variant[:20]}'", param="variant")
    if variant == "spritesheet":
        raise bad_request(
            "Jimeng makes no spritesheet; use variant=video or thumbnail", param="variant", code="unsupported_parameter"
        )
    if task.state != JobState.SUCCEEDED.value or not task.assets:
        raise ApiError(
            409,
            f"the video is not ready (status {_STATUS.get(task.state, task.state)})",
            param="video_id",
            code="video_not_ready",
        )
    asset = task.assets[0]
    if variant == "thumbnail":
        if not asset.cover_url:
            raise ApiError(404, "this video has no thumbnail", param="variant", code="not_found")
        asset = Asset(kind="image", url=asset.cover_url)
    return await stream_asset(request, engine_of(request), asset)


async def interpolate(request: web.Request) -> web.Response:
    """``POST /v1/videos/{video_id}/interpolate``: frame interpolation of the caller's video (api/handlers/video_refs.py)."""
    task = await find_task(request, request.match_info["video_id"])
    return _task_response(request, task_from_job(await video_refs.interpolate_task(request, task.id)))


async def interpolate_upload(request: web.Request) -> web.Response:
    """``POST /v1/videos/interpolate``: frame interpolation of an uploaded video."""
    return _task_response(request, task_from_job(await video_refs.interpolate_upload(request)))
