"""Strings of the job store's availability (issue #16: PostgreSQL away), en-US + zh-CN.

Registered with ``bot.i18n.extend`` when this module is imported (``bot.render`` imports it)."""

from __future__ import annotations

from bot.i18n import EN, ZH, extend

MESSAGES: dict[str, dict[str, str]] = {
    "e_store": {
        EN: "The bot cannot reach its job store right now, so it is not taking new jobs; running jobs go on. "
        "Try again in a minute.",
        ZH: "机器人暂时无法连接任务存储，恢复前不接受新任务（进行中的任务不受影响）。请稍后再试。",
    },
}

extend({}, MESSAGES)
