"""Compositions (PROTOCOL.md §5.4) end to end: references prepared, uploaded to the emulator, blend draft submitted and polled."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidRequestError, UploadError
from core.jobs import JobState
from core.media import RefImage
from core.params import ImageParams
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory, make_png


def refs(n: int) -> list[RefImage]:
    # distinct widths let the test map each uploaded URI back to its position
    return [RefImage.from_bytes(make_png(40 + i, 24, i), name=f"ref{i}.png") for i in range(n)]


def blend_uris(fake: FakeJimeng, submit_id: str) -> list[str]:
    draft = json.loads(fake.jobs[submit_id].draft_content)
    ability = draft["component_list"][0]["abilities"]["blend"]["ability_list"][0]
    assert [img["image_uri"] for img in ability["image_list"]] == ability["image_uri_list"]
    return list(ability["image_uri_list"])


@pytest.mark.parametrize("n", [1, 3, 10])
async def test_compose_with_n_references(fake_jimeng: FakeJimeng, make_engine: EngineFactory, n: int) -> None:
    async with make_engine() as engine:
        job = await engine.compose(ImageParams(prompt="blend these", count=2, ratio="4:3"), refs(n))
        states = [ev.state async for ev in job.events()]
        result = await job.wait()
    assert JobState.UPLOADING in states and states[-1] is JobState.SUCCEEDED
    assert len(result.images) == 2 and all(a.url.startswith(fake_jimeng.url) for a in result.images)
    fake_job = fake_jimeng.jobs[result.submit_id]
    assert fake_job.kind == "blend" and (fake_job.width, fake_job.height) == (2304, 1728)
    uris = blend_uris(fake_jimeng, result.submit_id)
    assert fake_job.references == uris
    assert [fake_jimeng.uploaded_images[u]["width"] for u in uris] == [40 + i for i in range(n)]  # in order
    assert len(fake_jimeng.calls("CommitImageUpload")) == n
    assert len(fake_jimeng.calls("get_upload_token")) == 1


async def test_eleven_references_refused_before_any_request(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    async with make_engine() as engine:
        before = len(fake_jimeng.requests)
        with pytest.raises(InvalidRequestError, match="too many reference images: 11") as ei:
            await engine.compose(ImageParams(prompt="too many"), refs(11))
        assert ei.value.param == "images"
        assert len(fake_jimeng.requests) == before  # no token, no upload, no generate: nothing spent
        credits = next(iter(fake_jimeng.accounts.values())).total
    assert credits == 10_000


async def test_bad_reference_fails_fast_before_any_upload(fake_jimeng: FakeJimeng, make_engine: EngineFactory) -> None:
    async with make_engine() as engine:
        before = len(fake_jimeng.requests)
        images = [*refs(2), RefImage.from_bytes(b"GIF89a but not really")]
        with pytest.raises(UploadError, match="reference image 3") as ei:
            await engine.compose(ImageParams(prompt="x"), images)
        assert ei.value.index == 2
        assert len(fake_jimeng.requests) == before


async def test_compose_from_url_data_url_and_bytes(
    fake_jimeng: FakeJimeng,
    make_engine: EngineFactory,
    aiohttp_server,  # type: ignore[no-untyped-def]
) -> None:
    import base64

    from aiohttp import web

    served = make_png(64, 64, 5)

    async def img(_: web.Request) -> web.Response:
        return web.Response(body=served, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/r.png", img)
    server = await aiohttp_server(app)
    data_url = "data:image/png;base64," + base64.b64encode(make_png(50, 20, 6)).decode()
    async with make_engine() as engine:
        job = await engine.compose(
            ImageParams(prompt="mixed inputs", count=1), [str(server.make_url("/r.png")), data_url, make_png(30, 30, 7)]
        )
        result = await job.wait()
    uris = blend_uris(fake_jimeng, result.submit_id)
    assert [fake_jimeng.uploaded_images[u]["width"] for u in uris] == [64, 50, 30]


async def test_upload_failure_fails_the_job_naming_the_reference(
    fake_jimeng: FakeJimeng, make_engine: EngineFactory
) -> None:
    async with make_engine() as engine:
        fake_jimeng.upload_faults = ["commit_500"] * 3
        job = await engine.compose(ImageParams(prompt="x", count=1), refs(1))
        with pytest.raises(UploadError, match="reference image 1 could not be uploaded"):
            await job.wait()
    assert not fake_jimeng.calls("aigc_draft/generate")  # nothing submitted, nothing charged
