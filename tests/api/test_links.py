"""Signed result links (issue #16 item 4): a kept result served at an expiring HMAC-signed URL, no Bearer needed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import openai
import pytest
from aiohttp import web
from pydantic import SecretStr

from api.app import create_app
from api.settings import ApiSettings
from core import Engine, EngineConfig, ImageParams
from core.links import ResultLinks
from core.settings import JimengSettings, MissingSettingError, load_settings
from emulator import FakeJimeng
from tests.api.conftest import KEY_A, POOL_SID
from tests.core.support import FAST

SECRET = "a-secret-of-enough-length-42"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def served(
    fake: FakeJimeng, data_dir: Path, clock: Clock, *, secret: str = SECRET
) -> AsyncIterator[tuple[str, Engine]]:
    settings = ApiSettings(_env_file=None, keys=SecretStr(KEY_A), port=0)  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as http:
        config = EngineConfig(
            tokens=POOL_SID,
            upstream_url=fake.url,
            maintenance=False,
            timing=FAST,
            data_dir=data_dir,
            retention_days=1.0,
            public_base_url="http://links.example",
            link_secret=secret,
        )
        engine = Engine(http, config, clock=clock)
        await engine.start()
        runner = web.AppRunner(create_app(settings, engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}", engine
        finally:
            await runner.cleanup()
            await engine.close()


def local(link: str, base: str) -> str:
    return link.replace("http://links.example", base)


async def test_a_kept_result_is_served_at_its_signed_link_until_it_expires(tmp_path: Path) -> None:
    fake = FakeJimeng(image_seconds=0.2)
    await fake.start()
    fake.add_account(POOL_SID, credits=10_000)
    clock = Clock()
    try:
        async with served(fake, tmp_path, clock) as (base, engine), aiohttp.ClientSession() as http:
            job = await engine.imagine(ImageParams(prompt="a lighthouse", count=1))
            result = await job.wait()
            await engine.keeper.settled(job.id)  # type: ignore[union-attr]
            record = await engine.job_record(job.id)
            assert record is not None and engine.links is not None
            link = engine.links.url(record, 0)
            assert link is not None and link.startswith("http://links.example/v1/files/")
            kept = Path((record.result or {})["assets"][0]["path"]).read_bytes()

            async with http.get(local(link, base)) as resp:  # no Authorization header at all
                assert resp.status == 200, await resp.text()
                assert await resp.read() == kept
                assert resp.headers["Content-Type"].startswith("image/")

            query = parse_qs(urlsplit(link).query)
            forged = local(link, base).replace(query["sig"][0], query["sig"][0][:-2] + "AA")
            async with http.get(forged) as resp:
                assert resp.status == 403
                assert (await resp.json())["error"]["code"] == "link_invalid"
            longer = local(link, base).replace(
                f"expires={query['expires'][0]}", f"expires={int(query['expires'][0]) + 9}"
            )
            async with http.get(longer) as resp:
                assert resp.status == 403  # the expiry is signed: a link cannot be stretched
            other_index = local(link, base).replace("/0?", "/1?")
            async with http.get(other_index) as resp:
                assert resp.status == 403  # nor pointed at another file

            assert len(result.images) == 1
            clock.now += 86400 + 1  # past the retention period: the link dies with the kept copy
            async with http.get(local(link, base)) as resp:
                assert resp.status == 410
                assert (await resp.json())["error"]["code"] == "link_expired"
            assert engine.links.url(record, 0) is None
    finally:
        await fake.close()


async def test_an_evicted_copy_is_gone_not_refetched_from_upstream(tmp_path: Path) -> None:
    fake = FakeJimeng(image_seconds=0.2)
    await fake.start()
    fake.add_account(POOL_SID, credits=10_000)
    try:
        async with served(fake, tmp_path, Clock()) as (base, engine), aiohttp.ClientSession() as http:
            job = await engine.imagine(ImageParams(prompt="a lighthouse", count=1))
            await job.wait()
            await engine.keeper.settled(job.id)  # type: ignore[union-attr]
            record = await engine.job_record(job.id)
            assert record is not None and engine.links is not None
            link = engine.links.url(record, 0)
            assert link is not None
            Path((record.result or {})["assets"][0]["path"]).unlink()
            async with http.get(local(link, base)) as resp:
                assert resp.status == 410
                assert (await resp.json())["error"]["code"] == "gone"
            async with http.get(f"{base}/v1/files/{job.id}/x?expires=1&sig=x") as resp:
                assert resp.status == 404
    finally:
        await fake.close()


async def test_links_are_off_without_a_secret(tmp_path: Path) -> None:
    fake = FakeJimeng(image_seconds=0.2)
    await fake.start()
    try:
        async with served(fake, tmp_path, Clock(), secret="") as (base, engine), aiohttp.ClientSession() as http:
            assert engine.links is None
            async with http.get(f"{base}/v1/files/job_x/0?expires=9999999999&sig=abc") as resp:
                assert resp.status == 404
                assert "not enabled" in (await resp.json())["error"]["message"]
    finally:
        await fake.close()


def test_a_short_secret_or_a_schemeless_base_url_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        ResultLinks("http://x", b"short", 60.0)
    monkeypatch.setenv("JIMENG_LINK_SECRET", "short")
    with pytest.raises(MissingSettingError, match="JIMENG_LINK_SECRET"):
        load_settings()
    monkeypatch.setenv("JIMENG_LINK_SECRET", SECRET)
    monkeypatch.setenv("JIMENG_PUBLIC_BASE_URL", "links.example")
    with pytest.raises(MissingSettingError, match="JIMENG_PUBLIC_BASE_URL"):
        load_settings()
    monkeypatch.setenv("JIMENG_PUBLIC_BASE_URL", "https://links.example")
    assert JimengSettings(_env_file=None).engine_config(required=False).link_secret == SECRET  # type: ignore[call-arg]


async def test_with_links_on_the_api_answers_with_our_links(tmp_path: Path) -> None:
    fake = FakeJimeng(image_seconds=0.2)
    await fake.start()
    fake.add_account(POOL_SID, credits=10_000)
    try:
        async with served(fake, tmp_path, Clock()) as (base, _engine), aiohttp.ClientSession() as http:
            async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=KEY_A, max_retries=0) as client:
                answer = await client.images.generate(model="jimeng-4.5", prompt="a lighthouse", n=2)
            urls = [d.url or "" for d in answer.data]
            assert len(urls) == 2 and all(u.startswith("http://links.example/v1/files/") for u in urls)
            for url in urls:
                async with http.get(local(url, base)) as resp:
                    assert resp.status == 200 and (await resp.read())[:4] in (b"RIFF", b"\x89PNG", b"\xff\xd8\xff\xe0")
    finally:
        await fake.close()
