"""ImageX upload (PROTOCOL.md §4.1–4.2) end to end against the emulator, which verifies SigV4, Auth and CRC32 on every request."""

from __future__ import annotations

import json
import zlib

import aiohttp
import pytest

from core.accounts import Account
from core.errors import UploadError
from core.media import PreparedImage, normalise
from core.sigv4 import Credentials, sign
from core.tokens import parse_tokens
from core.transport import Upstream
from core.upload import ImageUploader, crc32_hex
from emulator import FakeJimeng
from tests.core.conftest import UpstreamProxy, make_png, session_id


def prepared(index: int = 0, data: bytes | None = None, seed: int | None = None) -> PreparedImage:
    raw = data if data is not None else make_png(40 + index, 30, seed if seed is not None else index)
    p = normalise(raw, index)
    return p


def account(fake: FakeJimeng, region: str = "cn", n: int = 0) -> Account:
    sid = session_id(f"upload-{region}-{n}")
    fake.add_account(sid, region=region)
    return Account(parse_tokens(("" if region == "cn" else f"{region}-") + sid)[0])


@pytest.fixture
def uploader(fake_jimeng: FakeJimeng, http: aiohttp.ClientSession) -> ImageUploader:
    return ImageUploader(Upstream(http, upstream_url=fake_jimeng.url), retry_base_s=0.01)


def ok_calls(fake: FakeJimeng, action: str) -> int:
    return len(fake.calls(action))


