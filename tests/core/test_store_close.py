"""Closing the job store waits for a query whose caller was cancelled (issue #13: the busy-port start crashed with
SIGSEGV about one run in five, sqlite3 closing the connection under a query still running in its thread)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from core.store import SqliteJobStore


async def test_close_waits_for_a_cancelled_callers_query(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    started, outcome = threading.Event(), []

    def slow_read(conn: sqlite3.Connection) -> int:
        started.set()
        time.sleep(0.3)  # the caller is cancelled and close() is called meanwhile
        try:
            value = int(conn.execute("SELECT 1").fetchone()[0])
        except Exception as exc:  # the old store: "Cannot operate on a closed database" (or a crash)
            outcome.append(repr(exc))
            raise
        outcome.append("ok")
        return value

    caller = asyncio.create_task(store._run(slow_read))
    while not started.is_set():
        await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    await store.close()
    assert outcome == ["ok"]
    assert store._conn is None and not store._busy
