"""Pure rendering of /settings and /server-settings (issue #15): setting lines, usage lines, the quota sentence, the
chart's series, and core's refusals of a setting in the member's words. No I/O."""

from __future__ import annotations

from typing import Any

import discord

from bot.charts import DayPoint
from bot.i18n import EN, t
from bot.render import BotError
from core.errors import SettingsError
from core.quotas import QuotaStatus
from core.usage import Totals, UsageReport

MEMBER_FIELDS = ("image_model", "video_model", "ratio", "resolution", "count", "negative_prompt", "language")
SERVER_FIELDS = (
    "channel_ids",
    "role_id",
    "image_model",
    "video_model",
    "resolution",
    "member_jobs",
    "member_queue",
    "quota",
    "quota_unit",
    "locale",
    "admin_channel_id",
)


def settings_error(err: SettingsError, lang: str) -> BotError:
    """Core's refusal of a setting, in the member's words."""
    d = err.details or {}
    name = t(lang, f"s_{err.param}") if err.param in (*MEMBER_FIELDS, *SERVER_FIELDS) else (err.param or "?")
    if err.code == "model_not_offered":
        return BotError("e_set_model", model=d.get("model", "?"), regions=", ".join(map(str, d.get("regions", []))))
    if err.code in ("unknown_model", "wrong_model_kind"):
        return BotError("e_set_unknown_model", model=d.get("model", "?"))
    if err.code == "out_of_range":
        return BotError("e_set_range", setting=name, value=d.get("value"), min=d.get("min"), max=d.get("max"))
    return BotError("e_set_invalid", setting=name, reason=err.message)


def _fmt(lang: str, field: str, value: Any) -> str:
    if value is None or value == "" or value == ():
        return {
            "channel_ids": t(lang, "every_channel"),
            "role_id": t(lang, "everyone"),
            "quota": t(lang, "no_quota"),
        }.get(field, "—")
    if field == "channel_ids":
        return " ".join(f"<#{c}>" for c in value)
    if field == "role_id":
        return f"<@&{value}>"
    if field == "admin_channel_id":
        return f"<#{value}>"
    if field in ("language", "locale"):
        return "English" if value == EN else "中文"
    if field == "quota_unit":
        return t(lang, f"unit_{value}")
    if field == "negative_prompt":
        return discord.utils.escape_markdown(str(value))[:200]
    return f"`{value}`"


def totals_line(lang: str, x: Totals) -> str:
    return t(
        lang, "usage_line", jobs=x.jobs, images=x.images, videos=x.videos, credits=f"{x.credits:g}", failed=x.failed
    )


def quota_text(lang: str, q: QuotaStatus) -> str:
    if q.limit is None:
        return t(lang, "quota_none")
    reset = round(q.resets_at)
    left = max(0.0, q.remaining or 0.0)
    return t(lang, "quota_left", left=f"{left:g}", limit=q.limit, unit=t(lang, f"unit_{q.unit}"), when=f"<t:{reset}:R>")


def chart_points(report: UsageReport) -> list[DayPoint]:
    return [DayPoint(d.day.isoformat(), d.totals.jobs, round(d.totals.credits), d.totals.failed) for d in report.days]


def setting_line(lang: str, field: str, value: Any, source: str) -> str:
    return t(
        lang,
        "setting_line",
        name=t(lang, f"s_{field}"),
        value=_fmt(lang, field, value),
        source=t(lang, f"src_{source}"),
    )
