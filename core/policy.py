"""Our own policy: timings, deadlines, retries, cool-downs and resource limits (not facts about the upstream).

The upstream's protocol is in ``core.wire``; the models in ``core.catalogue``.
"""

from __future__ import annotations

from typing import Final

from core.wire import RET_CONCURRENCY_LIMIT

# --------------------------------------------------------------------------------------------------------------------
# Account cool-downs and rate limits (PROTOCOL.md §10.4)

# Cool-down after risk control / region refusals: exponential from BASE, capped.
COOLDOWN_BASE_S: Final = 60.0
COOLDOWN_MAX_S: Final = 3600.0
RATE_LIMIT_COOLDOWN_S: Final = 15.0
RATE_LIMIT_COOLDOWN_BY_RET: Final[dict[str, float]] = {RET_CONCURRENCY_LIMIT: 3.0}  # concurrency limit: a job ends soon
RATE_LIMIT_RETRIES: Final = 5  # per job, before a rate-limit refusal is reported to the caller
MAX_COOLDOWN_WAIT_S: Final = 30.0  # a job waits for an account cooling down at most this long; longer → error

# --------------------------------------------------------------------------------------------------------------------
# Timing: polling, deadlines, retries (PROTOCOL.md §8.4, §10.4)

IMAGE_DEADLINE_S: Final = 600.0
VIDEO_DEADLINE_S: Final = 3600.0
# Polling (issue #11; PROTOCOL.md §8.1, §8.4 — ours, not upstream's). With nothing learned for a model, the first
# poll comes FIRST_POLL_S after generation should start (upstream's queue forecast, PROTOCOL.md §10.2), then the gap grows with
# the time elapsed (COLD_LAG_FRACTION of it, at least COLD_MIN_GAP_S), so a job of any length is delivered within a
# small fraction of its duration. With learned timings (core.timings), polls come every Δ inside a window sized from
# the spread observed so far: Δ = window / WINDOW_POLLS, between the INTERVAL and the MAX_GAP below.
FIRST_POLL_S: Final = 1.0
IMAGE_POLL_INTERVAL_S: Final = 0.5  # the shortest gap between two polls of one job
VIDEO_POLL_INTERVAL_S: Final = 1.0
IMAGE_MAX_GAP_S: Final = 1.0  # the longest gap inside a learned window: the worst lag of a job that lands in it
VIDEO_MAX_GAP_S: Final = 1.8  # under the 2 s video lag budget (issue #11): a job inside the window is found within it
WINDOW_POLLS: Final = 2.5  # polls spread over a learned window (fewer: cheaper, more lag; more: the opposite)
IMAGE_COLD_LAG_FRACTION: Final = 0.085  # a 20 s image job found ≤ 1.8 s after it is ready on the very first run
VIDEO_COLD_LAG_FRACTION: Final = 0.05  # finer than images: the first video teaches the next one a narrower window
IMAGE_COLD_MIN_GAP_S: Final = 1.0
VIDEO_COLD_MIN_GAP_S: Final = 1.5
MAX_POLL_GAP_S: Final = 30.0
# In a long upstream line, look this often: its place moves on in the status (the elapsed time and ETA tick there
# without a request), and each look is a reading of the line's pace. 15 s cost a 180 s video behind a 70 s line four
# looks and broke its 8-request budget on the queue-positions variant (issue #11); every half minute is enough.
QUEUE_REFRESH_S: Final = 30.0
# Upstream's line (PROTOCOL.md §10.2): its forecast_queue_cost places the generation start, and so the learned window.
# How inexact it is gets learned per model as DRIFT (seconds its forecast end moves per second waited; 0 = exact);
# while a forecast may be off by more than a poll gap, the job is looked at again before it may start, to re-read it.
LINE_PRIOR_DRIFT: Final = 0.5  # assumed until readings prove less (and the most a short wait can prove)
LINE_DRIFT_KEEP: Final = 6  # drift readings kept per model; the largest of them is used
LINE_ROUNDING_S: Final = 1.0  # forecast_queue_cost comes in whole seconds
# Expected durations (PROTOCOL.md §10.4: 4 images 2048² ≈ 19 s; Seedance 5 s ≈ 90–170 s). They no longer place any poll: only
# the ETA shown before anything is learned is None, and a job stuck at 45 is judged against learned timings or these.
IMAGE_EXPECTED_S: Final = 18.0
VIDEO_EXPECTED_S: Final = 90.0
VANISHED_POLLS: Final = 5  # a job whose record upstream had, then lost, fails after this many polls in a row find none
STALL_45_GRACE_S: Final = 120.0  # a job stuck at 45 this long after the expected finish is delivered as partial
# Learned timings (core.timings): observations kept per model key, and how many of the newest set the estimate.
TIMING_KEEP: Final = 8
TIMING_RECENT: Final = 3
TIMING_PAD_S: Final = 0.15  # the narrowest half-window, whatever the spread seen
AHEAD_STEPS_MAX: Final = 3  # jobs ready at their first look move the next window down by a step each, at most this many

