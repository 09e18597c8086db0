"""``python -m api`` as a real process: Bearer-session mode with no configuration, server mode refuses to start
without accounts, and a shutdown signal stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from emulator import FakeJimeng
from tests.api.conftest import USER_SID

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_"))}
    env.update({"PYTHONPATH": str(ROOT), "JIMENG_DATA_DIR": str(tmp_path / "data"), **extra})
    return env


async def test_python_m_api_serves_in_bearer_mode(tmp_path: Path, fake: FakeJimeng) -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        cwd=tmp_path,
        env=_env(tmp_path, API_PORT=str(port), JIMENG_UPSTREAM_URL=fake.url, JIMENG_LOG_LEVEL="INFO"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            # no generation here: the real process polls with production timing (~15 s before a first poll)
            headers = {"Authorization": f"Bearer {USER_SID}"}
            async with http.get(f"http://127.0.0.1:{port}/v1/models", headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["data"]
            body = '{"token": "' + USER_SID + '",}'  # a trailing comma, as the seeds write JSON
            async with http.post(f"http://127.0.0.1:{port}/token/check", data=body) as resp:
                assert await resp.json() == {"live": True}
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, out.decode()
    assert USER_SID not in out.decode()


async def test_server_mode_without_accounts_refuses_to_start(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        cwd=tmp_path,
        env=_env(tmp_path, API_KEYS="k1"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert "JIMENG_SESSION_IDS" in err.decode() and len(err.decode().strip().splitlines()) == 1


def test_help_prints_and_exits_without_creating_data(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in _env(tmp_path).items() if k != "JIMENG_DATA_DIR"}  # the default: ./data
    out = subprocess.run(
        [sys.executable, "-m", "api", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0 and "API_PORT" in out.stdout and "usage" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import subprocess

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "api"],
            cwd=tmp_path,
            env=_env(tmp_path, API_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 2, out.stderr[-500:]
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(f"cannot listen on 127.0.0.1:{port}")
