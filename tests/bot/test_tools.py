"""Image tools on results (issue #14): Upscale, Zoom out, Detail — the real discord.py client against the fake Discord,
the engine against the Jimeng emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from bot.bot import JimengBot
from core import Engine, EngineConfig
from emulator import FakeJimeng
from emulator.media import make_webp
from tests.bot.conftest import TEST_CONFIG, World, run_bot
from tests.bot.support import custom_ids, ephemeral, result
from tests.core.support import FAST, sid
from tests.fakes.discord import FakeDiscord, FakeInteraction


async def _imagine(fake: FakeDiscord, count: int = 1, prompt: str = "a lighthouse") -> tuple[dict[str, Any], str]:
    ix = await fake.slash("imagine", {"prompt": prompt, "count": count})
    msg = await result(fake, ix)
    return msg, msg["embeds"][0]["footer"]["text"].split()[-1]


def _job_id(msg: dict[str, Any]) -> str:
    return str(msg["embeds"][0]["footer"]["text"].split()[-1])


def _fields(msg: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in msg["embeds"][0].get("fields", [])}


def _tool_jobs(world: World) -> list[Any]:
    return [j for j in world.jimeng.jobs.values() if j.generate_type is not None]


async def _refused(fake: FakeDiscord, ix: FakeInteraction) -> str:
    """The text of an ephemeral refusal made as the interaction's answer (before any defer)."""
    cb = await ix.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64, cb.json
    return str(cb.json["data"]["content"])


