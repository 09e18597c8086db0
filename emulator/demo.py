"""``python -m emulator.demo`` (``make demo``): the OpenAI-compatible API in front of the emulator, no account needed.

Starts ``python -m emulator`` and ``python -m api`` (server mode, one demo API key) on 127.0.0.1, waits until the
API's ``/healthz`` answers, then prints on stdout, and only there::

    OPENAI_BASE_URL=http://127.0.0.1:5150/v1
    OPENAI_API_KEY=sk-jimeng-demo

so the official ``openai`` SDK works at once (``OpenAI()`` reads both variables). When ``.env`` (or the environment)
holds ``DISCORD_TOKEN``, the Discord bot runs too, against the same emulator; otherwise one line says why not.
Everything else goes to stderr. Ctrl-C (or SIGTERM) stops every child and removes the temporary data directory.
The children read no ``.env``: they run in that temporary directory and get their settings from the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 5150
DEFAULT_KEY = "sk-jimeng-demo"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """A stop signal arrived, or a child the demo cannot do without exited."""


class _Signals:
    defer = False  # set while a child is being spawned
    pending = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.defer:
            self.pending = True
            return
        raise Stop()


_signals = _Signals()


def say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env(**settings: str) -> dict[str, str]:
    """The environment without any API_/JIMENG_/DISCORD_ setting of the user's, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_", "DISCORD_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env.update(settings)
    return env


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="jimeng-demo-"))

    def spawn(self, name: str, argv: list[str], env: dict[str, str], **kw: object) -> subprocess.Popen[bytes]:
        # A session of its own: a Ctrl-C in the terminal reaches the demo only, which then stops the children in
        # order (bot, API, emulator) and waits for each. A stop signal waits until the child is recorded (a
        # blocked signal mask would be inherited by the child, so the handler defers instead).
        _signals.defer = True
        try:
            proc = subprocess.Popen([sys.executable, *argv], cwd=self.tmp, env=env, start_new_session=True, **kw)
            self.children[name] = proc
        finally:
            _signals.defer = False
        if _signals.pending:
            raise Stop()
        return proc

    def check_alive(self, *names: str) -> None:
        for name in names:
            code = self.children[name].poll()
            if code is not None:
                raise Stop(f"the {name} exited (status {code}); its messages are above")

    def start_emulator(self) -> tuple[str, str]:
        argv = ["-m", "emulator", "--image-seconds", str(self.args.image_seconds)]
        argv += ["--video-seconds", str(self.args.video_seconds)]
        proc = self.spawn("emulator", argv, _child_env(), stdout=subprocess.PIPE)
        found: dict[str, str] = {}
        done = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                key, _, value = raw.decode().strip().partition("=")
                found[key] = value
                if key == "JIMENG_UPSTREAM_URL":
                    break
            done.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 30
        while not done.wait(0.1):
            self.check_alive("emulator")
            if time.monotonic() > deadline:
                raise Stop("the emulator did not start within 30 s")
        if "JIMENG_UPSTREAM_URL" not in found:
            self.check_alive("emulator")
            raise Stop("the emulator did not say where it listens")
        return found["JIMENG_UPSTREAM_URL"], found["JIMENG_SESSION_IDS"]

    def jimeng_env(self, upstream: str, session_ids: str, data: str) -> dict[str, str]:
        return {
            "JIMENG_UPSTREAM_URL": upstream,
            "JIMENG_SESSION_IDS": session_ids,
            "JIMENG_DATA_DIR": str(self.tmp / data),
            "JIMENG_IMAGE_EXPECTED_S": str(self.args.image_seconds),
            "JIMENG_VIDEO_EXPECTED_S": str(self.args.video_seconds),
            "JIMENG_LOG_LEVEL": "INFO" if self.args.verbose else "WARNING",
        }

    def start_api(self, port: int, upstream: str, session_ids: str) -> None:
        env = _child_env(
            API_HOST="127.0.0.1",
            API_PORT=str(port),
            API_KEYS=self.args.api_key,
            **self.jimeng_env(upstream, session_ids, "api-data"),
        )
        self.spawn("API", ["-m", "api"], env, stdout=sys.stderr)
        deadline = time.monotonic() + 60
        while True:
            self.check_alive("API")
            url = f"http://127.0.0.1:{port}/healthz"
            with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
            if time.monotonic() > deadline:
                raise Stop("the API did not answer /healthz within 60 s")
            time.sleep(0.2)

    def discord_settings(self) -> dict[str, str]:
        path = Path(self.args.env_file)
        from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
        merged = {**from_file, **os.environ}  # the environment wins, as in the bot's own settings
        return {k: v for k, v in merged.items() if k.startswith("DISCORD_")}

    def start_bot(self, upstream: str, session_ids: str) -> None:
        discord = self.discord_settings()
        if self.args.no_bot:
            say("the Discord bot is not started (--no-bot)")
            return
        if not discord.get("DISCORD_TOKEN", "").strip():
            say(f"the Discord bot is not started: no DISCORD_TOKEN in {self.args.env_file} or the environment")
            return
        env = _child_env(**discord, **self.jimeng_env(upstream, session_ids, "bot-data"))
        self.spawn("bot", ["-m", "bot"], env, stdout=sys.stderr)
        say("the Discord bot is starting with DISCORD_TOKEN, against the emulator (its commands make fake images)")

    def run(self) -> int:
        port = self.args.port or _free_port()
        if not _port_free(port):
            say(f"port {port} is in use on 127.0.0.1; pass --port N (0 picks a free one)")
            return 2
        upstream, session_ids = self.start_emulator()
        self.start_api(port, upstream, session_ids)
        say(
            f"emulator at {upstream} (image jobs take {self.args.image_seconds:g} s, video {self.args.video_seconds:g}"
            f" s), API at http://127.0.0.1:{port}, data in {self.tmp}"
        )
        self.start_bot(upstream, session_ids)
        print(f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1", flush=True)
        print(f"OPENAI_API_KEY={self.args.api_key}", flush=True)
        say("export the two lines above, then e.g. OpenAI().images.generate(model='jimeng-4.5', prompt='a cat')")
        say("Ctrl-C stops everything")
        while True:
            self.check_alive("emulator", "API")
            bot = self.children.get("bot")
            if bot is not None and bot.poll() is not None:
                say(f"the Discord bot exited (status {bot.returncode}); the API keeps running")
                del self.children["bot"]
            time.sleep(0.3)

    def stop(self) -> None:
        for name in ("bot", "API", "emulator"):
            proc = self.children.get(name)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                say(f"the {name} did not stop within 10 s; killing it")
                proc.kill()
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emulator.demo",
        description="The OpenAI-compatible API (and the Discord bot, given DISCORD_TOKEN) against the Jimeng "
        "emulator, on 127.0.0.1. Prints OPENAI_BASE_URL and OPENAI_API_KEY; Ctrl-C stops everything.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--api-key", default=DEFAULT_KEY, help="the API key clients use (default: %(default)s)")
    p.add_argument("--image-seconds", type=float, default=3.0, help="emulated image job duration (default: 3)")
    p.add_argument("--video-seconds", type=float, default=8.0, help="emulated video job duration (default: 8)")
    p.add_argument("--env-file", default=".env", help="where to look for DISCORD_TOKEN (default: %(default)s)")
    p.add_argument("--no-bot", action="store_true", help="do not start the Discord bot even with a token")
    p.add_argument("-v", "--verbose", action="store_true", help="the API and the bot log at INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.image_seconds <= 0 or args.video_seconds <= 0:
        say("--image-seconds and --video-seconds must be > 0")
        return 2

    for sig in STOP_SIGNALS:
        signal.signal(sig, _signals.handler)
    demo = Demo(args)
    status = 0
    try:
        status = demo.run()
    except Stop as stop:
        if stop.args:
            say(str(stop.args[0]))
            status = 1
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        demo.stop()
        say("stopped")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
