"""Prove tests/fakes/discord.py with a real discord.py 2.7 client (a throwaway bot defined here)."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from tests.bot.harness import run_bot
from tests.fakes.discord import FakeDiscord, MiB, Perm

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


@app_commands.command(name="dm", description="deliver by DM")
async def dm(interaction: discord.Interaction) -> None:
    bot: TestBot = interaction.client  # type: ignore[assignment]
    await interaction.response.defer(ephemeral=True, thinking=True)
    member = await interaction.guild.fetch_member(interaction.user.id)  # type: ignore[union-attr]
    try:
        await member.send("your result", file=discord.File(io.BytesIO(PNG), "r.png"))
        bot.events.append(("dm_ok", member.display_name))
    except discord.Forbidden as e:
        bot.events.append(("dm_failed", e.code))
    await interaction.followup.send("ok", ephemeral=True)


class TestBot(commands.Bot):
    __test__ = False

    def __init__(self, *, message_content: bool = False, members: bool = False, sync: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        intents.members = members
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.05, help_command=None)
        self.events: list[Any] = []
        self.messages: list[discord.Message] = []
        self.gate = asyncio.Event()
        self.do_sync = sync

    async def setup_hook(self) -> None:
        self.add_dynamic_items(JobButton)
        for cmd in (ping, gated, upload, result, compose, draw, credits_cmd, inspect_images, dm):
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


async def test_ping_defer_edit_and_read_back(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ix = await fake.slash("ping")
        cb = await ix.wait_callback()
        assert cb.status == 200 and cb.json == {"type": 5}
        assert cb.query.get("with_response") in ("1", "true", "True")
        assert cb.response["interaction"]["id"] == ix.id and cb.response["interaction"]["response_message_loading"]
        await fake.wait_until(lambda: bot.events)
        assert bot.events == [("pong", "pong", 10 * MiB)]
        patch = fake.calls_matching("PATCH", "/messages/@original")[0]
        assert patch.route == "PATCH /webhooks/{app}/{token}/messages/@original" and patch.json["content"] == "pong"
        assert fake.calls_matching("GET", "/messages/@original")[0].status == 200
        assert ix.original is not None and ix.original["content"] == "pong"
        assert not ix.original["flags"] & 128  # the loading flag went away with the edit
        assert ix.original["interaction_metadata"]["user"]["id"] == str(fake.user.id)


async def test_callback_later_than_3s_is_10062(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        # by the fake's clock: the bot only defers after the test moved time on by 4 s
        ix = await fake.slash("gated")
        await asyncio.sleep(0.05)
        fake.advance(4)
        bot.gate.set()
        cb = await ix.wait_callback()
        assert (cb.status, cb.error_code) == (404, 10062)
        await fake.wait_until(lambda: has(bot, ("error", "NotFound", 10062)))
        # an interaction that was already 5 s old when it arrived (minted with an old snowflake)
        bot.gate.clear()
        old = await fake.slash("ping", age=5)
        assert (await old.wait_callback()).error_code == 10062
        # an interaction the fake never sent
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{fake.api_base}/interactions/1/nope/callback", json={"type": 5}) as resp:
                assert resp.status == 404 and resp.headers["Content-Type"] == "application/json"
                assert (await resp.json())["code"] == 10062


async def test_second_ack_is_40060_when_two_processes_share_a_token(discord_fake: FakeDiscord) -> None:
    first, second = TestBot(), TestBot(sync=False)
    async with run_bot(first, fake=discord_fake) as fake, run_bot(second, fake=fake):
        assert len(fake.connections) == 2
        ix = await fake.slash("credits", user=fake.admin)
        await fake.wait_for_call("POST", f"/interactions/{ix.id}/", count=2)
        assert sorted(c.status for c in ix.callbacks) == [200, 400]
        assert {c.error_code for c in ix.callbacks} == {None, 40060}
        await fake.wait_until(
            lambda: has(first, ("error", "HTTPException", 40060)) or has(second, ("error", "HTTPException", 40060))
        )


async def test_expired_token_is_50027_then_channel_fallback(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ix = await fake.slash("gated", {"defer_first": True})
        assert (await ix.wait_callback()).status == 200
        fake.advance(15 * 60 + 1)  # the token is 15 min old by the fake's clock
        bot.gate.set()
        await fake.wait_until(lambda: has(bot, ("fallback",)))
        assert ("edit_failed", 401, 50027) in bot.events
        post = fake.calls_matching("POST", f"/channels/{fake.channel.id}/messages")[0]
        assert post.status == 200 and post.json["content"] == f"{fake.user.mention} done"
        stored = fake.message(post.response["id"])
        assert [m["id"] for m in stored["mentions"]] == [str(fake.user.id)]

        # forced expiry, without moving the clock
        bot.gate.clear()
        ix2 = await fake.slash("gated", {"defer_first": True})
        await ix2.wait_callback()
        ix2.expire()
        bot.gate.set()
        await fake.wait_until(lambda: bot.events.count(("fallback",)) == 2)


async def test_upload_over_the_interaction_limit_is_413(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ok = await fake.slash("upload", {"size": 1024}, attachment_size_limit=1024)
        await fake.wait_until(lambda: has(bot, ("uploaded", 1024)))
        patch = next(c for c in ok.calls if c.method == "PATCH")
        assert patch.files[0].index == 0 and patch.files[0].filename == "out.bin" and patch.files[0].size == 1024
        att = ok.original["attachments"][0]  # type: ignore[index]
        async with aiohttp.ClientSession() as http, http.get(att["url"]) as resp:
            assert await resp.read() == b"x" * 1024  # the fake serves what the bot uploaded

        await fake.slash("upload", {"size": 1025}, attachment_size_limit=1024)
        await fake.wait_until(lambda: has(bot, ("upload_failed", 413, 40005)))


async def test_channel_posts_size_limit_and_missing_permissions(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        await fake.slash("upload", {"size": 10, "to_channel": True})
        await fake.wait_until(lambda: has(bot, ("uploaded", 10)))
        await fake.slash("upload", {"size": 10 * MiB + 1, "to_channel": True})
        await fake.wait_until(lambda: has(bot, ("upload_failed", 413, 40005)))
        # a channel overwrite denying ATTACH_FILES to the bot's role
        bot_role = next(r for r in fake.guild.roles.values() if r.name == "jimeng-bot")
        fake.set_overwrite(fake.channel, bot_role, deny=Perm.ATTACH_FILES)
        ix = await fake.slash("upload", {"size": 10, "to_channel": True})
        assert int(ix.payload["app_permissions"]) & Perm.ATTACH_FILES == 0
        await fake.wait_until(lambda: has(bot, ("upload_failed", 403, 50013)))
        # the switch
        fake.channel.overwrites.clear()
        fake.channel_posts_forbidden = True
        await fake.slash("upload", {"size": 10, "to_channel": True})
        await fake.wait_until(lambda: bot.events.count(("upload_failed", 403, 50013)) == 2)


async def test_429_with_via_is_retried_without_via_raised(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        fake.rate_limit("PATCH", "/messages/@original", retry_after=0.05)
        await fake.slash("ping")
        await fake.wait_until(lambda: has(bot, ("pong", "pong", 10 * MiB)))
        patches = fake.calls_matching("PATCH", "/messages/@original")
        assert [(c.status, c.injected) for c in patches] == [(429, True), (200, False)]
        assert patches[1].time - patches[0].time >= 0.04

        fake.rate_limit("PATCH", "/messages/@original", via=False)
        await fake.slash("gated", {"defer_first": True})
        bot.gate.set()
        await fake.wait_until(lambda: has(bot, ("edit_failed", 429, 0)))


async def test_dynamic_button_from_a_previous_process(discord_fake: FakeDiscord) -> None:
    first = TestBot()
    async with run_bot(first, fake=discord_fake) as fake:
        ix = await fake.slash("result", {"job": "abc123"})
        await ix.wait_callback()
        message = ix.original
        assert message is not None
        assert message["components"][0]["components"][0]["custom_id"] == "job:reroll:abc123"
    second = TestBot(sync=False)  # a restarted bot: no View in memory, only the DynamicItem template
    async with run_bot(second, fake=fake):
        click = await fake.click(message, "job:reroll:abc123", user=fake.admin)
        cb = await click.wait_callback()
        assert cb.json["type"] == 4 and cb.json["data"]["flags"] == 64
        assert second.events == [("reroll", "abc123", fake.admin.id)]
        assert click.payload["message"]["id"] == message["id"]


async def test_context_menu_reads_attachments_via_cdn(discord_fake: FakeDiscord) -> None:
    bot = TestBot()  # no MESSAGE_CONTENT: the context menu's resolved message is complete anyway
    async with run_bot(bot, fake=discord_fake) as fake:
        src = fake.add_message(
            "make these cyberpunk",
            author=fake.user,
            attachments=[("a.png", b"A" * 10), ("b.png", b"B" * 20, "image/png")],
        )
        ix = await fake.context_menu_message("Inspect images", src)
        await fake.wait_until(lambda: has(bot, ("inspect", [10, 20])))
        assert len(fake.calls_matching("GET", "/cdn/")) == 2
        follow = await fake.wait_for_call("POST", "/webhooks/{app}/{token}")
        assert follow.query.get("wait") in ("true", "1") and follow.files[0].filename == "composed.png"
        # the first followup after a thinking defer replaces the loading message
        assert follow.response["id"] == ix.original_id and ix.original["content"] == "2 images"  # type: ignore[index]


async def test_modal_with_file_upload(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ix = await fake.slash("compose")
        cb = await ix.wait_callback()
        assert cb.json["type"] == 9
        kinds = [(c["type"], c["component"]["type"]) for c in cb.json["data"]["components"]]
        assert kinds == [(18, 4), (18, 19)]  # Label(TextInput), Label(FileUpload)
        sub = await fake.submit_modal(
            ix, {"prompt": "赛博朋克"}, attachments={"images": [("u1.png", b"1" * 5), ("u2.jpg", b"2" * 7)]}
        )
        assert len(sub.payload["data"]["resolved"]["attachments"]) == 2
        await fake.wait_until(lambda: has(bot, ("modal", "赛博朋克", [5, 7])))
        assert (await sub.wait_callback()).json["data"]["content"] == "赛博朋克: 2 images"


async def test_autocomplete_attachment_option_and_admin_check(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ac = await fake.autocomplete("draw", {"ratio": "16"}, focused="ratio")
        cb = await ac.wait_callback()
        assert cb.json == {
            "type": 8,
            "data": {"choices": [{"name": "16:9", "value": "16:9"}, {"name": "9:16", "value": "9:16"}]},
        }

        img = fake.attachment("cat.png", PNG)
        ix = await fake.slash("draw", {"ratio": "1:1"}, attachments={"image": img}, locale="zh-CN")
        await fake.wait_until(lambda: has(bot, ("draw", "1:1", len(PNG), "image/png")))
        assert (await ix.wait_callback()).files[0].filename == "r.png"

        denied = await fake.slash("credits")  # alice: no MANAGE_GUILD
        await fake.wait_until(lambda: has(bot, ("error", "MissingPermissions", None)))
        assert not denied.callbacks
        echoes = len(fake.gateway_events)
        ok = await fake.slash("credits", user=fake.admin)
        assert (await ok.wait_callback()).json == {
            "type": 4,
            "data": {"tts": False, "content": "credits: 42", "flags": 64},
        }
        assert [e for e, _ in fake.gateway_events[echoes:]] == ["INTERACTION_CREATE"]  # ephemeral: no MESSAGE_CREATE


@pytest.mark.parametrize("message_content", [False, True])
async def test_message_content_intent_visibility(discord_fake: FakeDiscord, message_content: bool) -> None:
    bot = TestBot(message_content=message_content)
    async with run_bot(bot, fake=discord_fake) as fake:
        plain = await fake.message_create("look at this", attachments=[("cat.png", PNG)])
        mentioned = await fake.message_create(f"{fake.bot_user.mention} draw it", reference=plain, reply_ping=False)
        await fake.wait_until(lambda: len(bot.messages) == 2)
        got_plain, got_mention = bot.messages
        if message_content:
            assert (got_plain.content, len(got_plain.attachments)) == ("look at this", 1)
        else:
            assert (got_plain.content, got_plain.attachments) == ("", [])
        # mentioning the bot always shows the content; the replied-to third-party message follows the intent
        assert got_mention.content == f"{fake.bot_user.mention} draw it"
        ref = got_mention.reference.resolved  # type: ignore[union-attr]
        assert isinstance(ref, discord.Message)
        assert len(ref.attachments) == (1 if message_content else 0)
        # REST reads follow the same rule
        channel = bot.get_channel(fake.channel.id)
        fetched = await channel.fetch_message(int(plain["id"]))  # type: ignore[union-attr]
        assert fetched.content == ("look at this" if message_content else "")
        assert mentioned["content"].endswith("draw it")  # the fake's own record is complete


async def test_privileged_intent_not_enabled_fails_start() -> None:
    fake = FakeDiscord(privileged_intents=0)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with run_bot(TestBot(message_content=True, sync=False), fake=fake):
            pass


job_group = app_commands.Group(name="job", description="job commands")


@job_group.command(name="status", description="a subcommand")
async def job_status(interaction: discord.Interaction, job_id: str, verbose: bool = False) -> None:
    await interaction.response.send_message(f"{job_id} verbose={verbose}")


class GroupBot(TestBot):
    async def setup_hook(self) -> None:
        self.tree.add_command(job_group)
        self.tree.add_command(ping, guild=discord.Object(self.guild_id))
        await self.tree.sync()
        await self.tree.sync(guild=discord.Object(self.guild_id))

    guild_id = 0


async def test_subcommands_guild_commands_and_resume(discord_fake: FakeDiscord) -> None:
    bot = GroupBot()
    bot.guild_id = discord_fake.guild.id
    async with run_bot(bot, fake=discord_fake) as fake:
        assert fake.sync_count == 2 and [c["name"] for c in fake.commands(fake.guild)] == ["ping"]
        assert fake.command_syncs[1].guild_id == fake.guild.id
        ix = await fake.slash("job", {"job_id": "j1", "verbose": True}, subcommand="status")
        assert (await ix.wait_callback()).json["data"]["content"] == "j1 verbose=True"
        guild_ix = await fake.slash("ping")  # synced to the guild: data.guild_id tells discord.py where to look
        assert guild_ix.payload["data"]["guild_id"] == str(fake.guild.id)
        await fake.wait_until(lambda: bot.events)

        await fake.disconnect_all(4000)  # discord.py resumes on resume_gateway_url
        await fake.wait_until(lambda: fake.connections and fake.connections[0].identify and bot.is_ready())
        await asyncio.sleep(0.05)
        assert len(fake.identifies) == 1  # resumed, not re-identified
        again = await fake.slash("job", {"job_id": "j2"}, subcommand="status")
        assert (await again.wait_callback()).json["data"]["content"] == "j2 verbose=False"


async def test_dm_delivery_and_closed_dms(discord_fake: FakeDiscord) -> None:
    bot = TestBot()
    async with run_bot(bot, fake=discord_fake) as fake:
        ix = await fake.slash("dm")
        await fake.wait_until(lambda: has(bot, ("dm_ok", "alice")))
        dm_post = await fake.wait_for_call("POST", "/channels/{channel}/messages")
        assert fake.channels[int(dm_post.path.split("/")[2])].recipient is fake.user
        assert dm_post.files[0].filename == "r.png"
        await fake.wait_until(lambda: ix.original and ix.original["content"] == "ok")
        assert ix.original["flags"] & 64  # type: ignore[index]

        fake.dms_closed.add(fake.user.id)
        await fake.slash("dm")
        await fake.wait_until(lambda: has(bot, ("dm_failed", 50007)))


async def test_second_guild_limits_and_members_intent(discord_fake: FakeDiscord) -> None:
    boosted = discord_fake.create_guild("Boosted", premium_tier=2)
    discord_fake.add_member(boosted, discord_fake.user)
    bot = TestBot(members=True)
    async with run_bot(bot, fake=discord_fake) as fake:
        g = bot.get_guild(boosted.id)
        assert g is not None and g.filesize_limit == 50 * MiB
        assert {m.id for m in g.members} == {boosted.owner_id, fake.bot_user.id, fake.user.id}  # GUILD_MEMBERS: all
        ix = await fake.slash("ping", guild=boosted)
        await fake.wait_until(lambda: has(bot, ("pong", "pong", 50 * MiB)))
        assert ix.payload["guild_id"] == str(boosted.id) and ix.attachment_size_limit == 50 * MiB


class ShardedBot(commands.AutoShardedBot):
    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), help_command=None)


async def test_autosharded_bot_uses_gateway_bot() -> None:
    fake = FakeDiscord(shards=2)
    other = fake.create_guild("Second")
    bot = ShardedBot()
    async with run_bot(bot, fake=fake):
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        assert fake.calls_matching("GET", "/gateway/bot")
        assert bot.get_guild(fake.guild.id) is not None and bot.get_guild(other.id) is not None
