"""The PostgreSQL store's own rules (issue #16): URLs shown with the password masked, announcement channel names, and
the admin CLI on the service's PostgreSQL timings. The calls shared with SQLite are tested on both backends in
tests/core/test_shared_store.py, test_one_poller.py, test_usage.py, test_preferences.py and test_durability.py."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg
import pytest

import tests.pg
from core.errors import StoreUnavailableError
from core.params import ImageParams
from core.pgnotify import check_channel, mask_url
from core.pgstore import PgJobStore
from emulator import FakeJimeng
from tests.core.support import engine_for, sid
from tests.core.test_cli_tools import _cli, _tool_env
from tests.pg import closed_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://jimeng:s3cret@db:5432/jimeng", "postgresql://jimeng:***@db:5432/jimeng"),
        ("postgresql://jimeng:p%40ss@10.0.0.2/j?sslmode=require", "postgresql://jimeng:***@10.0.0.2/j?sslmode=require"),
        ("postgresql://db/j?user=u&password=s3cret&sslmode=off", "postgresql://db/j?user=u&password=***&sslmode=off"),
        ("postgresql://jimeng@db/jimeng", "postgresql://jimeng@db/jimeng"),  # nothing secret in it
    ],
)
def test_a_database_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_announcement_channels_of_any_name_map_to_one_identifier() -> None:
    assert check_channel("jobs_done") == "jobs_done"
    mapped = check_channel("polls:cn:0b68c1f2")
    assert mapped == check_channel("polls:cn:0b68c1f2") != check_channel("looks:cn:0b68c1f2")
    assert mapped.startswith("jimeng_") and len(mapped) <= 63
    with pytest.raises(ValueError):
        check_channel("")


async def test_an_unreachable_database_is_a_store_unavailable_error_naming_it_masked() -> None:
    port = closed_port()
    store = PgJobStore(f"postgresql://jimeng:hunter2@127.0.0.1:{port}/jimeng", connect_timeout=2)
    with pytest.raises(StoreUnavailableError) as info:
        await store.open()
    assert info.value.message.startswith(
        f"cannot reach the job store at postgresql://jimeng:***@127.0.0.1:{port}/jimeng"
    )
    assert "hunter2" not in info.value.message and not store.available
    await store.close()


async def test_the_cli_runs_on_the_timings_the_service_learned_in_postgresql(
    fake_jimeng: FakeJimeng, tmp_path: Path, pg_url: str
) -> None:
    """As tests/core/test_cli.py on SQLite: the CLI's one-shot jobs stay out of the service's database, but it polls
    on the timings the service learned there and teaches them back."""
    fake_jimeng.add_account(sid("cli"))
    fake_jimeng.image_seconds = 1.5
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIMENG_", "DISCORD_", "API_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        JIMENG_SESSION_IDS=sid("cli"),
        JIMENG_UPSTREAM_URL=fake_jimeng.url,
        JIMENG_DATA_DIR=str(tmp_path / "d"),
        JIMENG_DATABASE_URL=pg_url,
    )
    history = "/mweb/v1/get_history_by_ids"
    polls = []
    for i in range(2):
        before = len(fake_jimeng.calls(history))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core", "imagine", f"run {i}", "--count", "1", "--out", str(tmp_path / "o"),
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        polls.append(len(fake_jimeng.calls(history)) - before)
    cold, warm = polls
    assert warm < cold, polls  # the second process started warm, from the database
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM timings") >= 1
        assert await conn.fetchval("SELECT COUNT(*) FROM jobs") == 0  # one-shot jobs stay out
    finally:
        await conn.close()
    assert not (tmp_path / "d" / "jobs.sqlite3").exists()  # and no SQLite file beside it


async def test_the_cli_upscales_an_image_the_service_made_on_postgresql(
    fake_jimeng: FakeJimeng, tmp_path: Path, pg_url: str
) -> None:
    """The admin CLI finds a service's result by its image id in the service's PostgreSQL database (only read)."""
    fake_jimeng.add_account(sid("cli-tools"))
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("cli-tools"), data_dir=data, database_url=pg_url) as service:
        job = await service.imagine(ImageParams(prompt="a harbour", count=2, ratio="1:1"))
        source = await job.wait()
        await service.settled(job.id)
    env = _tool_env(fake_jimeng, data)
    env["JIMENG_DATABASE_URL"] = pg_url
    code, out, err = await _cli(
        "upscale", f"{job.id}-2", "--pro", "--quiet", "--out", str(tmp_path / "o"), env=env, cwd=tmp_path
    )
    assert code == 0, err
    body = fake_jimeng.calls("aigc_draft/generate")[-1].json
    param = json.loads(body["draft_content"])["component_list"][0]["abilities"]["pro_hd"]["postedit_param"]
    assert param["item_id"] == int(source.images[1].item_id or 0)
    assert len(out.split()) == 1
    assert not (data / "jobs.sqlite3").exists()  # the service kept its jobs in PostgreSQL only


def test_missing_postgresql_binaries_fail_under_ci_and_skip_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tests.pg, "pg_bin", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI must run the store tests on PostgreSQL too"):
        tests.pg.need_postgres()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install postgresql"):
        tests.pg.need_postgres()


async def test_the_cli_with_an_unreachable_database_says_so_in_one_line(
    fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    fake_jimeng.add_account(sid("cli"))
    env = _tool_env(fake_jimeng, tmp_path / "data")
    port = closed_port()
    env["JIMENG_DATABASE_URL"] = f"postgresql://jimeng:hunter2@127.0.0.1:{port}/jimeng"
    code, out, err = await _cli("imagine", "a lighthouse", "--out", str(tmp_path / "o"), env=env, cwd=tmp_path)
    assert code == 2 and not out
    assert err.strip().splitlines() == [
        f"error: cannot reach the job store at postgresql://jimeng:***@127.0.0.1:{port}/jimeng: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {port})"
    ], err
