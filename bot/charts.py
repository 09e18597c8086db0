"""The usage chart admins see under /server-settings usage: jobs per day (bars) and credits per day (a line).

Drawn with matplotlib's object API on the Agg canvas (no pyplot: its global figure registry is not for threads, and no
GUI backend is ever touched). Rendering is CPU work, so callers run :func:`render_usage_chart` in a worker thread
(:func:`usage_chart`), one at a time; the picture has a fixed size, whatever the data.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

CHART_WIDTH_IN, CHART_HEIGHT_IN, CHART_DPI = 6.4, 2.4, 100  # 640×240 px, a few tens of kB
MAX_DAYS = 31  # never more bars than a month, however long the series handed in
CHART_FILENAME = "usage.png"


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: str  # "2026-12-03"
    jobs: int
    credits: int
    failures: int = 0


def render_usage_chart(points: Sequence[DayPoint]) -> bytes:
    """PNG bytes of the last :data:`MAX_DAYS` points (oldest first). Blocking: call it off the event loop.

    The picture carries no words but "jobs" and "credits" (the embed around it is in the reader's language; the
    default font has no CJK glyphs)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    pts = list(points)[-MAX_DAYS:]
    fig = Figure(figsize=(CHART_WIDTH_IN, CHART_HEIGHT_IN), dpi=CHART_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(pts)))
    ok = [max(0, p.jobs - p.failures) for p in pts]
    failed = [p.failures for p in pts]
    ax.bar(xs, ok, color="#5865F2")
    ax.bar(xs, failed, bottom=ok, color="#ED4245")
    ax.set_ylabel("jobs", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max([p.jobs for p in pts] + [1]) * 1.15)
    step = max(1, len(pts) // 8)
    ax.set_xticks(xs[::step], [p.day[5:] for p in pts][::step], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    if any(p.credits for p in pts):
        ax2 = ax.twinx()
        ax2.plot(xs, [p.credits for p in pts], color="#57F287", marker="o", markersize=2, linewidth=1.2)
        ax2.set_ylabel("credits", fontsize=8)
        ax2.set_ylim(bottom=0)
        ax2.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


class ChartRenderer:
    """Renders charts in a worker thread, one at a time (two cores shared with everything else: no pile-up)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def usage_chart(self, points: Sequence[DayPoint]) -> bytes:
        async with self._lock:
            return await asyncio.to_thread(render_usage_chart, list(points))
