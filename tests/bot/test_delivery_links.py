"""Files too large for Discord are linked to our signed copy when links are on (issue #16 item 4), upstream's otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.delivery import plan_delivery
from bot.render import link_expiry
from core import Engine, EngineConfig, ImageParams, JobResult
from emulator import FakeJimeng
from tests.core.support import FAST, sid

SECRET = "links-secret-for-the-bot-tests"


@pytest.fixture
async def fake() -> AsyncIterator[FakeJimeng]:
    fake = FakeJimeng(image_seconds=0.2)
    await fake.start()
    fake.add_account(sid(1), credits=10_000)
    try:
        yield fake
    finally:
        await fake.close()


async def finished(engine: Engine) -> tuple[str, JobResult, int]:
    job = await engine.imagine(ImageParams(prompt="a lighthouse", count=1))
    result = await engine.settled(job.id)
    assert result is not None and result.assets[0].path
    return job.id, result, Path(result.assets[0].path).stat().st_size


def engine_for(http: aiohttp.ClientSession, fake: FakeJimeng, data_dir: Path, secret: str) -> Engine:
    config = EngineConfig(
        tokens=sid(1),
        upstream_url=fake.url,
        timing=FAST,
        maintenance=False,
        data_dir=data_dir,
        public_base_url="https://jimeng.example.org",
        link_secret=secret,
    )
    return Engine(http, config)


async def test_an_oversized_result_links_to_our_kept_copy(fake: FakeJimeng, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        engine = engine_for(http, fake, tmp_path, SECRET)
        await engine.start()
        try:
            job_id, result, _ = await finished(engine)
            plan = await plan_delivery(engine, result.assets, 64, stem="r", job_id=job_id)  # nothing fits 64 bytes
            assert not plan.uploads
            [(_name, url)] = plan.links
            assert url.startswith(f"https://jimeng.example.org/v1/files/{job_id}/0?")
            assert link_expiry(url) is not None  # the embed says when our link expires

            job_id, result, size = await finished(engine)
            plan = await plan_delivery(engine, result.assets, size - 1, stem="r", job_id=job_id)
            [upload] = plan.uploads
            assert upload.reencoded
            [(_name, url)] = plan.links  # and the full-quality original stays reachable
            assert url.startswith("https://jimeng.example.org/v1/files/")
        finally:
            await engine.close()


async def test_without_links_an_oversized_result_links_upstream(fake: FakeJimeng, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        engine = engine_for(http, fake, tmp_path, "")
        await engine.start()
        try:
            job_id, result, size = await finished(engine)
            plan = await plan_delivery(engine, result.assets, 64, stem="r", job_id=job_id)
            [(_name, url)] = plan.links
            assert url == result.assets[0].url and url.startswith(fake.url)
            plan = await plan_delivery(engine, result.assets, size - 1, stem="r", job_id=job_id)
            assert plan.uploads[0].reencoded and not plan.links  # no original link: upstream's would expire in hours
        finally:
            await engine.close()
