"""Surfaces: where a job is shown to a member and where its result (or failure) goes.

- ``InteractionSurface``: the deferred reply of an interaction (slash command, context menu, modal, button);
- ``MessageSurface``: a reply to a member's message (reply-with-attachments);
- ``ChannelSurface``: a post in a channel mentioning the member, for results no interaction can carry any more — an
  interaction falls back to it after its 15-minute token, and restart recovery delivers through it.

All offer the same operations (``Surface``), so the runner's flow is written once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.delivery import Plan, Upload
from bot.i18n import t
from bot.render import missing_post_permissions

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

DEAD_TOKEN_CODES = frozenset({50027, 10015})
PING_AFTER_S = 60.0  # a result that took longer is announced with a ping (the edit that shows it pings nobody)


class SurfaceGone(Exception):
    """The status message can no longer be edited (token expired, message deleted)."""


class Surface(Protocol):
    lang: str
    user_id: int
    warning: str | None

    @property
    def limit(self) -> int: ...

    async def edit(self, text: str) -> None: ...

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None: ...

    async def fail(self, text: str) -> None: ...


def _dead(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in DEAD_TOKEN_CODES


def _only(user_id: int) -> discord.AllowedMentions:
    """Ping the requester and nobody else (the client-wide default pings no one)."""
    return discord.AllowedMentions(users=[discord.Object(user_id)] if user_id else False, everyone=False, roles=False)


def note_reencoded(embed: discord.Embed, plan: Plan, lang: str) -> None:
    """Say in the embed which files were re-encoded to fit Discord's limits (idempotent)."""
    names = [u.filename for u in plan.uploads if u.reencoded]
    if not names:
        return
    line = t(lang, "reencoded", files=", ".join(names))
    title = t(lang, "f_notes")
    for i, f in enumerate(embed.fields):
        if f.name == title:
            if line not in (f.value or ""):
                embed.set_field_at(i, name=title, value=f"{f.value}\n{line}"[:1024], inline=False)
            return
    embed.add_field(name=title, value=line[:1024], inline=False)


def _files(batch: list[Upload]) -> list[discord.File]:
    return [u.file() for u in batch]


class ChannelSurface:
    """Posts in ``channel``, mentioning the member. No status message, nothing ephemeral. When the channel refuses
    (or is gone) and the member is at hand (``dm_to``), the result goes by DM instead; otherwise it is logged."""

    def __init__(
        self,
        channel: Any,
        *,
        user_id: int | None,
        lang: str,
        dm_to: discord.abc.User | None = None,
    ) -> None:
        self.channel = channel if isinstance(channel, discord.abc.Messageable) else None
        self.user_id = user_id or 0
        self.mention = f"<@{user_id}>" if user_id else ""
        self.lang = lang
        self.dm_to = dm_to
        self.warning: str | None = None
        self.posted = False  # whether the last deliver/fail reached the channel or the DM

    @property
    def limit(self) -> int:
        guild = getattr(self.channel, "guild", None)
        return guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    async def edit(self, text: str) -> None:
        raise SurfaceGone  # a channel keeps no status message

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None:
        note_reencoded(embed, plan, self.lang)
        await self.post(t(self.lang, "late", mention=self.mention), embed, list(plan.batches()) or [[]], view)

    async def fail(self, text: str) -> None:
        await self.post(f"{self.mention} {text}", None, [[]], None)

    async def post(
        self, content: str, embed: discord.Embed | None, batches: list[list[Upload]], view: discord.ui.View | None
    ) -> None:
        self.posted = False
        if self.channel is not None:
            kwargs: dict[str, Any] = {"content": content, "allowed_mentions": _only(self.user_id)}
            if embed is not None:
                kwargs["embed"] = embed
            if view is not None:
                kwargs["view"] = view
            try:
                await self.channel.send(files=_files(batches[0]), **kwargs)
                for batch in batches[1:]:
                    await self.channel.send(files=_files(batch))
                self.posted = True
                return
            except (discord.Forbidden, discord.NotFound) as exc:
                where = getattr(self.channel, "id", None)
                log.warning("cannot post in channel %s (%s)%s", where, exc, "; trying a DM" if self.dm_to else "")
        if self.dm_to is None:
            return
        try:
            if embed is not None:
                await self.dm_to.send(content, embed=embed, files=_files(batches[0]))
            else:
                await self.dm_to.send(content, files=_files(batches[0]))
            for batch in batches[1:]:
                await self.dm_to.send(files=_files(batch))
            self.posted = True
        except discord.HTTPException as exc:
            log.warning("could not deliver to %s by DM either (%s)", self.user_id, exc)


