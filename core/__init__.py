"""The async Jimeng engine. Imports nothing from Discord or from an HTTP server framework.

The interface front ends use (Engine, jobs, events, errors, downloads) is described in docs/CORE.md.
"""

import logging

from core.accounts import Account, AccountState, AccountStatus, ClaimResult, Credits
from core.config import EngineConfig
from core.engine import Engine
from core.errors import (
    APIError,
    AuthError,
    ContentRejectedError,
    DecodeError,
    GenerationFailedError,
    InvalidRequestError,
    JimengError,
    JobCancelledError,
    JobTimeoutError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RegionError,
    RequestTimeoutError,
    RiskControlError,
    StoreUnavailableError,
    TransportError,
    UploadError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamUploadError,
)
from core.jobs import Job, JobEvent, JobRecord, JobResult, JobState, JobStore, MemoryJobStore
from core.params import ImageParams, VideoParams
from core.registry import ModelInfo
from core.results import Asset
from core.retention import Download
from core.timings import Timing
from core.tokens import Token, mask, parse_tokens

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "APIError",
    "Account",
    "AccountState",
    "AccountStatus",
    "Asset",
    "AuthError",
    "ClaimResult",
    "ContentRejectedError",
    "Credits",
    "DecodeError",
    "Download",
    "Engine",
    "EngineConfig",
    "GenerationFailedError",
    "ImageParams",
    "InvalidRequestError",
    "JimengError",
    "Job",
    "JobCancelledError",
    "JobEvent",
    "JobRecord",
    "JobResult",
    "JobState",
    "JobStore",
    "JobTimeoutError",
    "MemoryJobStore",
    "ModelInfo",
    "NoAccountError",
    "QuotaError",
    "RateLimitError",
    "RegionError",
    "RequestTimeoutError",
    "RiskControlError",
    "StoreUnavailableError",
    "Timing",
    "Token",
    "TransportError",
    "UploadError",
    "UpstreamError",
    "UpstreamRejectedError",
    "UpstreamUploadError",
    "VideoParams",
    "mask",
    "parse_tokens",
]
