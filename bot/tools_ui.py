"""Image tools on results (issue #14): Upscale, Zoom out and Detail, per chosen image.

The buttons are DynamicItems like the other result buttons (the job id and the image's number live in the custom_id;
the job is found in the engine's store), so they keep working after a restart. Upscale asks which mode when the
accounts offer both, Zoom out asks 1.5×, 2× or a ratio (an ephemeral message only the member sees), Detail runs at
once. The tool job then runs like any other: the fair queue, the throttled status, delivery within Discord's limits.

Refusals are ephemeral: ``check_tool`` (params, the region's capability) before the defer; what core can only say once
it looked at the source image (too small / too large, gone) arrives before the job exists, and then the public
"Starting…" status is replaced by an ephemeral message (``PrecheckSurface``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import discord

import bot.strings_tools  # noqa: F401  (registers the strings)
from bot.actions import bot_of as _bot
from bot.actions import job_record as _record
from bot.actions import lang_of, owner_of, result_assets
from bot.i18n import t
from bot.render import BotError
from bot.surfaces import InteractionSurface
from core import InvalidRequestError, JobRecord, UploadError
from core.results import Asset
from core.tools import ImageRef, ToolParams, available
from core.wire import RATIOS

if TYPE_CHECKING:
    from bot.bot import JimengBot

log = logging.getLogger(__name__)

JOB = r"(?P<job>[A-Za-z0-9_-]{1,64})"
N = r"(?P<n>\d{1,2})"
ZOOMS = ("1.5", "2")


def _image(record: JobRecord, n: int) -> Asset:
    """Image ``n`` (from 1) of ``record`` (core checks the rest when the job starts: state, account, item ids)."""
    images = [a for a in result_assets(record) if a.kind == "image"]
    if not 1 <= n <= len(images):
        raise BotError("e_not_image_result", n=n, job=record.id)
    return images[n - 1]


def precheck(bot: JimengBot, params: ToolParams, record: JobRecord, image: Asset) -> None:
    """Core's own checks that need no I/O — the params, the region's capability, the source's size (and an outpaint's
    canvas) from the size the stored result records, as core reads it — so these refusals are ephemeral, before the
    defer."""
    result = record.result or {}
    width, height = image.width or result.get("width") or 0, image.height or result.get("height") or 0
    if width and height:
        bot.engine.check_tool(params, width=int(width), height=int(height))
    else:
        bot.engine.check_tool(params)


def offered(bot: JimengBot) -> set[str]:
    """Capability names (``upscale-hd``, ``upscale-pro``, ``outpaint``, ``detail``) the accounts' sites offer."""
    try:
        return {info.name for info in available(bot.engine.regions())}
    except Exception:  # no account yet / a region we do not know: show no tool buttons rather than fail a result
        log.exception("could not list the image tools")
        return set()


class PrecheckSurface(InteractionSurface):
    """An interaction surface whose refusals found before the job exists (core looked at the source and said no)
    replace the public status with an ephemeral message: only the member needs to read them."""

    refused = False

    async def fail(self, text: str) -> None:
        if self.refused and not self.expired:
            try:
                await self.interaction.delete_original_response()
                await self.interaction.followup.send(text, ephemeral=True)
                return
            except discord.HTTPException as exc:
                log.info("could not turn a refusal into an ephemeral message (%s)", exc)
        await super().fail(text)


def describe(lang: str, params: ToolParams, job_id: str, n: int) -> str:
    """What the status and the result's embed say the job is."""
    if params.tool == "upscale":
        return t(lang, "tool_upscale", mode=t(lang, f"upscale_{params.mode}"), n=n, job=job_id)
    if params.tool == "outpaint":
        if params.ratio:
            how = t(lang, "zoom_to", ratio=params.ratio)
        elif params.zoom:
            how = t(lang, "zoom_by", x=f"{params.zoom:g}")
        else:
            how = "…"
        return t(lang, "tool_outpaint", how=how, n=n, job=job_id)
    return t(lang, "tool_detail", n=n, job=job_id)


