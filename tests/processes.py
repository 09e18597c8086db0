"""Real ``python -m api`` / ``python -m bot`` processes in tests (issue #16): their environment, start, readiness
and stop, shared by the tests that run several of them against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**settings: str) -> dict[str, str]:
    """This environment without any of our settings (the test names each one), importing this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_", "OPENAI_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(settings)
    return env


async def spawn(args: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """``python <args>`` with its output (stdout and stderr) in ``log``."""
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=cwd, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def until_ready(url: str, proc: asyncio.subprocess.Process, log: Path, name: str) -> None:
    """Wait (up to 30 s) until an API process answers ``/readyz`` with 200; fail with its log if it exits first."""
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            assert proc.returncode is None, log.read_text(errors="replace")
            await asyncio.sleep(0.1)
    pytest.fail(f"{name} did not become ready: {log.read_text(errors='replace')}")


async def stop_all(procs: Iterable[asyncio.subprocess.Process]) -> None:
    """SIGINT to each that still runs (a clean stop), then wait; kill one that takes over 20 s."""
    procs = list(procs)
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
