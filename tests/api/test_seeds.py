"""Every curl example of the seed documents, replayed verbatim against the API (Bearer-session mode)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest

from tests.api.conftest import USER_SID, Api
from tests.api.seed_examples import SEED_CURLS

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"  # the user's seed documents, copied verbatim
_CURL = re.compile(r"curl -X POST (\S+) \\\s*\n((?:\s*-H \"[^\"]+\" \\\s*\n)+)\s*-d '(.*?)'", re.S)


def test_the_copies_match_the_seed_documents() -> None:
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        for m in _CURL.finditer(path.read_text(encoding="utf-8")):
            found.append((path.name, m.group(1), re.findall(r'-H "([^"]+)"', m.group(2)), m.group(3)))
    assert found == [(f, url, headers, body) for f, url, _, headers, body in SEED_CURLS]
    assert len(found) == 14


@pytest.mark.parametrize(
    ("seed", "url", "path", "headers", "body"),
    SEED_CURLS,
    ids=[f"{s[0][:3]}-{i}-{s[2]}" for i, s in enumerate(SEED_CURLS)],
)
async def test_seed_curl_replays(
    bearer_api: Api, seed: str, url: str, path: str, headers: list[str], body: str
) -> None:
    sent = body.replace("https://example.com/", bearer_api.files_url + "/")  # host only; the paths stay
    hdrs = {}
    for h in headers:
        name, _, value = h.partition(": ")
        hdrs[name] = re.sub(r"^Bearer .+$", f"Bearer {USER_SID}", value) if name == "Authorization" else value
    async with aiohttp.ClientSession() as http:
        async with http.post(bearer_api.url + path, data=sent.encode(), headers=hdrs) as resp:
            raw = await resp.read()
            assert resp.status == 200, raw[:500]
            ctype = resp.content_type
    text = raw.decode()
    if '"stream": true' in body:
        assert ctype == "text/event-stream"
        events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert "](http" in "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        return
    doc = json.loads(text)
    if path == "/v1/chat/completions":
        assert doc["object"] == "chat.completion" and "](http" in doc["choices"][0]["message"]["content"]
    elif path == "/v1/videos/generations":
        assert doc["videoUrl"].startswith("http") and doc["data"][0]["url"] == doc["videoUrl"]
    else:
        assert doc["created"] and doc["data"] and all(d["url"].startswith("http") for d in doc["data"])
        if path == "/v1/images/compositions":
            assert doc["input_images"] == body.count("https://example.com/")
    # the prompt reached Jimeng byte-identical (lenient JSON never touches strings)
    prompt = re.search(r'"(?:prompt|content)": "([^"]*)"', body)
    assert prompt is not None
    assert any(job.prompt == prompt.group(1) for job in bearer_api.fake.jobs.values())