async def launch_tool(
    bot: JimengBot, interaction: discord.Interaction, job_id: str, n: int, params: ToolParams
) -> None:
    """Admit (channel, role, quota), check (ephemeral refusals), defer, run the tool on image ``n`` of ``job_id``;
    the result is public."""
    await bot.gate.admit(interaction)
    record = await _record(interaction, job_id)
    precheck(bot, params, record, _image(record, n))
    await interaction.response.defer(thinking=True)
    lang = lang_of(bot, interaction)
    surface = PrecheckSurface(bot, interaction)
    owner = owner_of(interaction.user, interaction.guild_id, interaction.channel_id, lang)
    source = ImageRef(job_id=job_id, index=n - 1)

    async def start(owner: dict[str, Any]) -> Any:
        try:
            return await bot.engine.tool(params, source, owner=owner)
        except (InvalidRequestError, UploadError):
            surface.refused = True
            raise

    bot.runner.start(surface, kind=params.tool, prompt=describe(lang, params, job_id, n), start=start, owner=owner)


def recovered_text(job: Any, lang: str) -> tuple[str, str]:
    """The kind (the title) and the line describing a tool job a previous process started."""
    source = ImageRef.from_spec(job.spec)
    if source is None:
        return "tool", ""
    return job.spec.tool, describe(lang, ToolParams.from_spec(job.spec), source.job_id, source.index + 1)


async def rerun(bot: JimengBot, interaction: discord.Interaction, record: JobRecord) -> None:
    """Reroll of a tool result: the same tool on the same source image (an uploaded source is not offered)."""
    source = ImageRef.from_spec(record.spec)
    if source is None:
        raise BotError("e_refs_gone", job=record.id)
    await launch_tool(bot, interaction, source.job_id, source.index + 1, ToolParams.from_spec(record.spec))


# ----------------------------------------------------------------------------------------------- components
class _Item:
    async def _guarded(self, interaction: discord.Interaction, coro: Any) -> None:
        try:
            await coro
        except Exception as err:
            await _bot(interaction).report_error(interaction, err)


def _button(custom_id: str, label: str, emoji: str | None = None) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=label[:80], emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id)


