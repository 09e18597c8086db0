"""Videos: /video with optional first/last frames, or references (images, videos, audio) for omni models (the
"Animate" button lives with the result buttons in bot/)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot import actions
from bot.bot import JimengBot
from bot.omni_ui import launch_omni
from bot.render import BotError
from cogs.images import model_choices
from core import VideoParams
from core.wire import VIDEO_RATIOS

log = logging.getLogger(__name__)

VIDEO_RATIO_CHOICES = [app_commands.Choice(name=r, value=r) for r in VIDEO_RATIOS]
VIDEO_RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in ("720p", "1080p")]


class Videos(commands.Cog):
    def __init__(self, bot: JimengBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=_("video"),
        description=_("Generate a video from a prompt (optional first/last frames, or references for omni models)"),
    )
    @app_commands.rename(
        prompt=_("prompt"),
        model=_("model"),
        duration=_("duration"),
        ratio=_("ratio"),
        resolution=_("resolution"),
        first_frame=_("first_frame"),
        last_frame=_("last_frame"),
        reference1=_("reference1"),
        reference2=_("reference2"),
        reference3=_("reference3"),
        reference4=_("reference4"),
    )
    @app_commands.describe(
        prompt=_("What should happen in the video"),
        model=_("Jimeng model (default: the server's default)"),
        duration=_("Length in seconds"),
        ratio=_("Aspect ratio"),
        resolution=_("Output resolution"),
        first_frame=_("Image to start from"),
        last_frame=_("Image to end on"),
        reference1=_("An image, video or audio file the video refers to (omni models)"),
        reference2=_("An image, video or audio file the video refers to (omni models)"),
        reference3=_("An image, video or audio file the video refers to (omni models)"),
        reference4=_("An image, video or audio file the video refers to (omni models)"),
    )
    @app_commands.choices(ratio=VIDEO_RATIO_CHOICES, resolution=VIDEO_RESOLUTION_CHOICES)
    @app_commands.guild_only()
    async def video(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 0, 2000] = "",
        model: str | None = None,
        duration: app_commands.Range[int, 1, 15] | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        first_frame: discord.Attachment | None = None,
        last_frame: discord.Attachment | None = None,
        reference1: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
        reference4: discord.Attachment | None = None,
    ) -> None:
        model = await self.bot.gate.video_model(interaction.guild_id, interaction.user.id, model or None)
        params = VideoParams(prompt=prompt, model=model, duration=duration, ratio=ratio, resolution=resolution)
        refs = [r for r in (reference1, reference2, reference3, reference4) if r is not None]
        if refs:  # omni reference (Seedance 2.0): images, videos, audio
            if first_frame is not None or last_frame is not None:
                raise BotError("e_refs_and_frames")
            await launch_omni(self.bot, interaction, params, refs)
            return
        await actions.launch_video(self.bot, interaction, params, first=first_frame, last=last_frame)

    @video.autocomplete("model")
    async def video_model(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot, "video", current)


async def setup(bot: JimengBot) -> None:
    await bot.add_cog(Videos(bot))
