"""Accounts: /credits for server admins (with Claim and Refresh buttons) and /jobs for every member."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.bot import JimengBot
from bot.checks import can_manage_guild
from bot.i18n import t
from bot.render import error_text
from core import AccountStatus, ClaimResult
from core.errors import error_from_dict

log = logging.getLogger(__name__)

JOBS_SHOWN = 10


def credits_embed(statuses: list[AccountStatus], lang: str, claims: list[ClaimResult] | None = None) -> discord.Embed:
    embed = discord.Embed(title=t(lang, "credits_title"), colour=0x57F287)
    if not statuses:
        embed.description = t(lang, "credits_none")
    lines = []
    for s in statuses:
        c = s.credits
        unknown = t(lang, "unknown")
        claim = s.last_claim_day or t(lang, "never")
        if s.last_claim_day and s.last_claim_ok is False:
            claim += f" ({s.last_claim_message[:80]})" if s.last_claim_message else " ✗"
        lines.append(
            t(
                lang,
                "account_line",
                masked=s.masked,
                region=s.region,
                state=t(lang, f"state_{s.state}") if f"state_{s.state}" in _STATES else s.state,
                total=c.total if c else unknown,
                gift=c.gift if c else unknown,
                purchase=c.purchase if c else unknown,
                vip=c.vip if c else unknown,
                claim=claim,
                in_flight=s.in_flight,
                limit=s.limit,
            )
        )
    if lines:
        embed.description = "\n\n".join(lines)[:4000]
    if claims:
        out = []
        for cl in claims:
            if cl.ok and not cl.already:
                outcome = t(lang, "claim_ok", granted=cl.granted)
            elif cl.already:
                outcome = t(lang, "claim_already")
            else:
                outcome = t(lang, "claim_failed", message=cl.message[:100])
            out.append(t(lang, "claim_line", masked=cl.account, outcome=outcome))
        embed.add_field(name=t(lang, "claim_button"), value="\n".join(out)[:1024], inline=False)
    return embed


_STATES = {"state_ok", "state_invalid", "state_no_credits", "state_cooldown"}


def credits_view(lang: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CreditsButton(action="claim", label=t(lang, "claim_button")))
    view.add_item(CreditsButton(action="refresh", label=t(lang, "refresh_button")))
    return view


class CreditsButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"jimeng:credits:(?P<action>claim|refresh)"
):
    """Both credit buttons; the permission is checked again at each press (the message may be old or forwarded)."""

    def __init__(self, *, action: str, label: str | None = None) -> None:
        style = discord.ButtonStyle.primary if action == "claim" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(label=label or action.title(), style=style, custom_id=f"jimeng:credits:{action}")
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> CreditsButton:
        return cls(action=match["action"], label=item.label)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: JimengBot = interaction.client  # type: ignore[assignment]
        lang = bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        try:
            if not can_manage_guild(interaction):
                raise app_commands.MissingPermissions(["manage_guild"])
            await interaction.response.defer()
            claims = await bot.engine.claim_daily() if self.action == "claim" else None
            statuses = bot.engine.status() if claims is not None else await bot.engine.refresh_credits()
            await interaction.edit_original_response(
                embed=credits_embed(statuses, lang, claims), view=credits_view(lang)
            )
        except Exception as err:
            await bot.report_error(interaction, err)


class Account(commands.Cog):
    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CreditsButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(CreditsButton)

    @app_commands.command(name=_("credits"), description=_("Show the Jimeng accounts' credits (server admins)"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def credits(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = self.bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        statuses = await self.bot.engine.refresh_credits()
        await interaction.followup.send(embed=credits_embed(statuses, lang), view=credits_view(lang), ephemeral=True)

    @app_commands.command(name=_("jobs"), description=_("Your recent and running Jimeng jobs"))
    @app_commands.guild_only()
    async def jobs(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = self.bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        records = await self.bot.engine.store.list_owner("user_id", interaction.user.id, JOBS_SHOWN)
        lines = []
        waiting = self.bot.queue.waiting(interaction.user.id)
        if waiting:
            lines.append(t(lang, "jobs_waiting", n=waiting, pos=self.bot.queue.position(interaction.user.id) or "?"))
        for r in records:
            when = f"<t:{int(r.created_at)}:R>"
            prompt = " ".join(str(r.spec.get("prompt", "")).split())
            lines.append(
                t(
                    lang,
                    "job_line",
                    id=r.id,
                    kind=t(lang, f"kind_{r.kind}") if r.kind in ("image", "compose", "video") else r.kind,
                    state=t(lang, f"js_{r.state}") if f"js_{r.state}" in _JOB_STATES else r.state,
                    when=when,
                    prompt=discord.utils.escape_markdown(prompt[:120]) or "—",
                )
            )
            if r.error:  # why it failed, in the words the member got
                lines[-1] += "\n" + t(
                    lang, "job_reason", reason=error_text(error_from_dict(r.error), lang, job_id=r.id)
                )
        embed = discord.Embed(title=t(lang, "jobs_title"), colour=0x5865F2, timestamp=dt.datetime.now(dt.UTC))
        embed.description = "\n\n".join(lines)[:4000] if lines else t(lang, "jobs_none")
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(
        name=_("help"), description=_("How to use the Jimeng bot: commands, prompt flags, this server's defaults")
    )
    async def help(self, interaction: discord.Interaction) -> None:
        lang = self.bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        # this server's defaults (/server-settings) over the environment's, and the member's own models (/settings)
        eff = await self.bot.gate.prefs.effective(interaction.guild_id, interaction.user.id)
        defaults = t(
            lang,
            "help_defaults",
            image=eff.image_model,
            video=eff.video_model,
            jobs=eff.member_jobs,
            queue=eff.member_queue,
        )
        embed = discord.Embed(title=t(lang, "help_title"), colour=0x5865F2)
        embed.add_field(name=t(lang, "help_commands_h"), value=t(lang, "help_commands"), inline=False)
        embed.add_field(name=t(lang, "help_flags_h"), value=t(lang, "help_flags"), inline=False)
        embed.add_field(name=t(lang, "help_defaults_h"), value=defaults, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)


_JOB_STATES = {f"js_{s}" for s in ("queued", "uploading", "submitting", "pending", "generating", "succeeded", "failed")}


async def setup(bot: JimengBot) -> None:
    await bot.add_cog(Account(bot))
