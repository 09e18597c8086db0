"""A real, throw-away PostgreSQL server for the tests (issue #16): the Debian package's binaries, a cluster in a
temporary directory listening on 127.0.0.1 on a free port, stopped and deleted at the end.

``pg_cluster`` (session) starts one; ``store_backend`` (parametrised: sqlite, postgresql) gives a test a factory of
stores on one place (the same SQLite file, or a fresh database of its own): two stores from it behave as two processes.
Without the binaries the PostgreSQL tests fail under CI=true (CI installs the package: .ci/run) and skip elsewhere.
initdb and postgres refuse to run as root: as root they run as the ``postgres`` user, the directory given to it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.pgstore import PgJobStore
from core.store import SqliteJobStore

StoreFactory = Callable[[], Any]


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def need_postgres() -> Path:
    """The binaries' directory; fail under CI (it must have them), skip elsewhere."""
    found = pg_bin()
    if found is None:
        message = "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ": CI must run the store tests on PostgreSQL too (.ci/run installs it)")
        pytest.skip(message)
    return found


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_WATCHER = """
import os, shutil, subprocess, sys, time
owner, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.isdir(root):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
        break
    time.sleep(1)
"""


class PgCluster:
    """One throw-away cluster: ``start()``, ``stop()`` (the server; the files stay), ``start()`` again, ``destroy()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="jimeng-pg-"))
        self.data = self.root / "data"
        self.port = closed_port()
        self.as_postgres = os.geteuid() == 0
        self._watcher: subprocess.Popen[bytes] | None = None
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        # fsync off: fast, and still crash-safe for a server killed while the machine runs (the tests do that); no
        # synchronous_commit=off, which would lose commits to "pg_ctl stop -m immediate".
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts)
        if self._watcher is None:
            self._watcher = self._watch()

    def _watch(self) -> subprocess.Popen[bytes]:
        """A pytest killed outright (SIGKILL, a CI timeout) never runs ``destroy``: a detached watcher stops the
        server and deletes its files once this process is gone (and quits by itself once they are deleted)."""
        stop = [str(self.bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data)]
        if self.as_postgres:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        return subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(os.getpid()), str(self.root), *stop],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watcher is not None:
            self._watcher.kill()
            self._watcher.wait()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster(need_postgres())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
async def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return await pg_cluster.new_database()


BACKENDS = ["sqlite", "postgresql"]


async def factory_of(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of stores on one place: each call is another process's store on the same file or database."""
    if backend == "sqlite":
        return lambda: SqliteJobStore(tmp_path / "jobs.sqlite3")
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url = await cluster.new_database()
    return lambda: PgJobStore(url)


@pytest.fixture(params=BACKENDS)
async def shared_place(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """``EngineConfig`` keywords of a store several engines share: a data directory (SQLite), or PostgreSQL."""
    if request.param == "sqlite":
        return {"data_dir": tmp_path}
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return {"data_dir": tmp_path, "database_url": await cluster.new_database()}


@pytest.fixture(params=BACKENDS)
async def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Stores on SQLite, then on PostgreSQL (``factory_of``)."""
    return await factory_of(request.param, request, tmp_path)
