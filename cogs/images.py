"""Images: /imagine, /compose, the "Compose with Jimeng" message menu, and reply-with-attachments."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot import actions
from bot.bot import JimengBot
from bot.components import ComposeModal
from bot.flags import apply_flags
from bot.i18n import t
from bot.render import BotError, error_text
from core import ImageParams, JimengError
from core.wire import RATIOS, RESOLUTIONS

log = logging.getLogger(__name__)

RATIO_CHOICES = [app_commands.Choice(name=_("auto"), value="auto")] + [
    app_commands.Choice(name=r, value=r) for r in RATIOS
]
COMPOSE_RATIO_CHOICES = [app_commands.Choice(name=r, value=r) for r in RATIOS]
RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS]


def model_choices(bot: JimengBot, kind: str, current: str) -> list[app_commands.Choice[str]]:
    """Models the configured accounts' regions offer, current ones first, filtered by what was typed."""
    needle = current.strip().lower()
    models = [m for m in bot.engine.models(kind) if needle in m.name.lower() or needle in m.title.lower()]  # type: ignore[arg-type]
    models.sort(key=lambda m: m.legacy)
    return [app_commands.Choice(name=f"{m.name} · {m.title}"[:100], value=m.name) for m in models[:25]]


class Images(commands.Cog):
    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=_("Compose with Jimeng"), callback=self.compose_menu)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # ------------------------------------------------------------------------------------------- /imagine
    @app_commands.command(name=_("imagine"), description=_("Generate images from a prompt with Jimeng"))
    @app_commands.rename(
        prompt=_("prompt"),
        model=_("model"),
        ratio=_("ratio"),
        resolution=_("resolution"),
        count=_("count"),
        negative=_("negative"),
        strength=_("strength"),
    )
    @app_commands.describe(
        prompt=_("What to draw"),
        model=_("Jimeng model (default: the server's default)"),
        ratio=_("Aspect ratio"),
        resolution=_("Output resolution"),
        count=_("How many images"),
        negative=_("What to avoid"),
        strength=_("How closely to follow the prompt or references (0–1)"),
    )
    @app_commands.choices(ratio=RATIO_CHOICES, resolution=RESOLUTION_CHOICES)
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 2000],
        model: str | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        count: app_commands.Range[int, 1, 8] | None = None,
        negative: str | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
    ) -> None:
        options = {"model": model or None, "ratio": ratio, "resolution": resolution, "count": count}
        kwargs = apply_flags(prompt, {**options, "negative_prompt": negative or None})
        kwargs = await self.bot.gate.image_options(interaction.guild_id, interaction.user.id, kwargs)
        params = ImageParams(**kwargs, sample_strength=0.5 if strength is None else strength)
        await actions.launch_image(self.bot, interaction, params)

    @imagine.autocomplete("model")
    async def imagine_model(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "image", current)

    # ------------------------------------------------------------------------------------------- /compose
    @app_commands.command(name=_("compose"), description=_("Compose a new image from your images and a prompt"))
    @app_commands.rename(
        prompt=_("prompt"),
        image1=_("image1"),
        image2=_("image2"),
        image3=_("image3"),
        image4=_("image4"),
        model=_("model"),
        ratio=_("ratio"),
        resolution=_("resolution"),
        count=_("count"),
        strength=_("strength"),
    )
    @app_commands.describe(
        prompt=_("What to make from the images"),
        image1=_("A reference image"),
        image2=_("A reference image"),
        image3=_("A reference image"),
        image4=_("A reference image"),
        model=_("Jimeng model (default: the server's default)"),
        ratio=_("Aspect ratio"),
        resolution=_("Output resolution"),
        count=_("How many images"),
        strength=_("How closely to follow the prompt or references (0–1)"),
    )
    @app_commands.choices(ratio=COMPOSE_RATIO_CHOICES, resolution=RESOLUTION_CHOICES)
    @app_commands.guild_only()
    async def compose(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 2000],
        image1: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        model: str | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        count: app_commands.Range[int, 1, 8] | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
    ) -> None:
        refs = [a for a in (image1, image2, image3, image4) if a is not None]
        kwargs = apply_flags(prompt, {"model": model or None, "ratio": ratio, "resolution": resolution, "count": count})
        kwargs = await self.bot.gate.image_options(interaction.guild_id, interaction.user.id, kwargs)
        params = ImageParams(**kwargs, sample_strength=0.5 if strength is None else strength)
        await actions.launch_image(self.bot, interaction, params, refs)

    @compose.autocomplete("model")
    async def compose_model(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "image", current)

    # ------------------------------------------------------------------------------------------- context menu
    async def compose_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Message menu → a modal for the prompt (and extra uploads); references are the message's images."""
        gate = self.bot.gate
        lang = gate.lang(interaction.locale, interaction.guild_id, interaction.user.id)
        refs = actions.message_images(message)
        if not refs:
            raise BotError("e_no_images")
        await gate.admit(interaction)  # before the member types a prompt in vain
        actions.check_reference_count(self.bot, len(refs))
        # the member's defaults ride along as the form's spec (the form's prompt replaces the stand-in)
        spec = await gate.image_options(interaction.guild_id, interaction.user.id, {"prompt": ""})
        modal = ComposeModal(title=t(lang, "modal_title"), lang=lang, refs=refs, spec=spec)
        await interaction.response.send_modal(modal)

    # ------------------------------------------------------------------------------------------- replies
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A member mentions the bot with a prompt, replying to a message with images and/or attaching images."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        mention = re.compile(rf"<@!?{me.id}>")
        if not mention.search(message.content):
            return
        gate = self.bot.gate
        surface_lang = gate.lang(message.guild.preferred_locale, message.guild.id, message.author.id)
        try:
            if not await gate.admit_message(message):  # not a channel the bot works in: silence
                return
        except BotError as err:
            await self._reply(message, error_text(err, surface_lang))
            return
        prompt = mention.sub("", message.content).strip()
        refs: list[actions.RefSource] = []
        unseen: discord.abc.User | None = None
        referenced = await self._referenced(message)
        if referenced is not None:
            found = actions.message_images(referenced)
            refs.extend(found)
            if not found and not self.bot.intents.message_content and referenced.author.id != me.id:
                unseen = referenced.author  # its content and attachments are hidden from us without the intent
        refs.extend(a for a in message.attachments if actions.is_image_attachment(a))
        warning = t(surface_lang, "e_intent", author=unseen.display_name) if unseen is not None else None
        try:
            if unseen is not None and not refs:
                raise BotError("e_intent", author=unseen.display_name)
            if referenced is not None and not refs:
                raise BotError("e_no_images")
            if not prompt:
                raise BotError("e_no_prompt")
            kwargs = await gate.image_options(message.guild.id, message.author.id, apply_flags(prompt, {}))
            actions.launch_from_message(self.bot, message, ImageParams(**kwargs), refs, warning=warning)
        except Exception as err:
            if not isinstance(err, BotError | JimengError):
                log.exception("reply-compose failed for user %s in guild %s", message.author.id, message.guild.id)
            await self._reply(message, error_text(err, surface_lang))

    @staticmethod
    async def _reply(message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False)
        except discord.HTTPException as exc:
            log.warning("could not reply in channel %s (%s)", message.channel.id, exc)

    async def _referenced(self, message: discord.Message) -> discord.Message | None:
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        if isinstance(ref.resolved, discord.Message):
            return ref.resolved
        try:
            return await message.channel.fetch_message(ref.message_id)
        except discord.HTTPException:
            return None


async def setup(bot: JimengBot) -> None:
    await bot.add_cog(Images(bot))
