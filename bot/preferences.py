"""Server and member settings on the Discord side (issue #15): who may start a job where, with which defaults.

Core keeps the settings, counts the quotas and reports usage (``core.preferences``, ``core.quotas``, ``core.usage``);
this module applies them to Discord: the channel allow-list (slash commands, buttons, forms, replies), the role that may
generate, the daily quota (refused ephemerally, with when it resets), the per-member line limits, and the member's
language. The few things read synchronously (a language, the line limits) come from what the last async read saw.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.checks import ChannelNotAllowed, can_manage_guild, channel_allowed
from bot.i18n import language
from bot.render import BotError
from core import Job
from core.backends import accepting
from core.errors import DailyQuotaError, StoreUnavailableError
from core.preferences import GuildSettings, MemberPrefs, Preferences, ServerDefaults
from core.quotas import Quotas, QuotaStatus
from core.usage import Usage

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

MEMBER_CACHE = 5000  # members whose language we remember between reads (each entry is a few bytes)
ADMIN_ONLY = ("server-settings",)  # commands that work in every channel: an admin must be able to fix the allow-list


def quota_refusal(unit: str, limit: int | None, resets_at: float) -> BotError:
    """The member's refusal past the daily quota, with its reset as a Discord timestamp."""
    reset = round(resets_at)  # a midnight (float sums can land a hair before it)
    key = "e_daily_quota_credits" if unit == "credits" else "e_daily_quota_jobs"
    return BotError(key, limit=limit, when=f"<t:{reset}:t> (<t:{reset}:R>)")


