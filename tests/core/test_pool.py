"""The account pool: failover for each refusal code, daily claim, credits, concurrency, no random picks."""

from __future__ import annotations

import asyncio

import pytest

from core import (
    AccountState,
    AuthError,
    ImageParams,
    InvalidRequestError,
    NoAccountError,
    QuotaError,
    RiskControlError,
    UpstreamRejectedError,
)
from emulator import FakeJimeng
from tests.core.support import engine_for, sid

GEN = "/mweb/v1/aigc_draft/generate"


@pytest.mark.parametrize(
    ("ret", "state"),
    [
        ("1015", AccountState.INVALID),
        ("1019", AccountState.COOLDOWN),
        ("4013", AccountState.COOLDOWN),
        ("3000", AccountState.COOLDOWN),
        ("1006", AccountState.NO_CREDITS),
    ],
)
async def test_refusal_fails_over_to_the_next_account(fake_jimeng: FakeJimeng, ret: str, state: AccountState) -> None:
    a, b = fake_jimeng.add_account(sid("a")), fake_jimeng.add_account(sid("b"))
    a.fail_generate = [ret, ret]
    if ret == "1006":
        a.receive_fault = "-4"  # the daily claim cannot rescue it either
    async with engine_for(fake_jimeng, f"{sid('a')},{sid('b')}") as engine:
        job = await engine.imagine(ImageParams(prompt="failover", count=1))
        result = await job.wait()
        assert result.images
        acc_a = engine.accounts()[0]
        assert acc_a.state is state
        assert ret in (acc_a.last_error or "")
    assert [r.sessionid for r in fake_jimeng.calls(GEN)] == [sid("a"), sid("b")]
    # the refused submit created nothing: one job, on b, with the same submit id
    assert len(fake_jimeng.jobs) == 1 and next(iter(fake_jimeng.jobs.values())).sessionid == sid("b")
    assert fake_jimeng.calls(GEN)[0].json["submit_id"] == fake_jimeng.calls(GEN)[1].json["submit_id"]
    assert b.total < 100


async def test_all_accounts_refused_reports_the_last_reason(fake_jimeng: FakeJimeng) -> None:
    for n in ("a", "b"):
        fake_jimeng.add_account(sid(n)).fail_generate = ["4013"]
    async with engine_for(fake_jimeng, f"{sid('a')},{sid('b')}") as engine:
        job = await engine.imagine(ImageParams(prompt="x", count=1))
        with pytest.raises(RiskControlError) as exc:
            await job.wait()
        assert exc.value.ret == "4013" and exc.value.submit_id == job.submit_id
        # and a later job is refused at once, without hammering the upstream
        before = len(fake_jimeng.calls(GEN))
        job2 = await engine.imagine(ImageParams(prompt="x", count=1))
        with pytest.raises(RiskControlError):
            await job2.wait()
        assert len(fake_jimeng.calls(GEN)) == before


async def test_invalid_session_everywhere_is_an_auth_error(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a"), valid=False)
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="x", count=1))
        with pytest.raises(AuthError):
            await job.wait()


async def test_1006_claims_daily_credits_once_then_resubmits(fake_jimeng: FakeJimeng) -> None:
    acct = fake_jimeng.add_account(sid("a"), credits=0, daily_quota=66)
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="poor", count=1))
        await job.wait()
        status = engine.status()[0]
        assert status.last_claim_ok is True and status.state == "ok"
    assert len(fake_jimeng.calls("/commerce/v1/benefits/credit_receive")) == 1
    assert len(fake_jimeng.calls(GEN)) == 2  # refused, claimed, accepted
    assert acct.claimed_on is not None


