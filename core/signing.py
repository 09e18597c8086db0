"""The ``Sign`` header (PROTOCOL.md §2.3) and the cookie built from a session id (PROTOCOL.md §2.4)."""

from __future__ import annotations

import hashlib

from core.wire import APP_VERSION, PLATFORM_CODE, SIGN_PATH_CHARS, SIGN_PREFIX, SIGN_SUFFIX


def sign(path: str, device_time: int | str, *, app_version: str = APP_VERSION, tdid: str = "") -> str:
    """md5("9e2c|" + last 7 chars of the URL path + "|7|8.4.0|" + device_time + "|" + tdid + "|11ac")."""
    path_only = path.split("?", 1)[0]
    tail = path_only[-SIGN_PATH_CHARS:]
    raw = "|".join((SIGN_PREFIX, tail, PLATFORM_CODE, app_version, str(device_time), tdid, SIGN_SUFFIX))
    return hashlib.md5(raw.encode()).hexdigest()


def cookie(sessionid: str, web_id: str) -> str:
    """Minimal cookie: only ``sessionid`` authenticates (AICF); ``_tea_web_id`` must equal the ``webId`` query (FRAN)."""
    return f"_tea_web_id={web_id}; sessionid={sessionid}; sessionid_ss={sessionid}; sid_tt={sessionid}"
