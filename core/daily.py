"""Jimeng's day: free credits and the daily claim reset at midnight, Beijing time (PROTOCOL.md §3.2)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8))


def china_today() -> date:
    return datetime.now(CHINA_TZ).date()


def seconds_to_reset(now: float | None = None) -> float:
    """Seconds from ``now`` (epoch seconds, default: the current time) to the next daily reset."""
    current = datetime.fromtimestamp(now if now is not None else time.time(), CHINA_TZ)
    midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    return (midnight - current).total_seconds()


def next_reset(now: float | None = None) -> float:
    """Epoch seconds of the next daily reset (Beijing midnight): when daily quotas start again."""
    return day_start(china_day(now if now is not None else time.time()) + timedelta(days=1))


def china_day(ts: float) -> date:
    """The Beijing date of an epoch time (usage is reported per Jimeng day)."""
    return datetime.fromtimestamp(ts, CHINA_TZ).date()


def day_start(day: date) -> float:
    """Epoch seconds of the Beijing midnight that starts ``day``."""
    return datetime.combine(day, datetime.min.time(), CHINA_TZ).timestamp()