async def test_1006_after_todays_claim_moves_on_without_claiming_again(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a"), credits=0, daily_quota=0)
    async with engine_for(fake_jimeng, sid("a")) as engine:
        await engine.claim_daily()
        job = await engine.imagine(ImageParams(prompt="poor", count=1))
        with pytest.raises(QuotaError):
            await job.wait()
        assert engine.accounts()[0].state is AccountState.NO_CREDITS
    assert len(fake_jimeng.calls("/commerce/v1/benefits/credit_receive")) == 1


async def test_daily_claim_is_honest_about_shark_reject(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a")).receive_fault = "-4"
    fake_jimeng.add_account(sid("b"))
    async with engine_for(fake_jimeng, f"{sid('a')},{sid('b')}") as engine:
        claims = await engine.claim_daily()
        assert [c.ok for c in claims] == [False, True]
        assert "risk control" in claims[0].message and "-4" in claims[0].message
        assert claims[1].granted == 66
        again = await engine.claim_daily()
        assert again[1].already  # once a day
        credits = engine.status()[1].credits
        assert credits is not None and credits.total == 166


async def test_maintenance_claims_at_start(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a"))
    async with engine_for(fake_jimeng, sid("a"), maintenance=True) as engine:
        for _ in range(50):
            if engine.status()[0].last_claim_day:
                break
            await asyncio.sleep(0.02)
        assert engine.status()[0].last_claim_ok is True
        assert engine.status()[0].credits is not None


async def test_no_credit_request_per_job(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a"))
    async with engine_for(fake_jimeng, sid("a")) as engine:
        jobs = [await engine.imagine(ImageParams(prompt=f"p{i}", count=1)) for i in range(3)]
        await asyncio.gather(*(j.wait() for j in jobs))
    assert not fake_jimeng.calls("/commerce/v1/benefits/user_credit")


async def test_least_busy_account_first_and_concurrency_limit(fake_jimeng: FakeJimeng) -> None:
    for n in ("a", "b"):
        fake_jimeng.add_account(sid(n))
    async with engine_for(fake_jimeng, f"{sid('a')},{sid('b')}", account_concurrency=1) as engine:
        jobs = [await engine.imagine(ImageParams(prompt=f"p{i}", count=1)) for i in range(3)]
        await asyncio.sleep(0.05)
        # two run (one per account), the third waits in line for a free slot
        assert jobs[2].last_event.queue_position == 1
        await asyncio.gather(*(j.wait() for j in jobs))
    owners = [r.sessionid for r in fake_jimeng.calls(GEN)]
    assert owners[:2] == [sid("a"), sid("b")]
    assert sorted(j.sessionid for j in fake_jimeng.jobs.values()).count(sid("a")) >= 1


async def test_model_routes_to_an_account_of_the_right_region(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("cn"))
    fake_jimeng.add_account(sid("us"), region="us")
    async with engine_for(fake_jimeng, f"{sid('cn')},us-{sid('us')}") as engine:
        job = await engine.imagine(ImageParams(prompt="banana", model="nanobanana"))
        await job.wait()
        job = await engine.imagine(ImageParams(prompt="lite", model="jimeng-5.0", count=1))
        await job.wait()
    assert [r.sessionid for r in fake_jimeng.calls(GEN)] == [sid("us"), sid("cn")]


async def test_upstream_rejection_is_not_failed_over(fake_jimeng: FakeJimeng) -> None:
    for n in ("a", "b"):
        fake_jimeng.add_account(sid(n))
    fake_jimeng.accounts[sid("a")].fail_generate = ["1002"]
    async with engine_for(fake_jimeng, f"{sid('a')},{sid('b')}") as engine:
        job = await engine.imagine(ImageParams(prompt="x", count=1))
        with pytest.raises(UpstreamRejectedError):
            await job.wait()
    assert len(fake_jimeng.calls(GEN)) == 1


async def test_no_accounts_configured(fake_jimeng: FakeJimeng) -> None:
    async with engine_for(fake_jimeng, "") as engine:
        with pytest.raises(NoAccountError):
            await engine.imagine(ImageParams(prompt="x"))


async def test_adhoc_accounts_are_kept_apart_from_the_pool(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("server"))
    fake_jimeng.add_account(sid("caller"))
    async with engine_for(fake_jimeng, sid("server")) as engine:
        mine = engine.adhoc_accounts(sid("caller"))
        job = await engine.imagine(ImageParams(prompt="x", count=1), accounts=mine)
        await job.wait()
        assert [a.masked for a in engine.accounts()] == [engine.accounts()[0].masked]
        assert len(engine.accounts()) == 1
        with pytest.raises(InvalidRequestError):
            await engine.imagine(ImageParams(prompt="x", model="nanobanana"), accounts=mine)
    assert fake_jimeng.calls(GEN)[0].sessionid == sid("caller")


async def test_concurrency_limit_1010_waits_and_retries_instead_of_failing(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("a")).fail_generate = ["1010"]
    async with engine_for(fake_jimeng, sid("a")) as engine:
        job = await engine.imagine(ImageParams(prompt="busy", count=1))
        result = await job.wait()
        assert result.images
    submits = fake_jimeng.calls(GEN)
    assert len(submits) == 2 and submits[1].time - submits[0].time >= 2.5  # backed off, then the same account


async def test_expired_session_during_upload_fails_over(fake_jimeng: FakeJimeng) -> None:
    from io import BytesIO

    from PIL import Image

    from core.media import RefImage

    buf = BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buf, "PNG")
    fake_jimeng.add_account(sid("dead"), valid=False)
    fake_jimeng.add_account(sid("live"))
    async with engine_for(fake_jimeng, f"{sid('dead')},{sid('live')}") as engine:
        job = await engine.compose(ImageParams(prompt="blend", count=1), [RefImage.from_bytes(buf.getvalue())])
        result = await job.wait()
        assert result.images and engine.accounts()[0].state is AccountState.INVALID
    assert [r.sessionid for r in fake_jimeng.calls(GEN)] == [sid("live")]


async def test_callers_accounts_are_bounded(fake_jimeng: FakeJimeng) -> None:
    fake_jimeng.add_account(sid("server"))
    async with engine_for(fake_jimeng, sid("server")) as engine:
        engine.pool.max_adhoc = 3
        for i in range(6):
            engine.adhoc_accounts(sid(f"caller{i}"))
        keys = {a.key for a in engine.pool.accounts(pooled_only=False)}
        assert len(keys) == 4  # the server's own account is never evicted
        assert engine.adhoc_accounts(sid("caller5"))[0].key in keys