async def test_tool_buttons_on_an_image_result_for_the_chosen_image(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        one, one_id = await _imagine(fake)
        two, two_id = await _imagine(fake, count=2)
        pick = await fake.click(two, f"jimeng:pick:{two_id}", values=["2"])
        mine = await ephemeral(fake, pick)
    assert custom_ids(one)[-4:] == [
        f"jimeng:delete:{one_id}",
        f"jimeng:upscale:{one_id}:1",
        f"jimeng:zoom:{one_id}:1",
        f"jimeng:detail:{one_id}:1",
    ]
    labels = [c.get("label") for row in one["components"] for c in row["components"]]
    assert labels[-3:] == ["Upscale #1", "Zoom out #1", "Detail #1"]
    assert len(one["components"]) == 2  # the tools have a row of their own
    assert custom_ids(two)[-3:] == [
        f"jimeng:upscale:{two_id}:1",
        f"jimeng:zoom:{two_id}:1",
        f"jimeng:detail:{two_id}:1",
    ]
    assert custom_ids(mine) == [
        f"jimeng:vary:{two_id}:2",
        f"jimeng:animate:{two_id}:2",
        f"jimeng:upscale:{two_id}:2",
        f"jimeng:zoom:{two_id}:2",
        f"jimeng:detail:{two_id}:2",
    ]


async def test_upscale_asks_which_mode_and_delivers_a_result_that_survives_a_restart(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        click = await fake.click(msg, f"jimeng:upscale:{job_id}:1", user=fake.admin)
        choice = await ephemeral(fake, click)
        assert custom_ids(choice) == [f"jimeng:upmode:{job_id}:1:hd", f"jimeng:upmode:{job_id}:1:pro"]
        assert choice["content"] == "Image 1: which upscale? (only you see this)"
        hd = await fake.click(choice, f"jimeng:upmode:{job_id}:1:hd", user=fake.admin)
        assert (await hd.wait_callback()).json == {"type": 5}  # deferred: a public status, then the result
        up = await result(fake, hd)
    up_id = _job_id(up)
    assert up["embeds"][0]["title"] == "Jimeng upscale"
    assert up["embeds"][0]["description"] == f"Upscale, HD (2×): image #1 of job {job_id}"
    assert _fields(up)["Size"] == "4096×4096" and len(up["attachments"]) == 1
    (tool_job,) = _tool_jobs(world)
    assert tool_job.generate_type == 13  # normal_hd (PROTOCOL.md §11.1)
    record = await world.engine.store.get(up_id)
    assert record is not None and record.kind == "tool" and record.owner["user_id"] == fake.admin.id
    assert custom_ids(up)[-3:] == [f"jimeng:upscale:{up_id}:1", f"jimeng:zoom:{up_id}:1", f"jimeng:detail:{up_id}:1"]

    restarted = world.bot()  # a new process: no View in memory, same engine store
    async with run_bot(restarted, fake=fake):
        again = await fake.click(msg, f"jimeng:detail:{job_id}:1")
        assert (await again.wait_callback()).json == {"type": 5}
        detail = await result(fake, again)
        pro_choice = await ephemeral(fake, await fake.click(msg, f"jimeng:upscale:{job_id}:1"))
        pro = await fake.click(pro_choice, f"jimeng:upmode:{job_id}:1:pro")
        pro_msg = await result(fake, pro)
    assert detail["embeds"][0]["title"] == "Jimeng detail repair"
    assert pro_msg["embeds"][0]["title"] == "Jimeng upscale"
    assert sorted(j.generate_type for j in _tool_jobs(world)) == [2, 13, 35]  # super_resolution, normal_hd, pro_hd


async def test_zoom_out_offers_one_and_a_half_two_and_a_ratio(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        choice = await ephemeral(fake, await fake.click(msg, f"jimeng:zoom:{job_id}:1"))
        assert custom_ids(choice) == [
            f"jimeng:zoomx:{job_id}:1:1.5",
            f"jimeng:zoomx:{job_id}:1:2",
            f"jimeng:zoomr:{job_id}:1",
        ]
        ratios = [o["value"] for row in choice["components"] for c in row["components"] for o in c.get("options", [])]
        assert "16:9" in ratios and "9:16" in ratios
        wide = await fake.click(choice, f"jimeng:zoomr:{job_id}:1", values=["16:9"])
        wide_msg = await result(fake, wide)
        twice = await fake.click(choice, f"jimeng:zoomx:{job_id}:1:2")
        twice_msg = await result(fake, twice)
        same = await fake.click(choice, f"jimeng:zoomr:{job_id}:1", values=["1:1"])
        refusal = await _refused(fake, same)
    assert wide_msg["embeds"][0]["title"] == "Jimeng zoom out"
    assert wide_msg["embeds"][0]["description"] == f"Zoom out to 16:9: image #1 of job {job_id}"
    w, h = (int(x) for x in _fields(wide_msg)["Size"].split("×"))
    assert w > h
    assert _fields(twice_msg)["Size"] == "4096×4096"  # 2048² zoomed out 2× each way
    assert {j.generate_type for j in _tool_jobs(world)} == {8}  # painting
    assert refusal == "That request isn't valid: the image already has that aspect ratio"


async def test_refusals_are_ephemeral_and_spend_nothing(world: World) -> None:
    small = make_webp(64, 64, "x")
    world.jimeng.render_image = lambda w, h, seed: small  # type: ignore[method-assign]  # sizes stay in the records
    async with run_bot(world.bot(), fake=world.discord) as fake:
        up, up_id = await _imagine(fake)
        for _ in range(2):  # upscale HD twice: 2048² → 4096² → 8192²
            choice = await ephemeral(fake, await fake.click(up, f"jimeng:upscale:{up_id}:1"))
            up = await result(fake, await fake.click(choice, f"jimeng:upmode:{up_id}:1:hd"))
            up_id = _job_id(up)
        size = _fields(up)["Size"]
        assert size == "8192×8192"
        # 8192² is over what the tools take: refused before the defer, nothing submitted
        before = len(_tool_jobs(world))
        too_big = await _refused(fake, await fake.click(up, f"jimeng:detail:{up_id}:1"))
        assert len(_tool_jobs(world)) == before
        vid = await fake.slash("video", {"prompt": "waves"})
        video = await result(fake, vid)
        video_id = _job_id(video)
        old = fake.add_message(
            "old",
            components=[
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 2, "label": "D", "custom_id": f"jimeng:detail:{video_id}:1"},
                        {"type": 2, "style": 2, "label": "U", "custom_id": "jimeng:upscale:0123456789abcdef:1"},
                    ],
                }
            ],
        )
        not_image = await _refused(fake, await fake.click(old, f"jimeng:detail:{video_id}:1"))
        gone = await _refused(fake, await fake.click(old, "jimeng:upscale:0123456789abcdef:1"))
        zh = await fake.click(up, f"jimeng:detail:{up_id}:1", locale="zh-CN")
        too_big_zh = await _refused(fake, zh)
        zoom_zh = await _refused(fake, await fake.click(up, f"jimeng:zoom:{up_id}:1", locale="zh-CN"))
    assert too_big == f"That request isn't valid: the image is {size}, over the 4096 px this tool takes"
    assert not_image == f"Image #1 of job `{video_id}` is not an image result I can use."
    assert gone == "I no longer know job `0123456789abcdef`."
    assert too_big_zh == f"请求无效：图片为 {size}，超过此工具可处理的 4096 像素"
    assert zoom_zh == too_big_zh  # Zoom out refuses before offering its choices


