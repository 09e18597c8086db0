"""Midjourney-style flags typed in a prompt: ``--ar 16:9``, ``--no text``, ``--seed 42``, ``--count 2``,
``--model jimeng-4.0``. Discord-side syntax, so it lives in bot/; core validates the values it receives as usual.

``parse_flags`` splits the prompt from its flags; ``apply_flags`` merges them with the slash options, refusing a flag
that contradicts an option. Every problem is a :class:`BotError` the member reads ephemerally."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.render import BotError
from core.wire import RATIOS

MAX_SEED = 2**32 - 1
MAX_COUNT = 8
FLAG = re.compile(r"(?<!\S)(?:--|—)([A-Za-z]+)")  # phones turn "--" into an em dash
# flag → (ImageParams field, takes a single word)
FLAGS: dict[str, tuple[str, bool]] = {
    "ar": ("ratio", True),
    "aspect": ("ratio", True),
    "no": ("negative_prompt", False),
    "seed": ("seed", True),
    "count": ("count", True),
    "model": ("model", True),
}


@dataclass(frozen=True, slots=True)
class PromptFlags:
    prompt: str
    values: dict[str, Any] = field(default_factory=dict)  # ImageParams field → value
    named: dict[str, str] = field(default_factory=dict)  # ImageParams field → the flag as typed (for errors)


def _value(flag: str, target: str, raw: str) -> Any:
    if target == "ratio":
        if raw not in (*RATIOS, "auto"):
            raise BotError("e_flag_value", flag=flag, value=raw, allowed=", ".join((*RATIOS, "auto")))
        return raw
    if target in ("seed", "count"):
        top = MAX_SEED if target == "seed" else MAX_COUNT
        if not raw.isdigit() or not (0 if target == "seed" else 1) <= int(raw) <= top:
            allowed = f"0–{top}" if target == "seed" else f"1–{top}"
            raise BotError("e_flag_value", flag=flag, value=raw, allowed=allowed)
        return int(raw)
    return raw


def parse_flags(text: str) -> PromptFlags:
    """``"a fox --ar 16:9 --no text"`` → prompt ``"a fox"``, ratio ``16:9``, negative ``"text"``."""
    matches = list(FLAG.finditer(text))
    if not matches:
        return PromptFlags(text.strip())
    prompt = text[: matches[0].start()].strip()
    values: dict[str, Any] = {}
    named: dict[str, str] = {}
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        flag = "--" + m.group(1).lower()
        raw = text[m.end() : nxt.start() if nxt else len(text)].strip()
        if m.group(1).lower() not in FLAGS:
            raise BotError("e_flag_unknown", flag=flag, known=", ".join(f"--{f}" for f in FLAGS if f != "aspect"))
        target, one_word = FLAGS[m.group(1).lower()]
        if target in values:
            raise BotError("e_flag_twice", flag=flag)
        if not raw or (one_word and len(raw.split()) > 1):
            raise BotError("e_flag_value", flag=flag, value=raw or "—", allowed=t_allowed(target))
        values[target] = _value(flag, target, raw)
        named[target] = flag
    if not prompt:
        raise BotError("e_flag_no_prompt")
    return PromptFlags(prompt, values, named)


def t_allowed(target: str) -> str:
    return {"ratio": "16:9, 1:1, …", "seed": f"0–{MAX_SEED}", "count": f"1–{MAX_COUNT}"}.get(target, "…")


def apply_flags(text: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ImageParams keyword arguments from the prompt's flags and the slash ``options`` (None = not given). A flag
    that contradicts a given option is refused; one that repeats it is fine."""
    flags = parse_flags(text)
    out = {k: v for k, v in options.items() if v is not None}
    for target, value in flags.values.items():
        given = out.get(target)
        if given not in (None, "") and given != value:
            raise BotError("e_flag_conflict", flag=flags.named[target], option=target.removesuffix("_prompt"))
        out[target] = value
    out["prompt"] = flags.prompt
    return out
