"""Errors are classified once, in core: whose fault an upload failure is, and when a refused job may be retried.
Front ends only map these classes to their own status or words."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.daily import CHINA_TZ, seconds_to_reset
from core.errors import (
    QuotaError,
    RateLimitError,
    RiskControlError,
    UploadError,
    UpstreamUploadError,
    classify_ret,
    error_from_dict,
)
from core.media import RefImage
from core.params import ImageParams
from core.policy import RATE_LIMIT_COOLDOWN_S
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, make_png


def test_seconds_to_the_daily_reset_count_to_midnight_in_beijing() -> None:
    at = datetime(2025, 3, 1, 23, 0, tzinfo=CHINA_TZ).timestamp()
    assert seconds_to_reset(at) == 3600
    assert seconds_to_reset(datetime(2025, 3, 1, 0, 0, tzinfo=CHINA_TZ).timestamp()) == 86400


def test_out_of_credits_says_when_the_credits_come_back() -> None:
    for err in (QuotaError("x"), classify_ret("1006"), error_from_dict(QuotaError("x").to_dict())):
        assert isinstance(err, QuotaError)
        assert 0 < err.retry_after <= 86400
        assert abs(err.retry_after - seconds_to_reset()) < 5


def test_a_rate_limit_always_says_when_to_retry() -> None:
    assert RateLimitError("x").retry_after == RATE_LIMIT_COOLDOWN_S
    assert RateLimitError("x", retry_after=2.5).retry_after == 2.5
    assert classify_ret("1019").retry_after > 0 and isinstance(classify_ret("1019"), RiskControlError)
    original = RateLimitError("x", retry_after=42.0, ret="1310")
    restored = error_from_dict(original.to_dict())
    assert isinstance(restored, RateLimitError) and restored.retry_after == 42.0
    assert restored.retry_at == original.retry_at  # "try again at" reads the same in /jobs as in the live status
    legacy = {k: v for k, v in RateLimitError("x").to_dict().items() if k != "retry_after"}  # a row from before
    assert error_from_dict(legacy).retry_after == RATE_LIMIT_COOLDOWN_S  # type: ignore[attr-defined]


def test_an_upstream_upload_failure_is_an_upload_error_of_its_own_class() -> None:
    err = UpstreamUploadError("reference image 2 could not be uploaded: boom", index=1, ret="5000")
    assert isinstance(err, UploadError) and err.index == 1 and err.kind == "upload"
    restored = error_from_dict(err.to_dict())
    assert type(restored) is UpstreamUploadError and restored.message == err.message


async def test_a_reference_jimeng_cannot_store_fails_the_job_as_upstreams_fault(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    async with make_engine() as engine:
        fake_jimeng.upload_faults = ["commit_500"] * 3
        job = await engine.compose(ImageParams(prompt="x", count=1), [RefImage.from_bytes(make_png(), name="a.png")])
        with pytest.raises(UpstreamUploadError, match="reference image 1 could not be uploaded"):
            await job.wait()


async def test_a_reference_that_is_not_an_image_is_the_callers_to_fix(make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        with pytest.raises(UploadError) as exc:
            await engine.compose(ImageParams(prompt="x", count=1), [RefImage.from_bytes(b"not an image")])
    assert not isinstance(exc.value, UpstreamUploadError) and exc.value.index == 0
