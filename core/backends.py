"""Which job store a process uses (issue #16): the one factory the engine and the admin CLI share.

``EngineConfig.database_url`` (``JIMENG_DATABASE_URL``, ``postgresql://…``) chooses PostgreSQL (``core.pgstore``):
processes on several hosts. Otherwise ``data_dir`` chooses the SQLite file in it (``core.store``): processes on one
machine. Neither: jobs live in memory (tests). All three have the same calls (``core.jobs.JobStore``); the two shared
ones also those of ``core.announce.LeaseStore``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.config import EngineConfig
from core.jobs import JobRecord, JobStore, MemoryJobStore
from core.pgnotify import mask_url
from core.pgstore import PgJobStore
from core.store import DiskTimingsStore, SqliteJobStore

__all__ = ["DATABASE_SCHEMES", "accepting", "make_store", "mask_url", "service_record", "timings_store"]

DATABASE_SCHEMES = ("postgresql://", "postgres://")


def make_store(config: EngineConfig) -> JobStore:
    if config.database_url:
        return PgJobStore(config.database_url)
    if config.data_dir is not None:
        return SqliteJobStore(config.data_dir / "jobs.sqlite3")
    return MemoryJobStore()


def timings_store(database_url: str | None, data_dir: Path) -> DiskTimingsStore:
    """The admin CLI's store: its one-shot jobs in memory, the service's learned timings read and taught back."""
    return DiskTimingsStore(PgJobStore(database_url) if database_url else data_dir / "jobs.sqlite3")


async def service_record(where: Path | str | None, job_id: str) -> JobRecord | None:
    """A job's record in the bot's and the API's store, read (never written) by the admin CLI: the SQLite file in the
    data directory when it exists, or the PostgreSQL database at a URL."""
    if where is None or (isinstance(where, Path) and not await asyncio.to_thread(where.is_file)):
        return None
    store = SqliteJobStore(where) if isinstance(where, Path) else PgJobStore(where)
    await store.open()
    try:
        return await store.get(job_id)
    finally:
        await store.close()


async def accepting(store: JobStore) -> None:
    """Raise ``StoreUnavailableError`` when a new job could not be kept (the database is away); SQLite and memory
    stores always accept."""
    if isinstance(store, PgJobStore):
        await store.check()
