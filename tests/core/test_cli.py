"""The admin CLI (`python -m core`) against the emulator, as an owner would run it."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sqlite3
import sys
from pathlib import Path

from PIL import Image

from core import ImageParams
from core.progress import follow
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

ROOT = Path(__file__).resolve().parents[2]


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIMENG_", "DISCORD_", "API_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


async def test_cli_imagine_saves_images(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("cli"))
    env = _env(JIMENG_SESSION_IDS=sid("cli"), JIMENG_UPSTREAM_URL=fake_jimeng.url, JIMENG_IMAGE_EXPECTED_S="0.5")
    code, out, err = await _cli(
        "imagine",
        "a lighthouse",
        "--ratio",
        "16:9",
        "--count",
        "2",
        "--out",
        str(tmp_path / "out"),
        env=env,
        cwd=tmp_path,
    )
    assert code == 0, err
    files = [Path(line) for line in out.split()]
    assert len(files) == 2
    for f in files:
        with Image.open(f) as im:
            assert im.size == (2560, 1440)
    assert err.splitlines()[-1].endswith("done")  # the progress went to stderr
    assert sid("cli") not in out + err


async def test_cli_credits_shows_masked_accounts(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("c1"), credits=12)
    fake_jimeng.add_account(sid("c2"), region="hk", credits=0)
    env = _env(JIMENG_SESSION_IDS=f"{sid('c1')},hk-{sid('c2')}", JIMENG_UPSTREAM_URL=fake_jimeng.url)
    code, out, err = await _cli("credits", "--claim", env=env, cwd=tmp_path)
    assert code == 0, err
    assert sid("c1") not in out + err and sid("c2") not in out + err
    assert f"{sid('c1')[:4]}…{sid('c1')[-4:]}" in out
    assert "78" in out and "50" in out  # 12 + 66 daily on CN; 0 + 50 on HK


async def test_cli_without_configuration_prints_one_line(tmp_path: Path) -> None:
    code, _, err = await _cli("credits", env=_env(), cwd=tmp_path)
    assert code == 2
    assert err.strip().count("\n") == 0 and "JIMENG_SESSION_IDS" in err
    assert "Traceback" not in err


async def test_cli_compose_from_a_local_file(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    Image.new("RGB", (80, 60), "orange").save(ref)
    fake_jimeng.add_account(sid("cli"))
    env = _env(JIMENG_SESSION_IDS=sid("cli"), JIMENG_UPSTREAM_URL=fake_jimeng.url, JIMENG_IMAGE_EXPECTED_S="0.5")
    code, out, err = await _cli(
        "compose", "make it blue", str(ref), "--count", "1", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert len(out.split()) == 1
    blend = next(j for j in fake_jimeng.jobs.values() if j.kind == "blend")
    assert len(blend.references) == 1


async def test_cli_refuses_a_socks_proxy_in_one_line(tmp_path: Path) -> None:
    env = _env(JIMENG_SESSION_IDS=f"socks5://127.0.0.1:1080@{sid('p')}")
    code, _, err = await _cli("credits", env=env, cwd=tmp_path)
    assert code == 2 and "only http(s) proxies" in err and "Traceback" not in err
    assert sid("p") not in err


async def test_cli_progress_to_a_pipe_is_plain_lines(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    """Not a terminal: whole lines only — no carriage return, no escape code — and the state is named."""
    fake_jimeng.add_account(sid("cli"))
    fake_jimeng.image_seconds = 1.5
    env = _env(JIMENG_SESSION_IDS=sid("cli"), JIMENG_UPSTREAM_URL=fake_jimeng.url)
    code, _, err = await _cli(
        "imagine", "a pipe", "--count", "1", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "\r" not in err and "\x1b" not in err
    assert not [c for c in err if ord(c) < 32 and c != "\n"], repr(err)
    lines = err.splitlines()
    assert any("generating" in line or "queue" in line for line in lines), err
    assert lines[-1].endswith("done"), err


async def test_cli_runs_on_the_timings_the_service_learned(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    """The CLI keeps its jobs out of the data directory's store but reads (and adds to) its learned timings."""
    fake_jimeng.add_account(sid("cli"))
    fake_jimeng.image_seconds = 1.5
    env = _env(JIMENG_SESSION_IDS=sid("cli"), JIMENG_UPSTREAM_URL=fake_jimeng.url, JIMENG_DATA_DIR=str(tmp_path / "d"))
    history = "/mweb/v1/get_history_by_ids"
    polls = []
    for i in range(2):
        before = len(fake_jimeng.calls(history))
        code, _, err = await _cli(
            "imagine", f"run {i}", "--count", "1", "--out", str(tmp_path / "o"), env=env, cwd=tmp_path
        )
        assert code == 0, err
        polls.append(len(fake_jimeng.calls(history)) - before)
    cold, warm = polls
    assert warm < cold, polls  # the second process started warm
    db = sqlite3.connect(tmp_path / "d" / "jobs.sqlite3")
    try:
        assert db.execute("SELECT COUNT(*) FROM timings").fetchone()[0] >= 1
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0  # one-shot jobs stay out
    finally:
        db.close()


async def test_the_live_bar_ticks_while_upstream_says_nothing_new(fake_jimeng: FakeJimeng) -> None:
    """The terminal bar is redrawn with the clock moving between two events (rich, forced to a terminal)."""
    fake_jimeng.add_account(sid("live"))
    fake_jimeng.image_seconds = 1.5
    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    async with engine_for(fake_jimeng, sid("live")) as engine:
        job = await engine.imagine(ImageParams(prompt="live", count=1))
        await follow(job, stream, live=True)
    out = stream.getvalue()
    assert "done" in out
    assert len(set(re.findall(r"0:00:0\d", out))) >= 2, "the elapsed column moved"
