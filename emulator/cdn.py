"""The result CDN: signed, expiring URLs for images and videos, rendered on first request and then cached.

``GET /img/<token>.webp`` serves a result (or uploaded) image, ``GET /vid/<token>[-hq].mp4`` a video. Every URL
handed out carries ``x-expires`` and ``x-signature``; :meth:`FakeJimeng.invalidate_urls` makes all earlier URLs
answer 403, as Jimeng's signed URLs do once they expire.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import time
from collections.abc import Callable

from aiohttp import web

from .base import EmulatorBase
from .media import make_mp4, make_webp
from .records import Asset


class CdnMixin(EmulatorBase):
    _assets: dict[str, Asset]
    _media_tasks: dict[str, asyncio.Future[bytes]]
    _cdn_secret: bytes
    _url_epoch: int
    # How result images are drawn: (width, height, seed) -> WebP bytes. The benchmarks swap in photo-sized ones.
    render_image: Callable[[int, int, str], bytes] = staticmethod(make_webp)  # type: ignore[assignment]

    def invalidate_urls(self) -> None:
        """Every CDN URL handed out before this call answers 403 from now on (new polls hand out fresh ones)."""
        self._url_epoch += 1

    def _sig(self, path: str, epoch: int) -> str:
        return hmac.new(self._cdn_secret, f"{path}|{epoch}".encode(), hashlib.sha256).hexdigest()[:32]

    def _cdn_url(self, path: str) -> str:
        expires = int(time.time()) + 7 * 86400
        return f"{self.url}{path}?x-expires={expires}&x-signature={self._sig(path, self._url_epoch)}"

    def _register_asset(self, kind: str, width: int, height: int, seed: str, duration_ms: int = 0) -> str:
        token = self._hex(32)
        self._assets[token] = Asset(kind, width, height, seed, duration_ms)
        return token

    def _cdn_check(self, request: web.Request) -> web.Response | None:
        sig = request.query.get("x-signature", "")
        try:
            expires = int(request.query.get("x-expires", "0"))
        except ValueError:
            expires = 0
        if expires < time.time() or not hmac.compare_digest(sig, self._sig(request.path, self._url_epoch)):
            return web.Response(status=403, text="403 Forbidden: signature expired or invalid")
        return None

    async def _media(self, token: str, build: Callable[[], bytes]) -> bytes:
        asset = self._assets[token]
        if asset.data is not None:
            return asset.data
        fut = self._media_tasks.get(token)
        if fut is None:
            fut = asyncio.ensure_future(asyncio.to_thread(build))
            self._media_tasks[token] = fut
        data = await asyncio.shield(fut)
        asset.data = data
        self._media_tasks.pop(token, None)
        return data

    async def _cdn_image(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["name"].rsplit(".", 1)[0]
        asset = self._assets.get(token)
        if asset is None or asset.kind not in ("img", "upload"):
            return web.Response(status=404, text="404 Not Found")
        if (denied := self._cdn_check(request)) is not None:
            return denied
        data = await self._media(token, functools.partial(self.render_image, asset.width, asset.height, asset.seed))
        return web.Response(body=data, content_type=asset.content_type)

    async def _cdn_video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"].rsplit(".", 1)[0]
        token = name.removesuffix("-hq")
        asset = self._assets.get(token)
        if asset is None or asset.kind != "vid":
            return web.Response(status=404, text="404 Not Found")
        if (denied := self._cdn_check(request)) is not None:
            return denied
        data = await self._media(token, functools.partial(make_mp4, asset.width, asset.height, asset.duration_ms))
        return web.Response(body=data, content_type="video/mp4")
