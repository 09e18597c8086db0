"""Durable jobs: SIGKILL the process mid-job and between "submit sent" and "reply read"; restart; every job ends,
exactly one generate per job reached Jimeng, and results are served from local files after upstream URLs expire."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from core import ImageParams, JobState
from core.jobs import JobRecord
from core.store import SqliteJobStore
from emulator import FakeJimeng
from tests.core.support import engine_for, sid
from tests.pg import StoreFactory

ROOT = Path(__file__).resolve().parents[2]
GEN = "/mweb/v1/aigc_draft/generate"


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.events: list[dict[str, Any]] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.core.crash_runner", cwd=ROOT, env=self.env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await self.wait_for(lambda e: e["event"] == "ready")

    async def send(self, **cmd: Any) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait_for(self, pred, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        assert self.proc and self.proc.stdout
        async with asyncio.timeout(timeout):
            while len([e for e in self.events if pred(e)]) < count:
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"runner exited; events so far: {self.events}")
                self.events.append(json.loads(line))
        return [e for e in self.events if pred(e)]

    async def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()


def _env(fake: FakeJimeng, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIMENG_", "DISCORD_", "API_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        JIMENG_SESSION_IDS=sid("durable"),
        JIMENG_UPSTREAM_URL=fake.url,
        JIMENG_DATA_DIR=str(data_dir),
        JIMENG_ACCOUNT_CONCURRENCY="2",
    )
    return env


@pytest.fixture
async def slow_fake() -> FakeJimeng:
    fake = FakeJimeng(image_seconds=1.5, video_seconds=2.0)
    await fake.start()
    yield fake
    await fake.close()


async def test_sigkill_mid_generation_and_restart(slow_fake: FakeJimeng, tmp_path: Path) -> None:
    acct = slow_fake.add_account(sid("durable"), credits=500)
    acct.max_concurrent = 2  # the emulator answers 1010 if a restart ever over-commits the account
    runner = Runner(_env(slow_fake, tmp_path))
    await runner.start()
    for i in range(3):
        await runner.send(op="image", prompt=f"durable {i}")
    await runner.send(op="video", prompt="durable video")
    accepted = await runner.wait_for(lambda e: e["event"] == "accepted", count=4)
    # two jobs are generating upstream (the account limit), two wait in our line
    async with asyncio.timeout(10):
        while len(slow_fake.jobs) < 2:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    await runner.kill()
    kill_at = slow_fake.clock()
    assert len(slow_fake.jobs) == 2

    runner2 = Runner(_env(slow_fake, tmp_path))
    await runner2.start()
    delivered = await runner2.wait_for(lambda e: e["event"] == "delivered", count=4, timeout=30)
    assert {d["job"] for d in delivered} == {a["job"] for a in accepted}
    assert all(d["state"] == "succeeded" for d in delivered), [d["error"] for d in delivered]
    # exactly one accepted job per request upstream, never a duplicate submit
    submits = slow_fake.calls(GEN)
    assert len({s.json["submit_id"] for s in submits}) == 4
    assert len(slow_fake.jobs) == 4 and slow_fake.duplicate_submits == 0
    # the restarted process counted the two jobs it resumed against the account's limit: its first submit came only
    # after it had polled (and found a resumed job finished), never straight away at start
    restart_at = next(r.time for r in slow_fake.requests if r.path.endswith("get_common_config") and r.time > kill_at)
    later = [r for r in slow_fake.requests if r.time > restart_at]
    first_gen = next(i for i, r in enumerate(later) if r.path == GEN)
    assert any(r.path.endswith("get_history_by_ids") for r in later[:first_gen])
    # results outlive the signed URLs: served from the data directory
    slow_fake.invalidate_urls()
    for d in delivered:
        assert d["paths"] and all(Path(p).is_file() for p in d["paths"])
        await runner2.send(op="read", job=d["job"])
    reads = await runner2.wait_for(lambda e: e["event"] == "read", count=4)
    assert all(r["sizes"] and min(r["sizes"]) > 0 for r in reads)
    await runner2.stop()

    # a third start finds nothing to do: everything was delivered
    runner3 = Runner(_env(slow_fake, tmp_path))
    await runner3.start()
    await asyncio.sleep(0.5)
    assert not [e for e in runner3.events if e["event"] == "delivered"]
    await runner3.stop()


async def test_sigkill_between_submit_and_reply(slow_fake: FakeJimeng, tmp_path: Path) -> None:
    slow_fake.add_account(sid("durable"), credits=50)
    slow_fake.generate_delay = 5.0
    runner = Runner(_env(slow_fake, tmp_path))
    await runner.start()
    await runner.send(op="image", prompt="in flight")
    (accepted,) = await runner.wait_for(lambda e: e["event"] == "accepted")
    async with asyncio.timeout(10):
        while not slow_fake.jobs:  # upstream has created (and charged) the job; its reply is held back
            await asyncio.sleep(0.02)
    await runner.kill()
    slow_fake.generate_delay = 0.0

    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    rec = await store.get(accepted["job"])
    await store.close()
    assert rec is not None and rec.state == JobState.SUBMITTING.value and rec.body is not None

    runner2 = Runner(_env(slow_fake, tmp_path))
    await runner2.start()
    (done,) = await runner2.wait_for(lambda e: e["event"] == "delivered", timeout=30)
    await runner2.stop()
    assert done["state"] == "succeeded" and done["recovered"]
    assert len(slow_fake.calls(GEN)) == 1, "found by submit_id: never submitted twice"
    assert len(slow_fake.jobs) == 1 and slow_fake.accounts[sid("durable")].total == 49


async def test_account_state_survives_a_restart(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("a")).fail_generate = ["1015"]
    fake_jimeng.add_account(sid("b"))
    tokens = f"{sid('a')},{sid('b')}"
    async with engine_for(fake_jimeng, tokens, data_dir=tmp_path) as engine:
        job = await engine.imagine(ImageParams(prompt="x", count=1))
        await job.wait()
        assert engine.status()[0].state == "invalid"
        await engine.claim_daily()
    async with engine_for(fake_jimeng, tokens, data_dir=tmp_path) as engine:
        first, second = engine.status()
        assert first.state == "invalid" and second.last_claim_ok is True and second.credits is not None
        job = await engine.imagine(ImageParams(prompt="y", count=1))
        await job.wait()
    assert [r.sessionid for r in fake_jimeng.calls(GEN)][-1] == sid("b")


async def test_retention_and_disk_cap(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("a"))
    async with engine_for(fake_jimeng, sid("a"), data_dir=tmp_path, max_storage_mb=10) as engine:
        results = []
        for i in range(3):
            job = await engine.imagine(ImageParams(prompt=f"keep {i}", count=1, resolution="4k"))
            await job.wait()  # delivered at once, with upstream URLs ...
            results.append(await engine.settled(job.id))  # ... and then kept locally
        files = sorted((tmp_path / "results").rglob("*.*"))
        sizes = [f.stat().st_size for f in files]
        assert sum(sizes) <= 10 * 1024 * 1024
        # the newest is always kept and served locally even after upstream URLs expire
        newest = results[-1].images[0]
        assert newest.path and Path(newest.path).is_file()
        fake_jimeng.invalidate_urls()
        async with engine.download(newest) as dl:
            assert len(await dl.read()) == Path(newest.path).stat().st_size
        engine.keeper.retention_s = 0  # everything is past retention now
        await engine.keeper.evict()
        assert not [p for p in (tmp_path / "results").rglob("*.*") if p.suffix != ".part"]


async def test_store_counts_active_jobs_per_owner(store_backend: StoreFactory) -> None:
    store = store_backend()  # SQLite and PostgreSQL (tests/pg.py)
    await store.open()
    for i, state in enumerate(["generating", "pending", "succeeded"]):
        await store.save(
            JobRecord(id=f"j{i}", kind="image", spec={}, owner={"user_id": 7}, submit_id=f"s{i}", state=state)
        )
    await store.save(JobRecord(id="j9", kind="image", spec={}, owner={"user_id": 8}, submit_id="s9", state="queued"))
    assert await store.count_active(owner_key="user_id", owner_value=7) == 2
    assert await store.count_active() == 3
    assert [r.id for r in await store.list_owner("user_id", 7)] == ["j2", "j1", "j0"]
    assert await store.count_active(owner_key="user_id", owner_value=7.0) == 2  # numbers compare as JSON numbers
    assert await store.count_active(owner_key="user_id", owner_value="7") == 0  # not as text
    assert await store.count_since("user_id", 8, 0) == 1
    await store.close()
    # schema is versioned: reopening an existing file does not migrate again
    again = store_backend()
    await again.open()
    assert (await again.get("j0")) is not None
    await again.close()


def _png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


async def test_references_are_kept_for_reroll(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    from core.media import RefImage

    fake_jimeng.add_account(sid("a"))
    refs = [RefImage.from_bytes(_png(c)) for c in ("red", "blue")]
    async with engine_for(fake_jimeng, sid("a"), data_dir=tmp_path) as engine:
        job = await engine.compose(ImageParams(prompt="blend", count=1), refs)
        await job.wait()
        again = await engine.references(job.id)
        assert again is not None and len(again) == 2
        job2 = await engine.compose(ImageParams(prompt="blend again", count=1), again)
        await job2.wait()
    blends = [j for j in fake_jimeng.jobs.values() if j.kind == "blend"]
    assert [len(j.references) for j in blends] == [2, 2]


async def test_queued_composition_runs_after_a_restart_from_kept_references(
    slow_fake: FakeJimeng, tmp_path: Path
) -> None:
    from core.media import RefImage

    slow_fake.add_account(sid("a"))
    async with engine_for(slow_fake, sid("a"), data_dir=tmp_path, account_concurrency=1) as engine:
        first = await engine.imagine(ImageParams(prompt="ahead in line", count=1))
        queued = await engine.compose(ImageParams(prompt="waiting", count=1), [RefImage.from_bytes(_png("green"))])
        await asyncio.sleep(0.2)
        assert queued.state is JobState.QUEUED
    # restart: the first job resumes, the composition (never uploaded) runs from its kept reference
    async with engine_for(slow_fake, sid("a"), data_dir=tmp_path, account_concurrency=1) as engine:
        done = {}
        for job_id in (first.id, queued.id):
            job = engine.job(job_id)
            assert job is not None and job.recovered
            done[job_id] = await job.wait()
    assert done[queued.id].images
    assert len([j for j in slow_fake.jobs.values() if j.kind == "blend"]) == 1


async def test_store_migrates_an_older_schema(tmp_path: Path) -> None:
    import sqlite3

    from core.store import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version=1; COMMIT;")
    conn.execute(
        "INSERT INTO jobs (id, kind, spec, owner, submit_id, state, created_at, updated_at) "
        "VALUES ('old', 'image', '{}', '{}', 's-old', 'succeeded', 1, 1)"
    )
    conn.commit()
    conn.close()
    store = SqliteJobStore(path)
    rec = await store.get("old")
    assert rec is not None and rec.refs is None
    assert await store._run(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS)
    await store.close()


async def test_results_are_delivered_before_the_copy_and_read_once_from_upstream(
    fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    fake_jimeng.add_account(sid("a"))
    async with engine_for(fake_jimeng, sid("a"), data_dir=tmp_path) as engine:
        job = await engine.imagine(ImageParams(prompt="fast", count=2, resolution="4k"))
        result = await job.wait()
        assert all(a.path is None for a in result.images)  # the caller did not wait for the disk copy
        async with engine.download(result.images[0]) as dl:  # a copy in progress is awaited, not fetched again
            data = await dl.read()
        kept = await engine.settled(job.id)
        assert kept is not None and all(a.path for a in kept.images)
        assert data == Path(kept.images[0].path).read_bytes()
        rec = await engine.job_record(job.id)
        assert rec is not None and all(a["path"] for a in rec.result["assets"])
    cdn = [r for r in fake_jimeng.requests if r.path.startswith("/img/")]
    assert len(cdn) == 2, "each file fetched from upstream once"
