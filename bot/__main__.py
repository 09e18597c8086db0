"""``python -m bot`` / ``jimeng-bot``: read settings, build one HTTP session and one Engine, run the Discord bot.

``--help`` prints the settings and exits before anything is read, created or connected. Every missing or invalid
setting is reported at once (exit 2). SIGTERM (``docker stop``) and SIGINT (Ctrl-C) close the bot, the engine (and
its job store) and the HTTP session in that order, then exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

import aiohttp
import discord

from bot.bot import JimengBot
from bot.settings import LOCALES, BotConfig, DiscordSettings
from core import Engine, EngineConfig, StoreUnavailableError, parse_tokens
from core.decoding import map_large_allocations
from core.logsafe import setup_logging
from core.setting_problems import build_settings, collect, report
from core.settings import JimengSettings, MissingSettingError

log = logging.getLogger("bot")

PROG = "jimeng-bot"
STOP_TIMEOUT_S = 15.0  # docker stop waits 10 s by default before SIGKILL; the close itself takes well under that


def _parser() -> argparse.ArgumentParser:
    def rows(prefix: str, fields: dict[str, object]) -> list[str]:
        out = []
        for name, f in fields.items():
            default = getattr(f, "default", None)
            shown = "(required)" if name in ("token", "session_ids") else "-" if default in ("", None) else default
            out.append(f"  {(prefix + name.upper()):<32} default {shown}")
        return out

    lines = rows("DISCORD_", dict(DiscordSettings.model_fields)) + rows("JIMENG_", dict(JimengSettings.model_fields))
    return argparse.ArgumentParser(
        prog="python -m bot",
        description="The Discord bot for Jimeng (/imagine, /video, compositions). Configured by environment "
        "variables or .env only: DISCORD_* and the engine's JIMENG_* below (docs/DISCORD.md explains each). "
        "Stops cleanly on SIGTERM or Ctrl-C.",
        epilog="settings:\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _bot_config(settings: DiscordSettings) -> BotConfig:
    problems = []
    if not settings.token.get_secret_value().strip():
        problems.append(
            "DISCORD_TOKEN is not set: put your bot token in .env (see docs/DISCORD.md, 'Creating the application')"
        )
    if settings.locale not in LOCALES:
        problems.append(f"DISCORD_LOCALE is invalid: use one of {', '.join(LOCALES)}")
    try:
        config = settings.bot_config()
    except MissingSettingError as err:
        problems.append(str(err))
    if problems:
        raise MissingSettingError("\n".join(problems))
    return config


def load(problems: list[str]) -> tuple[JimengSettings, DiscordSettings, EngineConfig, BotConfig] | None:
    """Every setting the bot needs, or None with every problem found appended to ``problems``."""
    jimeng = build_settings(JimengSettings, "JIMENG_", problems)
    discord_settings = build_settings(DiscordSettings, "DISCORD_", problems)
    engine_config = collect(problems, jimeng.engine_config) if jimeng is not None else None
    found: list[str] = []
    bot_config = collect(found, lambda: _bot_config(discord_settings)) if discord_settings is not None else None
    problems.extend(line for p in found for line in p.split("\n"))
    if problems or jimeng is None or discord_settings is None or engine_config is None or bot_config is None:
        return None
    return jimeng, discord_settings, engine_config, bot_config


async def run(
    jimeng: JimengSettings, discord_settings: DiscordSettings, engine_config: EngineConfig, config: BotConfig
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            loop.add_signal_handler(sig, _stop_on, sig, stop)
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, engine_config)
        await engine.start()
        try:
            bot = JimengBot(engine=engine, config=config, data_dir=jimeng.data_dir)
            async with bot:
                running = asyncio.create_task(bot.start(discord_settings.token.get_secret_value()), name="bot")
                stopping = asyncio.create_task(stop.wait(), name="stop signal")
                await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if running.done():
                    stopping.cancel()
                    running.result()  # a startup failure (refused token …) propagates to main
                    return
                await bot.close()
                try:
                    await asyncio.wait_for(running, STOP_TIMEOUT_S)
                except TimeoutError:
                    log.warning("the Discord connection did not close within %.0f s", STOP_TIMEOUT_S)
        finally:
            await engine.close()
    log.info("stopped")


def _stop_on(sig: signal.Signals, stop: asyncio.Event) -> None:
    if not stop.is_set():
        log.info("%s received: closing the bot, the engine and the job store", sig.name)
    stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    _parser().parse_args(argv)  # --help prints and exits before anything is read, created or connected
    map_large_allocations()  # decoded images' memory goes back to the system when freed (core/decoding.py)
    problems: list[str] = []
    loaded = load(problems)
    if loaded is None:
        print(report(PROG, problems), file=sys.stderr)
        return 2
    jimeng, discord_settings, engine_config, config = loaded
    secrets = [t.sessionid for t in parse_tokens(jimeng.session_ids.get_secret_value())]
    setup_logging(jimeng.log_level, secrets=[*secrets, discord_settings.token.get_secret_value()])
    try:
        asyncio.run(run(jimeng, discord_settings, engine_config, config))
    except KeyboardInterrupt:
        pass
    except Exception as err:  # a startup failure (bad token, privileged intent not enabled ...): one line, no traceback
        if isinstance(err, discord.LoginFailure):
            print(f"{PROG}: Discord refused DISCORD_TOKEN (login failed)", file=sys.stderr)
            return 2
        if isinstance(err, StoreUnavailableError):  # JIMENG_DATABASE_URL unreachable at start (password masked)
            print(f"{PROG}: {err.message}", file=sys.stderr)
            return 2
        if isinstance(err, discord.PrivilegedIntentsRequired):
            print(
                f"{PROG}: DISCORD_MESSAGE_CONTENT=true needs the Message Content intent enabled in the developer "
                "portal (Bot → Privileged Gateway Intents)",
                file=sys.stderr,
            )
            return 2
        log.exception("the bot stopped")
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
