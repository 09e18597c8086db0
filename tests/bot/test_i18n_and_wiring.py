"""Languages, command sync payloads, the entry point, and small pure pieces (queue order, rendering)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.i18n import COMMAND_ZH, EN, MESSAGES, ZH, language
from bot.queue import FairQueue
from bot.render import BotError, error_text, status_text
from core import JobEvent, JobState, QuotaError, RateLimitError
from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, result, status_patches

ROOT = Path(__file__).resolve().parents[2]


async def test_zh_cn_members_get_chinese_everywhere(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        by_name = {c["name"]: c for c in fake.commands()}
        assert by_name["imagine"]["name_localizations"] == {"zh-CN": "画图"}
        assert by_name["imagine"]["description_localizations"]["zh-CN"] == "用即梦根据提示词生成图片"
        options = {o["name"]: o for o in by_name["imagine"]["options"]}
        assert options["prompt"]["name_localizations"] == {"zh-CN": "提示词"}
        assert options["ratio"]["choices"][0]["name_localizations"] == {"zh-CN": "自动"}
        assert by_name["Compose with Jimeng"]["name_localizations"] == {"zh-CN": "用即梦合成"}

        ix = await fake.slash("imagine", {"prompt": "山水画", "count": 2}, locale="zh-CN")
        msg = await result(fake, ix)
        assert any("生成中" in c.json["content"] or "即梦的队列" in c.json["content"] for c in status_patches(ix))
        assert msg["embeds"][0]["title"] == "即梦图片"
        labels = [c.get("label") for c in msg["components"][1]["components"]]
        assert labels == ["重新生成", "变体 #1", "做成视频 #1", "删除"]
        assert {f["name"] for f in msg["embeds"][0]["fields"]} >= {"模型", "尺寸", "用时"}

        denied = await fake.slash("credits", locale="zh-CN")
        cb = await denied.wait_callback()
        assert cb.json["data"]["content"] == "只有拥有“管理服务器”权限的成员可以这样做。"
        jobs = await fake.slash("jobs", locale="zh-CN")
        assert (await ephemeral(fake, jobs))["embeds"][0]["title"] == "你的即梦任务"
        assert custom_ids(msg)[0].startswith("jimeng:pick:")


def test_catalogue_is_complete_in_both_languages() -> None:
    for key, entry in MESSAGES.items():
        assert set(entry) == {EN, ZH}, key
        assert entry[EN].count("{") == entry[ZH].count("{"), key
    assert all(v == v.lower() and " " not in v for k, v in COMMAND_ZH.items() if k.islower() and " " not in k)
    assert language("zh-TW") == ZH and language("en-GB") == EN and language("fr", ZH) == ZH


def test_error_ladder_and_status_lines() -> None:
    assert error_text(QuotaError("x"), EN).startswith("Out of credits for today. Free credits come back <t:")
    assert error_text(RateLimitError("x", retry_after=12.2), EN) == "Busy, try again in 13 s."
    assert error_text(BotError("e_too_many", count=11, max=10), ZH) == "图片太多：11 张。该模型最多接受 10 张。"
    assert (
        error_text(ValueError("internal detail"), EN) == "Sorry, something went wrong on my side. It has been logged."
    )
    ev = JobEvent("j", JobState.GENERATING, finished=1, total=4, eta_s=12)
    assert status_text(ev, EN, prompt="p") == "**p**\n🎨 Generating 1/4 (about 15 s left)…"
    queued = JobEvent("j", JobState.QUEUED, queue_position=2, queue_length=3)
    assert status_text(queued, ZH) == "⏳ 等待空闲的即梦账号：第 2 位，共 3 位。"


async def test_fair_queue_round_robin_across_members() -> None:
    queue = FairQueue(per_member=1, capacity=1)
    order: list[str] = []
    release = asyncio.Event()

    async def job(member: int, name: str) -> None:
        async with queue.slot(member):
            order.append(name)
            await release.wait()

    tasks = [asyncio.create_task(job(m, n)) for m, n in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1"), (3, "c1")]]
    await asyncio.sleep(0.01)
    # members with nothing running go before a member's second and third jobs
    assert order == ["a1"] and (queue.position(2), queue.position(3), queue.position(1)) == (1, 2, 3)
    for _ in range(4):
        release.set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == ["a1", "b1", "c1", "a2", "a3"]


async def test_a_member_cannot_pile_up_jobs() -> None:
    queue = FairQueue(per_member=1, max_waiting=1)
    hold = asyncio.Event()

    async def job() -> None:
        async with queue.slot(7):
            await hold.wait()

    tasks = [asyncio.create_task(job()) for _ in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(BotError) as exc:
        async with queue.slot(7):
            pass
    assert exc.value.key == "e_member_busy"
    hold.set()
    await asyncio.gather(*tasks)


@pytest.mark.parametrize(
    ("env", "messages"),
    [
        ({}, ["JIMENG_SESSION_IDS is not set", "DISCORD_TOKEN is not set"]),  # every problem at once (issue #13)
        ({"JIMENG_SESSION_IDS": "0" * 32}, ["DISCORD_TOKEN is not set"]),
    ],
)
def test_missing_settings_are_named_at_once_and_exit_2(
    tmp_path: Path, env: dict[str, str], messages: list[str]
) -> None:
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == (1 if len(messages) == 1 else 1 + len(messages))  # one line, or a heading and one per setting
    for message in messages:
        assert message in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing created on the way out


def test_extensions_load_without_name_collisions() -> None:
    import importlib

    from bot.settings import BotConfig

    names: list[str] = []
    for ext in BotConfig().extensions:
        module = importlib.import_module(ext)
        assert callable(module.setup)
        for obj in vars(module).values():
            if isinstance(obj, type) and hasattr(obj, "__cog_app_commands__"):
                names += [c.name for c in obj.__cog_app_commands__]
    assert sorted(names) == sorted(set(names)) and {"imagine", "compose", "video", "credits", "jobs"} <= set(names)
