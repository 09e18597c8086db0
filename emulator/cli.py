"""``python -m emulator``: run the Jimeng emulator as a server until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import random
import secrets
import signal
import sys
from collections.abc import Sequence

from . import switches as sw
from .server import FakeJimeng
from .tables import ALL_REGIONS

DEMO_CREDITS = 100_000

DESCRIPTION = """\
Run the Jimeng (即梦) / Dreamina upstream emulator: web API, commerce, ImageX/VOD uploads and a result CDN serving
real WebP images and MP4 videos, all on one port. Nothing leaves the machine.

When ready it prints, on stdout:
  JIMENG_SESSION_IDS=<the seeded accounts, in the engine's token syntax>
  JIMENG_UPSTREAM_URL=http://127.0.0.1:<port>
so `python -m api` / `python -m bot` with those two variables talk to it. Ctrl-C or SIGTERM stops it."""

EPILOG = """\
Accounts: --account SID[:REGION[:CREDITS]], repeatable; REGION is one of cn (default), us, hk, jp, sg; CREDITS
defaults to 100. With no --account a demo account (cn, 100000 credits) is created and its session id printed.

The INVENTED switches are replies PROTOCOL.md leaves unknown; flip one to check that a client does not depend
on the emulator's guess (see `python -c "import emulator; help(emulator)"`)."""


def _account(text: str) -> tuple[str, str, int]:
    sid, _, rest = text.partition(":")
    region, _, credits = rest.partition(":")
    region = (region or "cn").lower()
    if not sid:
        raise argparse.ArgumentTypeError("the session id is empty")
    if region not in ALL_REGIONS:
        raise argparse.ArgumentTypeError(f"region {region!r} is not one of {', '.join(sorted(ALL_REGIONS))}")
    try:
        amount = int(credits) if credits else 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"credits {credits!r} is not a whole number") from None
    return sid, region, amount


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default: %(default)s)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address (anyone who reaches it can use it)",
    )
    p.add_argument(
        "--account",
        action="append",
        type=_account,
        default=[],
        metavar="SID[:REGION[:CREDITS]]",
        help="seed an account (repeatable)",
    )
    p.add_argument("--image-seconds", type=_positive, default=3.0, help="duration of an image job (default: 3)")
    p.add_argument("--video-seconds", type=_positive, default=8.0, help="duration of a video job (default: 8)")
    p.add_argument("--jitter", type=float, default=0.0, help="job durations vary by ± this fraction (default: 0)")
    p.add_argument("--seed", type=int, default=None, help="seed for ids and jitter (default: random)")
    p.add_argument("--sign-check", action="store_true", help="verify the web API's Sign header (1014 when wrong)")
    p.add_argument("--shark", action="store_true", help="Seedance submits without a_bogus answer 1019 (shark)")
    p.add_argument(
        "--max-recorded", type=int, default=1000, help="requests kept in the in-memory log (default: %(default)s)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every request on stderr")
    sw.add_arguments(p)
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(args: argparse.Namespace) -> None:
    fake = FakeJimeng(
        image_seconds=args.image_seconds,
        video_seconds=args.video_seconds,
        jitter=args.jitter,
        seed=args.seed if args.seed is not None else random.randrange(2**32),
        max_recorded=args.max_recorded,
        switches=sw.from_namespace(args),
    )
    fake.sign_check = args.sign_check
    fake.shark = args.shark
    accounts = args.account or [(secrets.token_hex(16), "cn", DEMO_CREDITS)]
    for sid, region, credits in accounts:
        fake.add_account(sid, region=region, credits=credits)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    url = await fake.start(args.host, args.port)
    try:
        if not args.account:
            print(f"emulator: created a demo account ({DEMO_CREDITS} credits)", file=sys.stderr)
        tokens = ",".join(sid if region == "cn" else f"{region}-{sid}" for sid, region, _ in accounts)
        print(f"JIMENG_SESSION_IDS={tokens}", flush=True)
        print(f"JIMENG_UPSTREAM_URL={url}", flush=True)
        await stop.wait()
    finally:
        await fake.close()
    print("emulator: stopped", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not _is_loopback(args.host) and not args.allow_remote:
        print(
            f"emulator: refusing to listen on {args.host}, which is not a loopback address; "
            "add --allow-remote if you mean it",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="emulator: %(message)s", stream=sys.stderr
    )
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as err:  # the port is taken, the address is not ours ...
        print(f"emulator: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 1
    return 0
