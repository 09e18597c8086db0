"""Every route in one place."""

from __future__ import annotations

from aiohttp import web

from api.handlers import chat, files, health, images, models, tokens, usage, videos
from api.handlers import tools as image_tools


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ping", health.ping)
    r.add_get("/healthz", health.healthz)
    r.add_get("/readyz", health.readyz)

    r.add_get("/v1/models", models.list_models)
    r.add_post("/v1/images/generations", images.generations)
    r.add_post("/v1/images/compositions", images.compositions)
    r.add_post("/v1/images/edits", images.edits)
    r.add_post("/v1/images/upscale", image_tools.upscale)  # post-edit tools (issue #14)
    r.add_post("/v1/images/outpaint", image_tools.outpaint)
    r.add_post("/v1/images/detail", image_tools.detail)
    r.add_post("/v1/chat/completions", chat.completions)
    r.add_post("/v1/videos/generations", videos.generations)
    r.add_post("/v1/videos", videos.create)
    r.add_post("/v1/videos/interpolate", videos.interpolate_upload)  # frame interpolation (issue #14)
    r.add_get("/v1/videos", videos.list_tasks)
    r.add_get("/v1/videos/{video_id}", videos.retrieve)
    r.add_get("/v1/videos/{video_id}/content", videos.content)
    r.add_post("/v1/videos/{video_id}/interpolate", videos.interpolate)

    r.add_get("/v1/usage", usage.usage)  # the caller's own jobs and credits per day (issue #15)
    r.add_get("/v1/files/{job_id}/{index}", files.serve)  # signed links: the signature is the credential

    r.add_post("/token/check", tokens.check)
    r.add_post("/token/points", tokens.points)
    r.add_post("/token/receive", tokens.receive)
