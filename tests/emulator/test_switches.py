"""The emulator's INVENTED behaviours: each is a switch, documented, listed by ``--help``, and does what it says.
Also ``python -m emulator`` as a real process."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

import emulator
from emulator import FakeJimeng, Switches
from emulator import switches as sw
from tests.emulator.test_emulator import SID, Api, Clock, Uploader, png_bytes, t2i_body

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "emulator"
_SWITCH_REF = re.compile(r"INVENTED \(switch: (\w+)")


def test_every_invented_guess_in_the_code_names_a_switch() -> None:
    names = set(sw.names())
    used: set[str] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ("__init__.py", "switches.py", "cli.py"):  # they describe the switches
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not re.search(r"\bINVENTED\b", line):
                continue
            m = _SWITCH_REF.search(line)
            assert m, f"{path.name}:{n}: an INVENTED guess without '(switch: <name>)': {line.strip()}"
            assert m.group(1) in names, f"{path.name}:{n}: unknown switch {m.group(1)}"
            used.add(m.group(1))
    assert used == names, f"switches never referenced in the code: {names - used}"


def test_every_switch_is_documented_and_listed_by_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    for name in sw.names():
        assert sw.flag(name) in out.stdout, name
        assert f"``{name}``" in (emulator.__doc__ or ""), name
    for option in ("--host", "--port", "--allow-remote", "--account", "--image-seconds", "--video-seconds"):
        assert option in out.stdout


def test_switch_values_are_checked() -> None:
    with pytest.raises(ValueError, match="duplicate_submit"):
        Switches(duplicate_submit="twice")
    with pytest.raises(TypeError):
        FakeJimeng(no_such_switch=True)
    assert FakeJimeng(upload_errors="bare", switches=Switches(invalid_ret="1001")).switches == Switches(
        upload_errors="bare", invalid_ret="1001"
    )


@pytest.fixture
async def make():
    """A started emulator with the given switches, one CN account, a frozen clock and an ``Api``."""
    started: list[FakeJimeng] = []
    async with aiohttp.ClientSession() as http:

        async def _make(**switches):
            clock = Clock()
            fake = FakeJimeng(image_seconds=10.0, video_seconds=20.0, clock=clock, **switches)
            await fake.start()
            started.append(fake)
            fake.add_account(SID)
            return fake, Api(http, fake), clock, http

        yield _make
        for fake in started:
            await fake.close()


async def test_duplicate_submit(make) -> None:
    fake, api, _, _ = await make(duplicate_submit="new_job")
    body = t2i_body(gen_count=2)
    first, second = await api.generate(body), await api.generate(body)
    assert first["ret"] == second["ret"] == "0"
    assert first["data"]["aigc_data"]["history_record_id"] != second["data"]["aigc_data"]["history_record_id"]
    assert fake.accounts[SID].gift == 96 and fake.duplicate_submits == 1
    assert (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]["history_record_id"] == (
        second["data"]["aigc_data"]["history_record_id"]
    )
    fake, api, _, _ = await make(duplicate_submit="reject", invalid_ret="1001")
    assert (await api.generate(body))["ret"] == "0"
    assert (await api.generate(body))["ret"] == "1001" and fake.accounts[SID].gift == 98


async def test_invalid_ret_and_invented_texts(make) -> None:
    _, api, _, _ = await make(invalid_ret="1001")
    res = await api.generate(t2i_body(model="no_such_model"))
    assert (res["ret"], res["errmsg"]) == ("1001", "invalid params")
    res = await api.generate(t2i_body(model="high_aes_general_v50p_large", gen_count=5))  # Pro takes 1..4
    assert res["ret"] == "1001"
    fake, api, clock, _ = await make(invented_texts=False)
    assert (await api.generate(t2i_body(model="no_such_model")))["errmsg"] == "invalid parameter"  # a real text
    fake.switches.invalid_ret = "1001"
    assert (await api.generate(t2i_body(model="no_such_model")))["errmsg"] == ""
    fake.accounts[SID].next_outcomes = [("fail", 30, "2038"), ("fail", 30, "")]
    bodies = [t2i_body(), t2i_body()]
    for body in bodies:
        await api.generate(body)
    clock.t += 1000
    recs = await api.history(submit_ids=[b["submit_id"] for b in bodies])
    first, second = (recs[b["submit_id"]] for b in bodies)
    assert first["fail_starling_key"] == "" and first["fail_starling_message"].startswith("你输入的文字")
    assert second["fail_starling_key"] == second["fail_starling_message"] == ""


async def test_continuation_count(make) -> None:
    fake, api, _, _ = await make(continuation_count=False)
    body = t2i_body(gen_count=1)
    hid = (await api.generate(body))["data"]["aigc_data"]["history_record_id"]
    more = {**body, "action": 2, "history_id": hid, "submit_id": str(uuid.uuid4())}
    more["metrics_extra"] = json.dumps({"generateCount": 3})
    assert (await api.generate(more))["ret"] == "0"
    assert fake.jobs[more["submit_id"]].count == 1


async def test_reclaim_ret(make) -> None:
    _, api, _, _ = await make(reclaim_ret="1018")
    claim = {"time_zone": "Asia/Shanghai"}
    assert (await api.post("/commerce/v1/benefits/credit_receive", claim))["ret"] == "0"
    again = await api.post("/commerce/v1/benefits/credit_receive", claim)
    assert (again["ret"], again["data"]["receive_quota"]) == ("1018", 0)


async def test_catalogue_and_history_shapes(make) -> None:
    _, api, clock, _ = await make(
        catalogue_size_keys="w,h", size_15k_scale=0.5, history_list_key="records", queue_status_codes="7,8"
    )
    cfg = await api.post("/mweb/v1/get_common_config", {})
    pro = next(m for m in cfg["data"]["model_list"] if m["model_req_key"] == "high_aes_general_v50p_large")
    square = next(s for s in pro["resolution_map"]["1.5k"]["image_ratio_sizes"] if s["ratio_type"] == 1)
    assert square == {"ratio_type": 1, "w": 1024, "h": 1024}
    body = t2i_body()
    queued = (await api.generate(body))["data"]["aigc_data"]
    assert queued["queue_info"]["queue_status"] == 7
    clock.t += 5
    assert (await api.history(submit_ids=[body["submit_id"]]))[body["submit_id"]]["queue_info"]["queue_status"] == 8
    hist = await api.post("/mweb/v1/get_history", {"count": 5})
    assert [r["task"]["submit_id"] for r in hist["data"]["records"]] == [body["submit_id"]]


async def test_invented_payloads_off(make) -> None:
    fake, api, _, http = await make(invented_payloads=False)
    info = await api.post("/mweb/v1/get_user_info", {})
    assert (info["ret"], info["data"]) == ("0", {})
    async with http.post(fake.url + "/passport/account/info/v2", json={}) as r:
        assert r.status == 404
    body = t2i_body()
    hid = (await api.generate(body))["data"]["aigc_data"]["history_record_id"]
    assert (await api.post("/mweb/v1/get_history_queue_info", {"history_ids": [hid]}))["data"] == {}


async def test_upload_errors_bare(make) -> None:
    _, api, _, http = await make(upload_errors="bare")
    up = Uploader(api, http)
    tok = await up.token()
    data = png_bytes(10, 10)
    status, err = await up.apply(tok, len(data), secret="wrong-secret")
    assert status == 403 and err["ResponseMetadata"]["Error"] == {
        "Code": "SignatureDoesNotMatch",
        "Message": "The request signature we calculated does not match the signature you provided.",
    }
    status, apply = await up.apply(tok, len(data))
    info = apply["Result"]["UploadAddress"]["StoreInfos"][0]
    headers = {"Authorization": info["Auth"], "Content-CRC32": "00000000"}
    async with http.post(f"{api.fake.url}/upload/v1/{info['StoreUri']}", data=data, headers=headers) as r:
        assert (r.status, r.content_type, await r.text()) == (400, "text/plain", "crc32 mismatch")


# ------------------------------------------------------------------------------------------- python -m emulator


def test_refuses_a_non_loopback_host_without_allow_remote() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "--host", "0.0.0.0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "--allow-remote" in out.stderr and out.stdout == ""


async def test_standalone_serves_seeded_accounts_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator",
        "--account",
        f"{SID}:us:7",
        "--no-invented-texts",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        tokens = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert tokens == f"JIMENG_SESSION_IDS=us-{SID}"
        assert re.fullmatch(r"JIMENG_UPSTREAM_URL=http://127\.0\.0\.1:\d+", url)
        headers = {"Cookie": f"sessionid={SID}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url.split("=", 1)[1] + "/commerce/v1/benefits/user_credit", json={}, headers=headers) as r,
        ):
            doc = await r.json()
        assert doc["ret"] == "0" and doc["data"]["credit"]["gift_credit"] == 7
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
