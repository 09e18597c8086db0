"""Video references and frame interpolation on the OpenAI video API (issue #14).

- ``POST /v1/videos`` with several ``input_reference`` files (images, a video, audio), or any video/audio one, or an
  image on an omni-only model → an omni-reference task (``engine.omni_video``). One image on a model that takes a
  first frame stays the first frame, as before (``api.handlers.videos.create``).
- ``POST /v1/videos/{video_id}/interpolate`` → a new task: the caller's finished video at 60 fps.
- ``POST /v1/videos/interpolate`` with a ``video`` file (multipart) or data URL (JSON) → the same for an upload.

Reference problems are 400s with core's specific code (``reference_too_long``, ``reference_audio_format`` ...) and
``param: input_reference``; nothing is uploaded or spent before they are checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import Field

from api.body import UploadedFile, read_input
from api.errors import ApiError, bad_request, renamed_params
from api.handlers.common import caller_of, engine_of, launch, parse
from api.schemas import InputReference, _Strict
from core import Engine, InvalidRequestError, Job, VideoParams
from core.media import RefImage
from core.video_refs import RefMedia, kind_of, reference_from_bytes

_MEDIA_CODES = frozenset(
    {
        "no_references",
        "too_many_references",
        "references_mismatch",
        "reference_unreadable",
        "reference_video_format",
        "reference_audio_format",
        "reference_too_large",
        "reference_too_long",
        "reference_videos_too_long",
        "reference_index",
        "omni_unsupported",
        "capability_unavailable",
        "interpolate_source",
    }
)


class InterpolateRequest(_Strict):
    """``POST /v1/videos/{id}/interpolate`` (JSON, optional) and ``POST /v1/videos/interpolate``."""

    index: int = Field(default=0, ge=0, le=3)
    prompt: str = ""
    video: str | None = None  # a data URL (JSON form of /v1/videos/interpolate)


def _ref_from_text(value: str | InputReference) -> Any:
    """A JSON reference: an image URL, or a data URL / base64 of an image, a video or audio."""
    if isinstance(value, InputReference):
        if value.file_id or not value.image_url:
            raise bad_request("file ids are not supported; send the file itself or a URL", param="input_reference")
        value = value.image_url
    text = value.strip()
    if text[:8].lower().startswith(("http://", "https://")):
        return RefImage.from_url(text)  # a URL is fetched as an image; send video/audio as files or data URLs
    mime = text[5:].split(",", 1)[0].split(";", 1)[0] if text[:5].lower() == "data:" else None
    decoded = RefImage.from_data_url(text)
    return reference_from_bytes(decoded.data or b"", None, mime)


def references(files: Sequence[UploadedFile], values: Sequence[str | InputReference]) -> list[Any]:
    """Uploaded files first (sniffed: image, video or audio), then the JSON values, in order."""
    out: list[Any] = [reference_from_bytes(f.data, f.filename, f.content_type) for f in files]
    out.extend(_ref_from_text(v) for v in values)
    return out


def wants_omni(engine: Engine, model: str | None, refs: Sequence[Any]) -> bool:
    """Several references, any video or audio, or an image for a model that only takes references."""
    if len(refs) > 1 or any(kind_of(r) != "image" for r in refs):
        return True
    info = engine.registry.get(model) if model else None
    return bool(refs) and info is not None and info.omni and not info.frames


def _media_error(err: InvalidRequestError) -> ApiError:
    param = "input_reference" if err.param in ("references", None) else err.param
    if err.code == "interpolate_source" and (err.details or {}).get("reason") == "not_succeeded":
        return ApiError(409, err.message, param="video_id", code="video_not_ready")
    if err.code == "interpolate_source" and (err.details or {}).get("reason") in ("not_found", "not_video"):
        return ApiError(
            404 if err.details.get("reason") == "not_found" else 400, err.message, param="video_id", code=err.code
        )
    return ApiError(400, err.message, param=param, code=err.code)


async def _launch(request: web.Request, start: Callable[[], Awaitable[Job]]) -> Job:
    try:
        with renamed_params({"duration": "seconds", "image": "input_reference", "references": "input_reference"}):
            return await launch(request, start)
    except InvalidRequestError as err:
        if err.code in _MEDIA_CODES:
            raise _media_error(err) from None
        raise


def omni_refs(engine: Engine, req: Any, files: Sequence[UploadedFile]) -> list[Any] | None:
    """The references of a ``POST /v1/videos`` that is an omni-reference request, else None (the classic path)."""
    value = req.input_reference
    listed: list[Any] = list(value) if isinstance(value, list) else []
    single = [] if isinstance(value, list) or not value else [value]
    if not files and not listed and not single:
        return None
    if isinstance(value, str) and not value.strip():
        single = []
    with renamed_params({"image": "input_reference"}):
        refs = references(files, listed + single)
    return refs if wants_omni(engine, req.model, refs) else None


async def create_omni(request: web.Request, req: Any, refs: list[Any]) -> Job:
    """An omni-reference task from ``POST /v1/videos``."""
    engine, caller = engine_of(request), caller_of(request)
    params = VideoParams(
        prompt=req.prompt,
        model=req.model,
        duration=req.seconds,
        ratio=req.ratio,
        resolution=req.resolution,
        size=req.size,
        seed=req.seed,
    )

    async def start() -> Job:
        spec = engine.validate_omni(params, kinds=[kind_of(r) for r in refs], accounts=caller.accounts)
        return await engine.omni_video(spec, refs, owner=caller.owner_tag, accounts=caller.accounts)

    return await _launch(request, start)


async def interpolate_task(request: web.Request, job_id: str) -> Job:
    """``POST /v1/videos/{video_id}/interpolate`` (the task already found for this caller): its video at 60 fps."""
    form = await read_input(request) if request.can_read_body else None
    req = parse(InterpolateRequest, form.fields if form else {})
    if req.video:
        raise bad_request("this endpoint interpolates the task's own video; omit 'video'", param="video")
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        return await engine.interpolate(
            job_id, index=req.index, prompt=req.prompt, owner=caller.owner_tag, accounts=caller.accounts
        )

    return await _launch(request, start)


async def interpolate_upload(request: web.Request) -> Job:
    """``POST /v1/videos/interpolate``: an uploaded video (multipart ``video``, or a JSON data URL) at 60 fps."""
    form = await read_input(request)
    files = form.pop_files("video")
    if form.files:
        name = next(iter(form.files))
        raise bad_request(f"unexpected file field '{name}'", param=name)
    req = parse(InterpolateRequest, form.fields)
    if files:
        ref: Any = reference_from_bytes(files[0].data, files[0].filename, files[0].content_type)
    elif req.video:
        try:
            ref = _ref_from_text(req.video)
        except InvalidRequestError as err:
            raise ApiError(400, err.message, param="video", code="invalid_value") from None
    else:
        raise bad_request(
            "send the video: a multipart 'video' file or a data URL", param="video", code="missing_required_parameter"
        )
    if not isinstance(ref, RefMedia) or ref.kind != "video":
        raise bad_request("frame interpolation needs an MP4 or MOV video", param="video", code="interpolate_source")
    engine, caller = engine_of(request), caller_of(request)

    async def start() -> Job:
        return await engine.interpolate(ref, prompt=req.prompt, owner=caller.owner_tag, accounts=caller.accounts)

    try:
        return await _launch(request, start)
    except ApiError as err:
        if err.param == "input_reference":
            err.param = "video"
        raise
