"""The three real processes of tests/bot/test_processes.py — two APIs and the bot — on PostgreSQL (issue #16): the
Compose setup (docker-compose.yml: one database, one results volume). The same test, the same judge (the emulator):
never more than the account's 2 jobs upstream, kill -9 of an API mid-job hands its videos to another process, nothing
is sent twice, the daily claim is made once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import tests.bot.test_processes as on_sqlite
from emulator import FakeJimeng
from tests.fakes.discord import FakeDiscord

pytestmark = on_sqlite.pytestmark


class ThreeOnPostgres(on_sqlite.Three):
    def __init__(self, jimeng: FakeJimeng, discord: FakeDiscord, tmp: Path, database_url: str) -> None:
        super().__init__(jimeng, discord, tmp)
        self.database_url = database_url

    def _env(self, **extra: str) -> dict[str, str]:
        return super()._env(JIMENG_DATABASE_URL=self.database_url, **extra)


@pytest.fixture
async def three_pg(discord_fake: FakeDiscord, tmp_path: Path, pg_url: str) -> AsyncIterator[on_sqlite.Three]:
    jimeng = FakeJimeng(image_seconds=1.5, video_seconds=on_sqlite.VIDEO_S, items_during_45=False)
    await jimeng.start()
    jimeng.add_account(on_sqlite.ACCOUNT, credits=100_000)
    world = ThreeOnPostgres(jimeng, discord_fake, tmp_path, pg_url)
    try:
        yield world
    finally:
        await world.close()
        await jimeng.close()


async def test_two_apis_and_the_bot_on_postgresql_share_one_account_and_survive_a_kill_9(
    three_pg: on_sqlite.Three,
) -> None:
    await on_sqlite.test_two_apis_and_the_bot_share_one_account_and_survive_a_kill_9(three_pg)
    assert not (three_pg.tmp / "data" / "jobs.sqlite3").exists()  # the store was PostgreSQL only
