"""Omni-reference video on Discord (issue #14): /video with reference attachments, Animate with an omni model — the
real discord.py client against the fake Discord, the engine against the Jimeng emulator."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from PIL import Image

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, result
from tests.core.media_files import OGG, make_mp3, make_mp4
from tests.fakes.discord import FakeDiscord, FakeInteraction

MINI = "jimeng-video-seedance-2.0-mini"


def _png(colour: str = "teal") -> bytes:
    buf = BytesIO()
    Image.new("RGB", (320, 320), colour).save(buf, "PNG")
    return buf.getvalue()


def _job_id(msg: dict[str, Any]) -> str:
    return str(msg["embeds"][0]["footer"]["text"].split()[-1])


def _video_jobs(world: World) -> list[Any]:
    return [j for j in world.jimeng.jobs.values() if j.kind == "video"]


def _cdn_reads(fake: FakeDiscord) -> int:
    return len(fake.calls_matching("GET", "/cdn/attachments/"))


async def _refused(ix: FakeInteraction) -> str:
    cb = await ix.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64, cb.json
    return str(cb.json["data"]["content"])


async def test_video_with_image_video_and_audio_references(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash(
            "video",
            {
                "prompt": "@1 dances to @3 like in @2",
                "model": MINI,
                "reference1": fake.attachment("dancer.png", _png(), "image/png"),
                "reference2": fake.attachment("moves.mp4", make_mp4(3.0), "video/mp4"),
                "reference3": fake.attachment("song.mp3", make_mp3(2.0), "audio/mpeg"),
            },
        )
        assert (await ix.wait_callback()).json == {"type": 5}
        video = await result(fake, ix)
        again = await fake.click(video, f"jimeng:reroll:{_job_id(video)}")
        rerolled = await result(fake, again)
    async with run_bot(world.bot(), fake=world.discord) as fake:  # a new process: the references are gone
        after = await _refused(await fake.click(video, f"jimeng:reroll:{_job_id(video)}"))
    assert after == (
        f"The references of video job `{_job_id(video)}` are no longer kept (the bot restarted): "
        "run /video with them again."
    )
    assert video["embeds"][0]["title"] == "Jimeng video"
    assert video["embeds"][0]["description"] == "@1 dances to @3 like in @2"
    assert custom_ids(video) == [f"jimeng:reroll:{_job_id(video)}", f"jimeng:delete:{_job_id(video)}"]
    first, second = _video_jobs(world)
    assert first.model_key == "dreamina_seedance_40_mini" and second.model_key == first.model_key
    assert len(first.references) == len(second.references) == 1  # the image (ImageX)
    # the video and the audio went through VOD, for the job and again for its Reroll (the bot kept the references)
    assert len(world.jimeng.calls("CommitUploadInner")) == 4
    record = await world.engine.store.get(_job_id(video))
    assert record is not None and record.spec["mode"] == "omni"
    assert list(record.spec["kinds"]) == ["image", "video", "audio"]
    assert _job_id(rerolled) != _job_id(video)


async def test_references_are_refused_before_anything_is_downloaded(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        text = fake.attachment("notes.txt", b"hello", "text/plain")
        kind = await _refused(await fake.slash("video", {"prompt": "x", "model": MINI, "reference1": text}))
        big = fake.attachment("long.mp4", make_mp4(3.0), "video/mp4")
        big["size"] = 60 * 1024 * 1024  # what Discord says of the file; the bot trusts it and reads nothing
        too_big = await _refused(await fake.slash("video", {"prompt": "x", "model": MINI, "reference1": big}))
        frame = fake.attachment("a.png", _png(), "image/png")
        both = await _refused(
            await fake.slash(
                "video",
                {"prompt": "x", "model": MINI, "first_frame": frame, "reference1": fake.attachment("b.png", _png())},
            )
        )
        classic = await _refused(
            await fake.slash(
                "video",
                {"prompt": "x", "model": "jimeng-video-3.5-pro", "reference1": fake.attachment("c.png", _png())},
            )
        )
        clips = {f"reference{i}": fake.attachment(f"v{i}.mp4", make_mp4(1.0), "video/mp4") for i in range(1, 5)}
        many = await _refused(await fake.slash("video", {"prompt": "x", "model": MINI, **clips}))
        zh = await _refused(
            await fake.slash("video", {"prompt": "x", "model": MINI, "reference1": big}, locale="zh-CN")
        )
    assert kind == "Reference 1 (notes.txt) is not an image, video or audio file."
    assert too_big == "Reference 1 (long.mp4) is too large: 60.0 MB; a video may be at most 50 MB."
    assert zh == "第 1 个参考（long.mp4）太大：60.0 MB；视频最大 50 MB。"
    assert both == "Give either first/last frames or references, not both."
    assert classic.startswith("That request isn't valid: “jimeng-video-3.5-pro” takes no references")
    assert many == "That request isn't valid: too many references (video): 4; at most 3"
    assert _cdn_reads(fake) == 0 and not _video_jobs(world) and not world.jimeng.calls("ApplyUploadInner")


async def test_what_needs_the_bytes_is_refused_to_the_member_alone(world: World) -> None:
    """A reference's length and format are known once it is read (after the defer): the public status goes away and
    the refusal is an ephemeral follow-up; nothing reaches Jimeng."""
    async with run_bot(world.bot(), fake=world.discord) as fake:
        long = fake.attachment("long.mp4", make_mp4(20.0), "video/mp4")
        ix = await fake.slash("video", {"prompt": "x", "model": MINI, "reference1": long})
        assert (await ix.wait_callback()).json == {"type": 5}
        refusal = await ephemeral(fake, ix)
        await fake.wait_for_call("DELETE", "/messages/@original")
        ogg = fake.attachment("voice.ogg", OGG, "audio/ogg")
        ix2 = await fake.slash("video", {"prompt": "x", "model": MINI, "reference1": ogg})
        refusal2 = await ephemeral(fake, ix2)
    assert refusal["content"] == "That request isn't valid: reference 1 (video) lasts 20.0 s; at most 15 s"
    assert refusal2["content"] == "That request isn't valid: reference 1 is ogg audio; Jimeng takes MP3 or WAV"
    assert not _video_jobs(world) and not world.jimeng.calls("ApplyUploadInner")


async def test_animate_with_an_omni_model_uses_the_image_as_a_reference(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("imagine", {"prompt": "a lighthouse", "count": 1})
        msg = await result(fake, ix)
        click = await fake.click(msg, f"jimeng:animate:{_job_id(msg)}:1")
        cb = await click.wait_callback()
        model_label = next(c for c in cb.json["data"]["components"] if c["component"]["custom_id"] == "model")
        sub = await fake.submit_modal(click, {"prompt": "@1 glows at night", "duration": "5", "model": MINI})
        video = await result(fake, sub)
    assert "seedance-2.0-mini" in model_label["description"]  # the form names the omni models on offer
    assert video["embeds"][0]["title"] == "Jimeng video"
    (job,) = _video_jobs(world)
    assert job.model_key == "dreamina_seedance_40_mini" and len(job.references) == 1
    record = await world.engine.store.get(_job_id(video))
    assert record is not None and record.spec["mode"] == "omni" and list(record.spec["kinds"]) == ["image"]