class InteractionSurface:
    """The deferred ("thinking") reply of an interaction. After the token's lifetime, results go to the channel."""

    def __init__(self, bot: JimengBot, interaction: discord.Interaction) -> None:
        self.bot = bot
        self.interaction = interaction
        self.user = interaction.user
        self.user_id = interaction.user.id
        self.lang = bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)  # /settings, issue #15
        self.deadline = interaction.created_at.timestamp() + bot.config.interaction_deadline_s
        missing = missing_post_permissions(interaction.app_permissions)
        self.warning = t(self.lang, "no_post", perms=", ".join(missing)) if missing else None
        self.said_moved = False
        self.late = ChannelSurface(interaction.channel, user_id=self.user_id, lang=self.lang, dm_to=self.user)

    @property
    def expired(self) -> bool:
        return self.bot.clock() >= self.deadline

    @property
    def limit(self) -> int:
        limits = [self.interaction.filesize_limit]
        if self.interaction.guild is not None:
            limits.append(self.interaction.guild.filesize_limit)
        return min(limits)

    async def _ping_if_long(self, key: str) -> None:
        """The edit that shows the outcome pings nobody: after a long wait, a one-line follow-up pings the member."""
        if self.bot.clock() - self.interaction.created_at.timestamp() >= PING_AFTER_S:
            await self.interaction.followup.send(
                t(self.lang, key, mention=f"<@{self.user_id}>"), allowed_mentions=_only(self.user_id)
            )

    async def moved(self) -> None:
        """Past the 14-minute deadline the token still works for about a minute: replace the status (which would
        otherwise stay at "Generating…") with a line saying the result will come in the channel. Once."""
        if self.said_moved:
            return
        self.said_moved = True
        try:
            await self.interaction.edit_original_response(content=t(self.lang, "moved_to_channel"))
        except discord.HTTPException as exc:
            log.info("could not mark the status of %s as moved (%s)", self.user_id, exc.code)

    async def edit(self, text: str) -> None:
        if self.expired:
            await self.moved()
            raise SurfaceGone
        try:
            await self.interaction.edit_original_response(content=text)
        except discord.HTTPException as exc:
            if _dead(exc):
                raise SurfaceGone from None
            raise

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None:
        note_reencoded(embed, plan, self.lang)
        batches = list(plan.batches()) or [[]]
        if not self.expired:
            try:
                await self.interaction.edit_original_response(
                    content=None, embed=embed, attachments=_files(batches[0]), view=view
                )
                for batch in batches[1:]:
                    await self.interaction.followup.send(files=_files(batch), wait=True)
                await self._ping_if_long("done_ping")
                return
            except discord.HTTPException as exc:
                if not _dead(exc):
                    raise
                log.info("interaction token of %s is dead (%s); posting to the channel", self.user_id, exc.code)
        await self.moved()
        await self.late.deliver(embed=embed, plan=plan, view=view)

    async def fail(self, text: str) -> None:
        """The public status message becomes the failure notice (it stays visible; edits ping nobody)."""
        if not self.expired:
            try:
                try:
                    await self.interaction.edit_original_response(content=text, embed=None, attachments=[], view=None)
                except discord.NotFound:  # the status message was deleted: tell the member alone
                    await self.interaction.followup.send(text, ephemeral=True)
                    return
                await self._ping_if_long("failed_ping")
                return
            except discord.HTTPException as exc:
                if not _dead(exc):
                    log.warning("could not report a failure to %s (%s)", self.user_id, exc)
                    return
        await self.moved()
        await self.late.fail(text)


class MessageSurface:
    """A reply to a member's message (no interaction: no token, no 15-minute limit, nothing ephemeral)."""

    def __init__(self, bot: JimengBot, message: discord.Message) -> None:
        self.bot = bot
        self.message = message
        self.user = message.author
        self.user_id = message.author.id
        guild_locale = message.guild.preferred_locale if message.guild else None
        self.lang = bot.gate.lang(guild_locale, message.guild.id if message.guild else None, message.author.id)
        self.warning: str | None = None
        self.status: discord.Message | None = None
        self.started = bot.clock()

    @property
    def limit(self) -> int:
        return self.message.guild.filesize_limit if self.message.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    async def edit(self, text: str) -> None:
        try:
            if self.status is None:
                self.status = await self.message.reply(text, mention_author=False)
            else:
                await self.status.edit(content=text)
        except (discord.Forbidden, discord.NotFound):
            raise SurfaceGone from None

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None:
        note_reencoded(embed, plan, self.lang)
        batches = list(plan.batches()) or [[]]
        content = t(self.lang, "reply_done", mention=self.user.mention)
        kwargs: dict[str, Any] = {"content": content, "embed": embed, "allowed_mentions": _only(self.user_id)}
        if view is not None:
            kwargs["view"] = view
        if self.status is not None:
            await self.status.edit(attachments=_files(batches[0]), **kwargs)
        else:
            await self.message.reply(files=_files(batches[0]), **kwargs)
        for batch in batches[1:]:
            await self.message.channel.send(files=_files(batch))
        if self.status is not None and self.bot.clock() - self.started >= PING_AFTER_S:  # the edit did not ping
            await self.status.reply(
                t(self.lang, "done_ping", mention=self.user.mention), allowed_mentions=_only(self.user_id)
            )

    async def fail(self, text: str) -> None:
        try:
            if self.status is not None:
                await self.status.edit(content=text)
            else:
                await self.message.reply(text, mention_author=False)
        except discord.HTTPException as exc:
            log.warning("could not report a failure in channel %s (%s)", self.message.channel.id, exc)
