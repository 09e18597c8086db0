"""Starting jobs from any entry point (slash commands, context menu, modals, buttons, replies).

Validation happens before the interaction is deferred (it is pure and instant, and its errors can then be ephemeral);
everything that does I/O (reading attachments, the engine) happens after the defer, inside the job's task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import language
from bot.render import BotError
from bot.runner import InteractionSurface, MessageSurface, Surface
from core import Asset, ImageParams, JobRecord, VideoParams
from core.media import RefImage

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".heic", ".heif", ".avif", ".tif", ".tiff")

RefSource = discord.Attachment | RefImage | Asset


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
    return language(interaction.locale, bot.config.locale)


def owner_of(user: discord.abc.User, guild_id: int | None, channel_id: int | None, lang: str) -> dict[str, Any]:
    return {"user_id": user.id, "guild_id": guild_id, "channel_id": channel_id, "locale": lang}


def max_references(bot: JimengBot, model: str | None) -> int:
    name = model or bot.engine.config.default_image_model
    info = next((m for m in bot.engine.models("image") if m.name == name), None)
    return info.max_references if info is not None else 10


def check_images(bot: JimengBot, params: ImageParams, refs: Sequence[RefSource]) -> None:
    """Refuse too many images, non-images and oversized files before anything is deferred or downloaded."""
    limit = max_references(bot, params.model)
    if len(refs) > limit:
        raise BotError("e_too_many", count=len(refs), max=limit)
    for n, ref in enumerate(refs, 1):
        if isinstance(ref, discord.Attachment):
            if not is_image_attachment(ref):
                raise BotError("e_not_image", n=n, name=ref.filename)
            if ref.size > MAX_ATTACHMENT_BYTES:
                raise BotError("e_file_too_big", n=n, mb=f"{ref.size / 1024 / 1024:.1f}")
    bot.engine.validate_image(params, references=len(refs))


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
    params: ImageParams | VideoParams,
    refs: Sequence[RefSource],
    last: RefSource | None = None,
) -> None:
    async def start(owner: dict[str, Any]) -> Any:
        if isinstance(params, VideoParams):
            first_img = (await materialize(bot, refs))[0] if refs else None
            last_img = (await materialize(bot, [last]))[0] if last is not None else None
            job = await bot.engine.video(params, first_frame=first_img, last_frame=last_img, owner=owner)
            bot.remember_refs(job.id, [i for i in (first_img, last_img) if i is not None])
        elif refs:
            images = await materialize(bot, refs)
            job = await bot.engine.compose(params, images, owner=owner)
            bot.remember_refs(job.id, images)
        else:
            job = await bot.engine.imagine(params, owner=owner)
        return job

    bot.runner.start(surface, kind=kind, prompt=params.prompt, start=start, owner=owner)


async def launch_image(
    bot: JimengBot, interaction: discord.Interaction, params: ImageParams, refs: Sequence[RefSource] = ()
) -> None:
    """/imagine, /compose, the context menu's modal, Vary, Reroll: validate, defer, run."""
    if refs:
        check_images(bot, params, refs)
    else:
        bot.engine.validate_image(params)
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = InteractionSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)
    _start(bot, surface, owner, kind="compose" if refs else "image", params=params, refs=refs)


async def launch_video(
    bot: JimengBot,
    interaction: discord.Interaction,
    params: VideoParams,
    first: RefSource | None = None,
    last: RefSource | None = None,
) -> None:
    """/video and Animate."""
    if last is not None and first is None:
        raise BotError("e_last_frame")
    frames = [f for f in (first, last) if f is not None]
    for n, ref in enumerate(frames, 1):
        if isinstance(ref, discord.Attachment) and not is_image_attachment(ref):
            raise BotError("e_not_image", n=n, name=ref.filename)
    bot.engine.validate_video(params.model_copy(update={"frames": len(frames)}))
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = InteractionSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)
    _start(bot, surface, owner, kind="video", params=params, refs=[first] if first else [], last=last)


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
    if refs:
        check_images(bot, params, refs)
    else:
        bot.engine.validate_image(params)
    owner = owner_of(message.author, message.guild.id if message.guild else None, message.channel.id, surface.lang)
    _start(bot, surface, owner, kind="compose" if refs else "image", params=params, refs=refs)
    return surface


# ----------------------------------------------------------------------------------------------- from a stored job
def image_params_from(record: JobRecord, *, prompt: str | None = None, new_seed: bool = True) -> ImageParams:
    spec = record.spec
    return ImageParams(
        prompt=prompt if prompt is not None else spec.get("prompt", ""),
        model=spec.get("model"),
        negative_prompt=spec.get("negative_prompt", ""),
        ratio="auto" if spec.get("intelligent_ratio") else spec.get("ratio"),
        resolution=spec.get("resolution"),
        count=spec.get("count"),
        sample_strength=spec.get("sample_strength", 0.5),
        seed=None if new_seed else spec.get("seed"),
    )


def video_params_from(record: JobRecord) -> VideoParams:
    spec = record.spec
    return VideoParams(
        prompt=spec.get("prompt", ""),
        model=spec.get("model"),
        duration=spec.get("duration"),
        ratio=spec.get("ratio"),
        resolution=spec.get("resolution"),
    )


def result_assets(record: JobRecord) -> list[Asset]:
    return [Asset.from_dict(a) for a in (record.result or {}).get("assets", [])]


async def reroll(bot: JimengBot, interaction: discord.Interaction, record: JobRecord) -> None:
    """The same request again (a new seed). Compositions and framed videos need their references: the bot's memory
    for recent jobs, else the copies the engine keeps in the data directory (so Reroll works after a restart)."""
    refs: list[RefImage] = bot.refs_of(record.id) or await bot.engine.references(record.id) or []
    needs_refs = record.kind == "compose" or (record.kind == "video" and record.spec.get("frames"))
    if needs_refs and not refs:
        raise BotError("e_refs_gone", job=record.id)
    if record.kind == "video":
        await launch_video(bot, interaction, video_params_from(record), *refs[:2])
    else:
        await launch_image(bot, interaction, image_params_from(record), refs)
