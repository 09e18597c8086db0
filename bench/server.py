"""The API server under test: ``python -m api`` in its own process, its RSS and CPU read from /proc.

The server runs in server mode (``API_KEYS``) on the emulator's accounts, with its own temporary data directory, and
from a temporary working directory (so no ``.env`` of the developer's is read). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
API_KEY = "bench-key-0123456789"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def hwm_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class RssSampler:
    """Samples a process's RSS every ``every`` seconds in a thread (independent of the event loop's load)."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid, self.every = pid, every
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except OSError:
                return
            self.samples += 1
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class ApiServer:
    def __init__(self, upstream_url: str, session_ids: list[str], *, env: dict[str, str] | None = None) -> None:
        self.upstream_url = upstream_url
        self.session_ids = session_ids
        self.extra_env = env or {}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="jimeng-bench-")
        self.log_path = Path(self._tmp.name) / "server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, ready_within: float = 30.0) -> None:
        tmp = Path(self._tmp.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_"))}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "API_HOST": "127.0.0.1",
                "API_PORT": str(self.port),
                "API_KEYS": API_KEY,
                "JIMENG_SESSION_IDS": ",".join(self.session_ids),
                "JIMENG_UPSTREAM_URL": self.upstream_url,
                "JIMENG_DATA_DIR": str(tmp / "data"),
                "JIMENG_ACCOUNT_CONCURRENCY": "16",
                "JIMENG_LOG_LEVEL": "WARNING",
            }
        )
        env.update(self.extra_env)
        log = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api", cwd=tmp, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + ready_within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the API server exited: {self.log_tail()}")
                try:
                    async with http.get(f"{self.url}/readyz", timeout=aiohttp.ClientTimeout(total=1)) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the API server did not become ready: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._tmp.cleanup()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def hwm(self) -> int:
        return hwm_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


def client(limit: int = 0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=aiohttp.ClientTimeout(total=600),
    )


async def generate(
    http: aiohttp.ClientSession, base: str, prompt: str, *, size: str = "2048x2048", fmt: str = "url"
) -> dict[str, Any]:
    """POST /v1/images/generations; read the reply in chunks (never holding a b64 body); time it."""
    body = {"prompt": prompt, "n": 4, "size": size, "response_format": fmt}
    started = time.monotonic()
    async with http.post(f"{base}/v1/images/generations", json=body) as resp:
        size_read = 0
        head = b""
        async for chunk in resp.content.iter_chunked(1 << 16):
            if len(head) < 256:
                head += chunk[:256]
            size_read += len(chunk)
        status = resp.status
    return {"status": status, "bytes": size_read, "ended": time.monotonic(), "started": started, "head": head[:200]}
