"""Hostile input (issue #13): a table of every class of malformed body, header, URL and string the fuzzing found.

Each case goes over a real socket to the real app on the emulator; each must be a 4xx OpenAI error (naming the
parameter where there is one), and no client mistake may log a traceback. Bounded: a fixed table, no randomness.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import time
from dataclasses import dataclass

import aiohttp
import pytest

from core import InvalidRequestError
from core.params import ImageParams, VideoParams
from tests.api.conftest import USER_SID, Api, ApiFactory

JSON = "application/json"
DEEP = 100_000
BIG_INT = "9" * 5000


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    param: str | None = None  # the parameter the error must name (None: any, or none)


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _multipart(boundary: str, parts: list[tuple[str, bytes]], *, close: bool = True) -> bytes:
    out = b""
    for name, value in parts:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    if close:
        out += f"--{boundary}--\r\n".encode()
    return out


_FORM = _multipart("abc", [("prompt", b"a cat"), ("model", b"jimeng-4.5")])

CASES: list[Case] = [
    # very deep / very long JSON, huge integers
    Case("deep array", "/v1/images/generations", b'{"prompt": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    Case("deep object", "/v1/images/generations", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
    Case("deep broken", "/v1/images/generations", b"{'prompt': " + b"[" * DEEP),
    Case("deep lenient", "/v1/chat/completions", b"{model: 'x', messages: " + b"[" * DEEP + b"]" * DEEP + b",}"),
    Case("huge int n", "/v1/images/generations", b'{"prompt": "x", "n": ' + BIG_INT.encode() + b"}", param="n"),
    Case("huge int lenient", "/v1/videos", b"{prompt: 'x', seed: " + BIG_INT.encode() + b",}", param="seed"),
    Case("huge int seed", "/v1/images/generations", b'{"prompt": "x", "seed": ' + BIG_INT.encode() + b"}"),
    Case("long prompt", "/v1/images/generations", _j({"prompt": "x" * 200_000}), param="prompt"),
    Case("huge float", "/v1/images/generations", b'{"prompt": "x", "sample_strength": 1e999999}'),
    # bad multipart
    Case("no boundary", "/v1/images/edits", _FORM, "multipart/form-data"),
    Case("wrong boundary", "/v1/images/edits", _FORM, "multipart/form-data; boundary=zzz"),
    Case("multipart/mixed", "/v1/images/compositions", _FORM, "multipart/mixed; boundary=abc"),
    Case(
        "truncated",
        "/v1/images/edits",
        _multipart("abc", [("prompt", b"a cat")], close=False)[:-10],
        "multipart/form-data; boundary=abc",
    ),
    Case("empty boundary", "/v1/videos", _FORM, 'multipart/form-data; boundary=""'),
    Case("garbage multipart", "/v1/images/edits", b"\x00\xff" * 100, "multipart/form-data; boundary=abc"),
    Case(
        "surrogate field",
        "/v1/images/generations",
        _multipart("abc", [("prompt", b"\xed\xa0\x80")]),
        "multipart/form-data; boundary=abc",
        param="prompt",
    ),
    # false Content-Encoding
    Case("false gzip", "/v1/images/generations", _j({"prompt": "x"}), headers=(("Content-Encoding", "gzip"),)),
    Case("false deflate", "/v1/videos", _j({"prompt": "x"}), headers=(("Content-Encoding", "deflate"),)),
    Case(
        "broken gzip",
        "/v1/images/generations",
        gzip.compress(_j({"prompt": "x"}))[:12] + b"\x00garbage" * 8,
        headers=(("Content-Encoding", "gzip"),),
    ),
    Case(
        "false gzip multipart",
        "/v1/images/edits",
        _FORM,
        "multipart/form-data; boundary=abc",
        headers=(("Content-Encoding", "gzip"),),
    ),
    # lone surrogates
    Case("surrogate prompt", "/v1/images/generations", b'{"prompt": "a \\ud800 cat"}', param="prompt"),
    Case("surrogate video", "/v1/videos", b'{"prompt": "\\udfff"}', param="prompt"),
    Case("surrogate sync video", "/v1/videos/generations", b'{"prompt": "\\ud800"}', param="prompt"),
    Case(
        "surrogate negative",
        "/v1/images/generations",
        b'{"prompt": "x", "negative_prompt": "\\ud800"}',
        param="negative_prompt",
    ),
    Case(
        "surrogate chat",
        "/v1/chat/completions",
        b'{"model": "jimeng-4.5", "messages": [{"role": "user", "content": "\\ud800"}]}',
        param="messages",
    ),
    Case("surrogate model", "/v1/images/generations", b'{"prompt": "x", "model": "\\ud800"}', param="model"),
    Case("surrogate ratio", "/v1/images/generations", b'{"prompt": "x", "ratio": "\\ud800"}', param="ratio"),
    # malformed image URLs
    Case(
        "backslash userinfo",
        "/v1/images/compositions",
        _j({"prompt": "x", "images": ["http://127.0.0.1:1\\@example.com/r.png"]}),
        param="images",
    ),
    Case(
        "non-numeric port",
        "/v1/images/compositions",
        _j({"prompt": "x", "images": ["http://example.com:abc/r.png"]}),
        param="images",
    ),
    Case(
        "port out of range",
        "/v1/images/compositions",
        _j({"prompt": "x", "images": ["http://example.com:99999/r.png"]}),
        param="images",
    ),
    Case("bad ipv6", "/v1/images/compositions", _j({"prompt": "x", "images": ["http://[::1/r.png"]}), param="images"),
    Case(
        "surrogate url",
        "/v1/images/compositions",
        b'{"prompt": "x", "images": ["http://example.com/\\ud800.png"]}',
        param="images",
    ),
    Case(
        "chat bad url",
        "/v1/chat/completions",
        _j(
            {
                "model": "jimeng-4.5",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "x"},
                            {"type": "image_url", "image_url": {"url": "http://example.com:abc/r.png"}},
                        ],
                    }
                ],
            }
        ),
    ),
    Case(
        "video bad url",
        "/v1/videos/generations",
        _j({"prompt": "x", "file_paths": ["http://127.0.0.1:1\\@example.com/r.png"]}),
    ),
]


async def _post(http: aiohttp.ClientSession, api: Api, case: Case) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {USER_SID}", "Content-Type": case.content_type, **dict(case.headers)}
    async with http.post(api.url + case.path, data=case.body, headers=headers, compress=None) as resp:
        text = await resp.text()
        return resp.status, json.loads(text)


async def test_every_hostile_case_is_a_4xx_naming_the_parameter(
    bearer_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    async with asyncio.timeout(60), aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for case in CASES:
            caplog.clear()
            status, doc = await _post(http, bearer_api, case)
            err = doc.get("error")
            if not (400 <= status < 500) or not isinstance(err, dict):
                failures.append(f"{case.name}: {status} {doc}")
                continue
            if set(err) != {"message", "type", "param", "code"}:
                failures.append(f"{case.name}: error shape {err}")
            if case.param is not None and err["param"] != case.param:
                failures.append(f"{case.name}: param {err['param']!r} != {case.param!r} ({err['message']})")
            noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
            if noisy:
                failures.append(f"{case.name}: logged {noisy[0].levelname} {noisy[0].getMessage()}")
    assert not failures, "\n".join(failures)
    assert bearer_api.fake.calls("/mweb/v1/aigc_draft/generate") == []


async def test_a_video_task_that_can_never_run_is_refused_not_queued(bearer_api: Api) -> None:
    headers = {"Authorization": f"Bearer {USER_SID}", "Content-Type": JSON}
    async with aiohttp.ClientSession() as http:
        async with http.post(bearer_api.url + "/v1/videos", data=b'{"prompt": "\\ud800"}', headers=headers) as resp:
            assert resp.status == 400
        async with http.get(bearer_api.url + "/v1/videos", headers=headers) as resp:
            assert (await resp.json())["data"] == []


async def test_a_truncated_upload_on_a_raw_socket_is_a_4xx(bearer_api: Api) -> None:
    """The client declares more than it sends and closes its half: the server answers, nothing is logged as ours."""
    host, port = bearer_api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = _multipart("abc", [("prompt", b"a cat")], close=False)
    head = (
        "POST /v1/images/edits HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: Bearer {USER_SID}\r\n"
        "Content-Type: multipart/form-data; boundary=abc\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(data.split(b" ", 2)[1])
    assert 400 <= status < 500, data[:300]


def test_core_refuses_text_it_could_never_send(server_api: Api) -> None:
    """Validated once in core, so the bot refuses a lone surrogate as the API does, before any job exists."""
    engine = server_api.engine
    cases = [
        (lambda: engine.validate_image(ImageParams(prompt="a \ud800 cat")), "prompt"),
        (lambda: engine.validate_image(ImageParams(prompt="x", negative_prompt="\udfff")), "negative_prompt"),
        (lambda: engine.validate_image(ImageParams(prompt="x", negative_prompt="n" * 5000)), "negative_prompt"),
        (lambda: engine.validate_video(VideoParams(prompt="\ud800")), "prompt"),
    ]
    for call, param in cases:
        with pytest.raises(InvalidRequestError) as exc:
            call()
        assert exc.value.param == param


def _broken_body(items: int) -> bytes:
    """Lenient-looking JSON that repair cannot save: every character goes through the repair loop."""
    return b"{'prompt': 'x', 'pad': [" + b"'aaaa', " * items + b"],,}"


async def test_ping_answers_while_a_large_broken_body_is_repaired(make_api: ApiFactory) -> None:
    """Issue #13: the repair used to run on the event loop (a 20 MB body stalled every client for 10-17 s)."""
    body = _broken_body(400_000)  # 3.2 MB: about a second of repair
    async with make_api(lenient_json_kb=len(body) / 1024 + 1) as api, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {USER_SID}", "Content-Type": JSON}
        post = asyncio.create_task(
            http.post(api.url + "/v1/images/generations", data=io.BytesIO(body), headers=headers)
        )
        worst, pings = 0.0, 0
        while not post.done():
            started = time.monotonic()
            async with http.get(api.url + "/ping") as resp:
                assert resp.status == 200
            worst = max(worst, time.monotonic() - started)
            pings += 1
            await asyncio.sleep(0.02)
        async with await post as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    assert pings >= 5, pings  # the ping really ran while the body was being repaired
    assert worst < 0.5, worst


