"""Signed, expiring links to kept results, so a result outlives upstream's URLs (valid for hours) (issue #16).

A link names a job and a file index and carries its expiry and an HMAC-SHA256 over both, keyed with a secret every
process of one installation shares (``JIMENG_LINK_SECRET``). Any process that can read the job's record and its kept
copy can serve the link; none needs to remember having issued it. A link lives as long as the kept copy is due to:
the job's completion time plus the retention period (the disk cap may evict a file sooner — then the link answers
"gone").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from core.errors import InvalidRequestError
from core.jobs import JobRecord, JobState

MIN_SECRET_CHARS = 16  # shorter secrets can be guessed offline from one link
FILES_PATH = "/v1/files"  # where the API serves them


class LinkError(InvalidRequestError):
    """A link that is forged, altered or past its expiry. ``gone`` tells an expired link from a forged one."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message, code="link_expired" if gone else "link_invalid")
        self.gone = gone


@dataclass(frozen=True, slots=True)
class ResultLinks:
    base_url: str  # public address of the API, e.g. https://jimeng.example.org (no trailing slash needed)
    secret: bytes
    retention_s: float
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the link secret must have at least {MIN_SECRET_CHARS} characters")

    def _sig(self, job_id: str, index: int, expires: int) -> str:
        mac = hmac.new(self.secret, f"{job_id}\n{index}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def expires_for(self, record: JobRecord) -> int:
        """When the kept copy of ``record``'s results is due to be evicted (the link's expiry)."""
        return int((record.updated_at or self.clock()) + self.retention_s)  # a finished record's last write

    def url(self, record: JobRecord, index: int) -> str | None:
        """A signed link to file ``index`` of a finished job, or None when there is no such file or it expired."""
        if record.state != JobState.SUCCEEDED.value or record.result is None:
            return None
        assets = record.result.get("assets", [])
        if not 0 <= index < len(assets) or not assets[index].get("path"):
            return None  # no such file, or it was never kept (a link to it could only answer "gone")
        expires = self.expires_for(record)
        if expires <= self.clock():
            return None
        query = urlencode({"expires": expires, "sig": self._sig(record.id, index, expires)})
        return f"{self.base_url.rstrip('/')}{FILES_PATH}/{quote(record.id, safe='')}/{index}?{query}"

    def check(self, job_id: str, index: int, expires: str, sig: str) -> None:
        """Raise ``LinkError`` unless the signature is ours and the link has not expired."""
        try:
            when = int(expires)
        except ValueError:
            raise LinkError("this link is malformed (expires)") from None
        if not hmac.compare_digest(self._sig(job_id, index, when).encode(), sig.encode()):
            raise LinkError("this link's signature is not valid")
        if when <= self.clock():
            raise LinkError("this link has expired", gone=True)
