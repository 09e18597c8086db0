"""Reference images in: every input kind, URL safety refusals, format sniffing and conversion (real loopback HTTP)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from core.errors import InvalidRequestError, UploadError
from core.fetch import FetchPolicy
from core.media import RefImage, normalise, prepare_all
from core.policy import UPLOAD_MAX_EDGE

OPEN = FetchPolicy(allow_private=True, max_bytes=1024 * 1024, read_timeout=0.5, total_timeout=5)
STRICT = FetchPolicy(allow_private=False, max_bytes=1024 * 1024)
# Loopback allowed (it is where the test server lives) but nothing else private: proves the per-hop check.
LOOPBACK_ONLY = FetchPolicy(allowed_networks=("127.0.0.1/32",), max_bytes=1024 * 1024)


def png(w: int = 32, h: int = 24, colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_orientation(w: int, h: int, orientation: int) -> bytes:
    im = Image.new("RGB", (w, h), (10, 120, 240))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def site(aiohttp_server):  # type: ignore[no-untyped-def]
    image = png()

    async def img(_: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/png")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=b"\0" * (2 * 1024 * 1024), content_type="image/png")

    async def chunked_big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"\x89PNG" + b"\0" * 65_532)
        await resp.write_eof()
        return resp

    async def text(_: web.Request) -> web.Response:
        return web.Response(body=b"<html>hello</html>", content_type="image/png")  # lies about its type

    async def redir(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound("/img.png" if n == 0 else f"/redir/{n - 1}")

    async def loop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to_metadata(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_ten(_: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("http://10.0.0.1/x.png")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(body=image)

    app = web.Application()
    app.router.add_get("/img.png", img)
    app.router.add_get("/big", big)
    app.router.add_get("/chunked-big", chunked_big)
    app.router.add_get("/text", text)
    app.router.add_get("/redir/{n}", redir)
    app.router.add_get("/loop", loop)
    app.router.add_get("/to-metadata", to_metadata)
    app.router.add_get("/to-ten", to_ten)
    app.router.add_get("/slow", slow)
    server = await aiohttp_server(app)
    server.image = image
    return server


# ------------------------------------------------------------------------------------------------ input kinds


async def test_bytes_png_passes_through_untouched(http: aiohttp.ClientSession) -> None:
    data = png(40, 30)
    [p] = await prepare_all([RefImage.from_bytes(data)], http=http, policy=OPEN)
    assert (p.data, p.width, p.height, p.format, p.index, p.converted) == (data, 40, 30, "png", 0, False)


async def test_file(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    f = tmp_path / "photo.bin"  # the extension says nothing; the bytes are a JPEG
    f.write_bytes(jpeg_with_orientation(30, 20, 1))
    [p] = await prepare_all([RefImage.from_path(f)], http=http, policy=OPEN)
    assert (p.format, p.width, p.height) == ("jpeg", 30, 20)


async def test_missing_file_names_the_reference(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    with pytest.raises(UploadError, match=r"reference image 1 .*does not exist") as ei:
        await prepare_all([RefImage.from_path(tmp_path / "nope.png")], http=http, policy=OPEN)
    assert ei.value.index == 0


async def test_data_url_and_bare_base64(http: aiohttp.ClientSession) -> None:
    data = png(8, 8)
    b64 = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    refs = [
        RefImage.parse(f"data:image/png;base64,{b64}"),
        RefImage.parse(b64),
        RefImage.parse("  " + b64[:40] + "\n" + b64[40:] + "  "),  # wrapped lines
        RefImage.from_data_url(urlsafe),
    ]
    prepared = await prepare_all(refs, http=http, policy=OPEN)
    assert [p.data for p in prepared] == [data] * 4
    assert [p.index for p in prepared] == [0, 1, 2, 3]


def test_parse_picks_the_kind_and_never_a_local_path() -> None:
    assert RefImage.parse("https://example.com/a.png").kind == "url"
    assert RefImage.parse("data:image/png;base64,iVBORw0KGgo=").kind == "bytes"
    assert RefImage.parse("/etc/passwd").kind == "bytes"  # decoded as base64 garbage, never opened as a file
    for bad in ("file:///etc/passwd", "ftp://example.com/a.png", "", "not base64!", "data:image/png;base64"):
        with pytest.raises(InvalidRequestError):
            RefImage.parse(bad)


def test_malformed_urls_are_invalid_requests_naming_the_image() -> None:
    """Issue #13: yarl's ValueError for these used to escape as an unexpected error (a 500 at the API)."""
    for bad in (
        "http://127.0.0.1:1\\@example.com/r.png",
        "http://example.com:abc/r.png",
        "http://example.com:99999/r.png",
        "http://[::1/r.png",
        "http://example.com/\ud800.png",
    ):
        with pytest.raises(InvalidRequestError) as exc:
            RefImage.parse(bad)
        assert exc.value.param == "image", bad
        assert "malformed" in exc.value.message, bad


