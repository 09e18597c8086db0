"""/video: text or first/last frames; the MP4 attached when it fits, else a link with its expiry."""

from __future__ import annotations

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, patches, result
from tests.bot.test_compose import png


async def test_video_from_frames_is_attached(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash(
            "video",
            {"prompt": "the sun rises", "duration": 5},
            attachments={"first_frame": ("a.png", png("black")), "last_frame": ("b.png", png("yellow"))},
        )
        assert (await ix.wait_callback()).json == {"type": 5}
        msg = await result(fake, ix)
    (file,) = patches(ix)[-1].files
    assert file.filename.endswith(".mp4") and file.data[4:8] == b"ftyp"
    assert msg["embeds"][0]["title"] == "Jimeng video" and custom_ids(msg)[0].startswith("jimeng:reroll:")
    (job,) = world.jimeng.jobs.values()
    assert job.kind == "video" and len(job.references) == 2


async def test_video_over_the_limit_is_a_link_with_its_expiry(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("video", {"prompt": "waves"}, attachment_size_limit=100)
        msg = await result(fake, ix)
    assert not patches(ix)[-1].files
    link = {f["name"]: f["value"] for f in msg["embeds"][0]["fields"]}["Too large to upload here"]
    assert ".mp4" in link and "link expires <t:" in link


async def test_a_last_frame_alone_is_refused(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        ix = await fake.slash("video", {"prompt": "x"}, attachments={"last_frame": ("b.png", png())})
        cb = await ix.wait_callback()
    assert cb.json["data"]["content"] == "A last frame needs a first frame too." and cb.json["data"]["flags"] == 64
