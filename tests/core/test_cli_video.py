"""``python -m core video --ref …`` and ``python -m core interpolate`` as subprocesses against the emulator
(issue #14)."""

from __future__ import annotations

import json
from pathlib import Path

from core.params import VideoParams
from emulator import FakeJimeng
from tests.core.conftest import make_png
from tests.core.media_files import make_mp3, make_mp4
from tests.core.support import engine_for, sid
from tests.core.test_cli import _cli, _env


def _video_env(fake: FakeJimeng, data: Path) -> dict[str, str]:
    return _env(
        JIMENG_SESSION_IDS=sid("cli-video"),
        JIMENG_UPSTREAM_URL=fake.url,
        JIMENG_VIDEO_EXPECTED_S="0.5",
        JIMENG_DATA_DIR=str(data),
    )


async def test_cli_omni_video_with_references(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("cli-video"))
    fake_jimeng.video_seconds = 0.3
    (tmp_path / "a.png").write_bytes(make_png(64, 64))
    (tmp_path / "b.mp4").write_bytes(make_mp4(3.0))
    (tmp_path / "c.mp3").write_bytes(make_mp3(2.0))
    code, out, err = await _cli(
        "video", "@1 sings @3", "--model", "jimeng-video-seedance-2.0-mini", "--ref", "a.png", "--ref", "b.mp4",
        "--ref", "c.mp3", "--quiet", "--out", str(tmp_path / "o"),
        env=_video_env(fake_jimeng, tmp_path / "data"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    [path] = [Path(line) for line in out.split()]
    assert path.suffix == ".mp4" and path.read_bytes()[4:8] == b"ftyp"
    body = fake_jimeng.calls("aigc_draft/generate")[-1].json
    inp = json.loads(body["draft_content"])["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    kinds = [m["material_type"] for m in inp["video_gen_inputs"][0]["unified_edit_input"]["material_list"]]
    assert kinds == ["image", "video", "audio"]


async def test_cli_refuses_a_bad_reference(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("cli-video"))
    (tmp_path / "long.mp4").write_bytes(make_mp4(20.0))
    code, _, err = await _cli(
        "video", "p", "--model", "jimeng-video-seedance-2.0", "--ref", "long.mp4", "--quiet",
        env=_video_env(fake_jimeng, tmp_path / "data"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1 and "lasts 20.0 s" in err
    assert not fake_jimeng.calls("ApplyUploadInner")


async def test_cli_interpolates_a_file_and_a_video_the_service_made(fake_jimeng: FakeJimeng, tmp_path: Path) -> None:
    fake_jimeng.add_account(sid("cli-video"))
    fake_jimeng.video_seconds = 0.3
    data = tmp_path / "data"
    async with engine_for(fake_jimeng, sid("cli-video"), data_dir=data) as service:
        job = await service.video(VideoParams(prompt="waves", model="jimeng-video-seedance-2.0-mini", duration=4))
        source = await job.wait()
        await service.settled(job.id)
    code, out, err = await _cli(
        "interpolate", job.id, "--quiet", "--out", str(tmp_path / "o"), env=_video_env(fake_jimeng, data), cwd=tmp_path
    )
    assert code == 0, err
    body = fake_jimeng.calls("aigc_draft/generate")[-1].json
    ref = json.loads(body["draft_content"])["component_list"][1]["abilities"]["gen_video"]["video_ref_params"]
    assert str(ref["origin_history_id"]) == source.history_id
    (tmp_path / "clip.mp4").write_bytes(make_mp4(3.0))
    code, out2, err = await _cli(
        "interpolate",
        "clip.mp4",
        "--quiet",
        "--out",
        str(tmp_path / "o2"),
        env=_video_env(fake_jimeng, data),
        cwd=tmp_path,
    )
    assert code == 0, err
    assert len(json.loads(fake_jimeng.calls("aigc_draft/generate")[-1].json["draft_content"])["component_list"]) == 1
    assert [Path(x).suffix for x in out.split() + out2.split()] == [".mp4", ".mp4"]
