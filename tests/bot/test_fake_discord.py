"""Prove tests/fakes/discord.py with a real discord.py 2.7 client (a throwaway bot defined here)."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord
import discord.gateway
import discord.http
from discord import app_commands
from discord.ext import commands

from tests.bot.harness import run_bot
from tests.fakes.discord import FakeDiscord, Perm

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# ------------------------------------------------------------------------------------------- the throwaway bot
class JobButton(discord.ui.DynamicItem[discord.ui.Button], template=r"job:reroll:(?P<job>\w+)"):
    def __init__(self, job: str) -> None:
        super().__init__(discord.ui.Button(label="Reroll", custom_id=f"job:reroll:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> JobButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: TestBot = interaction.client  # type: ignore[assignment]
        bot.events.append(("reroll", self.job, interaction.user.id))
        await interaction.response.send_message(f"rerolling {self.job}", ephemeral=True)


class ComposeModal(discord.ui.Modal, title="Compose"):
    prompt = discord.ui.Label(text="Prompt", component=discord.ui.TextInput(custom_id="prompt"))
    images = discord.ui.Label(
        text="Images", component=discord.ui.FileUpload(custom_id="images", min_values=1, max_values=10)
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot: TestBot = interaction.client  # type: ignore[assignment]
        text = self.prompt.component.value  # type: ignore[attr-defined]
        files = self.images.component.values  # type: ignore[attr-defined]
        blobs = [await a.read() for a in files]
        bot.events.append(("modal", text, [len(b) for b in blobs]))
        await interaction.response.send_message(f"{text}: {len(blobs)} images")


@app_commands.command(name="ping", description="defer, edit, read back")
async def ping(interaction: discord.Interaction) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content="pong")
    msg = await interaction.original_response()
    bot.events.append(("pong", msg.content, interaction.filesize_limit))


@app_commands.command(name="gated", description="waits for the test before deferring / editing")
@app_commands.describe(defer_first="defer before waiting")
async def gated(interaction: discord.Interaction, defer_first: bool = False) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    if defer_first:
        await interaction.response.defer(thinking=True)
    await bot.gate.wait()
    if not defer_first:
        await interaction.response.defer(thinking=True)
    try:
        await interaction.edit_original_response(content="done")
    except discord.HTTPException as e:
        bot.events.append(("edit_failed", e.status, e.code))
        await interaction.channel.send(f"{interaction.user.mention} done")  # type: ignore[union-attr]
        bot.events.append(("fallback",))
    else:
        bot.events.append(("edited",))


@app_commands.command(name="upload", description="upload a file of a given size")
async def upload(interaction: discord.Interaction, size: int, to_channel: bool = False) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    file = discord.File(io.BytesIO(b"x" * size), "out.bin")
    try:
        if to_channel:
            await interaction.response.send_message("posting", ephemeral=True)
            await interaction.channel.send(file=file)  # type: ignore[union-attr]
        else:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(attachments=[file])
        bot.events.append(("uploaded", size))
    except discord.HTTPException as e:
        bot.events.append(("upload_failed", e.status, e.code))


@app_commands.command(name="result", description="post a result with a persistent button")
async def result(interaction: discord.Interaction, job: str) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton(job))
    await interaction.response.send_message(f"result {job}", view=view)


@app_commands.command(name="compose", description="open a modal with a file upload")
async def compose(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(ComposeModal())


@app_commands.command(name="draw", description="autocomplete + attachment options")
async def draw(interaction: discord.Interaction, ratio: str, image: discord.Attachment | None = None) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    data = await image.read() if image else b""
    bot.events.append(("draw", ratio, len(data), image.content_type if image else None))
    await interaction.response.send_message(f"drawing {ratio}", file=discord.File(io.BytesIO(PNG), "r.png"))


@draw.autocomplete("ratio")
async def ratio_ac(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=r, value=r) for r in ("1:1", "16:9", "9:16") if current in r]


@app_commands.command(name="credits", description="admin only")
@app_commands.default_permissions(manage_guild=True)
@app_commands.checks.has_permissions(manage_guild=True)
async def credits_cmd(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("credits: 42", ephemeral=True)


@app_commands.context_menu(name="Inspect images")
async def inspect_images(interaction: discord.Interaction, message: discord.Message) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    await interaction.response.defer(thinking=True)
    blobs = [await a.read() for a in message.attachments]
    bot.events.append(("inspect", [len(b) for b in blobs]))
    await interaction.followup.send(f"{len(blobs)} images", file=discord.File(io.BytesIO(PNG), "composed.png"))


class TestBot(commands.Bot):
    __test__ = False

    def __init__(self, *, message_content: bool = False, sync: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.05, help_command=None)
        self.events: list[Any] = []
        self.messages: list[discord.Message] = []
        self.gate = asyncio.Event()
        self.do_sync = sync

    async def setup_hook(self) -> None:
        self.add_dynamic_items(JobButton)
        for cmd in (ping, gated, upload, result, compose, draw, credits_cmd, inspect_images):
            self.tree.add_command(cmd)
        self.tree.on_error = self.on_tree_error  # type: ignore[method-assign]
        if self.do_sync:
            await self.tree.sync()

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        self.events.append(("error", type(original).__name__, getattr(original, "code", None)))

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id != self.user.id:  # type: ignore[union-attr]
            self.messages.append(message)


def has(bot: TestBot, event: tuple[Any, ...]) -> Any:
    return event in bot.events


# ------------------------------------------------------------------------------------------- tests
async def test_login_identify_sync_and_patch_restore(discord_fake: FakeDiscord) -> None:
    old_base = discord.http.Route.BASE
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        assert fake.api_base == discord.http.Route.BASE
        assert [c.route for c in fake.calls[:2]] == ["GET /users/@me", "GET /oauth2/applications/@me"]
        assert all(c.headers.get("Authorization") == "Bot test-token" for c in fake.calls)
        assert fake.identifies[0]["intents"] == discord.Intents.default().value
        assert fake.connections[0].query["encoding"] == "json"
        assert fake.sync_count == 1
        by_name = {c["name"]: c for c in fake.commands()}
        assert by_name["Inspect images"]["type"] == 3
        assert by_name["credits"]["default_member_permissions"] == str(Perm.MANAGE_GUILD)
        assert bot.get_guild(fake.guild.id) is not None
        channel = bot.get_channel(fake.channel.id)
        assert isinstance(channel, discord.TextChannel)
        assert channel.permissions_for(channel.guild.me).attach_files
        assert channel.guild.me.id == fake.bot_user.id  # without GUILD_MEMBERS only the bot's member arrives
    assert old_base == discord.http.Route.BASE
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_heartbeat_is_acked() -> None:
    fake = FakeDiscord(heartbeat_interval_ms=50)
    async with run_bot(TestBot(sync=False), fake=fake):
        ws = fake.connections[0]
        await fake.wait_until(lambda: ws.seq >= 2)  # READY + GUILD_CREATE
        await asyncio.sleep(0.2)  # several heartbeats; a missing ACK would make discord.py reconnect
        assert len(fake.identifies) == 1 and len(fake.connections) == 1
    assert not fake.connections  # run_bot started this fake, so it stopped it too