class Gate:
    """The bot's view of the settings; one per bot (``bot.gate``)."""

    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot
        cfg, engine = bot.config, bot.engine
        defaults = ServerDefaults(
            channel_ids=cfg.channel_ids,
            member_jobs=cfg.member_jobs,
            member_queue=cfg.member_queue,
            locale=cfg.locale,
            admin_channel_id=cfg.admin_channel_id,
            image_model=engine.config.default_image_model,
            video_model=engine.config.default_video_model,
        )
        self.prefs = Preferences.for_engine(engine, defaults)
        self.usage = Usage.for_engine(engine, clock=bot.clock)
        self.quotas = Quotas(self.usage, self.prefs)
        self._guilds: dict[int, GuildSettings] = {}
        self._languages: OrderedDict[tuple[int | None, int], str | None] = OrderedDict()
        self._starting: dict[tuple[int | None, int], int] = {}  # jobs past the line, not yet counted by core

    # ------------------------------------------------------------------------------------------- reads
    async def guild(self, guild_id: int) -> GuildSettings:
        settings = await self.prefs.get_guild(guild_id)
        self._guilds[guild_id] = settings
        return settings

    async def member(self, guild_id: int | None, user_id: int) -> MemberPrefs:
        prefs = await self.prefs.get_member(guild_id, user_id)
        self.remember_language(guild_id, user_id, prefs.language)
        return prefs

    def remember_language(self, guild_id: int | None, user_id: int, lang: str | None) -> None:
        key = (guild_id, user_id)
        self._languages[key] = lang
        self._languages.move_to_end(key)
        while len(self._languages) > MEMBER_CACHE:
            self._languages.popitem(last=False)

    def forget_guild(self, guild_id: int) -> None:
        self._guilds.pop(guild_id, None)

    async def warm(self, interaction: discord.Interaction) -> None:
        """Read the server's settings and the member's preferences before an interaction is handled. While the job store
        is away (PostgreSQL) what is cached stands: a job is then refused by ``admit``, other commands by their reads."""
        with contextlib.suppress(StoreUnavailableError):
            if interaction.guild_id is not None:
                await self.guild(interaction.guild_id)
            await self.member(interaction.guild_id, interaction.user.id)

    def channel_ids(self, guild_id: int | None) -> tuple[int, ...]:
        settings = self._guilds.get(guild_id) if guild_id is not None else None
        if settings is None or settings.channel_ids is None:
            return self.bot.config.channel_ids
        return settings.channel_ids

    def admin_channel_id(self, guild_id: int | None) -> int | None:
        settings = self._guilds.get(guild_id) if guild_id is not None else None
        own = settings.admin_channel_id if settings else None
        return own or self.bot.config.admin_channel_id

    def fallback_locale(self, guild_id: int | None) -> str:
        settings = self._guilds.get(guild_id) if guild_id is not None else None
        return (settings.locale if settings else None) or self.bot.config.locale

    def lang(self, locale: Any, guild_id: int | None, user_id: int | None) -> str:
        """The member's own language setting, else their Discord language, else the server's fallback."""
        chosen = self._languages.get((guild_id, user_id)) if user_id is not None else None
        return chosen or language(locale, self.fallback_locale(guild_id))

    def queue_limits(self, guild_id: Any) -> dict[str, int]:
        """``FairQueue.slot`` keywords: the server's per-member concurrency and line length, if it set them."""
        settings = self._guilds.get(int(guild_id)) if guild_id else None
        out: dict[str, int] = {}
        if settings is not None and settings.member_jobs is not None:
            out["limit"] = settings.member_jobs
        if settings is not None and settings.member_queue is not None:
            out["max_waiting"] = settings.member_queue
        return out

    # ------------------------------------------------------------------------------------------- admission
    def check_channel(self, guild_id: int | None, interaction: discord.Interaction) -> bool:
        return channel_allowed(self.channel_ids(guild_id), interaction)

    async def admit(self, interaction: discord.Interaction) -> None:
        """Before a job from an interaction (command, button, form) is deferred: channel, role, quota; and a store
        that can keep the job (StoreUnavailableError, an ephemeral refusal, while the database is away)."""
        await accepting(self.bot.engine.store)
        guild = interaction.guild
        if guild is None:
            return
        await self.warm(interaction)
        if not self.check_channel(guild.id, interaction):
            raise ChannelNotAllowed(self.channel_ids(guild.id))
        await self._admit_member(guild, interaction.user, is_admin=can_manage_guild(interaction))

    async def admit_message(self, message: discord.Message) -> bool:
        """Reply-with-a-mention: False when the channel is not one the bot works in (it then stays silent); role and
        quota refusals are raised (the member gets a reply)."""
        guild = message.guild
        if guild is None:
            return False
        await self.guild(guild.id)
        await self.member(guild.id, message.author.id)
        ids = self.channel_ids(guild.id)
        if ids and not ({message.channel.id, getattr(message.channel, "parent_id", None)} & set(ids)):
            return False
        author = message.author
        perms = author.guild_permissions if isinstance(author, discord.Member) else discord.Permissions.none()
        await self._admit_member(guild, author, is_admin=perms.manage_guild)
        return True

    async def _admit_member(self, guild: discord.Guild, user: discord.abc.User, *, is_admin: bool) -> None:
        settings = self._guilds.get(guild.id) or await self.guild(guild.id)
        role_id = settings.role_id
        if role_id and not is_admin:
            roles = {r.id for r in getattr(user, "roles", [])}
            if role_id not in roles:
                raise BotError("e_role_required", role=f"<@&{role_id}>")
        status = await self.status(guild.id, user.id)
        if status.limit is None:
            return
        starting = self._starting.get((guild.id, user.id), 0)
        waiting = self.bot.queue.waiting(user.id) if status.unit == "jobs" else 0
        if status.used + starting + waiting >= status.limit:
            raise quota_refusal(status.unit, status.limit, status.resets_at)

    async def status(self, guild_id: int | None, user_id: int) -> QuotaStatus:
        return await self.quotas.member_status(guild_id, user_id, now=self.bot.clock())

    def counted(self, start: Callable[[dict[str, Any]], Awaitable[Job]]) -> Callable[[dict[str, Any]], Awaitable[Job]]:
        """Wrap a job's start (run when its turn in the line comes): core admits it against the daily quota under a
        per-member lock and counts it at once, so concurrent requests cannot all pass."""

        async def run(owner: dict[str, Any]) -> Job:
            guild_id, user_id = owner.get("guild_id"), owner.get("user_id")
            if user_id is None:
                return await start(owner)
            key = (guild_id, int(user_id))
            self._starting[key] = self._starting.get(key, 0) + 1
            try:
                async with self.quotas.admit_member(guild_id, int(user_id)) as ticket:
                    job = await start(owner)
                    ticket.count(job)
                    return job
            except DailyQuotaError as err:
                raise quota_refusal(err.unit, err.limit, err.resets_at) from None
            finally:
                left = self._starting.get(key, 1) - 1
                if left > 0:
                    self._starting[key] = left
                else:
                    self._starting.pop(key, None)

        return run

    # ------------------------------------------------------------------------------------------- defaults
    async def image_options(self, guild_id: int | None, user_id: int, given: dict[str, Any]) -> dict[str, Any]:
        """ImageParams keywords: what the member gave (options and prompt flags win), then their own settings, then
        the server's, then the environment's."""
        asked = {k: given.get(k) for k in ("model", "ratio", "resolution", "count", "negative_prompt")}
        eff = await self.prefs.effective(guild_id, user_id, options=asked, kind="image")
        out = dict(given)
        out["model"] = eff.image_model
        for key in ("ratio", "resolution", "count"):
            if getattr(eff, key) is not None:
                out[key] = getattr(eff, key)
        if eff.negative_prompt:
            out["negative_prompt"] = eff.negative_prompt
        return out

    async def video_model(self, guild_id: int | None, user_id: int, given: str | None) -> str:
        """The video model: the one given, else the member's, the server's, the environment's."""
        eff = await self.prefs.effective(guild_id, user_id, options={"model": given}, kind="video")
        return eff.video_model
