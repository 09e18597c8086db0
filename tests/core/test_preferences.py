"""Server and member settings in the store (issue #15): schema 3 → 4, round trip across a restart, validation that
saves nothing on refusal, and the effective settings (environment ⊕ server ⊕ member ⊕ options)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.errors import InvalidRequestError, SettingsError
from core.jobs import MemoryJobStore
from core.preferences import GuildSettings, MemberPrefs, Preferences, ServerDefaults
from core.registry import Registry
from core.store import MIGRATIONS, SqliteJobStore
from core.wire import Region
from tests.pg import StoreFactory

CN = frozenset({Region.CN})
US = frozenset({Region.US})
DEFAULTS = ServerDefaults(channel_ids=(11,), member_jobs=2, member_queue=5, locale="en-US", admin_channel_id=99)


def prefs_on(store: object, regions: frozenset[Region] = CN) -> Preferences:
    return Preferences(store, Registry(), lambda: regions, DEFAULTS)  # type: ignore[arg-type]


async def test_schema_3_file_with_jobs_migrates_to_4(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    conn = sqlite3.connect(path)
    for number, sql in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(f"BEGIN; {sql}; PRAGMA user_version={number}; COMMIT;")
    conn.execute(
        "INSERT INTO jobs (id, kind, spec, owner, submit_id, state, result, created_at, updated_at) VALUES "
        "('j1', 'image', '{}', '{\"user_id\": 7, \"guild_id\": 1}', 's-1', 'succeeded', "
        '\'{"assets": [{"kind": "image"}, {"kind": "image"}]}\', 1000, 1000)'
    )
    conn.commit()
    conn.close()

    store = SqliteJobStore(path)
    try:
        assert await store._run(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS) >= 4
        old = await store.get("j1")
        assert old is not None and old.owner == {"user_id": 7, "guild_id": 1}
        rows = await store.usage_rows({"user_id": 7}, 0)
        assert [(r.id, r.images, r.videos, r.credits) for r in rows] == [("j1", 2, 0, None)]
        await store.set_credits({"s-1": 3})
        assert (await store.usage_rows({"guild_id": 1}, 0))[0].credits == 3.0
        assert await store.usage_rows({"guild_id": 2}, 0) == []
        await store.save_settings("guild", "1", {"quota": 3})
        assert await store.load_settings("guild", "1") == {"quota": 3}
    finally:
        await store.close()


async def test_settings_round_trip_and_survive_a_restart(store_backend: StoreFactory) -> None:
    store = store_backend()  # SQLite and PostgreSQL (tests/pg.py)
    prefs = prefs_on(store)
    await prefs.set_guild(
        1, channel_ids=[22, 21], role_id=5, image_model="jimeng-4.0", resolution="1k", quota=3, quota_unit="credits"
    )
    await prefs.set_member(1, 7, image_model="jimeng-5.0", count=2, ratio="16:9", negative_prompt=" blur ")
    await prefs.set_member(None, 7, language="zh-CN")  # DMs are their own scope
    await store.close()

    store = store_backend()
    prefs = prefs_on(store)
    try:
        guild = await prefs.get_guild(1)
        assert guild == GuildSettings(
            channel_ids=(21, 22), role_id=5, image_model="jimeng-4.0", resolution="1k", quota=3, quota_unit="credits"
        )
        member = await prefs.get_member(1, 7)
        assert member == MemberPrefs(image_model="jimeng-5.0", ratio="16:9", count=2, negative_prompt="blur")
        assert (await prefs.get_member(None, 7)).language == "zh-CN"
        assert (await prefs.get_member(2, 7)).is_empty
        await prefs.set_member(1, 7, ratio=None)  # None unsets one field
        assert (await prefs.get_member(1, 7)).ratio is None
        await prefs.reset_member(1, 7)
        await prefs.reset_guild(1)
        assert (await prefs.get_member(1, 7)).is_empty and (await prefs.get_guild(1)).is_empty
        assert await store.load_settings("guild", "1") is None
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        ({"quota": -1}, "quota", "out_of_range"),
        ({"image_model": "jimeng-9000"}, "image_model", "unknown_model"),
        ({"image_model": "nanobanana"}, "image_model", "model_not_offered"),  # international only; accounts are CN
        ({"image_model": "jimeng-video-3.0"}, "image_model", "wrong_model_kind"),
        ({"video_model": "jimeng-video-sora2"}, "video_model", "model_not_offered"),
        ({"resolution": "8k"}, "resolution", "bad_resolution"),
        ({"image_model": "jimeng-4.5", "resolution": "1k"}, "resolution", "bad_resolution"),  # 4.5 has no 1k
        ({"member_jobs": 0}, "member_jobs", "out_of_range"),
        ({"member_queue": 51}, "member_queue", "out_of_range"),
        ({"member_jobs": True}, "member_jobs", "bad_type"),
        ({"quota_unit": "images"}, "quota_unit", "bad_quota_unit"),
        ({"locale": "fr-FR"}, "locale", "bad_language"),
        ({"channel_ids": [1, -4]}, "channel_ids", "bad_id"),
        ({"role_id": "everyone"}, "role_id", "bad_id"),
        ({"colour": "red"}, "colour", "unknown_setting"),
    ],
)
async def test_bad_server_settings_are_refused_and_nothing_is_saved(changes: dict, param: str, code: str) -> None:
    store = MemoryJobStore()
    prefs = prefs_on(store)
    await prefs.set_guild(1, member_jobs=3, quota=5)
    with pytest.raises(SettingsError) as info:
        await prefs.set_guild(1, **{"admin_channel_id": 9, **changes})  # a good change beside: not saved either
    assert isinstance(info.value, InvalidRequestError)
    assert (info.value.param, info.value.code) == (param, code), info.value.message
    assert await store.load_settings("guild", "1") == {"member_jobs": 3, "quota": 5}


async def test_bad_member_settings_are_refused() -> None:
    prefs = prefs_on(MemoryJobStore())
    for changes, code in [
        ({"count": 0}, "out_of_range"),
        ({"count": 9}, "out_of_range"),
        ({"image_model": "jimeng-aesthetic-8.2", "count": 2}, "out_of_range"),  # that model makes 4 per job
        ({"ratio": "5:4"}, "bad_ratio"),
        ({"language": "de"}, "bad_language"),
        ({"negative_prompt": "x" * 4001}, "too_long"),
    ]:
        with pytest.raises(SettingsError) as info:
            await prefs.set_member(1, 7, **changes)
        assert info.value.code == code, changes
    assert (await prefs.get_member(1, 7)).is_empty
    # the US-only pool offers nanobanana but not jimeng-4.7
    us = prefs_on(MemoryJobStore(), US)
    assert (await us.set_member(1, 7, image_model="NanoBanana")).image_model == "nanobanana"
    with pytest.raises(SettingsError, match="not offered"):
        await us.set_member(1, 7, image_model="jimeng-4.7")


async def test_effective_settings_layer_env_server_member_options() -> None:
    prefs = prefs_on(MemoryJobStore())
    eff = await prefs.effective(1, 7)
    assert (eff.image_model, eff.channel_ids, eff.member_jobs, eff.locale, eff.quota) == (
        DEFAULTS.image_model,
        (11,),
        2,
        "en-US",
        None,
    )
    assert eff.source["image_model"] == "env" and eff.admin_channel_id == 99

    await prefs.set_guild(1, image_model="jimeng-4.0", resolution="1k", member_jobs=4, channel_ids=[], quota=2)
    eff = await prefs.effective(1, 7)
    assert (eff.image_model, eff.resolution, eff.member_jobs, eff.channel_ids, eff.quota, eff.quota_unit) == (
        "jimeng-4.0",
        "1k",
        4,
        (),
        2,
        "jobs",
    )
    assert eff.source["resolution"] == "server"

    await prefs.set_member(1, 7, image_model="jimeng-5.0", count=8, negative_prompt="text")
    eff = await prefs.effective(1, 7)
    # the server's 1k is not offered by the member's model: dropped, so the model's default applies
    assert (eff.image_model, eff.resolution, eff.count, eff.negative_prompt) == ("jimeng-5.0", None, 8, "text")
    assert eff.source["image_model"] == "member"

    eff = await prefs.effective(1, 7, {"model": "jimeng-aesthetic-8.2", "ratio": "3:4", "negative_prompt": ""})
    # explicit options win; the member's count (8) does not fit this model and is dropped; "" means not given
    assert (eff.image_model, eff.ratio, eff.count, eff.negative_prompt) == ("jimeng-aesthetic-8.2", "3:4", None, "text")
    assert eff.source["image_model"] == "option"
    eff = await prefs.effective(1, 7, {"count": 3})
    assert eff.count == 3 and eff.source["count"] == "option"  # an explicit option is never dropped

    video = await prefs.effective(1, 7, {"model": "jimeng-video-3.0"}, kind="video")
    assert (video.model, video.image_model, video.resolution, video.count) == (
        "jimeng-video-3.0",
        "jimeng-5.0",
        None,
        None,
    )
    other = await prefs.effective(2, 7)  # another server: nothing of server 1 or of the member there
    assert (other.image_model, other.member_jobs) == (DEFAULTS.image_model, 2)


async def test_a_stored_model_the_accounts_no_longer_offer_falls_back() -> None:
    regions = [CN]
    store = MemoryJobStore()
    prefs = Preferences(store, Registry(), lambda: regions[0], DEFAULTS)
    await prefs.set_guild(1, image_model="jimeng-4.0")
    await prefs.set_member(1, 7, image_model="jimeng-4.7")  # CN only
    assert (await prefs.effective(1, 7)).image_model == "jimeng-4.7"
    regions[0] = US  # the pool changed: now only a US account
    eff = await prefs.effective(1, 7)
    assert (eff.image_model, eff.source["image_model"]) == ("jimeng-4.0", "server")
    assert (await prefs.get_member(1, 7)).image_model == "jimeng-4.7"  # kept: it applies again if a CN account returns
