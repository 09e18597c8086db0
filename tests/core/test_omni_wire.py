"""Omni-reference wire details against the emulator's request log: the VOD signature recomputed with the secret the
emulator issued, retries of a refused signature, failover to another account (references uploaded again there), and
malformed drafts the emulator refuses as upstream would."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core import sigv4
from core.errors import JimengError
from core.params import VideoParams
from core.video_refs import RefMedia
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, session_id
from tests.core.media_files import make_mp3, make_mp4
from tests.core.support import engine_for


@pytest.fixture(autouse=True)
def quick_videos(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.video_seconds = 0.3


_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=(\w+)"
)


def _refs() -> list[Any]:
    return [RefMedia.from_bytes(make_mp4(2.5, 640, 360), "m.mp4"), RefMedia.from_bytes(make_mp3(1.5), "a.mp3")]


async def test_vod_signatures_recomputed(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        job = await engine.omni_video(VideoParams(prompt="p", model="jimeng-video-seedance-2.0"), _refs())
        await job.wait()
    calls = fake_jimeng.calls("ApplyUploadInner") + fake_jimeng.calls("CommitUploadInner")
    assert len(calls) == 4
    for call in calls:
        m = _AUTH.fullmatch(call.headers["Authorization"])
        assert m is not None
        key_id, region, service, signed_headers, signature = m.groups()
        sts = fake_jimeng._sts[key_id]
        assert service == "vod" and region == "cn-north-1"
        commit = call.action == "CommitUploadInner"
        want = (
            ["x-amz-content-sha256", "x-amz-date", "x-amz-security-token"]
            if commit
            else ["x-amz-date", "x-amz-security-token"]
        )
        assert signed_headers.split(";") == want
        signed = sigv4.sign(
            call.method,
            list(call.query.items()),
            sigv4.Credentials(key_id, sts.secret, sts.token),
            region="cn-north-1",
            service="vod",
            body=call.body_bytes if commit else None,
            signed_headers=want,
            x_amz_date=call.headers["X-Amz-Date"],
        )
        assert signed.signature == signature
        if commit:
            assert call.headers["Content-Type"] == "text/plain;charset=UTF-8"
            assert json.loads(call.body_bytes) == {
                "SessionKey": json.loads(call.body_bytes)["SessionKey"],
                "Functions": [],
            }
        else:
            assert call.query["IsInner"] == "1" and len(call.query["s"]) == 12
            assert int(call.query["FileSize"]) > 0 and call.query["Version"] == "2020-11-19"
    # the bytes went to the node named by Apply, with the store Auth and a CRC32
    nodes = [r for r in fake_jimeng.requests if r.path.startswith("/upload/v1/tos-cn-v-")]
    assert len(nodes) == 2 and all(len(n.headers["Content-CRC32"]) == 8 for n in nodes)


async def test_a_refused_vod_signature_is_retried_with_a_fresh_token(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    fake_jimeng.upload_faults = ["apply_signature"]
    async with make_engine() as engine:
        engine.dispatcher._uploader.retry_base_s = 0.01
        job = await engine.omni_video(VideoParams(prompt="p", model="jimeng-video-seedance-2.0-mini"), _refs()[:1])
        await job.wait()
    assert len(fake_jimeng.calls("ApplyUploadInner")) == 2
    assert len(fake_jimeng.calls("get_upload_token")) == 2  # the refused STS was not reused


async def test_failover_uploads_the_references_again_on_the_next_account(fake_jimeng: FakeJimeng) -> None:
    first, second = session_id("omni-a"), session_id("omni-b")
    fake_jimeng.add_account(first, credits=1000).fail_generate = ["4013"]
    fake_jimeng.add_account(second, credits=1000)
    async with engine_for(fake_jimeng, f"{first},{second}") as engine:
        job = await engine.omni_video(VideoParams(prompt="p", model="jimeng-video-seedance-2.0-mini"), _refs())
        result = await job.wait()
    assert fake_jimeng.jobs[result.submit_id].sessionid == second
    owners = {c.sessionid for c in fake_jimeng.calls("get_upload_token")}
    assert owners == {first, second}  # a vid belongs to the account that uploaded it
    assert len(fake_jimeng.calls("ApplyUploadInner")) == 4


@pytest.mark.parametrize(
    ("tamper", "ret"),
    [
        ("no_feature", "1000"),
        ("bad_index", "1000"),
        ("kind_mismatch", "1000"),
        ("foreign_vid", "1000"),
        ("wrong_amount", "5001"),
    ],
)
async def test_emulator_refuses_malformed_omni_drafts(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch, tamper: str, ret: str
) -> None:
    """Our builder, bent one way at a time: each bent draft is refused before anything is charged."""
    import core.omni as omni

    real = omni.omni_body

    def bent(*args: Any) -> dict[str, Any]:
        body = real(*args)
        draft = json.loads(body["draft_content"])
        inp = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
        uei = inp["unified_edit_input"]
        if tamper == "no_feature":
            draft["min_features"] = []
        elif tamper == "bad_index":
            uei["meta_list"][0]["material_ref"]["material_idx"] = 7
        elif tamper == "kind_mismatch":
            uei["meta_list"][0]["meta_type"] = "image"
        elif tamper == "foreign_vid":
            uei["material_list"][0]["video_info"]["vid"] = "v0" + "x" * 28
        elif tamper == "wrong_amount":
            body["extend"]["m_video_commerce_info"]["amount"] = 5
        body["draft_content"] = json.dumps(draft)
        return body

    monkeypatch.setattr(omni, "omni_body", bent)
    async with make_engine() as engine:
        job = await engine.omni_video(
            VideoParams(prompt="@2 over @1", model="jimeng-video-seedance-2.0-mini", duration=5), _refs()
        )
        with pytest.raises(JimengError) as err:
            await job.wait()
    assert err.value.ret == ret
    assert not fake_jimeng.jobs


async def test_a_submitted_omni_job_resumes_after_a_restart(fake_jimeng: FakeJimeng, tmp_path: Any) -> None:
    """Closed while upstream is generating: the next process polls it to the end, never submitting it again."""
    from core.jobs import JobState

    fake_jimeng.video_seconds = 2.0
    sid = session_id("omni-restart")
    fake_jimeng.add_account(sid, credits=1000)
    async with engine_for(fake_jimeng, sid, data_dir=tmp_path) as first:
        job = await first.omni_video(VideoParams(prompt="p", model="jimeng-video-seedance-2.0-mini"), _refs())
        async for ev in job.events():
            if ev.state in (JobState.PENDING, JobState.GENERATING):
                break
    async with engine_for(fake_jimeng, sid, data_dir=tmp_path) as second:
        again = second.job(job.id)
        assert again is not None and again.recovered
        result = await again.wait()
        assert result.assets[0].kind == "video"
        record = await second.job_record(job.id)
        assert record is not None and record.spec["mode"] == "omni" and record.spec["kinds"] == ["video", "audio"]
    assert len(fake_jimeng.calls("aigc_draft/generate")) == 1
