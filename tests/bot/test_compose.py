"""Compositions: /compose attachments, the message menu + modal, reply-with-attachments with and without the intent."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.bot.conftest import World, run_bot
from tests.bot.support import patches, result


def png(colour: str = "red", size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def blend_jobs(world: World) -> list:
    return [j for j in world.jimeng.jobs.values() if j.kind == "blend"]


async def test_compose_with_attachment_options(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash(
            "compose",
            {"prompt": "merge them", "count": 1},
            attachments={"image1": ("a.png", png("red")), "image2": ("b.png", png("blue"))},
        )
        assert (await ix.wait_callback()).json == {"type": 5}
        msg = await result(fake, ix)
    assert msg["embeds"][0]["title"] == "Jimeng composition"
    (job,) = blend_jobs(world)
    assert len(job.references) == 2 and job.prompt.endswith("merge them")
    assert len(patches(ix)[-1].files) == 1


async def test_context_menu_opens_a_modal_and_composes_from_the_message_and_uploads(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        embed_image = fake.add_cdn_file("embeds/e.png", png("green"), "image/png")
        src = fake.add_message(
            "look",
            author=fake.admin,
            attachments=[("a.png", png("red")), ("b.png", png("blue")), ("notes.txt", b"hi", "text/plain")],
            embeds=[{"type": "rich", "image": {"url": embed_image}}],
        )
        ix = await fake.context_menu_message("Compose with Jimeng", src)
        cb = await ix.wait_callback()
        assert cb.json["type"] == 9 and cb.json["data"]["title"] == "Compose with Jimeng"
        kinds = [(c["type"], c["component"]["type"]) for c in cb.json["data"]["components"]]
        assert kinds == [(18, 4), (18, 19)]  # Label(TextInput prompt), Label(FileUpload)
        sub = await fake.submit_modal(ix, {"prompt": "neon city"}, attachments={"images": [("u.png", png("white"))]})
        assert (await sub.wait_callback()).json == {"type": 5}
        msg = await result(fake, sub)
    (job,) = blend_jobs(world)
    assert len(job.references) == 4  # two attachments (the .txt is skipped), the embed image, the upload
    assert msg["embeds"][0]["description"] == "neon city"


async def test_too_many_images_is_refused_before_anything_runs(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        src = fake.add_message("many", attachments=[(f"{i}.png", png()) for i in range(8)])
        ix = await fake.context_menu_message("Compose with Jimeng", src)
        await ix.wait_callback()
        uploads = [(f"u{i}.png", png()) for i in range(3)]
        sub = await fake.submit_modal(ix, {"prompt": "too many"}, attachments={"images": uploads})
        cb = await sub.wait_callback()
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64
    assert cb.json["data"]["content"] == "Too many images: 11. This model takes at most 10."
    assert not world.jimeng.jobs


async def test_a_non_image_attachment_is_refused(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash("compose", {"prompt": "x"}, attachments={"image1": ("notes.txt", b"hello", "text/plain")})
        cb = await ix.wait_callback()
    assert cb.json["data"]["content"] == "Attachment 1 (notes.txt) is not an image." and cb.json["data"]["flags"] == 64


async def test_a_broken_image_is_a_friendly_error_in_place_of_the_status(world: World) -> None:
    bot = world.bot()
    async with run_bot(bot, fake=world.discord) as fake:
        ix = await fake.slash(
            "compose", {"prompt": "x"}, attachments={"image1": ("broken.png", b"not a png", "image/png")}
        )
        assert (await ix.wait_callback()).json == {"type": 5}
        msg = await fake.wait_until(
            lambda: ix.original if ix.original and ix.original["content"].startswith("Image 1") else None
        )
    assert msg["content"].startswith("Image 1 could not be used")  # the status message became the notice
    assert not fake.calls_matching("DELETE", "/messages/@original")
    assert not world.jimeng.jobs


@pytest.mark.parametrize("intent", [True, False])
async def test_reply_with_attachments_to_another_members_message(world: World, intent: bool) -> None:
    bot = world.bot(message_content=intent)
    async with run_bot(bot, fake=world.discord) as fake:
        theirs = await fake.message_create("my cat", author=fake.admin, attachments=[("cat.png", png("orange"))])
        await fake.message_create(f"{fake.bot_user.mention} make it a watercolour", reference=theirs)
        reply = await fake.wait_for_call("POST", f"/channels/{fake.channel.id}/messages", timeout=10)
        if intent:
            final = await fake.wait_until(
                lambda: next((m for m in fake.messages.values() if m.get("embeds") and m["attachments"]), None),
                timeout=10,
            )
    if intent:
        (job,) = blend_jobs(world)
        assert len(job.references) == 1 and job.prompt.endswith("make it a watercolour")
        assert final["embeds"][0]["title"] == "Jimeng composition"
        assert final["content"] == f"{world.discord.user.mention} here you go."
    else:
        assert "Message Content intent" in reply.json["content"] and "admin" in reply.json["content"]
        assert not world.jimeng.jobs


async def test_reply_to_the_bots_own_result_with_more_images_works_without_the_intent(world: World) -> None:
    bot = world.bot(message_content=False)
    async with run_bot(bot, fake=world.discord) as fake:
        ours = fake.add_message("a result", author=fake.bot_user, attachments=[("r.png", png("purple"))])
        await fake.message_create(
            f"{fake.bot_user.mention} add a hat", reference=ours, attachments=[("hat.png", png("black"))]
        )
        await fake.wait_until(
            lambda: next((m for m in fake.messages.values() if m.get("embeds") and m["attachments"]), None), timeout=10
        )
    (job,) = blend_jobs(world)
    assert len(job.references) == 2