async def test_one_upload_signed_and_committed(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    acc = account(fake_jimeng)
    img = prepared()
    up = await uploader.upload(acc, img)
    assert up.uri.startswith("tos-cn-i-tb4s082cfz/")
    assert (up.width, up.height, up.format) == (40, 30, "png")
    stored = fake_jimeng.uploaded_images[up.uri]
    assert stored["sessionid"] == acc.token.sessionid and stored["size"] == len(img.data)
    [apply] = fake_jimeng.calls("ApplyImageUpload")
    [commit] = fake_jimeng.calls("CommitImageUpload")
    assert apply.method == "GET" and commit.method == "POST"
    assert apply.query["FileSize"] == str(len(img.data)) and apply.query["ServiceId"] == "tb4s082cfz"
    assert "SignedHeaders=x-amz-date;x-amz-security-token," in apply.headers["Authorization"]
    assert "/cn-north-1/imagex/aws4_request" in apply.headers["Authorization"]
    assert "SignedHeaders=x-amz-content-sha256;x-amz-date;x-amz-security-token," in commit.headers["Authorization"]
    assert json.loads(commit.body_bytes) == {"SessionKey": json.loads(commit.body_bytes)["SessionKey"]}
    [node] = [r for r in fake_jimeng.requests if r.path.startswith("/upload/v1/")]
    assert node.headers["Content-CRC32"] == crc32_hex(img.data)
    assert node.headers["Content-Type"] == "application/octet-stream"
    assert [r.body_bytes for r in fake_jimeng.calls("get_upload_token")] == [b'{"scene":2}']


async def test_international_site_signs_its_own_region(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    acc = account(fake_jimeng, "hk")
    up = await uploader.upload(acc, prepared())
    assert up.uri.startswith("tos-alisg-i-wopfjsm1ax-sg/")
    [apply] = fake_jimeng.calls("ApplyImageUpload")
    assert apply.query["device_platform"] == "web" and apply.query["ServiceId"] == "wopfjsm1ax"
    assert "/ap-southeast-1/imagex/aws4_request" in apply.headers["Authorization"]


async def test_emulator_really_verifies_the_signature(fake_jimeng: FakeJimeng, http: aiohttp.ClientSession) -> None:
    """The emulator's independent verifier refuses a signature made with the wrong secret (so passing means ours is right)."""
    acc = account(fake_jimeng)
    upstream = Upstream(http, upstream_url=fake_jimeng.url)
    token = await ImageUploader(upstream)._token(acc)
    query = [
        ("Action", "ApplyImageUpload"),
        ("Version", "2018-08-01"),
        ("ServiceId", token.service_id),
        ("FileSize", "10"),
    ]
    for creds, expected in (
        (Credentials(token.creds.access_key_id, "not-the-secret", token.creds.session_token), "SignatureDoesNotMatch"),
        (token.creds, None),
    ):
        signed = sign("GET", query, creds, region="cn-north-1", service="imagex")
        qs = "&".join(f"{k}={v}" for k, v in query)
        async with http.get(f"{fake_jimeng.url}/?{qs}", headers=signed.headers) as resp:
            doc = await resp.json()
        error = doc["ResponseMetadata"].get("Error")
        assert (error or {}).get("Code") == expected, doc


async def test_crc32_is_zero_padded_to_8_digits(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    base = make_png(20, 20, 7)
    data = next(d for i in range(5000) if zlib.crc32(d := base + i.to_bytes(4, "big")) < 0x10000000)
    img = prepared(data=data)
    assert img.data == data  # a PNG with trailing bytes is still taken as it is
    up = await uploader.upload(account(fake_jimeng), img)
    [node] = [r for r in fake_jimeng.requests if r.path.startswith("/upload/v1/")]
    header = node.headers["Content-CRC32"]
    assert len(header) == 8 and header.startswith("0") and int(header, 16) == zlib.crc32(data)
    assert up.uri in fake_jimeng.uploaded_images


async def test_parallel_uploads_keep_order_and_share_one_token(
    fake_jimeng: FakeJimeng, uploader: ImageUploader
) -> None:
    acc = account(fake_jimeng)
    images = [prepared(i) for i in range(6)]
    ups = await uploader.upload_all(acc, images)
    assert [u.width for u in ups] == [40 + i for i in range(6)]
    assert len({u.uri for u in ups}) == 6
    assert ok_calls(fake_jimeng, "get_upload_token") == 1  # single-flight STS, cached for the next uploads
    await uploader.upload(acc, prepared(9))
    assert ok_calls(fake_jimeng, "get_upload_token") == 1


async def test_sts_cache_expires(fake_jimeng: FakeJimeng, http: aiohttp.ClientSession) -> None:
    now = [1_000.0]
    up = ImageUploader(Upstream(http, upstream_url=fake_jimeng.url), clock=lambda: now[0])
    acc = account(fake_jimeng)
    await up.upload(acc, prepared())
    now[0] += 24 * 60
    await up.upload(acc, prepared(1))
    assert ok_calls(fake_jimeng, "get_upload_token") == 1
    now[0] += 2 * 60
    await up.upload(acc, prepared(2))
    assert ok_calls(fake_jimeng, "get_upload_token") == 2


@pytest.mark.parametrize(
    ("faults", "tokens"),
    [
        (["apply_signature"], 2),  # SignatureDoesNotMatch → once more with a fresh STS
        (["upload_500"], 1),
        (["crc_mismatch"], 1),
        (["commit_500"], 1),
        (["upload_500", "commit_500"], 1),
    ],
)
async def test_transient_faults_are_retried(
    fake_jimeng: FakeJimeng, uploader: ImageUploader, faults: list[str], tokens: int
) -> None:
    fake_jimeng.upload_faults = list(faults)
    up = await uploader.upload(account(fake_jimeng), prepared())
    assert up.uri in fake_jimeng.uploaded_images
    assert fake_jimeng.upload_faults == []
    assert ok_calls(fake_jimeng, "get_upload_token") == tokens


async def test_persistent_failure_names_the_reference(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    fake_jimeng.upload_faults = ["upload_500"] * 10
    acc = account(fake_jimeng)
    with pytest.raises(UploadError) as ei:
        await uploader.upload_all(acc, [prepared(0), prepared(1), prepared(2)])
    assert ei.value.index in (0, 1, 2)
    assert f"reference image {ei.value.index + 1} could not be uploaded" in ei.value.message
    assert "HTTP 500" in ei.value.message


async def test_signature_refused_twice_is_not_retried_forever(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    fake_jimeng.upload_faults = ["apply_signature"] * 3
    with pytest.raises(UploadError, match=r"reference image 3 .*SignatureDoesNotMatch") as ei:
        await uploader.upload(account(fake_jimeng), prepared(2))
    assert ei.value.index == 2
    assert ok_calls(fake_jimeng, "ApplyImageUpload") == 2


async def test_file_upstream_cannot_read_is_not_retried(fake_jimeng: FakeJimeng, uploader: ImageUploader) -> None:
    bogus = PreparedImage(b"not an image at all", 1, 1, "png", 4)
    with pytest.raises(UploadError, match=r"reference image 5 .*UriStatus 2001"):
        await uploader.upload(account(fake_jimeng), bogus)
    assert ok_calls(fake_jimeng, "ApplyImageUpload") == 1


async def test_secrets_never_in_logs(
    fake_jimeng: FakeJimeng, uploader: ImageUploader, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    fake_jimeng.upload_faults = ["apply_signature", "upload_500"]
    acc = account(fake_jimeng)
    await uploader.upload(acc, prepared())
    text = caplog.text
    token = uploader._tokens[acc.key]
    for secret in (acc.token.sessionid, token.creds.secret_access_key, token.creds.session_token):
        assert secret not in text
    assert "retrying" in text


# ------------------------------------------------------------------------------ UploadHost vs UploadHosts


@pytest.mark.parametrize("keep", ["UploadHost", "UploadHosts"])
async def test_either_upload_host_field_is_accepted(
    fake_jimeng: FakeJimeng,
    http: aiohttp.ClientSession,
    upstream_proxy: UpstreamProxy,
    keep: str,
) -> None:
    drop = "UploadHosts" if keep == "UploadHost" else "UploadHost"
    upstream_proxy.edits["ApplyImageUpload"] = lambda doc: doc["Result"]["UploadAddress"].pop(drop)
    uploader = ImageUploader(Upstream(http, upstream_url=upstream_proxy.url))
    up = await uploader.upload(account(fake_jimeng), prepared())
    assert up.uri in fake_jimeng.uploaded_images


async def test_incomplete_upload_address_is_an_upload_error(
    fake_jimeng: FakeJimeng, http: aiohttp.ClientSession, upstream_proxy: UpstreamProxy
) -> None:
    def strip(doc: dict) -> None:
        addr = doc["Result"]["UploadAddress"]
        addr.pop("UploadHost")
        addr.pop("UploadHosts")

    upstream_proxy.edits["ApplyImageUpload"] = strip
    uploader = ImageUploader(Upstream(http, upstream_url=upstream_proxy.url), retry_base_s=0.01)
    with pytest.raises(UploadError, match="incomplete upload address"):
        await uploader.upload(account(fake_jimeng), prepared())
    assert ok_calls(fake_jimeng, "ApplyImageUpload") == 3  # retried, then given up
