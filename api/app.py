"""``create_app(settings, engine)``: the only way to build the API (tests and ``python -m api`` both use it)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from api.auth import Authenticator
from api.keys import ACTIVE, AUTH, QUOTA, REDACTOR, SERVICES, SETTINGS
from api.middlewares import auth_middleware, error_middleware
from api.quota import ActiveJobs, DailyQuota
from api.routes import setup_routes
from api.services import Services
from api.settings import ApiSettings
from core import Engine
from core.logsafe import RedactingFilter
from core.settings import JimengSettings

log = logging.getLogger(__name__)


def create_app(
    settings: ApiSettings,
    engine: Engine | None = None,
    *,
    jimeng: JimengSettings | None = None,
    redactor: RedactingFilter | None = None,
) -> web.Application:
    """Build the app. With ``engine`` the caller owns it (tests); without, a cleanup context builds one
    ``aiohttp.ClientSession`` and one ``Engine`` from ``jimeng`` settings and closes them at shutdown."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[AUTH] = Authenticator(settings.key_list())
    app[SETTINGS] = settings.model_copy(update={"keys": SecretStr("")})  # handlers never see a key; AUTH has digests
    app[SERVICES] = Services(engine)
    app[QUOTA] = DailyQuota(settings.key_daily_jobs)
    app[ACTIVE] = ActiveJobs(settings.max_active_jobs)
    if redactor is not None:
        app[REDACTOR] = redactor
    if engine is None:
        if jimeng is None:
            raise ValueError("create_app needs an engine or the Jimeng settings to build one")
        app.cleanup_ctx.append(partial(_engine_context, jimeng))
    setup_routes(app)
    return app


async def _engine_context(jimeng: JimengSettings, app: web.Application) -> AsyncIterator[None]:
    server_mode = app[AUTH].mode == "server"
    config = jimeng.engine_config(required=server_mode)
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, config)
        await engine.start()
        app[SERVICES].attach(engine)
        log.info(
            "API ready in %s mode with %d configured account(s)",
            "server (API keys)" if server_mode else "Bearer-session",
            len(engine.accounts()),
        )
        try:
            yield
        finally:
            app[SERVICES].attach(None)
            await engine.close()