class UpscaleButton(_Item, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:upscale:{JOB}:{N}"):
    """Upscale image ``n``: at once when one mode is offered, else an ephemeral choice of HD / Pro."""

    def __init__(self, job_id: str, n: int, *, label: str = "Upscale") -> None:
        super().__init__(_button(f"jimeng:upscale:{job_id}:{n}", label, "🔍"))
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> UpscaleButton:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            bot = _bot(interaction)
            await bot.gate.admit(interaction)  # refused members are told before they choose
            record = await _record(interaction, self.job_id)
            image = _image(record, self.n)
            modes = [m for m in ("hd", "pro") if f"upscale-{m}" in offered(bot)]
            precheck(bot, ToolParams(tool="upscale", mode=modes[0] if modes else "hd"), record, image)
            if len(modes) <= 1:  # one mode, or none (check_tool then says why)
                await launch_tool(
                    bot, interaction, self.job_id, self.n, ToolParams(tool="upscale", mode=modes[0] if modes else "hd")
                )
                return
            lang = lang_of(bot, interaction)
            view = discord.ui.View(timeout=None)
            for mode in modes:
                view.add_item(UpscaleModeButton(self.job_id, self.n, mode, label=t(lang, f"upscale_{mode}")))
            await interaction.response.send_message(t(lang, "upscale_choose", n=self.n), view=view, ephemeral=True)

        await self._guarded(interaction, run())


class UpscaleModeButton(
    _Item, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:upmode:{JOB}:{N}:(?P<mode>hd|pro)"
):
    def __init__(self, job_id: str, n: int, mode: str, *, label: str = "HD") -> None:
        super().__init__(_button(f"jimeng:upmode:{job_id}:{n}:{mode}", label))
        self.job_id, self.n, self.mode = job_id, n, mode

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> UpscaleModeButton:
        return cls(match["job"], int(match["n"]), match["mode"])

    async def callback(self, interaction: discord.Interaction) -> None:
        params = ToolParams(tool="upscale", mode="pro" if self.mode == "pro" else "hd")
        await self._guarded(interaction, launch_tool(_bot(interaction), interaction, self.job_id, self.n, params))


class ZoomButton(_Item, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:zoom:{JOB}:{N}"):
    """Zoom out image ``n``: an ephemeral choice of 1.5×, 2× or an aspect ratio."""

    def __init__(self, job_id: str, n: int, *, label: str = "Zoom out") -> None:
        super().__init__(_button(f"jimeng:zoom:{job_id}:{n}", label, "↔️"))
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> ZoomButton:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            bot = _bot(interaction)
            await bot.gate.admit(interaction)  # refused members are told before they choose
            record = await _record(interaction, self.job_id)
            precheck(
                bot, ToolParams(tool="outpaint"), record, _image(record, self.n)
            )  # offered here, and a size it takes: before the choices
            lang = lang_of(bot, interaction)
            view = discord.ui.View(timeout=None)
            for x in ZOOMS:
                view.add_item(ZoomByButton(self.job_id, self.n, x, label=t(lang, "zoom_by", x=x)))
            view.add_item(ZoomRatioSelect(self.job_id, self.n, lang=lang))
            await interaction.response.send_message(t(lang, "zoom_choose", n=self.n), view=view, ephemeral=True)

        await self._guarded(interaction, run())


class ZoomByButton(
    _Item, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:zoomx:{JOB}:{N}:(?P<x>1\.5|2)"
):
    def __init__(self, job_id: str, n: int, x: str, *, label: str = "") -> None:
        super().__init__(_button(f"jimeng:zoomx:{job_id}:{n}:{x}", label or f"{x}×"))
        self.job_id, self.n, self.x = job_id, n, x

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> ZoomByButton:
        return cls(match["job"], int(match["n"]), match["x"])

    async def callback(self, interaction: discord.Interaction) -> None:
        params = ToolParams(tool="outpaint", zoom=float(self.x))
        await self._guarded(interaction, launch_tool(_bot(interaction), interaction, self.job_id, self.n, params))


class ZoomRatioSelect(_Item, discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"jimeng:zoomr:{JOB}:{N}"):
    def __init__(self, job_id: str, n: int, *, lang: str = "en-US") -> None:
        options = [discord.SelectOption(label=t(lang, "zoom_ratio_option", ratio=r), value=r) for r in RATIOS[:25]]
        super().__init__(
            discord.ui.Select(
                custom_id=f"jimeng:zoomr:{job_id}:{n}", placeholder=t(lang, "zoom_ratio"), options=options
            )
        )
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select[Any], match: re.Match[str]
    ) -> ZoomRatioSelect:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        values = (interaction.data or {}).get("values") or []  # type: ignore[union-attr]
        ratio = str(values[0]) if values else ""

        async def run() -> None:
            if ratio not in RATIOS:
                raise BotError("e_flag_value", flag="ratio", value=ratio or "—", allowed=", ".join(RATIOS))
            params = ToolParams(tool="outpaint", ratio=ratio)
            await launch_tool(_bot(interaction), interaction, self.job_id, self.n, params)

        await self._guarded(interaction, run())


class DetailButton(_Item, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"jimeng:detail:{JOB}:{N}"):
    def __init__(self, job_id: str, n: int, *, label: str = "Detail") -> None:
        super().__init__(_button(f"jimeng:detail:{job_id}:{n}", label, "✨"))
        self.job_id, self.n = job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> DetailButton:
        return cls(match["job"], int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def run() -> None:
            await launch_tool(_bot(interaction), interaction, self.job_id, self.n, ToolParams(tool="detail"))

        await self._guarded(interaction, run())


def tool_buttons(have: Collection[str], job_id: str, n: int, lang: str, *, row: int | None = None) -> list[Any]:
    """The tool buttons for image ``n`` among the capabilities ``have`` (``offered(bot)``)."""
    items: list[Any] = []
    if "upscale-hd" in have or "upscale-pro" in have:
        items.append(UpscaleButton(job_id, n, label=t(lang, "upscale", n=n)))
    if "outpaint" in have:
        items.append(ZoomButton(job_id, n, label=t(lang, "zoom", n=n)))
    if "detail" in have:
        items.append(DetailButton(job_id, n, label=t(lang, "detail", n=n)))
    for item in items:
        item.item.row = row
    return items


TOOL_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    UpscaleButton,
    UpscaleModeButton,
    ZoomButton,
    ZoomByButton,
    ZoomRatioSelect,
    DetailButton,
)
