"""What the engine is given: every setting an entry point passes in (core never reads the environment)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.catalogue import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from core.policy import DEFAULT_ACCOUNT_CONCURRENCY, LEASE_S
from core.timings import Timing
from core.tokens import Token


@dataclass(slots=True)
class EngineConfig:
    """Everything the engine needs, passed in by an entry point (core never reads the environment)."""

    tokens: str | Sequence[str | Token] = ""
    upstream_url: str | None = None
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    default_image_model: str = DEFAULT_IMAGE_MODEL
    default_video_model: str = DEFAULT_VIDEO_MODEL
    timing: Timing = field(default_factory=Timing)
    maintenance: bool = True  # daily claim + credit refresh in the background
    load_catalogue: bool = True
    max_resubmits: int = 1
    allow_private_urls: bool = False
    max_download_bytes: int = 20 * 1024 * 1024
    data_dir: Path | None = None  # None: jobs live in memory only, results are not kept locally
    keep_results: bool = True
    retention_days: float = 7.0
    max_storage_mb: int = 2048
    public_base_url: str | None = None  # with link_secret: signed links to kept results (core.links)
    link_secret: str = ""
    # Several processes on one data directory (issue #16, core.shared): this process's id (None: host-pid-random)
    # and how long its lease lasts without a heartbeat (a killed process's slots and jobs come back after it).
    instance_id: str | None = None
    lease_s: float = LEASE_S
    # PostgreSQL instead of the SQLite file in data_dir (issue #16, core.pgstore): processes on several hosts.
    database_url: str | None = None
