"""Our own policy: timings, deadlines, retries, cool-downs and resource limits (not facts about the upstream).

The upstream's protocol is in ``core.wire``; the models in ``core.catalogue``.
"""

from __future__ import annotations

from typing import Final

from core.wire import RET_CONCURRENCY_LIMIT

# --------------------------------------------------------------------------------------------------------------------
# Account cool-downs and rate limits (§8.4)

# Cool-down after risk control / region refusals: exponential from BASE, capped.
COOLDOWN_BASE_S: Final = 60.0
COOLDOWN_MAX_S: Final = 3600.0
RATE_LIMIT_COOLDOWN_S: Final = 15.0
RATE_LIMIT_COOLDOWN_BY_RET: Final[dict[str, float]] = {RET_CONCURRENCY_LIMIT: 3.0}  # concurrency limit: a job ends soon
RATE_LIMIT_RETRIES: Final = 5  # per job, before a rate-limit refusal is reported to the caller
MAX_COOLDOWN_WAIT_S: Final = 30.0  # a job waits for an account cooling down at most this long; longer → error

# --------------------------------------------------------------------------------------------------------------------
# Timing: polling, deadlines, retries (§7.6, §8.4)

IMAGE_DEADLINE_S: Final = 600.0
VIDEO_DEADLINE_S: Final = 3600.0
# Polls come tightly (this interval) only inside a short window around a LEARNED expected finish; before it there
# is one poll near the start of the window, after it polls back off geometrically (BACKOFF_FRACTION of the elapsed
# time), so a job costs a handful of requests whatever its length and is delivered within ~one interval of ready.
IMAGE_POLL_INTERVAL_S: Final = 0.6
VIDEO_POLL_INTERVAL_S: Final = 1.5
# Expected durations before this process has observed any (§7.6: 4 images 2048² ≈ 19 s; Seedance 5 s ≈ 90–170 s).
IMAGE_EXPECTED_S: Final = 18.0
VIDEO_EXPECTED_S: Final = 90.0
FIRST_POLL_FRACTION: Final = 0.85  # first poll at this fraction of the expected finish while nothing is learned
MIN_FIRST_POLL_S: Final = 1.0
WINDOW_FRACTION: Final = 0.015  # learned finish ± (this share of it + one interval): the tight-polling window
BACKOFF_FRACTION: Final = 0.2  # outside the window: next poll after this share of the time elapsed so far
STALL_45_GRACE_S: Final = 120.0  # a job stuck at 45 this long after the expected finish is delivered as partial

HTTP_TIMEOUT_S: Final = 45.0
HTTP_CONNECT_TIMEOUT_S: Final = 10.0
RETRY_ATTEMPTS: Final = 3
RETRY_BASE_S: Final = 0.5
RETRY_MAX_S: Final = 8.0

CREDIT_REFRESH_S: Final = 30 * 60.0
DEFAULT_ACCOUNT_CONCURRENCY: Final = 2
# Callers' own accounts (API Bearer mode) remembered at once; idle ones beyond are forgotten.
MAX_ADHOC_ACCOUNTS: Final = 1000

# --------------------------------------------------------------------------------------------------------------------
# Uploads and reference images

STS_CACHE_TTL_S: Final = 25 * 60.0  # AICF caches the STS for 25 min; it lives about 1 h (§3.5)
STS_EXPIRY_MARGIN_S: Final = 120.0  # refresh earlier than the token's own ``expired_time`` by this much
UPLOAD_CONCURRENCY: Final = 3  # references uploaded in parallel per request
UPLOAD_ATTEMPTS: Final = 3  # whole Apply→bytes→Commit flow, on transient faults
UPLOAD_RETRY_BASE_S: Final = 0.5
UPLOAD_TIMEOUT_S: Final = 120.0
UPLOAD_MAX_EDGE: Final = 4096  # ours: upstream's limit is unknown (§10); the web app's 4k outputs are ≤ 6197 px
UPLOAD_MAX_BYTES: Final = 10 * 1024 * 1024  # ours, as above; larger images are re-encoded / downscaled
UPLOAD_JPEG_QUALITY: Final = 92
SOURCE_MAX_PIXELS: Final = 80_000_000  # refuse to decode anything bigger (decompression bombs)

# Fetching references from URLs (ours, not upstream's).
DOWNLOAD_MAX_BYTES: Final = 20 * 1024 * 1024
DOWNLOAD_CONNECT_TIMEOUT_S: Final = 10.0
DOWNLOAD_READ_TIMEOUT_S: Final = 30.0
DOWNLOAD_TOTAL_TIMEOUT_S: Final = 90.0
DOWNLOAD_MAX_REDIRECTS: Final = 3
PREPARE_CONCURRENCY: Final = 4  # references downloaded / decoded in parallel per request
