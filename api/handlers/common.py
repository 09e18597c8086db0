"""Small helpers every handler shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.auth import Caller
from api.body import UploadedFile
from api.errors import from_validation
from api.keys import CALLER, QUOTA, SERVICES, SETTINGS
from api.settings import ApiSettings
from core import Engine, Job
from core.media import RefImage

M = TypeVar("M", bound=BaseModel)


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
    """Start a job for the caller, counting it against the key's daily quota. ``start`` validates the request once
    (``engine.validate_image`` / ``validate_video``) and hands the spec to the engine."""
    caller = caller_of(request)
    quota = request.app[QUOTA]
    quota.check(caller)
    job = await start()
    quota.charge(caller)
    return job


def refs(values: Sequence[str], files: Sequence[UploadedFile] = ()) -> list[Any]:
    """Reference images: uploaded files first, then URL / data-URL strings (parsed by core, never as paths)."""
    out: list[Any] = [RefImage.from_bytes(f.data, f.filename) for f in files]
    out.extend(v for v in values if isinstance(v, str))
    return out


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
