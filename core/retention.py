"""Results that outlive signed URLs: local copies in the data directory, with a retention period and a disk cap.

Jimeng's result URLs expire within hours. On success the engine downloads every file at once (streaming, bounded
concurrency) into ``<data_dir>/results/<job id>/``; front ends read results through ``Engine.download``, which
prefers the local copy. Old files are evicted by age, then oldest first while the total is over the cap.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import JimengError, StoreUnavailableError, TransportError
from core.jobs import Job
from core.media import PreparedImage
from core.results import Asset
from core.transport import Upstream

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # streaming to callers
COPY_CHUNK = 1 << 20  # copying to disk: few, large writes (each one a thread hop), whatever size the reads come in
KNOWN_PATHS = 10_000  # upstream URL → local copy, remembered for callers that hold the original Asset
_EXT_BY_TYPE = {"image/webp": ".webp", "image/jpeg": ".jpg", "image/png": ".png", "video/mp4": ".mp4"}


@dataclass(slots=True)
class Download:
    """An open result file: its type, its size when known, and its bytes as an async iterator of chunks."""

    content_type: str
    size: int | None
    chunks: AsyncIterator[bytes]

    async def read(self, limit: int | None = None) -> bytes:
        """All bytes (at most ``limit``; more raises TransportError so nobody buffers a huge file by accident)."""
        buf = bytearray()
        async for chunk in self.chunks:
            buf += chunk
            if limit is not None and len(buf) > limit:
                raise TransportError(f"the result file is larger than {limit} bytes")
        return bytes(buf)


async def _file_chunks(path: Path, chunk_size: int) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, chunk_size):
            yield chunk
    finally:
        fh.close()  # at once, even when the reader is cancelled (a thread hop here could be cut off and leak it)


@asynccontextmanager
async def open_asset(upstream: Upstream, asset: Asset, *, chunk_size: int = CHUNK) -> AsyncIterator[Download]:
    """The local copy when there is one, else the upstream URL."""
    if asset.path:
        path = Path(asset.path)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError:
            size = None
        if size is not None:
            ctype = mimetypes.guess_type(path.name)[0] or ("video/mp4" if asset.kind == "video" else "image/webp")
            yield Download(content_type=ctype, size=size, chunks=_file_chunks(path, chunk_size))
            return
    async with upstream.fetch(asset.url) as resp:
        if resp.status != 200:
            raise TransportError(f"the result file is no longer available (HTTP {resp.status})")
        ctype = resp.headers.get("content-type", "").split(";")[0] or (
            "video/mp4" if asset.kind == "video" else "image/webp"
        )
        yield Download(content_type=ctype, size=resp.content_length, chunks=resp.content.iter_chunked(chunk_size))


class ResultKeeper:
    def __init__(
        self,
        upstream: Upstream,
        store: Any,
        root: Path,
        *,
        retention_s: float,
        max_bytes: int,
        concurrency: int = 4,
    ) -> None:
        self.upstream = upstream
        self.store = store
        self.root = root
        self.retention_s = retention_s
        self.max_bytes = max_bytes
        self._sem = asyncio.Semaphore(concurrency)
        self._copying: dict[str, asyncio.Future[str | None]] = {}  # upstream URL → local path (when done)
        self._known: OrderedDict[str, str] = OrderedDict()
        self._settling: dict[str, asyncio.Future[None]] = {}  # job id → done when its copies are recorded

    def begin_job(self, job_id: str, assets: tuple[Asset, ...]) -> None:
        """Announce a finished job's copy before its success is published (``keep_job`` follows)."""
        self.begin(job_id, assets)
        self._settling[job_id] = asyncio.get_running_loop().create_future()

    async def keep_job(self, job: Job, save: Callable[[Job], Awaitable[None]]) -> None:
        """Copy a finished job's files into the data directory, then record their paths in its result."""
        try:
            result = job.last_event.result
            if result is None:
                return
            try:
                assets = await self.keep(job.id, result.assets)
            except asyncio.CancelledError:
                raise
            except StoreUnavailableError as err:  # the database is away (PostgreSQL): one line, no traceback
                log.warning(
                    "job %s: its results were not kept locally (%s); the upstream URLs stay", job.id, err.message
                )
                return
            except Exception:
                log.exception("job %s: keeping its results locally failed; the upstream URLs stay", job.id)
                return
            job.replace_result(replace(result, assets=assets))
            await save(job)
        finally:
            settling = self._settling.pop(job.id, None)
            if settling is not None and not settling.done():
                settling.set_result(None)

    async def settled(self, job_id: str) -> None:
        """Wait until a job's copy (and the record updated with its paths) is done, if one is under way."""
        settling = self._settling.get(job_id)
        if settling is not None:
            await asyncio.shield(settling)

    def begin(self, job_id: str, assets: tuple[Asset, ...]) -> None:
        """Announce a copy before the job's success is published, so readers wait for it instead of racing it."""
        loop = asyncio.get_running_loop()
        for a in assets:
            self._copying.setdefault(a.url, loop.create_future())

    async def keep(self, job_id: str, assets: tuple[Asset, ...]) -> tuple[Asset, ...]:
        """Download every asset; an asset whose download fails keeps only its upstream URL. Callers of
        ``local_path`` for these URLs wait for the copy instead of fetching the file a second time."""
        self.begin(job_id, assets)
        futures = {a.url: self._copying[a.url] for a in assets}
        kept: list[Asset] = list(assets)
        try:
            folder = self.root / job_id
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            kept = list(await asyncio.gather(*(self._one(folder, job_id, i, a) for i, a in enumerate(assets, 1))))
        finally:
            for original, copy in zip(assets, kept, strict=True):
                if copy.path:
                    self._known[original.url] = copy.path
                    while len(self._known) > KNOWN_PATHS:
                        self._known.popitem(last=False)
                fut = futures[original.url]
                if not fut.done():
                    fut.set_result(copy.path)
                self._copying.pop(original.url, None)
        await self.evict()
        return tuple(kept)

    async def local_path(self, url: str) -> str | None:
        """The local copy of an upstream URL: known, or being made now (then wait for it), else None."""
        if url in self._known:
            return self._known[url]
        fut = self._copying.get(url)
        if fut is None:
            return None
        return await asyncio.shield(fut)

    async def _one(self, folder: Path, job_id: str, index: int, asset: Asset) -> Asset:
        async with self._sem:
            try:
                async with self.upstream.fetch(asset.url) as resp:
                    if resp.status != 200:
                        raise TransportError(f"HTTP {resp.status}")
                    ctype = resp.headers.get("content-type", "").split(";")[0]
                    ext = (
                        _EXT_BY_TYPE.get(ctype)
                        or mimetypes.guess_extension(ctype)
                        or (".mp4" if asset.kind == "video" else ".webp")
                    )
                    path = folder / f"{index}{ext}"
                    tmp = path.with_suffix(path.suffix + ".part")
                    # Opened here, not in a thread: a cancel landing on that hop would drop the open file unclosed.
                    fh = tmp.open("wb")
                    size = 0
                    held: list[bytes] = []  # read since the last write (a read returns what has arrived)
                    try:
                        async for chunk in resp.content.iter_chunked(COPY_CHUNK):
                            held.append(chunk)
                            if (size := size + len(chunk)) // COPY_CHUNK > (size - len(chunk)) // COPY_CHUNK:
                                await asyncio.to_thread(fh.writelines, held)  # about one hop per COPY_CHUNK
                                held = []
                        if held:
                            await asyncio.to_thread(fh.writelines, held)
                    except BaseException:
                        fh.close()
                        tmp.unlink(missing_ok=True)  # a half copy is nobody's file (the store never heard of it)
                        raise
                    finally:
                        fh.close()  # not in a thread: a cancelled job (engine closing) must not leave the .part open
                    await asyncio.to_thread(tmp.replace, path)
            except (JimengError, OSError) as err:
                log.warning("job %s: could not keep result %d locally (%s); the upstream URL stays", job_id, index, err)
                return asset
        await self.store.add_file(str(path), job_id, size)
        return replace(asset, path=str(path))

    async def keep_refs(self, job_id: str, prepared: list[PreparedImage]) -> list[dict[str, Any]]:
        """Keep a job's prepared reference images (for Reroll, and to re-run it after a restart before upload)."""
        folder = self.root.parent / "refs" / job_id
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        kept: list[dict[str, Any]] = []
        for p in prepared:
            path = folder / f"{p.index + 1}.{p.format}"
            await asyncio.to_thread(path.write_bytes, p.data)
            await self.store.add_file(str(path), job_id, len(p.data))
            kept.append({"path": str(path), "width": p.width, "height": p.height, "format": p.format})
        return kept

    async def load_refs(self, kept: list[dict[str, Any]]) -> list[PreparedImage] | None:
        """The prepared images back from disk, or None when any of them is gone (evicted)."""
        out: list[PreparedImage] = []
        for index, meta in enumerate(kept):
            try:
                data = await asyncio.to_thread(Path(str(meta["path"])).read_bytes)
            except (OSError, KeyError):
                return None
            out.append(PreparedImage(data, int(meta["width"]), int(meta["height"]), str(meta["format"]), index))
        return out

    async def evict(self) -> int:
        paths = await self.store.files_to_evict(older_than=time.time() - self.retention_s, max_bytes=self.max_bytes)
        for p in paths:
            try:
                await asyncio.to_thread(Path(p).unlink, missing_ok=True)
            except OSError as err:
                log.warning("could not delete old result %s: %s", p, err)
        await self.store.forget_files(paths)
        if paths:
            log.info("evicted %d old result file(s)", len(paths))
        return len(paths)
