"""Pure rendering: job events → status text, results → embeds, errors → friendly text (one isinstance ladder).

Nothing here does I/O; tests call these functions directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord

import bot.strings_store  # noqa: F401  (registers the strings)
from bot.i18n import MESSAGES, t
from core import (
    AuthError,
    ContentRejectedError,
    GenerationFailedError,
    InvalidRequestError,
    JimengError,
    JobEvent,
    JobResult,
    JobState,
    JobTimeoutError,
    NoAccountError,
    QuotaError,
    RateLimitError,
    RegionError,
    RiskControlError,
    StoreUnavailableError,
    TransportError,
    UploadError,
    UpstreamError,
)

PROMPT_PREVIEW = 180
# The embed's title per job kind (the tools' kinds: bot/tools_ui.py; "tool" is a recovered tool job)
TITLES = {
    "image": "image_title",
    "compose": "compose_title",
    "upscale": "upscale_title",
    "outpaint": "outpaint_title",
    "detail": "detail_title",
    "tool": "tool_title",
}
DESCRIPTION_MAX = 1500


class BotError(Exception):
    """An expected problem the bot explains itself: ``key`` names a message in the catalogue."""

    def __init__(self, key: str, **kw: Any) -> None:
        super().__init__(key)
        self.key = key
        self.kw = kw


def _eta(lang: str, eta_s: float | None) -> str:
    if eta_s is None or eta_s <= 0:
        return ""
    step = 5 if eta_s < 60 else 30
    return t(lang, "eta", s=max(step, int(math.ceil(eta_s / step) * step)))


def _where(lang: str, pos: int | None, total: int | None) -> str:
    if not pos:
        return ""
    return t(lang, "where", pos=pos, total=max(total or pos, pos))


def _headline(prompt: str) -> str:
    text = " ".join(prompt.split())
    if len(text) > PROMPT_PREVIEW:
        text = text[: PROMPT_PREVIEW - 1] + "…"
    return f"**{discord.utils.escape_markdown(text)}**" if text else ""


def _compose(prompt: str, line: str, warning: str | None) -> str:
    return "\n".join(p for p in (_headline(prompt), line, warning) if p)


def waiting_text(lang: str, pos: int, total: int, *, prompt: str = "", warning: str | None = None) -> str:
    """Status while the job waits in the bot's own fair queue (before any account is asked)."""
    return _compose(prompt, t(lang, "waiting", pos=pos, total=max(pos, total)), warning)


def status_text(
    ev: JobEvent,
    lang: str,
    *,
    kind: str = "image",
    prompt: str = "",
    warning: str | None = None,
    elapsed_s: float | None = None,
    eta_s: float | None = None,
) -> str:
    """One status line per job state, with the time waited so far when ``elapsed_s`` is given (it ticks at the
    status interval, so the message moves even while upstream says nothing new). ``eta_s`` overrides the event's
    ETA (the caller counts it down)."""
    state = ev.state
    eta = ev.eta_s if eta_s is None else eta_s
    if state is JobState.QUEUED and not ev.queue_position:  # no line to wait in: an account is being taken
        line = t(lang, "starting")
    elif state is JobState.QUEUED:
        line = t(lang, "queued", where=_where(lang, ev.queue_position, ev.queue_length), eta="")
    elif state is JobState.UPLOADING:
        line = t(lang, "uploading")
    elif state is JobState.SUBMITTING:
        line = t(lang, "submitting")
    elif state is JobState.PENDING:
        line = t(lang, "pending", where=_where(lang, ev.queue_position, ev.queue_length), eta=_eta(lang, eta))
    elif state is JobState.GENERATING:
        if kind == "video":
            line = t(lang, "generating_video", eta=_eta(lang, eta))
        else:
            line = t(lang, "generating", done=ev.finished, total=ev.total or "?", eta=_eta(lang, eta))
    else:
        line = t(lang, "delivering")
    if elapsed_s is not None:
        line += t(lang, "elapsed", s=int(elapsed_s))
    return _compose(prompt, line, warning)


def delivering_text(lang: str, *, prompt: str = "", warning: str | None = None) -> str:
    return _compose(prompt, t(lang, "delivering"), warning)


def missing_post_permissions(perms: discord.Permissions) -> list[str]:
    """Channel permissions the bot needs to post a late result itself, that it lacks."""
    needed = {
        "view_channel": "View Channel",
        "send_messages": "Send Messages",
        "attach_files": "Attach Files",
        "embed_links": "Embed Links",
    }
    return [label for attr, label in needed.items() if not getattr(perms, attr)]


# ----------------------------------------------------------------------------------------------- results
def _time(lang: str, result: JobResult, waited_s: float | None) -> str:
    """The whole wait the member saw (from the command; else the job's own time), with Jimeng's generation apart."""
    total = max(waited_s or 0.0, result.elapsed_s)
    if result.generation_s is None:
        return t(lang, "seconds", s=f"{total:.1f}")
    return t(lang, "time_split", total=f"{total:.1f}", gen=f"{result.generation_s:.1f}")


def link_expiry(url: str) -> int | None:
    """The expiry epoch of a signed link: Jimeng's ``x-expires`` or our own ``expires`` (core/links.py)."""
    try:
        query = parse_qs(urlsplit(url).query)
        values = query.get("x-expires") or query.get("expires")
        return int(values[0]) if values else None
    except ValueError:
        return None


