"""Kept results at signed, expiring links (``GET /v1/files/{job_id}/{index}?expires=…&sig=…``; core.links).

The signature is the credential: no Bearer is needed, so a link can be pasted anywhere (a Discord message, a browser).
Any process that shares the secret and the store serves it from the kept copy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from api.errors import ApiError
from api.handlers.common import engine_of, stream_asset
from core import Asset
from core.links import LinkError

_CACHE = "private, max-age=3600"


async def serve(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    if engine.links is None:
        raise ApiError(404, "result links are not enabled on this server", code="not_found")
    job_id = request.match_info["job_id"]
    try:
        index = int(request.match_info["index"])
    except ValueError:
        raise ApiError(404, "no such file", code="not_found") from None
    try:
        engine.links.check(job_id, index, request.query.get("expires", ""), request.query.get("sig", ""))
    except LinkError as err:
        raise ApiError(410 if err.gone else 403, err.message, code=err.code) from None
    record = await engine.job_record(job_id)
    assets = (record.result or {}).get("assets", []) if record is not None else []
    if not 0 <= index < len(assets):
        raise ApiError(410, "this result is no longer kept", code="gone")
    asset = Asset.from_dict(assets[index])
    if not asset.path or not await asyncio.to_thread(Path(asset.path).is_file):  # evicted: never refetch upstream
        raise ApiError(410, "this result is no longer kept", code="gone")
    return await stream_asset(request, engine, asset, {"Cache-Control": _CACHE})
