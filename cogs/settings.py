"""Settings (issue #15): /settings for each member's defaults, quota and usage; /server-settings for server admins
(where the bot works, who may generate, the server's defaults and limits, a daily quota, usage with a chart)."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

import bot.strings_settings  # noqa: F401  (registers this cog's strings)
from bot.bot import JimengBot
from bot.charts import CHART_FILENAME, ChartRenderer
from bot.checks import can_manage_guild
from bot.i18n import EN, ZH, t
from bot.render import BotError
from bot.settings_view import (
    MEMBER_FIELDS,
    SERVER_FIELDS,
    chart_points,
    quota_text,
    setting_line,
    settings_error,
    totals_line,
)
from cogs.images import RATIO_CHOICES, RESOLUTION_CHOICES, model_choices
from core.errors import SettingsError
from core.preferences import MemberPrefs

log = logging.getLogger(__name__)

MAX_CHANNELS = 25
TOP_ROWS = 10  # members / accounts listed in the usage embed
LANG_CHOICES = [app_commands.Choice(name="English", value=EN), app_commands.Choice(name="中文", value=ZH)]
MEMBER_RESET = [app_commands.Choice(name=_("all"), value="all")] + [
    app_commands.Choice(name=f, value=f) for f in MEMBER_FIELDS
]
SERVER_RESET = [app_commands.Choice(name=_("all"), value="all")] + [
    app_commands.Choice(name=f, value=f) for f in SERVER_FIELDS
]
UNIT_CHOICES = [
    app_commands.Choice(name=_("jobs"), value="jobs"),
    app_commands.Choice(name=_("credits"), value="credits"),
]
CHANNEL_TOKEN = re.compile(r"<#(\d+)>|(\d{15,22})|(\S+)")


def _lang(bot: JimengBot, interaction: discord.Interaction) -> str:
    return bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)


def _require_admin(interaction: discord.Interaction) -> None:
    """The run-time check behind Discord's default_permissions (a hint a server can override)."""
    if not can_manage_guild(interaction):
        raise app_commands.MissingPermissions(["manage_guild"])


