"""Running one job for a member: the fair queue, the throttled status message, delivery and failures.

A job is shown on a *surface* (``bot.surfaces``): the deferred reply of an interaction, a reply to a member's
message, or — for jobs a previous process started — a post in their channel. All offer the same operations, so the
flow is written once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import discord

from bot.components import result_view
from bot.delivery import Plan, plan_delivery
from bot.i18n import language
from bot.render import delivering_text, error_text, is_expected, result_embed, status_text, waiting_text
from bot.surfaces import ChannelSurface, Surface, SurfaceGone
from bot.tools_ui import offered, recovered_text
from core import AuthError, Job, JobEvent, JobResult, JobState

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)


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


async def _tick(status: StatusUpdater, shown: list[Callable[[], str]], interval: float) -> None:
    """Re-render the status at every interval; StatusUpdater edits only when the text changed."""
    while True:
        await asyncio.sleep(interval)
        if shown:
            status.set(shown[0]())


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
        start = self.bot.gate.counted(start)  # every job, whatever started it, is admitted against the daily quota
        self.spawn(self.run(surface, kind=kind, prompt=prompt, start=start, owner=owner), name=f"run:{kind}")

    async def run(self, surface: Surface, *, kind: str, prompt: str, start: StartJob, owner: dict[str, Any]) -> None:
        bot = self.bot
        lang, warning = surface.lang, surface.warning
        status = StatusUpdater(surface.edit, bot.config.status_interval)
        job: Job | None = None
        started = time.monotonic()
        # What the status says is re-rendered at every status interval (the time waited moves, the ETA counts
        # down): an edit of our own message, never a request to Jimeng.
        shown: list[Callable[[], str]] = []

        def show(render: Callable[[], str]) -> None:
            shown[:] = [render]
            status.set(render())

        def event_text(ev: JobEvent, seen_at: float) -> Callable[[], str]:
            def render() -> str:
                now = time.monotonic()
                eta = None if ev.eta_s is None else max(0.0, ev.eta_s - (now - seen_at))
                return status_text(
                    ev, lang, kind=kind, prompt=prompt, warning=warning, elapsed_s=now - started, eta_s=eta
                )

            return render

        ticker = asyncio.create_task(_tick(status, shown, bot.config.status_interval), name="status-tick")
        try:

            def waiting(pos: int, total: int) -> None:
                show(lambda: waiting_text(lang, pos, total, prompt=prompt, warning=warning))

            show(event_text(JobEvent("", JobState.QUEUED), started))  # at once, right after the defer
            limits = bot.gate.queue_limits(owner.get("guild_id"))  # the server's own (/server-settings)
            async with bot.queue.slot(surface.user_id, on_position=waiting, **limits):
                job = await start(owner)
                async for ev in job.events():
                    if ev.done:
                        break
                    show(event_text(ev, time.monotonic()))
                result = await job.wait()
            show(lambda: delivering_text(lang, prompt=prompt, warning=warning))
            embed, plan, view = await self._package(
                surface, job, kind=kind, prompt=prompt, result=result, waited_s=time.monotonic() - started
            )
            await status.close()
            await surface.deliver(embed=embed, plan=plan, view=view)
            await bot.engine.mark_delivered(job.id)
            log.info(
                "job %s (%s) for %s delivered in %.1f s", job.id, kind, surface.user_id, time.monotonic() - started
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
                    surface.user_id,
                    owner.get("guild_id"),
                )
            elif isinstance(err, AuthError):
                await bot.tell_admins(err, owner.get("guild_id"))
            await surface.fail(error_text(err, lang, job_id=job.id if job else None))
            if job is not None:
                await bot.engine.mark_delivered(job.id)
        finally:
            ticker.cancel()
            await status.close()

    async def _package(
        self,
        surface: Surface,
        job: Job,
        *,
        kind: str,
        prompt: str,
        result: JobResult,
        waited_s: float | None = None,
    ) -> tuple[discord.Embed, Plan, discord.ui.View]:
        """A result as a surface posts it: the files (re-encoded or linked to fit its limit), the embed, the buttons."""
        plan = await plan_delivery(
            self.bot.engine, result.assets, surface.limit, stem=f"jimeng_{job.id}", job_id=job.id
        )
        lang = surface.lang
        embed = result_embed(
            lang,
            kind=kind,
            prompt=prompt,
            result=result,
            job_id=job.id,
            links=plan.links,
            waited_s=waited_s,
            seed=getattr(job.spec, "seed", None),
        )
        view = result_view(job.id, kind=kind, images=len(result.images), lang=lang, tools=offered(self.bot))
        return embed, plan, view

    async def deliver_recovered(self, job: Job) -> None:
        """A job a previous process started (the engine resumed it after a restart): its interaction is gone, so the
        result (or the failure) goes to the channel it came from, mentioning the member."""
        bot = self.bot
        await bot.wait_until_ready()
        owner = job.owner
        channel = await self._channel(owner.get("channel_id"))
        if channel is None:
            log.warning("recovered job %s: its channel is gone; nothing to deliver to", job.id)
            return
        user_id = owner.get("user_id")
        lang = language(owner.get("locale"), bot.config.locale)
        surface = ChannelSurface(channel, user_id=int(user_id) if user_id else None, lang=lang)
        ev = job.last_event
        if ev.result is not None:
            kind, prompt = (
                recovered_text(job, lang) if job.kind == "tool" else (job.kind, str(getattr(job.spec, "prompt", "")))
            )
            embed, plan, view = await self._package(surface, job, kind=kind, prompt=prompt, result=ev.result)
            await surface.deliver(embed=embed, plan=plan, view=view)
        else:
            await surface.fail(error_text(ev.error or Exception(), lang, job_id=job.id))
        if surface.posted:
            log.info("recovered job %s (%s) delivered to channel %s", job.id, job.kind, getattr(channel, "id", None))

    async def _channel(self, channel_id: Any) -> discord.abc.Messageable | None:
        if not channel_id:
            return None
        channel: Any = self.bot.get_channel(int(channel_id))
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(int(channel_id))
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None