async def test_a_large_broken_body_is_not_repaired(bearer_api: Api) -> None:
    """Over API_LENIENT_JSON_KB only strict JSON is tried: refused at once, saying why."""
    body = _broken_body(400_000)
    headers = {"Authorization": f"Bearer {USER_SID}", "Content-Type": JSON}
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.post(bearer_api.url + "/v1/images/generations", data=io.BytesIO(body), headers=headers) as resp:
            err = (await resp.json())["error"]
        elapsed = time.monotonic() - started
    assert resp.status == 400 and err["code"] == "invalid_json" and "strict JSON" in err["message"]
    assert elapsed < 0.5, elapsed


async def test_a_client_dropping_a_b64_stream_is_not_an_error(
    bearer_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #13: a client that leaves while its b64_json answer is written was logged as an ERROR with a traceback."""
    host, port = bearer_api.url.removeprefix("http://").split(":")
    body = json.dumps({"prompt": "x", "model": "jimeng-4.5", "n": 2, "response_format": "b64_json"}).encode()
    _reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /v1/images/generations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {USER_SID}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    while not bearer_api.fake.calls("/mweb/v1/aigc_draft/generate"):
        await asyncio.sleep(0.02)
    writer.transport.abort()  # gone, with the job already submitted: the answer finds no one
    job = next(iter(bearer_api.engine._jobs.values()))
    await job.wait_terminal()
    await asyncio.sleep(0.5)
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or (r.exc_info and r.levelno >= logging.WARNING)]
    assert not noisy, [(r.name, r.getMessage()) for r in noisy]