def test_parse_takes_a_local_path_only_when_the_caller_allows_it(tmp_path: Path) -> None:
    f = tmp_path / "cat.png"
    f.write_bytes(png())
    assert RefImage.parse(str(f), allow_path=True) == RefImage.from_path(f)
    with pytest.raises(InvalidRequestError, match="not a URL, a data URL or valid base64"):
        RefImage.parse(str(f))  # user input: never a path
    with pytest.raises(InvalidRequestError, match="no such image file"):
        RefImage.parse(str(tmp_path / "missing.png"), allow_path=True)
    assert RefImage.parse("https://example.com/x.png", allow_path=True).kind == "url"


async def test_url(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    [p] = await prepare_all([RefImage.parse(str(site.make_url("/img.png")))], http=http, policy=OPEN)
    assert p.data == site.image and p.format == "png"


async def test_redirects_within_the_limit_are_followed(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    [p] = await prepare_all([str(site.make_url("/redir/2"))], http=http, policy=OPEN)
    assert p.data == site.image


# ------------------------------------------------------------------------------------------------ refusals


async def test_private_address_refused_unless_allowed(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    url = str(site.make_url("/img.png"))
    with pytest.raises(UploadError, match="private or reserved address") as ei:
        await prepare_all([url], http=http, policy=STRICT)
    assert ei.value.index == 0


async def test_hostname_checked_after_dns(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    url = f"http://localhost:{site.port}/img.png"
    with pytest.raises(UploadError, match="localhost resolves to a private"):
        await prepare_all([url], http=http, policy=STRICT)


async def test_redirect_to_private_address_refused_on_the_hop(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    # The first hop is allowed (loopback is explicitly trusted here); the redirect targets are not.
    for path, host in (("/to-metadata", "169.254.169.254"), ("/to-ten", "10.0.0.1")):
        with pytest.raises(UploadError, match=f"{host} resolves to a private or reserved address"):
            await prepare_all([str(site.make_url(path))], http=http, policy=LOOPBACK_ONLY)
    [p] = await prepare_all([str(site.make_url("/redir/1"))], http=http, policy=LOOPBACK_ONLY)
    assert p.data == site.image


async def test_too_many_redirects(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UploadError, match="too many redirects"):
        await prepare_all([str(site.make_url("/loop"))], http=http, policy=OPEN)
    with pytest.raises(UploadError, match="too many redirects"):
        await prepare_all([str(site.make_url("/redir/4"))], http=http, policy=OPEN)


async def test_too_large_declared_and_streamed(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    for path in ("/big", "/chunked-big"):
        with pytest.raises(UploadError, match="larger than 1 MB"):
            await prepare_all([str(site.make_url(path))], http=http, policy=OPEN)
    with pytest.raises(UploadError, match="larger than 1 MB"):
        await prepare_all([RefImage.from_bytes(b"\0" * (1024 * 1024 + 1))], http=http, policy=OPEN)


async def test_not_an_image_despite_content_type(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UploadError, match="not an image"):
        await prepare_all([str(site.make_url("/text"))], http=http, policy=OPEN)


async def test_http_errors_and_timeouts(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UploadError, match="HTTP 404"):
        await prepare_all([str(site.make_url("/missing"))], http=http, policy=OPEN)
    with pytest.raises(UploadError, match="timed out"):
        await prepare_all([str(site.make_url("/slow"))], http=http, policy=OPEN)


async def test_first_failing_reference_by_position_is_reported(site, http: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    good = RefImage.from_bytes(png())
    bad = RefImage.from_bytes(b"definitely not an image")
    slow = str(site.make_url("/slow"))
    with pytest.raises(UploadError, match="reference image 2") as ei:
        await prepare_all([good, bad, slow, bad], http=http, policy=OPEN)
    assert ei.value.index == 1


async def test_bad_string_names_the_reference(http: aiohttp.ClientSession) -> None:
    with pytest.raises(InvalidRequestError, match="reference image 2"):
        await prepare_all([png(), "file:///etc/passwd"], http=http, policy=OPEN)


# ------------------------------------------------------------------------------------------------ conversion


def test_gif_first_frame_becomes_png() -> None:
    frames = [Image.new("P", (16, 12), i) for i in (1, 2, 3)]
    for f, rgb in zip(frames, ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
        f.putpalette([0, 0, 0, *rgb, *rgb, *rgb] + [0] * (768 - 12))
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    p = normalise(buf.getvalue(), 0)
    assert (p.format, p.source_format, p.converted, p.width, p.height) == ("png", "gif", True, 16, 12)
    with Image.open(io.BytesIO(p.data)) as out:
        assert out.format == "PNG" and not getattr(out, "is_animated", False)
        assert out.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_bmp_and_tiff_are_converted() -> None:
    for fmt in ("BMP", "TIFF"):
        buf = io.BytesIO()
        Image.new("RGB", (20, 10), (1, 2, 3)).save(buf, fmt)
        p = normalise(buf.getvalue(), 3)
        assert p.format == "jpeg" and p.source_format == fmt.lower() and p.index == 3
        with Image.open(io.BytesIO(p.data)) as out:
            assert out.format == "JPEG" and out.size == (20, 10)


def test_alpha_is_kept_as_png() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (10, 10), (1, 2, 3, 4)).save(buf, "TIFF")
    p = normalise(buf.getvalue(), 0)
    assert p.format == "png"
    with Image.open(io.BytesIO(p.data)) as out:
        assert out.mode == "RGBA"


def test_exif_orientation_applied() -> None:
    p = normalise(jpeg_with_orientation(40, 20, 6), 0)  # 6 = rotate 90° clockwise to display
    assert (p.width, p.height, p.format, p.converted) == (20, 40, "jpeg", True)
    with Image.open(io.BytesIO(p.data)) as out:
        assert out.size == (20, 40) and out.getexif().get(0x0112, 1) == 1
    upright = jpeg_with_orientation(40, 20, 1)
    assert normalise(upright, 0).data == upright


def test_downscaled_above_the_upload_limit() -> None:
    p = normalise(png(UPLOAD_MAX_EDGE + 904, 50), 0)
    assert p.width == UPLOAD_MAX_EDGE and p.height < 50 and p.converted


def test_truncated_image_is_refused() -> None:
    from core.fetch import ImageRefused

    with pytest.raises(ImageRefused, match="damaged"):
        normalise(png(64, 64)[:80], 0)


_RSS_CHILD = """
import asyncio, base64, sys
import aiohttp
from core.decoding import DECODE_BUDGET, map_large_allocations
from core.media import prepare_all

map_large_allocations()  # as `python -m api` and `python -m bot` do at start (glibc keeps freed arenas otherwise)

async def main() -> None:
    data = open(sys.argv[1], "rb").read()
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    async with aiohttp.ClientSession() as http:
        done = await asyncio.gather(*(prepare_all([url] * 4, http=http) for _ in range(2)))
    assert all(max(p.width, p.height) <= 4096 for batch in done for p in batch)
    # VmHWM, not ru_maxrss: the latter keeps the high-water mark of the (large) pytest process across fork + exec
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(int(hwm.split()[1]) // 1024, DECODE_BUDGET.peak)

asyncio.run(main())
"""


def test_rss_stays_bounded_on_huge_decoded_images(tmp_path: Path) -> None:
    """Issue #13: two requests of four 8000 px PNG data URLs took the process to 3.3-4 GB. With the decoding budget
    the pixels held never pass DECODE_BUDGET_PIXELS and the peak RSS of a fresh process stays under 400 MiB."""
    import subprocess
    import sys

    from core.policy import DECODE_BUDGET_PIXELS

    src = tmp_path / "huge.png"
    Image.new("RGB", (8000, 8000), (120, 30, 200)).save(src, "PNG", compress_level=1)
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(src)], capture_output=True, text=True, timeout=300, check=True
    )
    peak_mib, peak_pixels = (int(x) for x in out.stdout.split())
    assert peak_pixels <= DECODE_BUDGET_PIXELS
    assert peak_mib < 400, peak_mib


async def test_a_request_over_its_pixel_allowance_is_refused(http: aiohttp.ClientSession) -> None:
    from core.media import RequestPixels, prepare_one

    allowance = RequestPixels(left=32 * 24 * 2)
    for _ in range(2):
        await prepare_one(RefImage.from_bytes(png()), 0, http=http, policy=OPEN, allowance=allowance)
    with pytest.raises(UploadError) as exc:
        await prepare_one(RefImage.from_bytes(png()), 2, http=http, policy=OPEN, allowance=allowance)
    assert "too large to process" in exc.value.message and exc.value.index == 2


async def test_the_pixel_budget_serves_a_burst_in_turn() -> None:
    from core.decoding import PixelBudget

    budget = PixelBudget(100)
    order: list[str] = []

    async def use(name: str, pixels: int) -> None:
        async with budget.hold(pixels):
            order.append(name)
            await asyncio.sleep(0.01)

    big = asyncio.create_task(use("big", 80))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(use(n, p)) for n, p in (("second", 60), ("huge", 500), ("small", 10))]
    await asyncio.gather(big, *rest)
    assert order == ["big", "second", "huge", "small"]  # first in, first out; "small" does not jump the line
    assert budget.peak <= 100 and budget.used == 0
    waiter = asyncio.create_task(use("cancelled", 50))
    async with budget.hold(100):
        await asyncio.sleep(0)
        waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert budget.used == 0
