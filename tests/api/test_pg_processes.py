"""Real ``python -m api`` (and ``python -m bot``) processes on PostgreSQL (issue #16, ``JIMENG_DATABASE_URL``).

Each API gets a data directory of its own, as processes on two hosts would: the database is all they share. The
emulator is the judge of what reached Jimeng (tests/api/test_shared_processes.py does the same on one SQLite file).
The database is a throw-away cluster (tests/pg.py); the "lost" test stops and starts one of its own.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import openai
import pytest

from core.wire import PATH_CREDIT_RECEIVE, PATH_HISTORY_BY_IDS
from emulator import FakeJimeng
from tests.api.test_shared_processes import (
    ACCOUNT,
    KEY,
    LEASE_S,
    ApiProcess,
    _most_at_once,
    _submits,
)
from tests.pg import PgCluster, need_postgres
from tests.processes import child_env, free_port, spawn, stop_all, until_ready

Start = Callable[..., Awaitable[ApiProcess]]

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"),
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),
]


@pytest.fixture
async def emulator() -> AsyncIterator[FakeJimeng]:
    fake = FakeJimeng(image_seconds=1.5, video_seconds=5.0, items_during_45=False)
    await fake.start()
    fake.add_account(ACCOUNT, credits=100_000)
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def start_api(emulator: FakeJimeng, tmp_path: Path) -> AsyncIterator[Start]:
    procs: list[ApiProcess] = []

    async def start(name: str, database_url: str) -> ApiProcess:
        port = free_port()
        env = child_env(
            API_PORT=str(port),
            API_KEYS=KEY,
            JIMENG_SESSION_IDS=ACCOUNT,
            JIMENG_UPSTREAM_URL=emulator.url,
            JIMENG_DATA_DIR=str(tmp_path / name),  # a directory of its own: only the database is shared
            JIMENG_DATABASE_URL=database_url,
            JIMENG_ACCOUNT_CONCURRENCY="2",
            JIMENG_LEASE_SECONDS=str(LEASE_S),
            JIMENG_IMAGE_EXPECTED_S="1",
            JIMENG_LOG_LEVEL="INFO",
        )
        log = tmp_path / f"{name}.log"
        api = ApiProcess(await spawn(["-m", "api"], cwd=tmp_path, env=env, log=log), f"http://127.0.0.1:{port}", log)
        procs.append(api)
        await until_ready(api.url, api.proc, log, name)
        return api

    try:
        yield start
    finally:
        await stop_all(api.proc for api in procs)


async def test_two_apis_on_one_postgresql_database_never_exceed_the_accounts_concurrency(
    emulator: FakeJimeng, start_api: Start, pg_url: str
) -> None:
    a, b = await asyncio.gather(start_api("a", pg_url), start_api("b", pg_url))
    for _ in range(100):  # each runs the daily claim in the background as it starts
        if emulator.calls(PATH_CREDIT_RECEIVE, ACCOUNT):
            break
        await asyncio.sleep(0.05)

    async def one(api: ApiProcess, i: int) -> str:
        async with api.client() as client:
            res = await client.images.generate(prompt=f"a lighthouse {i}", n=1)
        assert res.data and res.data[0].url
        return res.data[0].url

    urls = await asyncio.wait_for(asyncio.gather(*(one((a, b)[i % 2], i) for i in range(8))), 120)
    assert len(set(urls)) == 8 and len(emulator.jobs) == 8
    assert _most_at_once(emulator) == 2, "the two processes together exceeded (or never used) the account's 2 slots"
    assert set(_submits(emulator).values()) == {1}  # every job was sent once
    assert len(emulator.calls(PATH_CREDIT_RECEIVE, ACCOUNT)) == 1  # the daily claim, once for both


@pytest.mark.parametrize("program", ["api", "bot"])
def test_an_unreachable_database_at_start_is_one_line_and_exit_2(program: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://jimeng:hunter2-secret@127.0.0.1:{port}/jimeng"
    env = child_env(
        JIMENG_DATABASE_URL=url,
        JIMENG_SESSION_IDS=ACCOUNT,
        DISCORD_TOKEN="not-used-the-store-fails-first",
        API_PORT=str(free_port()),
        API_KEYS=KEY,
        JIMENG_LOG_LEVEL="INFO",
    )
    done = subprocess.run(
        [sys.executable, "-m", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and "hunter2" not in out, out
    assert "listening on" not in out, out  # said only once the store is open and the socket bound
    named = [line for line in out.splitlines() if "postgresql://" in line]
    assert named == [
        f"jimeng-{program}: cannot reach the job store at postgresql://jimeng:***@127.0.0.1:{port}/jimeng: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {port})"
    ], out


async def test_a_database_lost_while_running_finishes_jobs_in_flight_and_refuses_new_ones_until_back(
    emulator: FakeJimeng, start_api: Start
) -> None:
    cluster = PgCluster(need_postgres())  # a server of its own: this test stops it
    try:
        cluster.start()
        api = await start_api("a", await cluster.new_database())
        emulator.image_seconds = 4.0
        async with api.client() as client:
            in_flight = asyncio.ensure_future(client.images.generate(prompt="a lighthouse in fog", n=1))
            for _ in range(100):
                if emulator.jobs:
                    break
                await asyncio.sleep(0.05)
            assert emulator.jobs, api.log.read_text()
            await asyncio.to_thread(cluster.stop, "immediate")  # the database is gone mid-job

            with pytest.raises(openai.APIStatusError) as refused:
                await client.images.generate(prompt="a second lighthouse", n=1)
            assert refused.value.status_code == 503, refused.value
            body = refused.value.body
            assert isinstance(body, dict) and body.get("code") == "store_unavailable", body
            assert "the job store is unreachable" in str(body.get("message")), body
            assert "hunter2" not in str(body)
            assert len(emulator.jobs) == 1  # nothing was sent for the refused one
            async with aiohttp.ClientSession() as http, http.get(f"{api.url}/readyz") as resp:
                assert resp.status == 503 and (await resp.json())["status"] == "store_unavailable"

            done = await asyncio.wait_for(in_flight, 60)  # the job in flight is delivered all the same
            assert done.data and done.data[0].url

            await asyncio.to_thread(cluster.start)  # back: new jobs are taken again
            again = await asyncio.wait_for(client.images.generate(prompt="a third lighthouse", n=1), 60)
            assert again.data and again.data[0].url
            async with aiohttp.ClientSession() as http, http.get(f"{api.url}/readyz") as resp:
                assert resp.status == 200, await resp.text()
        log = api.log.read_text()
        assert "unreachable" in log and "reachable again" in log, log
        assert "Traceback" not in log, log
    finally:
        await asyncio.to_thread(cluster.destroy)


async def test_kill_9_of_one_api_on_postgresql_its_jobs_finish_through_the_other_polled_once_for_both(
    emulator: FakeJimeng, start_api: Start, pg_url: str
) -> None:
    """Two hosts' worth of processes on one database: one poller sends each tick for both (schema 6, on PostgreSQL),
    and after kill -9 of one, the other adopts its jobs (one conditional UPDATE each) and finishes them, never sending
    a body twice."""
    a, b = await asyncio.gather(start_api("a", pg_url), start_api("b", pg_url))
    await asyncio.sleep(LEASE_S / 2)  # a heartbeat each: each knows the other is alive
    emulator.image_seconds = 4.0

    async def one(api: ApiProcess, prompt: str) -> None:
        async with api.client() as client:
            assert (await client.images.generate(prompt=prompt, n=1)).data

    await asyncio.wait_for(asyncio.gather(one(a, "a-0"), one(b, "b-0")), 60)
    ja, jb = (next(j for j in emulator.jobs.values() if j.prompt == p) for p in ("a-0", "b-0"))
    both = {ja.submit_id, jb.submit_id}
    polls = emulator.calls(PATH_HISTORY_BY_IDS, ACCOUNT)
    assert any(both <= set(r.json["submit_ids"]) for r in polls), "no poll asked for both processes' jobs"

    async with a.client() as client:
        videos = [
            await client.videos.create(prompt=f"a paper boat {i}", model="jimeng-video-3.0", seconds="5")
            for i in range(2)
        ]
    for _ in range(200):
        if len(emulator.jobs) == 4:
            break
        await asyncio.sleep(0.05)
    assert len(emulator.jobs) == 4, a.log.read_text()
    a.proc.send_signal(signal.SIGKILL)
    await a.proc.wait()
    killed = time.monotonic()
    async with b.client() as client:
        done: dict[str, float] = {}
        while len(done) < 2 and time.monotonic() - killed < 40:
            for v in videos:
                if v.id not in done:
                    got = await client.videos.retrieve(v.id)
                    assert got.status != "failed", got
                    if got.status == "completed":
                        done[v.id] = time.monotonic() - killed
            await asyncio.sleep(0.2)
    assert len(done) == 2, b.log.read_text()
    assert max(done.values()) < 5.0 + LEASE_S + 10, done
    assert set(_submits(emulator).values()) == {1} and len(_submits(emulator)) == 4
    assert emulator.duplicate_submits == 0
    assert _most_at_once(emulator) <= 2
    assert "which is gone" in b.log.read_text()
