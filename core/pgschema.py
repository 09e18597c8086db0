"""The PostgreSQL store's schema (issue #16): the SQLite migrations of ``core.store.MIGRATIONS``, one for one, in
PostgreSQL's words, and the one function that brings a database up to date.

The version lives in a ``schema_version`` table (SQLite keeps it in ``PRAGMA user_version``). Processes starting at
once on several hosts migrate once: each takes the same transaction-scoped advisory lock before it reads the version,
so the second waits for the first's commit and then finds nothing to do. Columns keep SQLite's meaning: times are
epoch seconds (``double precision``), JSON is kept as the same text (``owner::jsonb`` where a query looks inside).
"""

from __future__ import annotations

import logging
from typing import Any

from core.pgpolls import PG_MIGRATION_6

log = logging.getLogger(__name__)

MIGRATE_LOCK = 0x6A696D656E67  # pg_advisory_xact_lock key of the migration ("jimeng")

PG_MIGRATIONS: list[str] = [
    # 1: jobs and account state
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        spec TEXT NOT NULL,
        owner TEXT NOT NULL,
        submit_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        account_key TEXT,
        history_id TEXT,
        body TEXT,
        result TEXT,
        error TEXT,
        finished INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        delivered_at DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_account ON jobs(account_key, state);
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE files (
        path TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        size BIGINT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX files_created ON files(created_at);
    """,
    # 2: reference images kept with compositions and framed videos
    """
    ALTER TABLE jobs ADD COLUMN refs TEXT;
    """,
    # 3: learned generation times per model key (core.timings)
    """
    CREATE TABLE timings (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 4: server and member settings, what each job cost, usage by time (core.prefstore)
    """
    CREATE TABLE settings (
        scope TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (scope, subject)
    );
    ALTER TABLE jobs ADD COLUMN credits DOUBLE PRECISION;
    CREATE INDEX jobs_created ON jobs(created_at);
    """,
    # 5: processes sharing the store: instances, account slots, daily claims, jobs.instance (core.leases)
    """
    CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE slots (
        job_id TEXT PRIMARY KEY,
        account_key TEXT NOT NULL,
        instance TEXT NOT NULL,
        taken_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX slots_account ON slots(account_key);
    CREATE TABLE claims (
        account_key TEXT NOT NULL,
        day TEXT NOT NULL,
        instance TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        expires_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (account_key, day)
    );
    ALTER TABLE jobs ADD COLUMN instance TEXT;
    """,
    # 6: one poller per account for every process: poll leases and watched jobs (core.pgpolls, core.pollstore)
    PG_MIGRATION_6,
]


async def migrate(conn: Any) -> int:
    """Bring the database on ``conn`` (an asyncpg connection) to the latest schema; the version it is at now."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version")
        if version is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0
        for number, sql in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            await conn.execute(sql)  # several statements, no arguments: one simple-protocol round trip
            await conn.execute("UPDATE schema_version SET version = $1", number)
            log.info("job store migrated to schema %d (PostgreSQL)", number)
            version = number
    return int(version)