HTTP_TIMEOUT_S: Final = 45.0
HTTP_CONNECT_TIMEOUT_S: Final = 10.0
RETRY_ATTEMPTS: Final = 3
RETRY_BASE_S: Final = 0.5
RETRY_MAX_S: Final = 8.0

CREDIT_REFRESH_S: Final = 30 * 60.0
DEFAULT_ACCOUNT_CONCURRENCY: Final = 2
# Admission (issue #13): jobs waiting in our line per account a job could use; one more is refused (RateLimitError)
# and told to come back after QUEUE_FULL_RETRY_S, instead of queueing without limit behind a busy session id.
MAX_QUEUED_PER_ACCOUNT: Final = 10
QUEUE_FULL_RETRY_S: Final = 10.0
# Callers' own accounts (API Bearer mode) remembered at once; idle ones beyond are forgotten.
MAX_ADHOC_ACCOUNTS: Final = 1000
# Several processes on one data directory (issue #16, core.shared): a process's lease lasts LEASE_S and is renewed
# every third of it; a process that stops renewing it (killed on another host) loses its slots and jobs after that.
LEASE_S: Final = 30.0
CLAIM_LEASE_S: Final = 60.0  # a daily claim in progress; past this a crashed claimer's turn passes to another
# A process alone on the store renews its lease and looks for others at every beat, but sweeps slots, scans for
# orphans and re-reads others' timings only every QUIET_FULL_EVERY-th beat (CPU of an idle process; issue #16).
QUIET_FULL_EVERY: Final = 3
# One poller per account across processes (core.pollshare): the process polling an account for all holds its poll
# lease this long, renewed while it polls (a dead poller's accounts pass to another after it). On SQLite the others
# are not notified: the poller reads new due times every SHARED_WATCH_S, the others its looks as often, and every
# SHARED_LOOK_S while one of their jobs is overdue (a look's lag grows by up to that).
POLL_LEASE_S: Final = 5.0
SHARED_WATCH_S: Final = 0.25
SHARED_LOOK_S: Final = 0.1
SLOT_POLL_S: Final = 0.5  # a job waiting for a slot another process holds looks at the store again this often

# --------------------------------------------------------------------------------------------------------------------
# Uploads and reference images

STS_CACHE_TTL_S: Final = 25 * 60.0  # AICF caches the STS for 25 min; it lives about 1 h (PROTOCOL.md §4.1)
STS_EXPIRY_MARGIN_S: Final = 120.0  # refresh earlier than the token's own ``expired_time`` by this much
UPLOAD_CONCURRENCY: Final = 3  # references uploaded in parallel per request
UPLOAD_ATTEMPTS: Final = 3  # whole Apply→bytes→Commit flow, on transient faults
UPLOAD_RETRY_BASE_S: Final = 0.5
UPLOAD_TIMEOUT_S: Final = 120.0
UPLOAD_MAX_EDGE: Final = (
    4096  # ours: upstream's limit is unknown (PROTOCOL.md §4.4); the web app's 4k outputs are ≤ 6197 px
)
UPLOAD_MAX_BYTES: Final = 10 * 1024 * 1024  # ours, as above; larger images are re-encoded / downscaled
UPLOAD_JPEG_QUALITY: Final = 92
SOURCE_MAX_PIXELS: Final = 80_000_000  # refuse to decode anything bigger (decompression bombs)
# Decoded pixels (issue #13; core.decoding). Process-wide: decodes wait while the pixels held would pass this (about
# one 8000 px image, ~200 MB as RGB). Per request: the sum over its references after JPEG draft reduction; more is
# refused (four 8000 × 8000 references pass, five do not).
DECODE_BUDGET_PIXELS: Final = 80_000_000
REQUEST_DECODE_MAX_PIXELS: Final = 260_000_000

# Fetching references from URLs (ours, not upstream's).
DOWNLOAD_MAX_BYTES: Final = 20 * 1024 * 1024
DOWNLOAD_CONNECT_TIMEOUT_S: Final = 10.0
DOWNLOAD_READ_TIMEOUT_S: Final = 30.0
DOWNLOAD_TOTAL_TIMEOUT_S: Final = 90.0
DOWNLOAD_MAX_REDIRECTS: Final = 3
PREPARE_CONCURRENCY: Final = 4  # references downloaded / decoded in parallel per request

# Image tools (issue #14; PROTOCOL.md §11.1). Upstream's size limits are unknown: these are ours, so a tool is refused
# before any upload or credit instead of failing upstream. The observed sources were 2048² and 2560×1440.
TOOL_MIN_EDGE: Final = 256  # the shorter edge of a source image
TOOL_MAX_EDGE: Final = 4096  # the longer edge (the upload edge, UPLOAD_MAX_EDGE): an upscale doubles it
OUTPAINT_ZOOM_RANGE: Final = (1.1, 3.0)  # canvas = zoom × source; the web app's 0.9 per side is a 2.8× zoom
OUTPAINT_MAX_EXTENT: Final = 1.0  # per side, as a fraction of the source's width or height
OUTPAINT_DEFAULT_ZOOM: Final = 1.5
OUTPAINT_COUNTS: Final = (1, 2, 3, 4)  # upstream's default is 4 (gen_count); ours is 1
