"""Starting jobs from any entry point (slash commands, context menu, modals, buttons, replies).

Each request is validated once, by core, before the interaction is deferred (validation is pure and instant, and its
errors can then be ephemeral); the spec it returns is what the engine runs. Everything that does I/O (reading
attachments, the engine) happens after the defer, inside the job's task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.render import BotError
from bot.surfaces import InteractionSurface, MessageSurface, Surface
from core import Asset, ImageParams, JobRecord, VideoParams
from core.media import RefImage
from core.params import ImageSpec, VideoSpec

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".heic", ".heif", ".avif", ".tif", ".tiff")
STAND_IN_PROMPT = "…"  # asks core about references before the compose form has the member's prompt

RefSource = discord.Attachment | RefImage | Asset


def bot_of(interaction: discord.Interaction) -> JimengBot:
    return interaction.client  # type: ignore[return-value]


async def job_record(interaction: discord.Interaction, job_id: str) -> JobRecord:
    """The stored record of a job a button or form names (``e_job_gone`` when the store no longer has it)."""
    record = await bot_of(interaction).engine.store.get(job_id)
    if record is None:
        raise BotError("e_job_gone", job=job_id)
    return record


def is_image_attachment(att: discord.Attachment) -> bool:
    ctype = (att.content_type or "").lower()
    return ctype.startswith("image/") or (not ctype and att.filename.lower().endswith(IMAGE_SUFFIXES))


def message_images(message: discord.Message) -> list[RefSource]:
    """A message's image attachments, then its embeds' images (what the context menu and replies compose from)."""
    refs: list[RefSource] = [a for a in message.attachments if is_image_attachment(a)]
    for embed in message.embeds:
        for url in (embed.image.url, embed.thumbnail.url if not embed.image.url else None):
            if url:
                refs.append(RefImage.from_url(url))
    return refs


def lang_of(bot: JimengBot, interaction: discord.Interaction) -> str:
    return bot.gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)


def owner_of(user: discord.abc.User, guild_id: int | None, channel_id: int | None, lang: str) -> dict[str, Any]:
    return {"user_id": user.id, "guild_id": guild_id, "channel_id": channel_id, "locale": lang}


def check_attachments(refs: Sequence[RefSource]) -> None:
    """Refuse non-images and oversized files before anything is deferred or downloaded (how many references a model
    takes is core's to check)."""
    for n, ref in enumerate(refs, 1):
        if isinstance(ref, discord.Attachment):
            if not is_image_attachment(ref):
                raise BotError("e_not_image", n=n, name=ref.filename)
            if ref.size > MAX_ATTACHMENT_BYTES:
                raise BotError("e_file_too_big", n=n, mb=f"{ref.size / 1024 / 1024:.1f}")


def validate_image(bot: JimengBot, params: ImageParams, refs: Sequence[RefSource]) -> ImageSpec:
    """The one validation of a text-to-image request (no ``refs``) or a composition from ``refs`` (core checks their
    number), then the attachments themselves."""
    spec = bot.engine.validate_image(params, references=len(refs) if refs else None)
    check_attachments(refs)
    return spec


def check_reference_count(bot: JimengBot, count: int) -> None:
    """Before the compose form asks for a prompt: would core take ``count`` references with the default model? The
    form's submit validates the real request."""
    bot.engine.validate_image(ImageParams(prompt=STAND_IN_PROMPT), references=count)


async def materialize(bot: JimengBot, refs: Sequence[RefSource]) -> list[RefImage]:
    """Turn attachments / result assets into RefImages (reads bytes; URLs are fetched later by core, safely)."""
    out: list[RefImage] = []
    for ref in refs:
        if isinstance(ref, discord.Attachment):
            out.append(RefImage.from_bytes(await ref.read(), name=ref.filename))
        elif isinstance(ref, Asset):
            async with bot.engine.download(ref) as dl:
                out.append(RefImage.from_bytes(await dl.read(limit=MAX_ATTACHMENT_BYTES), name="result.webp"))
        else:
            out.append(ref)
    return out


def _start(
    bot: JimengBot,
    surface: Surface,
    owner: dict[str, Any],
    *,
    kind: str,
    spec: ImageSpec | VideoSpec,
    refs: Sequence[RefSource],
    last: RefSource | None = None,
) -> None:
    async def start(owner: dict[str, Any]) -> Any:
        if isinstance(spec, VideoSpec):
            first_img = (await materialize(bot, refs))[0] if refs else None
            last_img = (await materialize(bot, [last]))[0] if last is not None else None
            job = await bot.engine.video(spec, first_frame=first_img, last_frame=last_img, owner=owner)
            bot.remember_refs(job.id, [i for i in (first_img, last_img) if i is not None])
        elif refs:
            images = await materialize(bot, refs)
            job = await bot.engine.compose(spec, images, owner=owner)
            bot.remember_refs(job.id, images)
        else:
            job = await bot.engine.imagine(spec, owner=owner)
        return job

    bot.runner.start(surface, kind=kind, prompt=spec.prompt, start=start, owner=owner)


async def launch_image(
    bot: JimengBot, interaction: discord.Interaction, params: ImageParams, refs: Sequence[RefSource] = ()
) -> None:
    """/imagine, /compose, the context menu's modal, Vary, Reroll: admit (channel, role, quota), validate, defer, run."""
    await bot.gate.admit(interaction)
    spec = validate_image(bot, params, refs)
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = InteractionSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)
    _start(bot, surface, owner, kind="compose" if refs else "image", spec=spec, refs=refs)