class Settings(commands.Cog):
    server = app_commands.Group(
        name=_("server-settings"),
        description=_("The Jimeng bot's settings and usage in this server (server admins)"),
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot
        self.charts = ChartRenderer()

    # ------------------------------------------------------------------------------------------- /settings
    @app_commands.command(name=_("settings"), description=_("Your defaults for new jobs, your usage and daily quota"))
    @app_commands.rename(
        model=_("model"),
        video_model=_("video_model"),
        ratio=_("ratio"),
        resolution=_("resolution"),
        count=_("count"),
        negative=_("negative"),
        language=_("language"),
        reset=_("reset"),
    )
    @app_commands.describe(
        model=_("Your default image model"),
        video_model=_("Your default video model"),
        ratio=_("Your default aspect ratio"),
        resolution=_("Your default resolution"),
        count=_("Your default number of images"),
        negative=_("What to avoid in every image"),
        language=_("The language I answer you in"),
        reset=_("Clear one of your settings, or all"),
    )
    @app_commands.choices(ratio=RATIO_CHOICES, resolution=RESOLUTION_CHOICES, language=LANG_CHOICES, reset=MEMBER_RESET)
    @app_commands.guild_only()
    async def settings(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        video_model: str | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        count: app_commands.Range[int, 1, 8] | None = None,
        negative: app_commands.Range[str, 1, 1000] | None = None,
        language: str | None = None,
        reset: str | None = None,
    ) -> None:
        gate, gid, uid = self.bot.gate, interaction.guild_id, interaction.user.id
        given = {
            "image_model": model or None,
            "video_model": video_model or None,
            "ratio": ratio,
            "resolution": resolution,
            "count": count,
            "negative_prompt": negative or None,
            "language": language,
        }
        changes: dict[str, Any] = {}
        if reset == "all":
            changes = dict.fromkeys(MEMBER_FIELDS)
        elif reset:
            changes[reset] = None
        changes.update({k: v for k, v in given.items() if v is not None})
        saved = None
        if changes:
            try:
                if reset == "all" and not any(v is not None for v in changes.values()):
                    await gate.prefs.reset_member(gid, uid)
                    saved = MemberPrefs()
                else:
                    saved = await gate.prefs.set_member(gid, uid, **changes)
            except SettingsError as err:
                raise settings_error(err, _lang(self.bot, interaction)) from None
            gate.remember_language(gid, uid, saved.language)
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = _lang(self.bot, interaction)
        embed = await self.member_embed(interaction, lang)
        note = t(lang, "settings_saved") if saved is not None else None
        await interaction.followup.send(content=note or "", embed=embed, ephemeral=True)

    async def member_embed(self, interaction: discord.Interaction, lang: str) -> discord.Embed:
        gate, gid, uid = self.bot.gate, interaction.guild_id, interaction.user.id
        eff = await gate.prefs.effective(gid, uid, options={}, kind="image")
        lines = []
        for field in MEMBER_FIELDS:
            source = eff.source.get(field, "env")
            value = getattr(eff, field, None)
            lines.append(setting_line(lang, field, value, source))
        embed = discord.Embed(title=t(lang, "settings_title"), colour=0x5865F2, description="\n".join(lines))
        report = await gate.usage.report({"guild_id": gid, "user_id": uid}, now=self.bot.clock())
        embed.add_field(name=t(lang, "usage_today"), value=totals_line(lang, report.today), inline=False)
        embed.add_field(name=t(lang, "usage_month"), value=totals_line(lang, report.month), inline=False)
        embed.add_field(name=t(lang, "quota_h"), value=quota_text(lang, await gate.status(gid, uid)), inline=False)
        embed.set_footer(text=t(lang, "settings_footer"))
        return embed

    @settings.autocomplete("model")
    async def settings_model(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "image", current)

    @settings.autocomplete("video_model")
    async def settings_video(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "video", current)

    # ------------------------------------------------------------------------------------------- /server-settings
    @server.command(name=_("show"), description=_("This server's settings for the Jimeng bot"))
    async def server_show(self, interaction: discord.Interaction) -> None:
        _require_admin(interaction)
        await interaction.response.send_message(embed=await self.server_embed(interaction), ephemeral=True)

    async def server_embed(self, interaction: discord.Interaction, note: str | None = None) -> discord.Embed:
        assert interaction.guild is not None
        gate, lang = self.bot.gate, _lang(self.bot, interaction)
        settings = await gate.guild(interaction.guild.id)
        eff = await gate.prefs.effective(interaction.guild.id, None, options={}, kind="image")
        lines = []
        for field in SERVER_FIELDS:
            own = getattr(settings, field)
            shown = own if own is not None else getattr(eff, field, None)
            if field == "channel_ids":
                shown = gate.channel_ids(interaction.guild.id)
            source = "server" if own is not None and field != "quota_unit" else "env"
            lines.append(setting_line(lang, field, shown, source))
        title = t(lang, "server_title", guild=interaction.guild.name)
        embed = discord.Embed(title=title[:256], colour=0xFEE75C, description="\n".join(lines))
        if note:
            embed.set_footer(text=note[:2048])
        return embed

    @server.command(name=_("set"), description=_("Change this server's settings (the options you give)"))
    @app_commands.rename(
        channels=_("channels"),
        role=_("role"),
        model=_("model"),
        video_model=_("video_model"),
        resolution=_("resolution"),
        member_jobs=_("member_jobs"),
        member_queue=_("member_queue"),
        quota=_("quota"),
        quota_unit=_("quota_unit"),
        locale=_("locale"),
        admin_channel=_("admin_channel"),
    )
    @app_commands.describe(
        channels=_("Channels where the bot works: #mentions or ids, or 'all'"),
        role=_("The role that may generate (@everyone: everybody)"),
        model=_("Default image model"),
        video_model=_("Default video model"),
        resolution=_("Default image resolution"),
        member_jobs=_("Jobs one member may run at once"),
        member_queue=_("Jobs one member may have waiting"),
        quota=_("Daily quota per member (0: nobody may generate)"),
        quota_unit=_("What the daily quota counts"),
        locale=_("Language for members whose Discord language is neither English nor Chinese"),
        admin_channel=_("Channel for notices to admins"),
    )
    @app_commands.choices(resolution=RESOLUTION_CHOICES, quota_unit=UNIT_CHOICES, locale=LANG_CHOICES)
    async def server_set(
        self,
        interaction: discord.Interaction,
        channels: app_commands.Range[str, 1, 1000] | None = None,
        role: discord.Role | None = None,
        model: str | None = None,
        video_model: str | None = None,
        resolution: str | None = None,
        member_jobs: app_commands.Range[int, 1, 10] | None = None,
        member_queue: app_commands.Range[int, 0, 50] | None = None,
        quota: app_commands.Range[int, 0, 1_000_000] | None = None,
        quota_unit: str | None = None,
        locale: str | None = None,
        admin_channel: discord.TextChannel | None = None,
    ) -> None:
        _require_admin(interaction)
        guild = interaction.guild
        assert guild is not None
        lang = _lang(self.bot, interaction)
        changes: dict[str, Any] = {}
        if channels is not None:
            changes["channel_ids"] = self._channels(guild, channels)
        if role is not None:
            if guild.get_role(role.id) is None:
                raise BotError("e_unknown_role", role=role.id)
            changes["role_id"] = None if role.is_default() else role.id
        if admin_channel is not None:
            found = guild.get_channel(admin_channel.id)
            if not isinstance(found, discord.TextChannel):
                raise BotError("e_unknown_channel", value=f"<#{admin_channel.id}>")
            if not found.permissions_for(guild.me).send_messages:
                raise BotError("e_admin_channel", channel=found.mention)
            changes["admin_channel_id"] = found.id
        if quota is not None and quota < 0:  # Discord's min_value is a client-side hint
            raise BotError("e_quota_negative", value=quota)
        plain = {
            "image_model": model or None,
            "video_model": video_model or None,
            "resolution": resolution,
            "member_jobs": member_jobs,
            "member_queue": member_queue,
            "quota": quota,
            "quota_unit": quota_unit,
            "locale": locale,
        }
        changes.update({k: v for k, v in plain.items() if v is not None})
        if not changes:
            raise BotError("e_nothing_to_set")
        try:
            await self.bot.gate.prefs.set_guild(guild.id, **changes)
        except SettingsError as err:
            raise settings_error(err, lang) from None
        finally:
            self.bot.gate.forget_guild(guild.id)
        log.info("server %s settings changed by %s: %s", guild.id, interaction.user.id, ", ".join(sorted(changes)))
        embed = await self.server_embed(interaction, t(lang, "server_saved", what=", ".join(sorted(changes))))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @staticmethod
    def _channels(guild: discord.Guild, raw: str) -> tuple[int, ...]:
        """``#a #b``, ids, or ``all``: each must be a channel of this server the bot could work in."""
        if raw.strip().lower() in ("all", "*", "全部"):
            return ()
        ids: list[int] = []
        for m in CHANNEL_TOKEN.finditer(raw.replace(",", " ")):
            token = m.group(0)
            cid = int(m.group(1) or m.group(2) or 0)
            channel = guild.get_channel_or_thread(cid) if cid else None
            if channel is None or isinstance(channel, discord.CategoryChannel):
                raise BotError("e_unknown_channel", value=discord.utils.escape_mentions(token)[:40])
            if cid not in ids:
                ids.append(cid)
        if not ids or len(ids) > MAX_CHANNELS:
            raise BotError("e_channels_count", max=MAX_CHANNELS)
        return tuple(ids)

    @server.command(name=_("reset"), description=_("Reset one of this server's settings, or all, to the defaults"))
    @app_commands.rename(setting=_("setting"))
    @app_commands.describe(setting=_("Which setting"))
    @app_commands.choices(setting=SERVER_RESET)
    async def server_reset(self, interaction: discord.Interaction, setting: str) -> None:
        _require_admin(interaction)
        guild = interaction.guild
        assert guild is not None
        try:
            if setting == "all":
                await self.bot.gate.prefs.reset_guild(guild.id)
            else:
                await self.bot.gate.prefs.set_guild(guild.id, **{setting: None})
        except SettingsError as err:
            raise settings_error(err, _lang(self.bot, interaction)) from None
        finally:
            self.bot.gate.forget_guild(guild.id)
        note = t(_lang(self.bot, interaction), "server_reset", what=setting)
        await interaction.response.send_message(embed=await self.server_embed(interaction, note), ephemeral=True)

    @server_set.autocomplete("model")
    async def set_model(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "image", current)

    @server_set.autocomplete("video_model")
    async def set_video(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "video", current)

    # ------------------------------------------------------------------------------------------- usage
    @server.command(name=_("usage"), description=_("Jobs, images, videos, credits and failures per member and account"))
    @app_commands.rename(member=_("member"))
    @app_commands.describe(member=_("Only this member"))
    async def server_usage(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        _require_admin(interaction)
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang, usage, now = _lang(self.bot, interaction), self.bot.gate.usage, self.bot.clock()
        if member is not None:
            report = await usage.report({"guild_id": guild.id, "user_id": member.id}, now=now)
            title = t(lang, "usage_member_title", member=member.display_name)
        else:
            report = await usage.report({"guild_id": guild.id}, now=now)
            title = t(lang, "usage_title", guild=guild.name)
        embed = discord.Embed(title=title[:256], colour=0x57F287)
        for key, totals in (("usage_today", report.today), ("usage_week", report.week), ("usage_month", report.month)):
            embed.add_field(name=t(lang, key), value=totals_line(lang, totals), inline=False)
        if member is None:
            members = await usage.members(guild.id, now=now)
            rows = [f"<@{s.key}> · {totals_line(lang, s.report.month)}" for s in members[:TOP_ROWS]]
            embed.add_field(name=t(lang, "usage_members"), value="\n".join(rows)[:1024] or "—", inline=False)
            accounts = await usage.accounts(guild.id, now=now)
            rows = [f"`{s.label}` · {totals_line(lang, s.report.month)}" for s in accounts[:TOP_ROWS]]
            embed.add_field(name=t(lang, "usage_accounts"), value="\n".join(rows)[:1024] or "—", inline=False)
        if report.month.jobs and report.month.priced < report.month.jobs:
            embed.set_footer(text=t(lang, "usage_unpriced", priced=report.month.priced, jobs=report.month.jobs))
        png = await self.charts.usage_chart(chart_points(report))
        embed.set_image(url=f"attachment://{CHART_FILENAME}")
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename=CHART_FILENAME), ephemeral=True
        )


async def setup(bot: JimengBot) -> None:
    await bot.add_cog(Settings(bot))
