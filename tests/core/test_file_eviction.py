"""Eviction of kept result files (issue #7, core.filestore): the same answer as walking every row in age order, on
SQLite and PostgreSQL, while reading only the rows that go."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core import filestore
from core.pgstore import PgJobStore
from core.store import SqliteJobStore
from tests.pg import StoreFactory

INSERT = "INSERT INTO files (path, job_id, size, created_at) VALUES (?, ?, ?, ?)"


def _rows(n: int, seed: int = 7) -> list[tuple[str, str, int, float]]:
    """n files over 1000 s, a third of them sharing a created_at with another (ties go by path)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = 1000.0 + (i // 3 if i % 3 else i) * 0.25
        out.append(
            (
                f"/data/results/{rng.getrandbits(48):012x}/{i % 4 + 1}.webp",
                f"job{i // 4}",
                rng.randint(1, 5000),
                created,
            )
        )
    return out


def _every_row(rows: list[tuple[str, str, int, float]], older_than: float, max_bytes: int) -> list[str]:
    """What the stores did before: read every row in age order and walk it in Python."""
    ordered = sorted(rows, key=lambda r: (r[3], r[0]))
    total = sum(r[2] for r in ordered)
    out = []
    for path, _, size, created in ordered:
        if created < older_than or total > max_bytes:
            out.append(path)
            total -= size
    return out


def _cases(rows: list[tuple[str, str, int, float]]) -> list[tuple[float, int]]:
    total = sum(r[2] for r in rows)
    newest = max(r[3] for r in rows)
    first, second = sorted(rows, key=lambda r: (r[3], r[0]))[:2]
    return [
        (0.0, total),  # nothing goes
        (0.0, 10**12),
        (1100.0, total),  # past retention only
        (1100.0, 10**12),
        (0.0, total - 1),  # one byte over the cap: the oldest goes
        (0.0, total - first[2] - second[2]),  # exactly at the cap once the two oldest are gone: a third stays
        (0.0, total // 2),  # half the bytes: pages of the oldest
        (1200.0, total // 3),  # both
        (newest + 1, total),  # everything is past retention
        (0.0, 0),  # a cap of nothing
        (rows[3][3], total),  # a retention edge on a tie (created_at equal to older_than stays)
    ]


async def test_eviction_gives_what_walking_every_row_gave(store_backend: StoreFactory) -> None:
    store = store_backend()  # SQLite and PostgreSQL (tests/pg.py)
    await store.open()
    assert await store.files_to_evict(older_than=1e12, max_bytes=0) == []  # no files at all
    rows = _rows(1500)
    sql = filestore.numbered(INSERT) if isinstance(store, PgJobStore) else INSERT
    await store._write(sql, rows, many=True)
    for older_than, max_bytes in _cases(rows):
        want = _every_row(rows, older_than, max_bytes)
        assert await store.files_to_evict(older_than=older_than, max_bytes=max_bytes) == want, (older_than, max_bytes)
    await store.close()


class _Counting:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.rows, self.queries = conn, 0, 0

    def __call__(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        found = self.conn.execute(sql, args).fetchall()
        self.rows += len(found)
        self.queries += 1
        return found


@pytest.mark.parametrize("page", [filestore.PAGE, 7])
async def test_eviction_reads_only_the_rows_that_go(tmp_path: Path, page: int, request: pytest.FixtureRequest) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    await store.open()  # the real schema
    await store.close()
    rows = _rows(20_000)
    conn = sqlite3.connect(tmp_path / "jobs.sqlite3")
    request.addfinalizer(conn.close)
    conn.executemany(INSERT, rows)
    conn.commit()
    total = sum(r[2] for r in rows)
    for older_than, max_bytes in _cases(rows):
        count = _Counting(conn)
        got = filestore.walk(count, filestore.plan(older_than=older_than, max_bytes=max_bytes, page=page))
        assert got == _every_row(rows, older_than, max_bytes), (older_than, max_bytes)
        # the summary row, every file that goes, and at most the rest of the last page
        assert count.rows <= 1 + len(got) + page - 1, (older_than, max_bytes, count.rows, len(got))
        if not got:
            assert count.rows == 1 and count.queries == 1  # the usual case after a job: one aggregate, no rows
    # a store of 20,000 files under its cap and retention reads one row, not 20,000
    count = _Counting(conn)
    assert filestore.walk(count, filestore.plan(older_than=0.0, max_bytes=total)) == []
    assert count.rows == 1


def test_placeholders_are_numbered_for_postgresql() -> None:
    assert filestore.numbered(filestore.NEXT).endswith(
        "(created_at, path) > ($1, $2) ORDER BY created_at, path LIMIT $3"
    )
    assert filestore.numbered(filestore.SUMMARY) == filestore.SUMMARY
