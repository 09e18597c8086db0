"""The admin CLI's image tools (issue #14): ``python -m core upscale|outpaint|detail SOURCE``.

SOURCE is a file, an http(s) URL, a data URL, or the id of an image the running bot or API made (``<job id>-<k>``,
as the API's ``id``). The CLI keeps its own jobs in memory; an id is looked up read-only in the service's store and
copied into the CLI's, so the tool runs on the account that made the image (PROTOCOL.md §11.1).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.backends import service_record
from core.engine import Engine
from core.errors import InvalidRequestError
from core.jobs import Job
from core.media import RefImage
from core.tool_spec import Expand, ImageRef, ToolParams

TOOL_COMMANDS = ("upscale", "outpaint", "detail")


def add_parsers(sub: Any) -> None:
    """The three subcommands (``sub``: the CLI's subparsers), with --out / --quiet like the other job commands."""
    for name, text in (
        ("upscale", "upscale an image 2× (--pro: smart upscale to 2K)"),
        ("outpaint", "zoom out / outpaint an image"),
        ("detail", "detail repair of an image the bot or API made (by its id)"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("source", help="an image id (<job id>-<k>) from the bot/API, or a file, URL or data URL")
        sp.add_argument("--out", default="out", help="folder for the results (default ./out)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "upscale":
            sp.add_argument("--pro", action="store_true", help="smart upscale (pro_hd) instead of 2× (normal_hd)")
        if name == "outpaint":
            sp.add_argument("--prompt", default="", help="what to add around the image")
            how = sp.add_mutually_exclusive_group()
            how.add_argument("--zoom", type=float, help="canvas size as a multiple of the image (1.1-3, default 1.5)")
            how.add_argument("--ratio", help="grow the canvas to this ratio (16:9, 1:1…)")
            how.add_argument("--expand", help="T,B,L,R: fractions of the image added on each side, e.g. 0,0,0.5,0.5")
            sp.add_argument("--count", type=int, help="images to make (1-4, default 1)")


def _expand(text: str | None) -> Expand | None:
    if text is None:
        return None
    try:
        top, bottom, left, right = (float(x) for x in text.split(","))
    except ValueError:
        raise InvalidRequestError("--expand takes four numbers: top,bottom,left,right", param="expand") from None
    return Expand(top=top, bottom=bottom, left=left, right=right)


def params_of(a: argparse.Namespace) -> ToolParams:
    if a.command == "upscale":
        return ToolParams(tool="upscale", mode="pro" if a.pro else "hd")
    if a.command == "outpaint":
        return ToolParams(
            tool="outpaint", prompt=a.prompt, zoom=a.zoom, ratio=a.ratio, expand=_expand(a.expand), count=a.count
        )
    return ToolParams(tool="detail")


async def _source(engine: Engine, text: str, service_store: Path | str | None) -> Any:
    try:
        ref = ImageRef.parse(text, param="source")
    except InvalidRequestError:
        return RefImage.parse(text, allow_path=True)
    if await engine.store.get(ref.job_id) is None:
        record = await service_record(service_store, ref.job_id)  # the SQLite file, or PostgreSQL (core.backends)
        if record is not None:
            await engine.store.save(record)  # into the CLI's in-memory store; the service's record is only read
    return ref


async def run(engine: Engine, a: argparse.Namespace, service_store: Path | str | None) -> Job:
    params = params_of(a)
    engine.check_tool(params)
    return await engine.tool(params, await _source(engine, a.source, service_store))