async def launch_video(
    bot: JimengBot,
    interaction: discord.Interaction,
    params: VideoParams,
    first: RefSource | None = None,
    last: RefSource | None = None,
) -> None:
    """/video and Animate."""
    await bot.gate.admit(interaction)
    if last is not None and first is None:
        raise BotError("e_last_frame")
    frames = [f for f in (first, last) if f is not None]
    for n, ref in enumerate(frames, 1):
        if isinstance(ref, discord.Attachment) and not is_image_attachment(ref):
            raise BotError("e_not_image", n=n, name=ref.filename)
    spec = bot.engine.validate_video(params.model_copy(update={"frames": len(frames)}))
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = InteractionSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)
    _start(bot, surface, owner, kind="video", spec=spec, refs=[first] if first else [], last=last)


def launch_from_message(
    bot: JimengBot,
    message: discord.Message,
    params: ImageParams,
    refs: Sequence[RefSource],
    *,
    warning: str | None = None,
) -> MessageSurface:
    """Reply-with-attachments (or a plain mention: text to image). Validation errors are raised to the caller."""
    surface = MessageSurface(bot, message)
    surface.warning = warning
    spec = validate_image(bot, params, refs)
    owner = owner_of(message.author, message.guild.id if message.guild else None, message.channel.id, surface.lang)
    _start(bot, surface, owner, kind="compose" if refs else "image", spec=spec, refs=refs)
    return surface


# ----------------------------------------------------------------------------------------------- from a stored job
def result_assets(record: JobRecord) -> list[Asset]:
    return [Asset.from_dict(a) for a in (record.result or {}).get("assets", [])]


async def reroll(bot: JimengBot, interaction: discord.Interaction, record: JobRecord) -> None:
    """The same request again (a new seed). Compositions and framed videos need their references: the bot's memory
    for recent jobs, else the copies the engine keeps in the data directory (so Reroll works after a restart)."""
    refs: list[RefImage] = bot.refs_of(record.id) or await bot.engine.references(record.id) or []
    if record.kind == "video":
        vparams = VideoParams.from_spec(record.spec)
        if vparams.frames and not refs:
            raise BotError("e_refs_gone", job=record.id)
        await launch_video(bot, interaction, vparams, *refs[:2])
        return
    if record.kind == "compose" and not refs:
        raise BotError("e_refs_gone", job=record.id)
    await launch_image(bot, interaction, ImageParams.from_spec(record.spec), refs)
