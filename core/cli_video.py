"""The admin CLI's video references (issue #14): ``python -m core video "prompt" --ref F [--ref F …]`` makes an
omni-reference video (images, videos, audio; Seedance 2.0 models), and ``python -m core interpolate SOURCE`` makes a
60 fps copy of a video: SOURCE is an MP4/MOV file or the id of a video job the running bot or API made (looked up
read-only in the service's store, so it runs on the account that made it; PROTOCOL.md §11.3).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from core.backends import service_record
from core.engine import Engine
from core.errors import InvalidRequestError
from core.jobs import Job
from core.media import RefImage
from core.params import VideoParams
from core.video_refs import RefMedia, reference_from_bytes


def add_parsers(sub: Any, video: argparse.ArgumentParser) -> None:
    video.add_argument(
        "--ref",
        action="append",
        dest="refs",
        default=[],
        help="a reference file (image, MP4/MOV video, MP3/WAV audio) for an omni model; repeat for more; "
        "the prompt names them @1, @2…",
    )
    sp = sub.add_parser("interpolate", help="a 60 fps copy of a video (frame interpolation)")
    sp.add_argument("source", help="an MP4/MOV file, or the id of a video job the bot or API made")
    sp.add_argument("--index", type=int, default=0, help="which video of that job (default 0)")
    sp.add_argument("--prompt", default="")
    sp.add_argument("--out", default="out", help="folder for the results (default ./out)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")


def _file(text: str) -> Any:
    path = Path(text).expanduser()
    if not path.is_file():
        return RefImage.parse(text, allow_path=True)  # a URL or data URL of an image
    return reference_from_bytes(path.read_bytes(), path.name)


async def _copy_record(engine: Engine, job_id: str, service_store: Path | str | None) -> None:
    """The service's record of ``job_id`` into the CLI's in-memory store (the service's is only read)."""
    if await engine.store.get(job_id) is not None:
        return
    record = await service_record(service_store, job_id)  # the SQLite file, or PostgreSQL (core.backends)
    if record is not None:
        await engine.store.save(record)


async def run(engine: Engine, a: argparse.Namespace, service_store: Path | str | None) -> Job:
    if a.command == "interpolate":
        source = Path(a.source)
        if await asyncio.to_thread(lambda: source.expanduser().is_file()):
            ref = await asyncio.to_thread(_file, a.source)
            if not isinstance(ref, RefMedia):
                raise InvalidRequestError("frame interpolation needs an MP4 or MOV video", param="source")
            return await engine.interpolate(ref, prompt=a.prompt)
        await _copy_record(engine, a.source, service_store)
        return await engine.interpolate(a.source, index=a.index, prompt=a.prompt)
    refs = [await asyncio.to_thread(_file, r) for r in a.refs]
    params = VideoParams(prompt=a.prompt, model=a.model, duration=a.duration, ratio=a.ratio, resolution=a.resolution)
    return await engine.omni_video(params, refs)
