"""The account slot of a job rides in the same transaction as its first row (issue #16, the latency regression of
the shared store): before the submit a job costs two commits in a row (its row with its slot, then the write-ahead
body), as it did before slots were leases in the store, not three."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from core import ImageParams
from core.store import SqliteJobStore
from core.wire import PATH_GENERATE
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory


def _what(work: Any) -> str:
    if callable(work):
        return str(getattr(work, "__qualname__", "?")).split(".")[1]  # SqliteLeases.take_slot.<locals>.write
    return " ".join(str(work).split()[:3])


async def test_a_jobs_slot_is_taken_in_the_transaction_of_its_first_row(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    async with make_engine(data_dir=tmp_path) as engine:
        store = engine.store
        assert isinstance(store, SqliteJobStore) and engine.shared is not None
        commits: list[tuple[list[str], int]] = []  # each transaction: what it held, generate requests sent by then

        def commit(conn: sqlite3.Connection, batch: list[Any]) -> list[Any]:
            commits.append(([_what(w) for w, *_ in batch], len(fake_jimeng.calls(PATH_GENERATE))))
            return SqliteJobStore._commit(conn, batch)

        store._commit = commit  # type: ignore[method-assign]
        for sent_before, prompt in enumerate(("a lighthouse", "a harbour")):  # cold, then with a learned timing
            commits.clear()
            job = await engine.imagine(ImageParams(prompt=prompt))
            assert await engine.settled(job.id) is not None
            await engine.ledger.flush()  # the job's last writes (its end, the slot given back, the kept files)
            before_submit = [held for held, sent in commits if sent == sent_before]
            assert before_submit[0] == ["INSERT INTO jobs", "take_slot"], commits  # the row and its slot, at once
            assert len(before_submit) == 2, commits  # then the body, written ahead of the request
