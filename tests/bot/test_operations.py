"""Operating the bot (issue #13): ``--help``, every bad setting at once, and a clean stop on SIGTERM / SIGINT.

The bot runs as a real subprocess (``bot.__main__.main``) against the fake Discord and the Jimeng emulator on loopback;
the only thing the launcher changes is where discord.py connects (its two process-global URLs, as the harness does).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import FakeJimeng
from tests.core.support import sid
from tests.fakes.discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = """
import sys, discord.gateway, discord.http, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.__main__ import main
sys.exit(main([]))
"""


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "JIMENG_", "API_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(settings)
    return env


def test_help_prints_and_exits_without_reading_or_creating_anything(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_MEMBER_JOBS=not-a-number\n")  # --help must not even read it
    for cmd in ([sys.executable, "-m", "bot", "--help"], [sys.executable, "-m", "core", "--help"]):
        done = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "usage:" in done.stdout and not done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]  # no ./data, nothing else
    bot_help = subprocess.run(
        [sys.executable, "-m", "bot", "-h"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60
    ).stdout
    assert "DISCORD_TOKEN" in bot_help and "JIMENG_SESSION_IDS" in bot_help and "SIGTERM" in bot_help


def test_every_bad_setting_is_reported_at_once(tmp_path: Path) -> None:
    env = _env(
        JIMENG_MAX_DOWNLOAD_MB="lots",
        DISCORD_MEMBER_JOBS="99",
        DISCORD_LOCALE="fr-FR",
        DISCORD_CHANNEL_IDS="general",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and not done.stdout
    err = done.stderr
    for name in (
        "JIMENG_MAX_DOWNLOAD_MB",
        "DISCORD_MEMBER_JOBS",
        "DISCORD_LOCALE",
        "DISCORD_CHANNEL_IDS",
        "JIMENG_SESSION_IDS",
        "DISCORD_TOKEN",
    ):
        assert name in err, (name, err)
    assert "6 settings need fixing" in err and "Traceback" not in err and "lots" not in err
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_bot_cleanly(
    sig: signal.Signals, discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = _env(
        DISCORD_TOKEN=discord_fake.token,
        JIMENG_SESSION_IDS=sid(1),
        JIMENG_UPSTREAM_URL=jimeng_fake.url,
        JIMENG_DATA_DIR=str(data),
        JIMENG_LOG_LEVEL="INFO",
        PYTHONASYNCIODEBUG="1",  # asyncio reports unclosed transports and never-retrieved task exceptions
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-c",
        LAUNCH,
        discord_fake.api_base,
        discord_fake.gateway_url,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await discord_fake.wait_until(lambda: discord_fake.identifies and discord_fake.connections, timeout=60)
        await discord_fake.wait_until(lambda: discord_fake.command_syncs, timeout=20)  # setup_hook ran
        assert (data / "jobs.sqlite3-wal").exists()  # the engine opened its store (WAL mode)
        proc.send_signal(sig)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    assert f"{sig.name} received" in err and "bot: stopped" in err, err
    for bad in ("Traceback", "Unclosed", "was destroyed but it is pending", "never retrieved", "ResourceWarning"):
        assert bad not in err, err
    await discord_fake.wait_until(lambda: not discord_fake.connections, timeout=5)  # the bot closed its gateway
    assert not (data / "jobs.sqlite3-wal").exists()  # the store was closed (SQLite removes the WAL on a clean close)
    assert sid(1) not in err and discord_fake.token not in err