def result_embed(
    lang: str,
    *,
    kind: str,
    prompt: str,
    result: JobResult,
    job_id: str,
    links: Sequence[tuple[str, str]] = (),
    waited_s: float | None = None,
    seed: int | None = None,
) -> discord.Embed:
    """The embed that goes with a result: prompt, model, size, time, the seed when one was set (``--seed``); links
    for files too large to upload."""
    title = t(lang, TITLES.get(kind, "video_title"))
    text = prompt.strip()
    if len(text) > DESCRIPTION_MAX:
        text = text[: DESCRIPTION_MAX - 1] + "…"
    embed = discord.Embed(title=title, description=discord.utils.escape_markdown(text) or None, colour=0x5865F2)
    embed.add_field(name=t(lang, "f_model"), value=result.model or "?", inline=True)
    if result.width and result.height:
        embed.add_field(name=t(lang, "f_size"), value=f"{result.width}×{result.height}", inline=True)
    embed.add_field(name=t(lang, "f_time"), value=_time(lang, result, waited_s), inline=True)
    if seed is not None:
        embed.add_field(name=t(lang, "f_seed"), value=str(seed), inline=True)
    if links:
        lines = []
        for name, url in links:
            line = t(lang, "link", name=name, url=url)
            expires = link_expiry(url)
            if expires:
                line += t(lang, "link_expires", when=f"<t:{expires}:R>")
            lines.append(line)
        embed.add_field(name=t(lang, "f_links"), value="\n".join(lines)[:1024], inline=False)
    notes = list(result.notes)
    if result.partial:
        notes.insert(0, t(lang, "partial"))
    if notes:
        embed.add_field(name=t(lang, "f_notes"), value="\n".join(notes)[:1024], inline=False)
    embed.set_footer(text=t(lang, "footer", job=job_id))
    return embed


# ----------------------------------------------------------------------------------------------- errors
# Core's validation problems the bot says in a sentence of its own (with core's details), not as "isn't valid: …".
OWN_SENTENCES = {"too_many_references": "e_too_many"}


def _detail_fields(details: dict[str, Any]) -> dict[str, Any]:
    """Core's details plus what a sentence shows: ``n`` (a 0-based ``index`` from 1), sizes in MB."""
    out = dict(details)
    if isinstance(out.get("index"), int):
        out.setdefault("n", out["index"] + 1)
    for key in ("size", "max"):
        if isinstance(out.get(key), int) and out.get("kind") and key + "_mb" not in out:
            out[key + "_mb"] = f"{out[key] / 1024 / 1024:.1f}"
    return out


def invalid_text(err: InvalidRequestError, lang: str) -> str:
    key = OWN_SENTENCES.get(err.code or "")
    if err.details.get("kind") not in (None, "image"):  # too many videos / audio files: not "too many images"
        key = None
    if key is not None:
        try:
            return t(lang, key, **err.details)
        except (KeyError, IndexError):
            pass
    return t(lang, "e_invalid", reason=invalid_reason(err, lang))


def invalid_reason(err: InvalidRequestError, lang: str) -> str:
    """Core's validation problem in the member's language (core's English sentence when it has no code we know)."""
    key = f"v_{err.code}" if err.code else ""
    if key in MESSAGES:
        try:
            return t(lang, key, **_detail_fields(err.details))
        except (KeyError, IndexError):
            pass
    return err.message


def error_text(err: BaseException, lang: str, *, job_id: str | None = None) -> str:
    """The one mapping from an error to what a member reads (STYLE §4). Unknown errors get the apology."""
    if isinstance(err, BotError):
        return t(lang, err.key, **err.kw)
    if isinstance(err, AuthError):
        return t(lang, "e_auth")
    if isinstance(err, QuotaError):
        reset = int(time.time() + err.retry_after)  # the daily reset
        return t(lang, "e_quota", when=f"<t:{reset}:t> (<t:{reset}:R>)")
    if isinstance(err, RiskControlError):
        return t(lang, "e_risk", when=f"<t:{math.ceil(err.retry_at)}:R>")  # the same in the status and in /jobs
    if isinstance(err, RateLimitError):
        return t(lang, "e_rate", s=math.ceil(err.retry_after))
    if isinstance(err, ContentRejectedError):
        return t(lang, "e_content")
    if isinstance(err, RegionError):
        return t(lang, "e_region")
    if isinstance(err, JobTimeoutError):
        return t(lang, "e_timeout", job=job_id or err.submit_id or "?")
    if isinstance(err, UploadError):
        return t(lang, "e_upload", n=(err.index or 0) + 1, reason=err.message)
    if isinstance(err, InvalidRequestError):
        return invalid_text(err, lang)
    if isinstance(err, NoAccountError):
        return t(lang, "e_no_account")
    if isinstance(err, StoreUnavailableError):  # the database is away (bot/strings_store.py)
        return t(lang, "e_store")
    if isinstance(err, TransportError | UpstreamError):
        return t(lang, "e_transport")
    if isinstance(err, GenerationFailedError | JimengError):
        return t(lang, "e_failed", reason=err.message)
    return t(lang, "e_generic")


def is_expected(err: BaseException) -> bool:
    """Errors that need no traceback in the log."""
    return isinstance(err, BotError | JimengError)
