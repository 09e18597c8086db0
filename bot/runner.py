"""Running one job for a member: the fair queue, the throttled status message, delivery and failures.

A job is shown on a *surface*: the deferred reply of an interaction (slash command, context menu, modal, button), or
a reply to a member's message (reply-with-attachments). Both offer the same four operations, so the flow is written
once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.delivery import Plan, plan_delivery
from bot.i18n import language, t
from bot.render import (
    delivering_text,
    error_text,
    is_expected,
    missing_post_permissions,
    result_embed,
    status_text,
    waiting_text,
)
from core import AuthError, Job

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

DEAD_TOKEN_CODES = frozenset({50027, 10015})


class SurfaceGone(Exception):
    """The status message can no longer be edited (token expired, message deleted)."""


class Surface(Protocol):
    lang: str
    user: discord.abc.User
    warning: str | None

    @property
    def limit(self) -> int: ...

    async def edit(self, text: str) -> None: ...

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None: ...

    async def fail(self, text: str) -> None: ...


def _dead(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in DEAD_TOKEN_CODES


class StatusUpdater:
    """Edits one status message: only when the text changed, and at most once per ``interval`` seconds."""

    def __init__(self, edit: Callable[[str], Awaitable[None]], interval: float) -> None:
        self._edit = edit
        self._interval = interval
        self._wanted: str | None = None
        self._shown: str | None = None
        self._last = float("-inf")
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.edits = 0

    def set(self, text: str) -> None:
        if self._closing.is_set():
            return
        self._wanted = text
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="status-updater")
        self._wake.set()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            await self._wake.wait()
            self._wake.clear()
            if self._closing.is_set() or self._wanted == self._shown:
                continue
            delay = self._last + self._interval - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._closing.wait(), delay)
                    return
                except TimeoutError:
                    pass
            text = self._wanted
            if text is None or text == self._shown:
                continue
            try:
                await self._edit(text)
            except SurfaceGone:
                return
            except discord.HTTPException as exc:
                log.warning("status edit failed (%s %s); the job goes on", exc.status, exc.code)
            else:
                self.edits += 1
                self._shown = text
            self._last = loop.time()

    async def close(self) -> None:
        """Stop editing; waits for an edit in flight so it can never land after the final result."""
        self._closing.set()
        self._wake.set()
        if self._task is not None:
            await self._task


class InteractionSurface:
    """The deferred ("thinking") reply of an interaction. After the token's lifetime, results go to the channel."""

    def __init__(self, bot: JimengBot, interaction: discord.Interaction) -> None:
        self.bot = bot
        self.interaction = interaction
        self.user = interaction.user
        self.lang = language(interaction.locale, bot.config.locale)
        self.deadline = interaction.created_at.timestamp() + bot.config.interaction_deadline_s
        missing = missing_post_permissions(interaction.app_permissions)
        self.warning = t(self.lang, "no_post", perms=", ".join(missing)) if missing else None

    @property
    def expired(self) -> bool:
        return self.bot.clock() >= self.deadline

    @property
    def limit(self) -> int:
        limits = [self.interaction.filesize_limit]
        if self.interaction.guild is not None:
            limits.append(self.interaction.guild.filesize_limit)
        return min(limits)

    async def edit(self, text: str) -> None:
        if self.expired:
            raise SurfaceGone
        try:
            await self.interaction.edit_original_response(content=text)
        except discord.HTTPException as exc:
            if _dead(exc):
                raise SurfaceGone from None
            raise

    async def deliver(self, *, embed: discord.Embed, plan: Plan, view: discord.ui.View | None) -> None:
        batches = list(plan.batches()) or [[]]
        if not self.expired:
            try:
                await self.interaction.edit_original_response(
                    content=None, embed=embed, attachments=[u.file() for u in batches[0]], view=view
                )
                for batch in batches[1:]:
                    await self.interaction.followup.send(files=[u.file() for u in batch], wait=True)
                return
            except discord.HTTPException as exc:
                if not _dead(exc):
                    raise
                log.info("interaction token of %s is dead (%s); posting to the channel", self.user.id, exc.code)
        await self._to_channel(t(self.lang, "late", mention=self.user.mention), embed, batches, view)

    async def _to_channel(
        self, content: str, embed: discord.Embed | None, batches: list[list[Any]], view: discord.ui.View | None
    ) -> None:
        channel = self.interaction.channel
        mentions = discord.AllowedMentions(users=[self.user], everyone=False, roles=False)
        if isinstance(channel, discord.abc.Messageable):
            kwargs: dict[str, Any] = {"content": content, "allowed_mentions": mentions}
            if embed is not None:
                kwargs["embed"] = embed
            if view is not None:
                kwargs["view"] = view
            try:
                await channel.send(files=[u.file() for u in batches[0]], **kwargs)
                for batch in batches[1:]:
                    await channel.send(files=[u.file() for u in batch])
                return
            except (discord.Forbidden, discord.NotFound) as exc:
                log.warning("cannot post in channel %s (%s); trying a DM", getattr(channel, "id", None), exc)
        try:
            files = [u.file() for u in batches[0]]
            if embed is not None:
                await self.user.send(content, embed=embed, files=files)
            else:
                await self.user.send(content, files=files)
        except discord.HTTPException as exc:
            log.warning("could not deliver to %s by DM either (%s)", self.user.id, exc)

    async def fail(self, text: str) -> None:
        if not self.expired:
            try:
                try:
                    await self.interaction.delete_original_response()
                except discord.NotFound:
                    pass
                await self.interaction.followup.send(text, ephemeral=True)
                return
            except discord.HTTPException as exc:
                if not _dead(exc):
                    log.warning("could not report a failure to %s (%s)", self.user.id, exc)
                    return
        await self._to_channel(f"{self.user.mention} {text}", None, [[]], None)


