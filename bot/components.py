"""Message components: the compose modal, the result buttons (Reroll, Vary, Animate) and the image select.

Buttons and the select are DynamicItems: the job id lives in the custom_id and the job is looked up in the engine's
store, so they keep working after a restart (as long as the store survives)."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot import actions
from bot.actions import bot_of as _bot
from bot.actions import job_record as _record
from bot.i18n import language, t
from bot.omni_ui import is_omni_only, launch_omni, omni_models, reroll_omni
from bot.render import BotError
from bot.tools_ui import TOOL_ITEMS, offered, tool_buttons
from bot.tools_ui import rerun as rerun_tool
from core import ImageParams, JobRecord, VideoParams

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

JOB = r"(?P<job>[A-Za-z0-9_-]{1,64})"
MAX_MODAL_FILES = 10


def _asset(record: JobRecord, n: int) -> Any:
    assets = [a for a in actions.result_assets(record) if a.kind == "image"]
    if not 1 <= n <= len(assets):
        raise BotError("e_job_gone", job=record.id)
    return assets[n - 1]


class ComposeModal(discord.ui.Modal):
    """Prompt + optional extra images; composes from ``refs`` plus the uploads. With ``spec`` (Vary) the source job's
    settings (model, ratio, resolution, count, strength) are kept and only the prompt is the member's."""

    def __init__(
        self,
        *,
        title: str,
        lang: str,
        refs: Sequence[actions.RefSource],
        prompt: str = "",
        spec: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title=title[:45], timeout=600)
        self.refs = list(refs)
        self.spec = spec
        self.prompt_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="prompt", style=discord.TextStyle.paragraph, max_length=2000, default=prompt or None
        )
        self.upload = discord.ui.FileUpload(
            custom_id="images", required=False, min_values=0, max_values=MAX_MODAL_FILES
        )
        self.add_item(discord.ui.Label(text=t(lang, "modal_prompt"), component=self.prompt_input))
        self.add_item(
            discord.ui.Label(
                text=t(lang, "modal_images"), description=t(lang, "modal_images_desc"), component=self.upload
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        refs = [*self.refs, *self.upload.values]
        prompt = self.prompt_input.value
        params = ImageParams.from_spec(self.spec, prompt=prompt) if self.spec else ImageParams(prompt=prompt)
        await actions.launch_image(bot, interaction, params, refs)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await _bot(interaction).report_error(interaction, error)


class AnimateModal(discord.ui.Modal):
    """Animate: the video's prompt, duration, ratio and model, prefilled from the source image and the defaults."""

    def __init__(
        self, *, title: str, lang: str, first: Any, prompt: str, ratio: str, model: str, omni: Sequence[str] = ()
    ) -> None:
        super().__init__(title=title[:45], timeout=600)
        self.lang, self.first = lang, first
        # the omni models (Seedance 2.0) the catalogue offers here take the image as a reference instead of a frame
        hint = t(lang, "animate_model_desc", models=", ".join(m.removeprefix("jimeng-video-") for m in omni))

        def field(key: str, default: str, max_length: int, style: Any = discord.TextStyle.short) -> Any:
            item: discord.ui.TextInput[Any] = discord.ui.TextInput(
                custom_id=key, style=style, max_length=max_length, default=default or None, required=key == "duration"
            )
            desc = hint[:100] if key == "model" and omni else None
            self.add_item(discord.ui.Label(text=t(lang, f"modal_{key}"), description=desc, component=item))
            return item

        self.prompt_input = field("prompt", prompt, 2000, discord.TextStyle.paragraph)
        self.duration = field("duration", "5", 3)
        self.ratio = field("ratio", ratio, 10)
        self.model = field("model", model, 64)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        raw = self.duration.value.strip()
        if not raw.isdigit():
            raise BotError("e_flag_value", flag=t(self.lang, "modal_duration"), value=raw or "—", allowed="5, 10")
        params = VideoParams(
            prompt=self.prompt_input.value,
            duration=int(raw),
            ratio=self.ratio.value.strip() or None,
            model=self.model.value.strip() or None,
        )
        if is_omni_only(_bot(interaction), params.model):  # takes no frames: the image is reference @1
            await launch_omni(_bot(interaction), interaction, params, [self.first])
            return
        await actions.launch_video(_bot(interaction), interaction, params, first=self.first)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await _bot(interaction).report_error(interaction, error)


class _JobItem:
    """Shared callback plumbing: errors go to the bot's one error handler."""

    async def _guarded(self, interaction: discord.Interaction, coro: Any) -> None:
        try:
            await coro
        except Exception as err:
            await _bot(interaction).report_error(interaction, err)


class RerollButton(_JobItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:reroll:{JOB}"):
    def __init__(self, job_id: str, *, label: str = "Reroll") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="🔄", style=discord.ButtonStyle.secondary, custom_id=f"jimeng:reroll:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> RerollButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            record = await _record(interaction, self.job_id)
            if record.kind == "tool":  # the same tool on the same image
                await rerun_tool(_bot(interaction), interaction, record)
                return
            if record.kind == "video" and record.spec.get("mode") == "omni":  # the references kept in memory
                await reroll_omni(_bot(interaction), interaction, record)
                return
            await actions.reroll(_bot(interaction), interaction, record)

        await self._guarded(interaction, run())


class VaryButton(_JobItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:vary:{JOB}:(?P<n>\d+)"):
    def __init__(self, job_id: str, n: int, *, label: str = "Vary") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="🪄", style=discord.ButtonStyle.secondary, custom_id=f"jimeng:vary:{job_id}:{n}"
            )
        )
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> VaryButton:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            record = await _record(interaction, self.job_id)
            asset = _asset(record, self.n)
            lang = language(interaction.locale, _bot(interaction).config.locale)
            prompt = ImageParams.from_spec(record.spec).prompt
            modal = ComposeModal(
                title=t(lang, "vary_title", n=self.n), lang=lang, refs=[asset], prompt=prompt, spec=dict(record.spec)
            )
            await interaction.response.send_modal(modal)

        await self._guarded(interaction, run())


class AnimateButton(
    _JobItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:animate:{JOB}:(?P<n>\d+)"
):
    def __init__(self, job_id: str, n: int, *, label: str = "Animate") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="🎬", style=discord.ButtonStyle.secondary, custom_id=f"jimeng:animate:{job_id}:{n}"
            )
        )
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> AnimateButton:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            bot = _bot(interaction)
            record = await _record(interaction, self.job_id)
            asset = _asset(record, self.n)
            source = ImageParams.from_spec(record.spec)
            lang = language(interaction.locale, bot.config.locale)
            modal = AnimateModal(
                title=t(lang, "animate_title", n=self.n),
                lang=lang,
                first=asset,
                prompt=source.prompt,
                ratio="" if source.ratio in (None, "auto") else str(source.ratio),
                model=bot.engine.config.default_video_model,
                omni=omni_models(bot),
            )
            await interaction.response.send_modal(modal)

        await self._guarded(interaction, run())


