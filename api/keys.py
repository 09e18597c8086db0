"""Typed keys for everything the app and its requests carry (STYLE §7: no string keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from api.auth import Authenticator, Caller
    from api.quota import ActiveJobs, DailyQuota
    from api.services import Services
    from api.settings import ApiSettings
    from core.logsafe import RedactingFilter

SETTINGS: web.AppKey[ApiSettings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")  # holds the engine once the cleanup context built it
AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
QUOTA: web.AppKey[DailyQuota] = web.AppKey("quota")
ACTIVE: web.AppKey[ActiveJobs] = web.AppKey("active_jobs")

CALLER: web.RequestKey[Caller] = web.RequestKey("caller")
STREAMING: web.RequestKey[bool] = web.RequestKey("streaming")  # set once a streamed response has started
REDACTOR: web.AppKey[RedactingFilter] = web.AppKey("redactor")  # optional: masks Bearer session ids in logs