class MessageSurface:
    """A reply to a member's message (no interaction: no token, no 15-minute limit, nothing ephemeral)."""

    def __init__(self, bot: JimengBot, message: discord.Message) -> None:
        self.bot = bot
        self.message = message
        self.user = message.author
        guild_locale = message.guild.preferred_locale if message.guild else None
        self.lang = language(guild_locale, bot.config.locale)
        self.warning: str | None = None
        self.status: discord.Message | None = None

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
        batches = list(plan.batches()) or [[]]
        content = t(self.lang, "reply_done", mention=self.user.mention)
        kwargs: dict[str, Any] = {"content": content, "embed": embed}
        if view is not None:
            kwargs["view"] = view
        if self.status is not None:
            await self.status.edit(attachments=[u.file() for u in batches[0]], **kwargs)
        else:
            await self.message.reply(files=[u.file() for u in batches[0]], **kwargs)
        for batch in batches[1:]:
            await self.message.channel.send(files=[u.file() for u in batch])

    async def fail(self, text: str) -> None:
        try:
            if self.status is not None:
                await self.status.edit(content=text)
            else:
                await self.message.reply(text, mention_author=False)
        except discord.HTTPException as exc:
            log.warning("could not report a failure in channel %s (%s)", self.message.channel.id, exc)


StartJob = Callable[[dict[str, Any]], Awaitable[Job]]