class PickSelect(_JobItem, discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"jimeng:pick:{JOB}"):
    """Which image Vary / Animate use. The choice is the member's own: it answers with an ephemeral message carrying
    Vary / Animate for that image, and the shared result message stays as it is for everyone else."""

    def __init__(self, job_id: str, *, count: int = 1, chosen: int = 1, lang: str = "en-US") -> None:
        options = [
            discord.SelectOption(label=t(lang, "pick_option", n=n), value=str(n), default=n == chosen)
            for n in range(1, max(1, count) + 1)
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"jimeng:pick:{job_id}", placeholder=t(lang, "pick"), options=options, min_values=1
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select[Any], match: re.Match[str]
    ) -> PickSelect:
        return cls(match["job"], count=max(1, len(item.options)))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            record = await _record(interaction, self.job_id)
            values = (interaction.data or {}).get("values") or ["1"]  # type: ignore[union-attr]
            chosen = int(values[0])
            _asset(record, chosen)  # still there
            lang = language(interaction.locale, _bot(interaction).config.locale)
            view = discord.ui.View(timeout=None)
            view.add_item(VaryButton(record.id, chosen, label=t(lang, "vary", n=chosen)))
            view.add_item(AnimateButton(record.id, chosen, label=t(lang, "animate", n=chosen)))
            for item in tool_buttons(offered(_bot(interaction)), record.id, chosen, lang):
                view.add_item(item)
            await interaction.response.send_message(t(lang, "picked", n=chosen), view=view, ephemeral=True)

        await self._guarded(interaction, run())


class DeleteButton(_JobItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:delete:{JOB}"):
    """Deletes the result message: for the member who asked for it, and for members who may manage messages."""

    def __init__(self, job_id: str, *, label: str = "Delete") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="🗑️", style=discord.ButtonStyle.secondary, custom_id=f"jimeng:delete:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> DeleteButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            record = await _record(interaction, self.job_id)
            perms = interaction.permissions
            if record.owner.get("user_id") != interaction.user.id and not (perms.manage_messages or perms.manage_guild):
                raise BotError("e_delete_not_yours")
            await interaction.response.defer()
            if interaction.message is not None:
                await interaction.message.delete()

        await self._guarded(interaction, run())


def result_view(
    job_id: str, *, kind: str, images: int, lang: str, chosen: int = 1, tools: Collection[str] = ()
) -> discord.ui.View:
    """Reroll for every result; with images also Vary / Animate for the chosen one, and a select when several; on a
    row of their own the image tools among ``tools`` (``bot.tools_ui.offered``)."""
    view = discord.ui.View(timeout=None)
    if kind != "video" and images > 1:
        view.add_item(PickSelect(job_id, count=images, chosen=chosen, lang=lang))
    view.add_item(RerollButton(job_id, label=t(lang, "reroll")))
    if kind != "video" and images:
        view.add_item(VaryButton(job_id, chosen, label=t(lang, "vary", n=chosen)))
        view.add_item(AnimateButton(job_id, chosen, label=t(lang, "animate", n=chosen)))
    view.add_item(DeleteButton(job_id, label=t(lang, "delete")))
    if kind != "video" and images:
        for item in tool_buttons(tools, job_id, chosen, lang, row=2 if images > 1 else 1):
            view.add_item(item)
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RerollButton,
    VaryButton,
    AnimateButton,
    PickSelect,
    DeleteButton,
    *TOOL_ITEMS,
)
