"""Admin CLI: check accounts and run a job from the terminal before starting the bot.

python -m core credits [--claim]
python -m core models [--kind image|video]
python -m core imagine "prompt" [--model M] [--ratio R] [--resolution 2k] [--count N] [--out DIR]
python -m core compose "prompt" IMAGE [IMAGE ...] [same options]
python -m core video "prompt" [--model M] [--duration S] [--ratio R] [--resolution 720p] [--first-frame F] [--last-frame F]
python -m core video "prompt" --model jimeng-video-seedance-2.0-mini --ref a.png --ref b.mp4 --ref c.mp3  (core/cli_video.py)
python -m core interpolate FILE.mp4|JOB_ID [--index K]
python -m core upscale|outpaint|detail SOURCE [--pro] [--zoom Z | --ratio R | --expand T,B,L,R] [--count N]  (core/cli_tools.py)
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from core import cli_tools, cli_video
from core.backends import timings_store
from core.engine import Engine
from core.errors import JimengError, StoreUnavailableError
from core.jobs import Job
from core.logsafe import setup_logging
from core.media import RefImage
from core.params import ImageParams, VideoParams
from core.progress import follow
from core.settings import MissingSettingError, load_settings

JOB_COMMANDS = ("imagine", "compose", "video", "interpolate", *cli_tools.TOOL_COMMANDS)


async def _follow(job: Job, quiet: bool) -> None:
    if quiet:
        await job.wait_terminal()
    else:
        await follow(job, sys.stderr)


async def _save(engine: Engine, job: Job, out: Path) -> list[Path]:
    result = await job.wait()
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i, asset in enumerate(result.assets, 1):
        async with engine.download(asset) as dl:
            ext = mimetypes.guess_extension(dl.content_type) or (".mp4" if asset.kind == "video" else ".webp")
            path = out / f"jimeng-{stamp}-{job.id[:6]}-{i}{ext}"
            with path.open("wb") as fh:
                async for chunk in dl.chunks:
                    fh.write(chunk)
        paths.append(path)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return paths


def _image_params(a: argparse.Namespace) -> ImageParams:
    return ImageParams(
        prompt=a.prompt,
        model=a.model,
        ratio=a.ratio,
        resolution=a.resolution,
        size=a.size,
        count=a.count,
        negative_prompt=a.negative or "",
        sample_strength=a.strength,
    )


def _print_status(rows: list[Any]) -> None:
    print(f"{'account':<16} {'region':<6} {'state':<11} {'gift':>6} {'buy':>6} {'vip':>6} {'total':>6}  daily claim")
    for s in rows:
        c = s.credits
        nums = (c.gift, c.purchase, c.vip, c.total) if c else ("?", "?", "?", "?")
        claim = f"{s.last_claim_day} {s.last_claim_message}" if s.last_claim_day else (s.last_claim_message or "-")
        print(
            f"{s.masked:<16} {s.region:<6} {s.state:<11} {nums[0]:>6} {nums[1]:>6} {nums[2]:>6} {nums[3]:>6}  {claim}"
        )
        if s.last_error:
            print(f"{'':<16} last error: {s.last_error}")


async def _main(a: argparse.Namespace) -> int:
    settings = load_settings()
    config = settings.engine_config()
    config.maintenance = False
    config.data_dir = None  # one-shot: never resume (and double-poll) the jobs a running bot or API owns
    redactor = setup_logging("WARNING" if a.command != "credits" else settings.log_level)
    redactor.add(*(t.sessionid for t in config.tokens if not isinstance(t, str)))
    # ...but poll on the timings the service has learned, and teach it back (core/timings.py)
    url, config.database_url = config.database_url, None  # the service's PostgreSQL: only its timings, as above
    store = timings_store(url, settings.data_dir) if a.command in JOB_COMMANDS else None
    a.service_store = url or settings.data_dir / "jobs.sqlite3"  # image ids of the bot/API's results (cli_tools.py)
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, config, store=store)
        await engine.start()
        try:
            return await _dispatch(engine, a)
        except JimengError as err:
            print(
                f"\nerror: {err.message}" + (f" (submit id {err.submit_id})" if err.submit_id else ""), file=sys.stderr
            )
            return 1
        finally:
            await engine.close()


async def _dispatch(engine: Engine, a: argparse.Namespace) -> int:
    if a.command == "credits":
        if a.claim:
            for claim in await engine.claim_daily():
                print(f"{claim.account}: {'ok' if claim.ok else 'failed'} — {claim.message}")
        _print_status(await engine.refresh_credits())
        return 0
    if a.command == "models":
        for m in engine.models(a.kind):
            extra = (
                f"durations {','.join(map(str, m.durations))}s"
                if m.kind == "video"
                else f"count {m.count_range[0]}-{m.count_range[1]}"
            )
            print(
                f"{m.name:<36} {m.kind:<5} {'/'.join(sorted(r.value for r in m.regions)):<14} {','.join(m.resolutions):<14} {extra}"
            )
        return 0
    if a.command == "interpolate" or getattr(a, "refs", None):  # omni references, frame interpolation
        job = await cli_video.run(engine, a, a.service_store)
    elif a.command in cli_tools.TOOL_COMMANDS:
        job = await cli_tools.run(engine, a, a.service_store)
    elif a.command == "imagine":
        job = await engine.imagine(_image_params(a))
    elif a.command == "compose":
        job = await engine.compose(_image_params(a), [RefImage.parse(x, allow_path=True) for x in a.images])
    else:
        params = VideoParams(
            prompt=a.prompt, model=a.model, duration=a.duration, ratio=a.ratio, resolution=a.resolution
        )
        job = await engine.video(
            params,
            first_frame=RefImage.parse(a.first_frame, allow_path=True) if a.first_frame else None,
            last_frame=RefImage.parse(a.last_frame, allow_path=True) if a.last_frame else None,
        )
    await _follow(job, a.quiet)
    for path in await _save(engine, job, Path(a.out)):
        print(path)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="Jimeng engine admin CLI")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("credits", help="each account: masked id, region, state, balance")
    c.add_argument("--claim", action="store_true", help="claim today's free credits first")
    m = sub.add_parser("models", help="models the configured accounts' sites offer")
    m.add_argument("--kind", choices=["image", "video"])

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("prompt")
        sp.add_argument("--model")
        sp.add_argument("--ratio", help="1:1, 3:4, 16:9, 4:3, 9:16, 2:3, 3:2, 21:9 (or auto)")
        sp.add_argument("--resolution", help="1k, 1.5k, 2k, 4k (video: 720p, 1080p)")
        sp.add_argument("--out", default="out", help="folder for the results (default ./out)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")

    for name in ("imagine", "compose"):
        sp = sub.add_parser(name)
        common(sp)
        if name == "compose":
            sp.add_argument("images", nargs="+", help="reference images: files, URLs or data URLs (1-10)")
        sp.add_argument("--size", help="WxH, e.g. 2048x2048 (mapped to the nearest ratio and bucket)")
        sp.add_argument("--count", type=int)
        sp.add_argument("--negative")
        sp.add_argument("--strength", type=float, default=0.5)
    v = sub.add_parser("video")
    common(v)
    v.add_argument("--duration", type=int)
    v.add_argument("--first-frame")
    v.add_argument("--last-frame")
    cli_video.add_parsers(sub, v)
    cli_tools.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except MissingSettingError as err:
        print(str(err), file=sys.stderr)
        return 2
    except StoreUnavailableError as err:  # the service's PostgreSQL (its learned timings) unreachable: one line
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
