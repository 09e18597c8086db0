"""``python -m api.healthcheck``: exit 0 when the API on this machine answers ``/healthz``, else 1 (Docker's check).

It reads ``API_HOST`` / ``API_PORT`` exactly as ``python -m api`` does (environment, then ``.env``), so the check
follows the port the server was given instead of a number written into the image.
"""

from __future__ import annotations

import sys
import urllib.request

from api.settings import ApiSettings

TIMEOUT_S = 4.0
_ANY = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # a wildcard bind answers on loopback


def url(settings: ApiSettings) -> str:
    host = _ANY.get(settings.host, settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"


def main() -> int:
    try:
        target = url(ApiSettings())
        with urllib.request.urlopen(target, timeout=TIMEOUT_S) as resp:
            ok = resp.status == 200
    except Exception as err:  # any failure is "unhealthy"; say why in one line (docker inspect shows it)
        print(f"unhealthy: {err}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
