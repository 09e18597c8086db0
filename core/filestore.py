"""Which kept result files to evict, read from the ``files`` table without walking every row (issue #7).

The answer is the one the stores gave by reading every row in ``created_at`` order: the files past retention, then the
oldest until the total fits under the cap. Walking in that order the evicted files are always a prefix (the old ones
come first, and the total only falls), so the walk stops at the first file kept. Here one aggregate (the total, in
the database) says whether anything goes at all; if it does, the files past retention are read (each of them goes),
then pages of the next oldest, only while the total is still over the cap. Ties on ``created_at`` go by path.

``plan`` holds the walk as a generator of queries (``?`` placeholders) that receives each query's rows; ``walk``
drives it on a blocking SQLite connection, ``walk_async`` on an async fetch (PostgreSQL, ``numbered`` placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any

PAGE = 256  # rows per page while evicting over the cap (the last page may read up to PAGE - 1 rows that stay)

Query = tuple[str, tuple[Any, ...]]
Rows = Sequence[Sequence[Any]]
Plan = Generator[Query, Rows, list[str]]

SUMMARY = "SELECT (SELECT COALESCE(SUM(size), 0) FROM files), (SELECT MIN(created_at) FROM files)"
OLD = "SELECT path, size, created_at FROM files WHERE created_at < ? ORDER BY created_at, path"
NEXT = "SELECT path, size, created_at FROM files WHERE (created_at, path) > (?, ?) ORDER BY created_at, path LIMIT ?"


def plan(*, older_than: float, max_bytes: int, page: int = PAGE) -> Plan:
    """The paths to evict: files created before ``older_than``, then the oldest while the total exceeds ``max_bytes``."""
    ((total, oldest),) = yield SUMMARY, ()
    out: list[str] = []
    if oldest is None:
        return out  # no files at all
    total = int(total)
    if oldest < older_than:
        for path, size, _ in (yield OLD, (older_than,)):
            out.append(path)
            total -= int(size)
    after: tuple[float, str] = (older_than, "")  # every path is non-empty: this starts at created_at >= older_than
    while total > max_bytes:
        rows = yield NEXT, (*after, page)
        for path, size, created in rows:
            out.append(path)
            total -= int(size)
            after = (created, path)
            if total <= max_bytes:
                break
        if len(rows) < page:
            break  # the table ended (another process may have deleted rows since the total was read)
    return out


def walk(fetch: Callable[[str, tuple[Any, ...]], Rows], steps: Plan) -> list[str]:
    """Run a plan with a blocking ``fetch(sql, args) -> rows`` (SQLite, in the store's worker thread)."""
    try:
        query = next(steps)
        while True:
            query = steps.send(fetch(*query))
    except StopIteration as done:
        return list(done.value)


async def walk_async(fetch: Callable[..., Awaitable[Rows]], steps: Plan) -> list[str]:
    """Run a plan with an async ``fetch(sql, *args) -> rows`` whose placeholders are ``$1, $2, …`` (PostgreSQL)."""
    try:
        sql, args = next(steps)
        while True:
            sql, args = steps.send(await fetch(numbered(sql), *args))
    except StopIteration as done:
        return list(done.value)


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …`` (the queries here hold no ``?`` in a literal)."""
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
