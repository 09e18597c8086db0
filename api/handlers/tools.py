"""``/v1/images/upscale``, ``/v1/images/outpaint``, ``/v1/images/detail``: Jimeng's post-edit tools (issue #14).

The source is ``image_id`` (``<job id>-<k>``, the ``id`` of an image this API returned) or ``image`` in the forms a
composition takes (a file field, an http(s) URL, a data URL, bare base64). The answer is an images response whose
items carry their own ``id``, so a tool's result can be used again (upscale an outpainted image).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from api.body import UploadedFile, read_input
from api.errors import ApiError, bad_request
from api.handlers.common import caller_of, engine_of, launch, parse, refs, wait_for_caller
from api.handlers.images import render
from api.schemas import ImageRef as UrlObject
from api.schemas import ResponseFormat
from core import Job
from core.errors import InvalidRequestError
from core.tool_spec import parse_expand
from core.tools import ImageRef, ToolParams

_NOT_FOUND = frozenset({"image_not_found"})


class _ToolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str | UrlObject | None = None  # as compositions take it: a string or {"url": ...}
    image_id: str | None = None
    response_format: ResponseFormat | None = None
    model: Any = None  # accepted, ignored (the tools have no model choice)
    user: Any = None

    @property
    def format(self) -> ResponseFormat:
        return self.response_format or "url"

    @property
    def image_value(self) -> str | None:
        return self.image.url if isinstance(self.image, UrlObject) else self.image


class UpscaleRequest(_ToolRequest):
    mode: Literal["hd", "pro"] = "hd"


class OutpaintRequest(_ToolRequest):
    prompt: str = ""
    ratio: str | None = None
    zoom: float | None = None
    expand: dict[str, Any] | None = None
    n: int | None = None


class DetailRequest(_ToolRequest):
    pass


R = TypeVar("R", bound=_ToolRequest)


def _as_api_error(err: InvalidRequestError) -> ApiError:
    """Core's refusal with its own code (``image_too_small``, ``tool_unavailable``…); an unknown image id is a 404."""
    status = 404 if err.code in _NOT_FOUND else 400
    return ApiError(status, err.message, param=err.param, code=err.code or "invalid_value")


async def _run(
    request: web.Request, req: _ToolRequest, files: list[UploadedFile], params_of: Callable[[], ToolParams]
) -> web.StreamResponse:
    sources: list[Any] = [s for s in (req.image, req.image_id) if s] + files
    if not sources:
        raise bad_request(
            "give 'image' (a file, URL, data URL or base64) or 'image_id'", "image", "missing_required_parameter"
        )
    if len(sources) > 1:
        raise bad_request("give either 'image' or 'image_id', not both", "image_id")
    engine, caller = engine_of(request), caller_of(request)
    try:
        params = params_of()
        value = req.image_value
        image: Any = ImageRef.parse(req.image_id) if req.image_id else refs([value] if value else [], files)[0]
        engine.check_tool(params, accounts=caller.accounts)
    except InvalidRequestError as err:
        raise _as_api_error(err) from None

    async def start() -> Job:
        try:
            return await engine.tool(
                params, image, owner=caller.owner_tag, accounts=caller.accounts, require_owner=caller.owner_tag
            )
        except InvalidRequestError as err:
            raise _as_api_error(err) from None

    job = await launch(request, start)
    result = await wait_for_caller(request, job)
    extra = {"tool": result.model}
    if isinstance(image, ImageRef):
        extra["source_image_id"] = str(image)
    return await render(request, engine, result, req.format, extra, job_id=job.id)


async def _read(request: web.Request, model: type[R]) -> tuple[R, list[UploadedFile]]:
    form = await read_input(request)
    files = form.pop_files("image")
    if form.files:
        name = next(iter(form.files))
        raise bad_request(f"unexpected file field '{name}'", param=name)
    if len(files) > 1:
        raise bad_request("one image at a time", param="image")
    return parse(model, form.fields), files


async def upscale(request: web.Request) -> web.StreamResponse:
    req, files = await _read(request, UpscaleRequest)
    return await _run(request, req, files, lambda: ToolParams(tool="upscale", mode=req.mode))


async def outpaint(request: web.Request) -> web.StreamResponse:
    req, files = await _read(request, OutpaintRequest)

    def params() -> ToolParams:
        expand = parse_expand(req.expand) if req.expand is not None else None
        return ToolParams(
            tool="outpaint", prompt=req.prompt, ratio=req.ratio or None, zoom=req.zoom, expand=expand, count=req.n
        )

    return await _run(request, req, files, params)


async def detail(request: web.Request) -> web.StreamResponse:
    req, files = await _read(request, DetailRequest)
    if req.image or files:
        raise bad_request(
            "detail repair works only on an image made here: pass its 'image_id' (Jimeng fails detail repair of "
            "uploaded images)",
            "image",
            "detail_needs_result",
        )
    if not req.image_id:
        raise bad_request("missing required parameter 'image_id'", "image_id", "missing_required_parameter")
    return await _run(request, req, files, lambda: ToolParams(tool="detail"))