class Runner:
    """Owns the background tasks of running jobs (cancelled when the bot closes)."""

    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any] | None:
        if self.bot.is_closed():  # an interaction that arrived while shutting down
            coro.close()
            return None
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s crashed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, surface: Surface, *, kind: str, prompt: str, start: StartJob, owner: dict[str, Any]) -> None:
        self.spawn(self.run(surface, kind=kind, prompt=prompt, start=start, owner=owner), name=f"run:{kind}")

    async def run(self, surface: Surface, *, kind: str, prompt: str, start: StartJob, owner: dict[str, Any]) -> None:
        bot = self.bot
        lang, warning = surface.lang, surface.warning
        status = StatusUpdater(surface.edit, bot.config.status_interval)
        job: Job | None = None
        started = time.monotonic()
        try:

            def waiting(pos: int, total: int) -> None:
                status.set(waiting_text(lang, pos, total, prompt=prompt, warning=warning))

            async with bot.queue.slot(surface.user.id, on_position=waiting):
                job = await start(owner)
                async for ev in job.events():
                    if ev.done:
                        break
                    status.set(status_text(ev, lang, kind=kind, prompt=prompt, warning=warning))
                result = await job.wait()
            status.set(delivering_text(lang, prompt=prompt, warning=warning))
            plan = await plan_delivery(bot.engine, result.assets, surface.limit, stem=f"jimeng_{job.id}")
            embed = result_embed(lang, kind=kind, prompt=prompt, result=result, job_id=job.id, links=plan.links)
            from bot.buttons import result_view  # here, not at the top: buttons → actions → runner

            view = result_view(job.id, kind=kind, images=len(result.images), lang=lang)
            await status.close()
            await surface.deliver(embed=embed, plan=plan, view=view)
            await bot.engine.mark_delivered(job.id)
            log.info(
                "job %s (%s) for %s delivered in %.1f s", job.id, kind, surface.user.id, time.monotonic() - started
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:
            await status.close()
            if not is_expected(err):
                log.exception(
                    "job %s (%s) for user %s in guild %s failed unexpectedly",
                    job.id if job else "-",
                    kind,
                    surface.user.id,
                    owner.get("guild_id"),
                )
            elif isinstance(err, AuthError):
                await bot.tell_admins(err)
            await surface.fail(error_text(err, lang, job_id=job.id if job else None))
            if job is not None:
                await bot.engine.mark_delivered(job.id)
        finally:
            await status.close()

    async def deliver_recovered(self, job: Job) -> None:
        """A job a previous process started (the engine resumed it after a restart): its interaction is gone, so the
        result (or the failure) goes to the channel it came from, mentioning the member."""
        bot = self.bot
        await bot.wait_until_ready()
        owner = job.owner
        user_id = owner.get("user_id")
        lang = language(owner.get("locale"), bot.config.locale)
        mention = f"<@{user_id}>" if user_id else ""
        channel: Any = None
        if owner.get("channel_id"):
            channel = bot.get_channel(int(owner["channel_id"]))
            if channel is None:
                try:
                    channel = await bot.fetch_channel(int(owner["channel_id"]))
                except (discord.NotFound, discord.Forbidden):
                    channel = None
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("recovered job %s: its channel is gone; nothing to deliver to", job.id)
            return
        guild = getattr(channel, "guild", None)
        limit = guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        allowed = discord.AllowedMentions(users=True, everyone=False, roles=False)
        ev = job.last_event
        prompt = str(getattr(job.spec, "prompt", ""))
        try:
            if ev.result is not None:
                plan = await plan_delivery(bot.engine, ev.result.assets, limit, stem=f"jimeng_{job.id}")
                embed = result_embed(
                    lang, kind=job.kind, prompt=prompt, result=ev.result, job_id=job.id, links=plan.links
                )
                from bot.buttons import result_view

                view = result_view(job.id, kind=job.kind, images=len(ev.result.images), lang=lang)
                batches = list(plan.batches()) or [[]]
                await channel.send(
                    t(lang, "late", mention=mention),
                    embed=embed,
                    files=[u.file() for u in batches[0]],
                    view=view,
                    allowed_mentions=allowed,
                )
                for batch in batches[1:]:
                    await channel.send(files=[u.file() for u in batch])
            else:
                text = error_text(ev.error or Exception(), lang, job_id=job.id)
                await channel.send(f"{mention} {text}", allowed_mentions=allowed)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("recovered job %s: cannot post in channel %s (%s)", job.id, getattr(channel, "id", None), exc)
            return
        log.info("recovered job %s (%s) delivered to channel %s", job.id, job.kind, getattr(channel, "id", None))
