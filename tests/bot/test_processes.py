"""Three real processes on one data directory and one Jimeng account (issue #16): two ``python -m api`` and the bot.

The bot is ``python -m bot`` against the fake Discord (the launcher only points discord.py's two URLs at it, as
tests/bot/test_operations.py does); the APIs are ``python -m api`` in server mode. All three share
``JIMENG_DATA_DIR`` (SQLite) and ``JIMENG_SESSION_IDS`` with ``JIMENG_ACCOUNT_CONCURRENCY=2``. What the emulator saw is
the judge: how many jobs ran on the account at once, how often each submit_id was sent, how often the daily claim was
made. A short lease (``JIMENG_LEASE_SECONDS=3``) keeps the kill -9 part bounded.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from core.wire import PATH_CREDIT_RECEIVE, PATH_GENERATE
from emulator import FakeJimeng
from tests.bot.support import result
from tests.bot.test_operations import LAUNCH
from tests.core.support import sid
from tests.fakes.discord import FakeDiscord
from tests.processes import child_env, free_port, spawn, stop_all, until_ready

KEY = "sk-three-processes-0123"
ACCOUNT = sid("three-processes")
LEASE_S = 3.0
VIDEO_S = 5.0

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL"),
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),  # the SDK's video calls: our wire shape
]


class Proc:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path, url: str = "") -> None:
        self.name, self.proc, self.log, self.url = name, proc, log, url

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=KEY, max_retries=0, timeout=90.0)


class Three:
    """The emulator, the fake Discord and the three processes on one data directory."""

    def __init__(self, jimeng: FakeJimeng, discord: FakeDiscord, tmp: Path) -> None:
        self.jimeng, self.discord, self.tmp = jimeng, discord, tmp
        self.procs: list[Proc] = []

    def _env(self, **extra: str) -> dict[str, str]:
        return child_env(
            JIMENG_SESSION_IDS=ACCOUNT,
            JIMENG_UPSTREAM_URL=self.jimeng.url,
            JIMENG_DATA_DIR=str(self.tmp / "data"),  # one data directory for every process
            JIMENG_ACCOUNT_CONCURRENCY="2",
            JIMENG_LEASE_SECONDS=str(LEASE_S),
            JIMENG_IMAGE_EXPECTED_S="1",
            JIMENG_VIDEO_EXPECTED_S="3",
            JIMENG_LOG_LEVEL="INFO",
            **extra,
        )

    async def _spawn(self, name: str, args: list[str], env: dict[str, str], url: str = "") -> Proc:
        log = self.tmp / f"{name}.log"
        p = Proc(name, await spawn(args, cwd=self.tmp, env=env, log=log), log, url)
        self.procs.append(p)
        return p

    async def api(self, name: str) -> Proc:
        port = free_port()
        env = self._env(API_PORT=str(port), API_KEYS=KEY, API_MAX_ACTIVE_JOBS="0")
        p = await self._spawn(name, ["-m", "api"], env, f"http://127.0.0.1:{port}")
        await until_ready(p.url, p.proc, p.log, name)
        return p

    async def bot(self) -> Proc:
        env = self._env(DISCORD_TOKEN=self.discord.token, DISCORD_MEMBER_JOBS="10", DISCORD_STATUS_INTERVAL="1.5")
        args = ["-c", LAUNCH, self.discord.api_base, self.discord.gateway_url]
        p = await self._spawn("bot", args, env)
        for _ in range(600):
            if "connected to Discord" in p.text():  # on_ready: every shard's servers are in
                return p
            assert p.proc.returncode is None, p.text()
            await asyncio.sleep(0.05)
        pytest.fail(f"the bot did not become ready: {p.text()}")

    async def close(self) -> None:
        await stop_all(p.proc for p in self.procs)


@pytest.fixture
async def three(discord_fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Three]:
    # Items only at status 50: a job harvested during 45 still runs at the emulator, which would make "at once" here
    # mean more than our slots do.
    jimeng = FakeJimeng(image_seconds=1.5, video_seconds=VIDEO_S, items_during_45=False)
    await jimeng.start()
    jimeng.add_account(ACCOUNT, credits=100_000)
    world = Three(jimeng, discord_fake, tmp_path)
    try:
        yield world
    finally:
        await world.close()
        await jimeng.close()


def _most_at_once(fake: FakeJimeng) -> int:
    """The most jobs the emulator had running on the account at one moment (from submit to its end upstream)."""
    edges: list[tuple[float, int]] = []
    for job in fake.jobs.values():
        if job.sessionid == ACCOUNT:
            edges += [(job.started, 1), (job.started + job.queue_s + job.duration, -1)]
    most = now = 0
    for _, step in sorted(edges):  # an end before a start at the same instant
        now += step
        most = max(most, now)
    return most


def _submits(fake: FakeJimeng) -> Counter[str]:
    return Counter(str((r.json or {}).get("submit_id")) for r in fake.calls(PATH_GENERATE))


async def _image(api: Proc, prompt: str) -> str:
    async with api.client() as client:
        res = await client.images.generate(prompt=prompt, n=1)
    assert res.data and res.data[0].url
    return res.data[0].url


async def _imagine(discord: FakeDiscord, prompt: str) -> dict[str, Any]:
    ix = await discord.slash("imagine", {"prompt": prompt, "count": 1})
    msg = await result(discord, ix, timeout=90)
    assert msg["embeds"][0]["description"] == prompt and msg["attachments"], msg
    return msg


async def test_two_apis_and_the_bot_share_one_account_and_survive_a_kill_9(three: Three) -> None:
    jimeng, discord = three.jimeng, three.discord
    a, b = await asyncio.gather(three.api("api-a"), three.api("api-b"))
    bot = await three.bot()
    for _ in range(200):  # each process runs the daily claim in the background as it starts
        if jimeng.calls(PATH_CREDIT_RECEIVE, ACCOUNT):
            break
        await asyncio.sleep(0.05)

    # 1. Nine jobs at once — three to each API, three /imagine in Discord — on an account limited to 2 at once.
    work = [_image((a, b)[i % 2], f"a lighthouse {i}") for i in range(6)]
    work += [_imagine(discord, f"a harbour {i}") for i in range(3)]
    await asyncio.wait_for(asyncio.gather(*work), 120)
    assert len(jimeng.jobs) == 9
    assert _most_at_once(jimeng) == 2, "the three processes together exceeded (or never used) the account's 2 slots"
    assert set(_submits(jimeng).values()) == {1}  # every job was sent once

    # 2. kill -9 of API A while its two videos run upstream: they finish through B or the bot, never sent again;
    # meanwhile a Discord job and a request to B wait for the slots A's jobs still hold.
    async with a.client() as client:
        videos = [
            await client.videos.create(prompt=f"a paper boat {i}", model="jimeng-video-3.0", seconds="5")
            for i in range(2)
        ]
    for _ in range(200):  # both submitted upstream by A
        if len(jimeng.jobs) == 11:
            break
        await asyncio.sleep(0.05)
    assert len(jimeng.jobs) == 11, a.text()
    a.proc.send_signal(signal.SIGKILL)
    await a.proc.wait()
    killed = time.monotonic()
    later = asyncio.gather(_imagine(discord, "a harbour after the kill"), _image(b, "a lighthouse after the kill"))
    done: dict[str, float] = {}
    async with b.client() as client:
        while len(done) < 2 and time.monotonic() - killed < 45:
            for v in videos:
                if v.id not in done:
                    got = await client.videos.retrieve(v.id)
                    assert got.status != "failed", got
                    if got.status == "completed":
                        done[v.id] = time.monotonic() - killed
            await asyncio.sleep(0.2)
    assert len(done) == 2, b.text() + bot.text()
    await asyncio.wait_for(later, 60)
    # Within the video's own time plus the lease expiry (and polling), never by submitting again.
    assert max(done.values()) < VIDEO_S + LEASE_S + 10, done
    assert len(jimeng.jobs) == 13 and len(_submits(jimeng)) == 13
    assert set(_submits(jimeng).values()) == {1} and jimeng.duplicate_submits == 0
    assert _most_at_once(jimeng) == 2
    assert "which is gone" in b.text() + bot.text()  # A's jobs were adopted, by whichever noticed first
    assert len(jimeng.calls(PATH_CREDIT_RECEIVE, ACCOUNT)) == 1  # three processes ran the daily claim: one was sent
    for p in (b, bot):
        assert "Traceback" not in p.text(), p.text()
