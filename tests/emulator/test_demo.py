"""``python -m emulator.demo`` (``make demo``) as a real process: the two lines it prints make the official
``openai`` SDK work, and stopping it stops the emulator and the API it started."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from openai import OpenAI
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the children through /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "pid (comm) state"
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def test_demo_prints_what_the_openai_sdk_needs_and_stops_its_children(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_", "DISCORD_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    stderr_path = tmp_path / "demo.err"
    argv = [sys.executable, "-m", "emulator.demo", "--port", str(port), "--image-seconds", "1"]
    argv += ["--env-file", str(tmp_path / "absent.env")]
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=stderr)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode().rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    children: list[int] = []
    try:
        try:
            base_url, api_key = lines.get(timeout=90), lines.get(timeout=10)
        except queue.Empty:
            pytest.fail("the demo printed no OPENAI_* lines: " + stderr_path.read_text())
        assert base_url == f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1"
        assert re.fullmatch(r"OPENAI_API_KEY=\S+", api_key)
        children = _children(proc.pid)
        assert len(children) == 2, children  # the emulator and the API; no DISCORD_TOKEN, so no bot

        client = OpenAI(base_url=base_url.split("=", 1)[1], api_key=api_key.split("=", 1)[1], timeout=60)
        res = client.images.generate(model="jimeng-4.5", prompt="a cat")
        assert res.data and res.data[0].url
        with urllib.request.urlopen(res.data[0].url, timeout=30) as resp:
            assert Image.open(io.BytesIO(resp.read())).format == "WEBP"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
    err = stderr_path.read_text()
    assert proc.returncode == 0, err
    assert lines.empty()  # stdout holds the two lines only
    assert "the Discord bot is not started: no DISCORD_TOKEN" in err
    assert [pid for pid in children if _alive(pid)] == []
    data_dir = re.search(r"data in (\S+)", err)
    assert data_dir and not Path(data_dir.group(1)).exists()
