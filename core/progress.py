"""The admin CLI's progress display: a live bar on a terminal (rich), plain lines anywhere else.

On a terminal the bar ticks (elapsed time, the ETA counting down) even when upstream says nothing new; in a pipe or
a log file every line is a whole line — no carriage returns, no escape codes — written when the state changes and
every ``HEARTBEAT_S`` while a job runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import IO, cast

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from core.jobs import Job, JobEvent, JobState

HEARTBEAT_S = 15.0
TICK_S = 0.25


def describe(ev: JobEvent) -> str:
    """What the job is doing, in a few words (no timing)."""
    if ev.state is JobState.QUEUED:
        return f"waiting for a free account (#{ev.queue_position} in line)" if ev.queue_position else "starting"
    if ev.state is JobState.UPLOADING:
        return "uploading the reference images"
    if ev.state is JobState.SUBMITTING:
        return "sending to Jimeng"
    if ev.state is JobState.PENDING:
        pos = f" #{ev.queue_position} of {ev.queue_length}" if ev.queue_position else ""
        return f"in Jimeng's queue{pos}"
    if ev.state is JobState.GENERATING:
        return f"generating {ev.finished}/{ev.total}" if ev.total else "generating"
    if ev.state is JobState.SUCCEEDED:
        return "done"
    return f"failed: {ev.error.message}" if ev.error is not None else "failed"


def eta_left(ev: JobEvent, seen_at: float, now: float) -> float | None:
    """The event's ETA, counted down since the event arrived; None when unknown or past."""
    if ev.eta_s is None or ev.done:
        return None
    left = ev.eta_s - (now - seen_at)
    return left if left > 0 else None


def plain_line(ev: JobEvent, elapsed: float, eta: float | None) -> str:
    tail = f" (about {eta:.0f} s left)" if eta is not None and eta >= 1 else ""
    return f"[{elapsed:6.1f}s] {describe(ev)}{tail}"


async def follow(job: Job, stream: IO[str], *, live: bool | None = None) -> None:
    """Show the job's progress on ``stream`` until it ends (live bar when ``stream`` is a terminal)."""
    if live is None:
        live = stream.isatty()
    await (_follow_live(job, stream) if live else _follow_plain(job, stream))


async def _follow_plain(job: Job, stream: IO[str]) -> None:
    started = time.monotonic()
    last_text, last_at = "", 0.0
    async for ev in _ticking(job):
        now = time.monotonic()
        text = describe(ev)
        if text != last_text or now - last_at >= HEARTBEAT_S:
            stream.write(plain_line(ev, now - started, ev.eta_s if text != last_text else None) + "\n")
            stream.flush()
            last_text, last_at = text, now


async def _follow_live(job: Job, stream: IO[str]) -> None:
    console = Console(file=stream, highlight=False)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=console, transient=False, refresh_per_second=4) as bar:
        task = bar.add_task("starting", total=1.0, eta="")
        seen: tuple[JobEvent | None, float] = (None, time.monotonic())
        async for ev in _ticking(job):
            if ev is not seen[0]:
                seen = (ev, time.monotonic())
            left = eta_left(ev, seen[1], time.monotonic())
            done = 1.0 if ev.state is JobState.SUCCEEDED else (ev.finished / ev.total if ev.total else 0.0)
            bar.update(task, description=describe(ev), completed=done, eta=f"~{left:.0f}s left" if left else "")


async def _ticking(job: Job) -> AsyncIterator[JobEvent]:
    """The job's events, and the latest one again every ``TICK_S`` while nothing new arrives (the clock moves)."""
    events = cast(AsyncGenerator[JobEvent, None], job.events())
    pending: asyncio.Future[JobEvent] | None = None
    last = job.last_event
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=TICK_S)
            if done:
                last, pending = pending.result(), None
            yield last
            if last.done:
                return
    except StopAsyncIteration:
        return
    finally:
        if pending is not None:
            pending.cancel()
        await events.aclose()
