"""``python -m api``: the OpenAI-compatible HTTP API.

Reads ``API_*`` (``ApiSettings``) and ``JIMENG_*`` (``JimengSettings``) from the environment and ``.env``. With
``API_KEYS`` it runs in server mode on ``JIMENG_SESSION_IDS``; without, in the seeds' Bearer-session mode (each
request brings its own session ids), which needs no configuration at all.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from api.app import create_app
from api.settings import ApiSettings
from core.decoding import map_large_allocations
from core.errors import StoreUnavailableError
from core.logsafe import setup_logging
from core.setting_problems import build_settings, collect, report
from core.settings import JimengSettings
from core.tokens import parse_tokens

log = logging.getLogger("api")


def _parser() -> argparse.ArgumentParser:
    fields = ApiSettings.model_fields
    lines = [f"  API_{name.upper():<22} default {f.default!s:<10} {f.description or ''}" for name, f in fields.items()]
    return argparse.ArgumentParser(
        prog="python -m api",
        description="The OpenAI-compatible HTTP API over Jimeng (images, chat, videos). Configured by environment "
        "variables or .env only: API_* below, and the engine's JIMENG_* (see docs/API.md).",
        epilog="settings:\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: Sequence[str] | None = None) -> int:
    _parser().parse_args(argv)  # --help prints and exits before anything is read, created or started
    map_large_allocations()  # decoded images' memory goes back to the system when freed (core/decoding.py)
    problems: list[str] = []  # every bad setting, reported at once
    settings = build_settings(ApiSettings, "API_", problems)
    jimeng = build_settings(JimengSettings, "JIMENG_", problems)
    keys = settings.key_list() if settings is not None else []
    raw_ids = jimeng.session_ids.get_secret_value() if jimeng is not None else ""
    if keys and not raw_ids.strip():
        problems.append(
            "API_KEYS is set (server mode), so the server needs its own accounts: set JIMENG_SESSION_IDS, "
            "or unset API_KEYS to let each request bring its session ids"
        )
    elif jimeng is not None:
        collect(problems, lambda: jimeng.engine_config(required=bool(keys)))  # a malformed session id list
    if problems or settings is None or jimeng is None:
        print(report("jimeng-api", problems), file=sys.stderr)
        return 2
    secrets = [t.sessionid for t in parse_tokens(raw_ids)] + keys
    redactor = setup_logging(jimeng.log_level, secrets)
    app = create_app(settings, jimeng=jimeng, redactor=redactor)
    mode = "server" if keys else "Bearer-session"

    def listening(_banner: str) -> None:  # run_app calls it once the store is open and the socket is bound
        log.info("listening on http://%s:%d (%s mode)", settings.host, settings.port, mode)

    try:
        web.run_app(
            app, host=settings.host, port=settings.port, print=listening, access_log=logging.getLogger("api.access")
        )
    except StoreUnavailableError as err:  # JIMENG_DATABASE_URL unreachable at start: one line, password masked
        print(f"jimeng-api: {err.message}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        print(f"cannot listen on {settings.host}:{settings.port}: {err.strerror or err}", file=sys.stderr)
        return 2  # run_app has closed the engine and its store (which waits for its queries: core/store.py)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
