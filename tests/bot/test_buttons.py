"""Result buttons: DynamicItems that find the job in the engine's store, also after a restart."""

from __future__ import annotations

from tests.bot.conftest import World, run_bot
from tests.bot.support import custom_ids, ephemeral, patches, result


async def _imagine(fake, count: int = 2) -> tuple[dict, str]:
    ix = await fake.slash("imagine", {"prompt": "a lighthouse", "count": count})
    msg = await result(fake, ix)
    return msg, msg["embeds"][0]["footer"]["text"].split()[-1]


async def test_reroll_after_a_restart_and_commands_are_not_synced_again(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        assert fake.sync_count == 1
    restarted = world.bot()  # a new process: no View in memory, same engine store, same data dir
    async with run_bot(restarted, fake=fake):
        assert fake.sync_count == 1 and restarted.synced == []  # the command payload did not change
        click = await fake.click(msg, f"jimeng:reroll:{job_id}", user=fake.admin)
        assert (await click.wait_callback()).json == {"type": 5}
        again = await result(fake, click)
    new_id = again["embeds"][0]["footer"]["text"].split()[-1]
    assert new_id != job_id and again["embeds"][0]["description"] == "a lighthouse"
    new = await world.engine.store.get(new_id)
    assert new is not None and new.owner["user_id"] == fake.admin.id and new.spec["count"] == 2


async def test_vary_opens_a_modal_and_composes_from_the_chosen_image(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake)
        click = await fake.click(msg, f"jimeng:vary:{job_id}:1")
        cb = await click.wait_callback()
        assert cb.json["type"] == 9
        prompt_input = cb.json["data"]["components"][0]["component"]
        assert prompt_input["value"] == "a lighthouse"  # prefilled
        sub = await fake.submit_modal(click, {"prompt": "a lighthouse at night"})
        varied = await result(fake, sub)
    blends = [j for j in world.jimeng.jobs.values() if j.kind == "blend"]
    assert len(blends) == 1 and len(blends[0].references) == 1
    assert varied["embeds"][0]["title"] == "Jimeng composition"


async def test_animate_makes_a_video_from_the_image(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        msg, job_id = await _imagine(fake, count=1)
        assert f"jimeng:pick:{job_id}" not in custom_ids(msg)  # one image: no select
        click = await fake.click(msg, f"jimeng:animate:{job_id}:1")
        cb = await click.wait_callback()
        assert cb.json["type"] == 9  # a form: prompt, duration, ratio, model, prefilled
        prefilled = {c["component"]["custom_id"]: c["component"].get("value") for c in cb.json["data"]["components"]}
        assert prefilled == {
            "prompt": "a lighthouse",
            "duration": "5",
            "ratio": "1:1",  # the source image's
            "model": world.engine.config.default_video_model,
        }
        sub = await fake.submit_modal(click, {**prefilled, "ratio": "16:9", "duration": "10"})
        video = await result(fake, sub)
        again = await fake.click(msg, f"jimeng:animate:{job_id}:1")
        await again.wait_callback()
        bad = await fake.submit_modal(again, {**prefilled, "duration": "soon"})
        refused = await ephemeral(fake, bad)
    assert refused["content"].startswith("`Duration (seconds)` can't be `soon`")
    (file,) = patches(sub)[-1].files
    assert file.filename.endswith(".mp4") and file.content_type in (None, "video/mp4", "application/octet-stream")
    assert video["embeds"][0]["title"] == "Jimeng video"
    video_id = video["embeds"][0]["footer"]["text"].split()[-1]
    assert custom_ids(video) == [f"jimeng:reroll:{video_id}", f"jimeng:delete:{video_id}"]
    (vjob,) = [j for j in world.jimeng.jobs.values() if j.kind == "video"]
    assert vjob.references  # the first frame was uploaded
    record = await world.engine.store.get(video_id)
    assert record is not None and record.spec["duration"] == 10 and record.spec["ratio"] == "16:9"


async def test_a_button_for_an_unknown_job_says_so(world: World) -> None:
    async with run_bot(world.bot(), fake=world.discord) as fake:
        old = fake.add_message(
            "old",
            components=[
                {"type": 1, "components": [{"type": 2, "style": 2, "label": "R", "custom_id": "jimeng:reroll:gone"}]}
            ],
        )
        click = await fake.click(old, "jimeng:reroll:gone")
        cb = await click.wait_callback()
    assert cb.json["data"]["content"] == "I no longer know job `gone`." and cb.json["data"]["flags"] == 64
