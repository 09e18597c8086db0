"""Omni-reference video on Discord (issue #14): /video with reference attachments, and Animate with an omni model.

What can be checked from an attachment's metadata — its kind, its size, how many of each kind, whether the model
takes references in this region — is checked before the defer (ephemeral refusals), before anything is downloaded.
Durations and formats need the bytes: core measures them before the job exists, and those refusals also reach the
member alone (``PrecheckSurface``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

import bot.strings_tools  # noqa: F401  (registers the strings)
from bot.actions import IMAGE_SUFFIXES, MAX_ATTACHMENT_BYTES, RefSource, lang_of, materialize, owner_of
from bot.i18n import t
from bot.render import BotError
from bot.tools_ui import PrecheckSurface
from core import InvalidRequestError, JobRecord, UploadError, VideoParams
from core.video_refs import MAX_AUDIO_BYTES, MAX_VIDEO_BYTES, RefMedia, reference_from_bytes

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

MAX_BYTES = {"image": MAX_ATTACHMENT_BYTES, "video": MAX_VIDEO_BYTES, "audio": MAX_AUDIO_BYTES}
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".flv", ".3gp")
AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".wma", ".amr")


def attachment_kind(att: discord.Attachment) -> str | None:
    """image / video / audio from what Discord says of the file (its content type, else its extension)."""
    ctype = (att.content_type or "").split(";")[0].strip().lower()
    for kind in ("image", "video", "audio"):
        if ctype.startswith(kind + "/"):
            return kind
    name = att.filename.lower()
    for kind, suffixes in (("image", IMAGE_SUFFIXES), ("video", VIDEO_SUFFIXES), ("audio", AUDIO_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None


def check_references(lang: str, refs: Sequence[RefSource]) -> list[str]:
    """The kinds of ``refs`` in order; refuses a file that is none of image/video/audio or too large for its kind."""
    kinds = []
    for n, ref in enumerate(refs, 1):
        if not isinstance(ref, discord.Attachment):
            kinds.append("image")  # a result of ours (Animate)
            continue
        kind = attachment_kind(ref)
        if kind is None:
            raise BotError("e_ref_kind", n=n, name=ref.filename)
        if ref.size > MAX_BYTES[kind]:
            raise BotError(
                "e_ref_too_big",
                n=n,
                name=ref.filename,
                mb=f"{ref.size / 1024 / 1024:.1f}",
                kind=t(lang, f"kind_{kind}"),
                max=MAX_BYTES[kind] // (1024 * 1024),
            )
        kinds.append(kind)
    return kinds


def is_omni_only(bot: JimengBot, model: str | None) -> bool:
    """A model that takes references but no frame images (Seedance 2.0 mini / VIP): Animate uses it with the image as
    a reference."""
    info = bot.engine.registry.get(model) if model else None
    return info is not None and info.omni and not info.frames


def omni_models(bot: JimengBot) -> list[str]:
    """The omni models the accounts' sites offer (for the Animate form's hint)."""
    return [m.name for m in bot.engine.models("video") if getattr(m, "omni", False)]


async def _read(bot: JimengBot, refs: Sequence[RefSource]) -> list[Any]:
    """Attachments as core's references (sniffed: image, video or audio); results of ours as images."""
    out: list[Any] = []
    for ref in refs:
        if isinstance(ref, discord.Attachment):
            out.append(reference_from_bytes(await ref.read(), ref.filename, ref.content_type))
        else:
            out.extend(await materialize(bot, [ref]))
    return out


async def launch_omni(
    bot: JimengBot, interaction: discord.Interaction, params: VideoParams, refs: Sequence[RefSource]
) -> None:
    """/video with references, and Animate with an omni model: admit (channel, role, quota), check, defer, read the
    files, run."""
    await bot.gate.admit(interaction)
    lang = lang_of(bot, interaction)
    kinds = check_references(lang, refs)
    bot.engine.validate_omni(params, kinds=kinds)  # capability, model, counts, prompt's @n: before the defer
    await interaction.response.defer(thinking=True)
    surface = PrecheckSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)

    async def start(owner: dict[str, Any]) -> Any:
        try:
            files = await _read(bot, refs)
            # the kinds core sniffed from the bytes (a mislabelled file is judged by what it is)
            spec = bot.engine.validate_omni(params, kinds=[getattr(f, "kind", "image") for f in files])
            job = await bot.engine.omni_video(spec, files, owner=owner)
        except (InvalidRequestError, UploadError):
            surface.refused = True
            raise
        bot.remember_refs(job.id, files)
        return job

    bot.runner.start(surface, kind="video", prompt=params.prompt, start=start, owner=owner)


async def reroll_omni(bot: JimengBot, interaction: discord.Interaction, record: JobRecord) -> None:
    """Reroll of an omni video: the references this process kept (the engine keeps no copies of video/audio)."""
    refs = bot.refs_of(record.id)
    if not refs:
        raise BotError("e_omni_refs_gone", job=record.id)
    await bot.gate.admit(interaction)
    params = VideoParams.from_spec(record.spec).model_copy(update={"frames": 0})
    kinds = [r.kind if isinstance(r, RefMedia) else "image" for r in refs]
    bot.engine.validate_omni(params, kinds=kinds)
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = PrecheckSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)

    async def start(owner: dict[str, Any]) -> Any:
        job = await bot.engine.omni_video(bot.engine.validate_omni(params, kinds=kinds), refs, owner=owner)
        bot.remember_refs(job.id, list(refs))
        return job

    bot.runner.start(surface, kind="video", prompt=params.prompt, start=start, owner=owner)