async def test_reroll_of_a_tool_result_runs_the_tool_again(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        choice = await ephemeral(fake, await fake.click(msg, f"jimeng:zoom:{job_id}:1"))
        zoomed = await result(fake, await fake.click(choice, f"jimeng:zoomx:{job_id}:1:1.5"))
        zoomed_id = _job_id(zoomed)
        again = await result(fake, await fake.click(zoomed, f"jimeng:reroll:{zoomed_id}"))
    assert again["embeds"][0]["title"] == "Jimeng zoom out" and _job_id(again) != zoomed_id
    first = await world.engine.store.get(zoomed_id)
    second = await world.engine.store.get(_job_id(again))
    assert first is not None and second is not None
    assert second.spec["extents"] == first.spec["extents"] and second.spec["source_job"] == job_id


async def test_a_site_without_the_tools_shows_no_tool_buttons_and_old_ones_say_why(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    hk = sid("hk")
    jimeng_fake.add_account(hk, region="hk", credits=10_000)
    async with aiohttp.ClientSession() as http:
        engine = Engine(
            http,
            EngineConfig(tokens=f"hk-{hk}", upstream_url=jimeng_fake.url, timing=FAST, maintenance=False),
        )
        await engine.start()
        try:
            bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
            async with run_bot(bot, fake=discord_fake) as fake:
                msg, job_id = await _imagine(fake)
                up = await _refused(fake, await fake.click(_with_tools(fake, job_id), f"jimeng:upscale:{job_id}:1"))
                zoom = await _refused(fake, await fake.click(_with_tools(fake, job_id), f"jimeng:zoom:{job_id}:1"))
                ref = fake.attachment("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
                omni = await _refused(fake, await fake.slash("video", {"prompt": "x", "reference1": ref}))
        finally:
            await engine.close()
    assert not [c for c in custom_ids(msg) if c.split(":")[1] in ("upscale", "zoom", "detail")]
    assert up == (
        "That request isn't valid: this tool (upscale-hd) is not offered in the region of this bot's Jimeng accounts"
    )
    assert zoom.endswith("this tool (outpaint) is not offered in the region of this bot's Jimeng accounts")
    assert omni.startswith("That request isn't valid: this (video.omni) is not offered in the region")
    assert not [j for j in jimeng_fake.jobs.values() if j.generate_type is not None or j.kind == "video"]


def _with_tools(fake: FakeDiscord, job_id: str) -> dict[str, Any]:
    """A result message of an older process that still carries the tool buttons."""
    buttons = [
        {"type": 2, "style": 2, "label": name, "custom_id": f"jimeng:{name}:{job_id}:1"} for name in ("upscale", "zoom")
    ]
    return fake.add_message("old result", components=[{"type": 1, "components": buttons}])


async def test_a_zoom_choice_made_before_a_restart_still_works(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        choice = await ephemeral(fake, await fake.click(msg, f"jimeng:zoom:{job_id}:1"))
    async with run_bot(world.bot(), fake=fake):
        tall = await result(fake, await fake.click(choice, f"jimeng:zoomr:{job_id}:1", values=["9:16"]))
    w, h = (int(x) for x in _fields(tall)["Size"].split("×"))
    assert tall["embeds"][0]["title"] == "Jimeng zoom out" and h > w


async def test_the_tools_are_admitted_like_any_job(world: World) -> None:
    """The server's daily quota (issue #15) refuses a tool job ephemerally, before anything is spent."""
    async with run_bot(world.bot(), fake=world.discord) as fake:
        await ephemeral(fake, await fake.slash("server-settings", {"quota": 1}, subcommand="set", user=fake.admin))
        msg, job_id = await _imagine(fake)
        refused = await _refused(fake, await fake.click(msg, f"jimeng:detail:{job_id}:1"))
        refused_zoom = await _refused(fake, await fake.click(msg, f"jimeng:zoom:{job_id}:1"))  # before the choices
        allowed = await result(fake, await fake.click(msg, f"jimeng:detail:{job_id}:1", user=fake.admin))
    assert refused.startswith("You have used your daily quota in this server (1 jobs).") and refused_zoom == refused
    assert allowed["embeds"][0]["title"] == "Jimeng detail repair"  # an admin's own quota is untouched
    assert [j.generate_type for j in _tool_jobs(world)] == [2]


async def test_a_tool_job_that_fails_upstream_says_it_may_be_billed(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        next(iter(world.jimeng.accounts.values())).next_outcomes.append(("fail", 30, ""))
        ix = await fake.click(msg, f"jimeng:detail:{job_id}:1")
        failed = await fake.wait_until(
            lambda: ix.original if ix.original and "billed" in (ix.original.get("content") or "") else None,
            timeout=10,
        )
    assert failed["content"].startswith("Jimeng could not generate this (")
    assert failed["content"].endswith("Failed post-edits may still be billed by Jimeng.).")
    assert not failed.get("flags", 0) & 64  # accepted upstream: a public failure like any job's


async def test_a_tool_job_running_at_shutdown_is_delivered_by_the_next_process(
    discord_fake: FakeDiscord, jimeng_fake: FakeJimeng, tmp_path: Path
) -> None:
    async def engine_on(http: aiohttp.ClientSession) -> Engine:
        config = EngineConfig(
            tokens=sid(1), upstream_url=jimeng_fake.url, timing=FAST, maintenance=False, data_dir=tmp_path
        )
        engine = Engine(http, config)
        await engine.start()
        return engine

    async with aiohttp.ClientSession() as http:
        engine = await engine_on(http)
        bot = JimengBot(engine=engine, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        async with run_bot(bot, fake=discord_fake) as fake:
            msg, job_id = await _imagine(fake)
            jimeng_fake.image_seconds = 2.0
            ix = await fake.click(msg, f"jimeng:detail:{job_id}:1")
            await ix.wait_callback()
            await fake.wait_until(lambda: [j for j in jimeng_fake.jobs.values() if j.generate_type], timeout=10)
        await engine.close()  # the process stops while Jimeng is still repairing
        posts_before = len(discord_fake.calls_matching("POST", "/channels/"))
        engine2 = await engine_on(http)
        bot2 = JimengBot(engine=engine2, config=TEST_CONFIG, data_dir=tmp_path, clock=discord_fake.clock)
        try:
            async with run_bot(bot2, fake=discord_fake) as fake:
                post = await fake.wait_for_call("POST", "/channels/", count=posts_before + 1, timeout=15)
        finally:
            await engine2.close()
    assert post.json["embeds"][0]["title"] == "Jimeng detail repair" and len(post.files) == 1
    assert post.json["embeds"][0]["description"] == f"Detail repair: image #1 of job {job_id}"
    assert len([j for j in jimeng_fake.jobs.values() if j.generate_type]) == 1  # resumed, never resubmitted
