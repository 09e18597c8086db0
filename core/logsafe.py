"""Logging helpers: one place that keeps secrets out of log records.

``install_redaction`` adds a filter to the root handlers that masks every registered secret (session ids, API keys)
and anything that looks like a ``sessionid=`` cookie, whatever module logged it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from core.tokens import mask

_COOKIE_RE = re.compile(r"(sessionid(?:_ss)?|sid_tt|sid_guard)=([^;\s&\"']+)", re.IGNORECASE)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= 6}

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, mask(s))
        return _COOKIE_RE.sub(lambda m: f"{m.group(1)}={mask(m.group(2))}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactingFilter:
    """Configure the root logger once (entry points only) with secret redaction on every handler."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redactor = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor
