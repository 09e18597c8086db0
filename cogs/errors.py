"""The one error handler: every error from commands, buttons and modals becomes a friendly ephemeral message."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import JimengBot
from bot.checks import ChannelNotAllowed
from bot.i18n import t
from bot.render import error_text, is_expected

log = logging.getLogger(__name__)


class Errors(commands.Cog):
    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        self.bot.error_reporter = self.report

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]
        self.bot.error_reporter = None

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.report(interaction, error)

    def text_for(self, error: BaseException, lang: str) -> str:
        if isinstance(error, app_commands.MissingPermissions):
            return t(lang, "e_admin")
        if isinstance(error, app_commands.NoPrivateMessage):
            return t(lang, "e_guild_only")
        if isinstance(error, app_commands.CommandOnCooldown):
            return t(lang, "e_cooldown", s=math.ceil(error.retry_after))
        if isinstance(error, ChannelNotAllowed):
            return t(lang, "e_channel", channels=", ".join(f"<#{c}>" for c in error.channels))
        if isinstance(error, app_commands.CheckFailure):
            return t(lang, "e_admin")
        return error_text(error, lang)

    async def report(self, interaction: discord.Interaction, error: BaseException) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        lang = self.bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        if not is_expected(original) and not isinstance(original, app_commands.CheckFailure):
            where = (
                interaction.command.qualified_name
                if interaction.command
                else (interaction.data or {}).get("custom_id", "?")
            )
            log.error(
                "unexpected error in %s for user %s in guild %s",
                where,
                interaction.user.id,
                interaction.guild_id,
                exc_info=original,
            )
        if interaction.type is discord.InteractionType.autocomplete:
            return
        await self.send(interaction, self.text_for(original, lang))

    async def send(self, interaction: discord.Interaction, text: str) -> None:
        """Reply ephemerally whatever state the interaction is in; a double acknowledgement (40060) is logged only."""
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True)
                return
            if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
                try:
                    await interaction.delete_original_response()
                except discord.NotFound:
                    pass
            await interaction.followup.send(text, ephemeral=True)
        except discord.InteractionResponded:
            log.info("interaction %s was already answered; error text not sent", interaction.id)
        except discord.HTTPException as exc:
            if exc.code == 40060:
                log.info("interaction %s was acknowledged elsewhere (40060); error text not sent", interaction.id)
            else:
                log.warning("could not send an error message for interaction %s (%s)", interaction.id, exc)


async def setup(bot: JimengBot) -> None:
    await bot.add_cog(Errors(bot))
