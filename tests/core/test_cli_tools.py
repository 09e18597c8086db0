"""``python -m core upscale|outpaint|detail`` as a subprocess against the emulator (issue #14), and a tool job that
outlives the process that started it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from PIL import Image

from core.jobs import Job, JobState
from core.params import ImageParams
from core.tools import ImageRef, ToolParams
from emulator import FakeJimeng
from tests.core.support import engine_for, sid
from tests.core.test_cli import _cli, _env


def _tool_env(fake: FakeJimeng, data: Path) -> dict[str, str]:
    return _env(
        JIMENG_SESSION_IDS=sid("cli-tools"),
        JIMENG_UPSTREAM_URL=fake.url,
        JIMENG_IMAGE_EXPECTED_S="0.5",
        JIMENG_DATA_DIR=str(data),
        JIMENG_ALLOW_PRIVATE_URLS="true",
    )


async def test_cli_outpaint_of_a_local_file(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.new("RGB", (600, 400), "teal").save(src)
    fake_jimeng.add_account(sid("cli-tools"))
    code, out, err = await _cli(
        "outpaint", str(src), "--expand", "0,0,0.5,0.5", "--count", "2", "--quiet", "--out", str(tmp_path / "o"),
        env=_tool_env(fake_jimeng, tmp_path / "data"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    files = [Path(line) for line in out.split()]
    assert len(files) == 2
    with Image.open(files[0]) as im:
        assert im.size == (1200, 400)
    body = fake_jimeng.calls("aigc_draft/generate")[-1].json
    comp = json.loads(body["draft_content"])["component_list"][0]
    assert comp["generate_type"] == "painting" and "origin_image" in comp["abilities"]["painting"]["postedit_param"]


async def test_cli_upscales_an_image_the_service_made(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("cli-tools"))
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("cli-tools"), data_dir=data) as service:
        job = await service.imagine(ImageParams(prompt="a harbour", count=2, ratio="1:1"))
        source = await job.wait()
        await service.settled(job.id)
    code, out, err = await _cli(
        "upscale", f"{job.id}-2", "--pro", "--quiet", "--out", str(tmp_path / "o"),
        env=_tool_env(fake_jimeng, data), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    body = fake_jimeng.calls("aigc_draft/generate")[-1].json
    param = json.loads(body["draft_content"])["component_list"][0]["abilities"]["pro_hd"]["postedit_param"]
    assert param["item_id"] == int(source.images[1].item_id or 0)
    assert param["origin_history_id"] == int(source.history_id or 0)
    assert len(out.split()) == 1


async def test_cli_detail_of_a_file_is_refused_in_one_line(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.new("RGB", (600, 400), "teal").save(src)
    fake_jimeng.add_account(sid("cli-tools"))
    code, _, err = await _cli("detail", str(src), "--quiet", env=_tool_env(fake_jimeng, tmp_path / "d"), cwd=tmp_path)
    assert code == 1 and "error: detail repair works only on an image made here" in err
    assert "Traceback" not in err and not fake_jimeng.calls("aigc_draft/generate")


async def test_a_tool_job_is_resumed_after_a_restart(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("durable-tool"))
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("durable-tool"), data_dir=data) as first:
        source = await first.imagine(ImageParams(prompt="a harbour", count=1, ratio="1:1"))
        await source.wait()
        await first.mark_delivered(source.id)  # the front end delivered it; only the tool job is left over
        fake_jimeng.image_seconds = 3.0  # the tool job is still generating when the process stops
        job = await first.tool(ToolParams(tool="outpaint", zoom=2), ImageRef(source.id, 0))
        async with asyncio.timeout(10):
            async for ev in job.events():
                if ev.state is JobState.PENDING:
                    break
    assert len(fake_jimeng.calls("aigc_draft/generate")) == 2
    delivered: list[Job] = []
    async with engine_for(fake_jimeng, sid("durable-tool"), data_dir=data) as second:
        done = asyncio.Event()

        async def deliver(j: Job) -> None:
            delivered.append(j)
            done.set()

        second.set_delivery_handler(deliver)
        async with asyncio.timeout(20):
            await done.wait()
    assert [j.id for j in delivered] == [job.id]
    assert delivered[0].state is JobState.SUCCEEDED and delivered[0].kind == "tool"
    result = delivered[0].last_event.result
    assert result is not None and result.model == "outpaint" and len(result.images) == 1
    assert len(fake_jimeng.calls("aigc_draft/generate")) == 2  # resumed by polling, never submitted again
