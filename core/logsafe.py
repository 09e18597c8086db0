"""Logging helpers: one place that keeps secrets out of log records.

``setup_logging`` adds a filter to the root handlers that masks every secret it was told about, whatever module logged
it, and anything that looks like a ``sessionid=`` cookie or an ``Authorization: Bearer`` value.

Two kinds of secret, two stores:

* the operator's own (configured session ids, API keys, the Discord token): a fixed handful, kept exactly;
* session ids that callers bring in Bearer mode (``add``): any number over the process's life. These go into a Bloom
  filter of fixed size, so memory and the work per log line stay the same after a million callers, and no id is ever
  forgotten (a Bloom filter has no false negatives). Its false positives only mask a harmless substring that happens
  to collide — masking too much is the safe direction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from core.tokens import mask

_COOKIE_RE = re.compile(r"(sessionid(?:_ss)?|sid_tt|sid_guard)=([^;\s&\"']+)", re.IGNORECASE)
# "Bearer <credential>": a value of ≥ 12 characters with a digit (not the words of "Bearer session mode").
_BEARER_RE = re.compile(r"(bearer\s+)(?![^\s,;\"']*…)((?=[^\s,;\"']*\d)[^\s,;\"']{12,})", re.IGNORECASE)
# A run of session-id characters (core/tokens.py accepts [A-Za-z0-9_-]{8,256}); a seen id is a window inside one.
_RUN_RE = re.compile(r"[A-Za-z0-9_\-]{8,}")
_MIN_SECRET = 6
_SID_MIN, _SID_MAX = 8, 256

BLOOM_BITS = 1 << 21  # 256 KiB: false-positive rate per window ≈ 5e-10 after 10,000 ids, ≈ 2e-4 after 100,000
BLOOM_HASHES = 6


class _Bloom:
    """A fixed-size set of strings that answers "maybe seen" or "certainly not seen"."""

    def __init__(self, bits: int = BLOOM_BITS, hashes: int = BLOOM_HASHES) -> None:
        self._bits = bytearray(bits // 8)
        self._size = bits
        self._k = hashes

    def _indexes(self, item: str) -> list[int]:
        h = hash(item) & 0xFFFF_FFFF_FFFF_FFFF
        h1, h2 = h & 0xFFFF_FFFF, (h >> 32) | 1
        return [(h1 + i * h2) % self._size for i in range(self._k)]

    def add(self, item: str) -> None:
        for i in self._indexes(item):
            self._bits[i >> 3] |= 1 << (i & 7)

    def __contains__(self, item: str) -> bool:
        bits = self._bits
        return all(bits[i >> 3] & (1 << (i & 7)) for i in self._indexes(item))

    @property
    def nbytes(self) -> int:
        return len(self._bits)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= _MIN_SECRET}
        self._seen = _Bloom()
        self._lengths: set[int] = set()  # lengths of the seen ids: at most 249 values (8…256)

    def add(self, *secrets: str) -> None:
        """Remember callers' session ids (any number: memory stays fixed)."""
        for s in secrets:
            if s and _SID_MIN <= len(s) <= _SID_MAX and _RUN_RE.fullmatch(s):
                self._seen.add(s)
                self._lengths.add(len(s))
            elif s and len(s) >= _MIN_SECRET and len(self._secrets) < 64:  # not id-shaped: a rare, exact secret
                self._secrets.add(s)

    @property
    def memory_bytes(self) -> int:
        """What the filter holds for seen ids: fixed, whatever the number of ids (for tests and /metrics)."""
        return self._seen.nbytes + 8 * len(self._lengths)

    def _mask_run(self, run: str) -> str:
        lengths = sorted((n for n in self._lengths if n <= len(run)), reverse=True)
        if not lengths:
            return run
        out: list[str] = []
        i = last = 0
        while i <= len(run) - lengths[-1]:
            for n in lengths:
                window = run[i : i + n]
                if len(window) == n and window in self._seen:
                    out.append(run[last:i] + mask(window))
                    i = last = i + n
                    break
            else:
                i += 1
        return "".join(out) + run[last:] if out else run

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, mask(s))
        if self._lengths:
            text = _RUN_RE.sub(lambda m: self._mask_run(m.group()), text)
        text = _BEARER_RE.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}", text)
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
