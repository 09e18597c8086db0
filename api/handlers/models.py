"""``GET /v1/models``: the OpenAI list shape, only models the caller's sites offer."""

from __future__ import annotations

import time

from aiohttp import web

from api.handlers.common import caller_of, engine_of

_CREATED = int(time.time())


async def list_models(request: web.Request) -> web.Response:
    caller = caller_of(request)
    models = engine_of(request).models(accounts=caller.accounts)
    data = [
        {
            "id": m.name,
            "object": "model",
            "created": _CREATED,
            "owned_by": "jimeng",
            "kind": m.kind,
            "title": m.title,
            "regions": sorted(r.value for r in m.regions),
        }
        for m in models
    ]
    return web.json_response({"object": "list", "data": data})
