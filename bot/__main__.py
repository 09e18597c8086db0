"""``python -m bot``: read settings, build one HTTP session and one Engine, run the Discord bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import aiohttp
import discord

from bot.bot import JimengBot
from bot.settings import DiscordSettings, load_discord_settings
from core import Engine, EngineConfig, parse_tokens
from core.logsafe import setup_logging
from core.settings import JimengSettings, MissingSettingError, load_settings

log = logging.getLogger("bot")


async def run(jimeng: JimengSettings, discord_settings: DiscordSettings, engine_config: EngineConfig) -> None:
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, engine_config)
        await engine.start()
        try:
            bot = JimengBot(engine=engine, config=discord_settings.bot_config(), data_dir=jimeng.data_dir)
            async with bot:
                await bot.start(discord_settings.token.get_secret_value())
        finally:
            await engine.close()


def main() -> int:
    try:
        jimeng = load_settings()
        engine_config = jimeng.engine_config()
        discord_settings = load_discord_settings()
        discord_settings.bot_config()
    except MissingSettingError as err:
        print(f"jimeng-bot: {err}", file=sys.stderr)
        return 2
    secrets = [t.sessionid for t in parse_tokens(jimeng.session_ids.get_secret_value())]
    setup_logging(jimeng.log_level, secrets=[*secrets, discord_settings.token.get_secret_value()])
    try:
        asyncio.run(run(jimeng, discord_settings, engine_config))
    except KeyboardInterrupt:
        pass
    except Exception as err:  # a startup failure (bad token, privileged intent not enabled ...): one line, no traceback
        if isinstance(err, discord.LoginFailure):
            print("jimeng-bot: Discord refused DISCORD_TOKEN (login failed)", file=sys.stderr)
            return 2
        if isinstance(err, discord.PrivilegedIntentsRequired):
            print(
                "jimeng-bot: DISCORD_MESSAGE_CONTENT=true needs the Message Content intent enabled in the developer "
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
