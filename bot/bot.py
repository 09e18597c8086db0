"""The Bot: wiring of cogs, dynamic items, the translator, the fair queue, and command sync only on change."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import ChannelNotAllowed
from bot.components import DYNAMIC_ITEMS
from bot.i18n import Translator
from bot.preferences import ADMIN_ONLY, Gate
from bot.queue import FairQueue
from bot.runner import Runner
from bot.settings import BotConfig
from core import Engine, JimengError
from core.media import RefImage

log = logging.getLogger(__name__)

SYNC_STATE_FILE = "discord_commands.json"
REF_CACHE_JOBS = 200
ADMIN_NOTICE_EVERY_S = 3600.0

ErrorReporter = Callable[[discord.Interaction, BaseException], Awaitable[None]]


class JimengTree(app_commands.CommandTree["JimengBot"]):
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The server's channel allow-list (/server-settings, else DISCORD_CHANNEL_IDS); the server's and the
        member's settings are read here, before any command runs."""
        bot: JimengBot = interaction.client  # type: ignore[assignment]
        gate = bot.gate
        if interaction.type is discord.InteractionType.autocomplete:
            return gate.check_channel(interaction.guild_id, interaction)
        await gate.warm(interaction)
        if gate.check_channel(interaction.guild_id, interaction):
            return True
        data: dict[str, Any] = dict(interaction.data or {})
        if data.get("name") in ADMIN_ONLY:
            return True
        raise ChannelNotAllowed(gate.channel_ids(interaction.guild_id))


class JimengBot(commands.AutoShardedBot):
    """Always sharded (issue #16): discord.py asks GET /gateway/bot for the recommended shard count at each start
    (one shard until about 2,500 servers, so a small bot is one connection as before), unless the settings fix the
    count and the shards this process runs (DISCORD_SHARD_COUNT / DISCORD_SHARD_IDS, to split them over processes
    sharing one store). Nothing here depends on the shard: replies go over REST, and a server's interactions always
    reach the process that runs its shard."""

    def __init__(
        self,
        *,
        engine: Engine,
        config: BotConfig | None = None,
        data_dir: Path | str = "data",
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        self.config = config or BotConfig()
        intents = discord.Intents.default()
        intents.message_content = self.config.message_content
        options.setdefault("help_command", None)
        # Nothing a member types (prompts are echoed) may ping anyone; sends that should ping the requester say so.
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        options.setdefault("shard_count", self.config.shard_count)
        options.setdefault("shard_ids", list(self.config.shard_ids) or None)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, tree_cls=JimengTree, **options)
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.queue = FairQueue(self.config.member_jobs, capacity=self._capacity, max_waiting=self.config.member_queue)
        self.runner = Runner(self)
        self.gate = Gate(self)  # server and member settings (issue #15)
        self.error_reporter: ErrorReporter | None = None
        self._refs: OrderedDict[str, list[RefImage]] = OrderedDict()
        self._admin_noticed: dict[int, float] = {}  # admin channel → when it was last told
        self.synced: list[str] = []  # scopes synced by this process ("global" or guild ids), for logs and tests

    # ------------------------------------------------------------------------------------------- startup
    async def setup_hook(self) -> None:
        await self.tree.set_translator(Translator())
        for ext in self.config.extensions:
            await self.load_extension(ext)
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        if self.syncs_commands:
            await self.sync_if_changed()
        # Jobs a previous process accepted (resumed by the engine after a restart) are delivered by this bot.
        self.engine.set_delivery_handler(self.runner.deliver_recovered)

    @property
    def syncs_commands(self) -> bool:
        """Commands belong to the application, not a shard: of processes that split the shards, the one running
        shard 0 syncs them."""
        return not self.config.shard_ids or 0 in self.config.shard_ids

    async def on_ready(self) -> None:
        shards = sorted(self.shards)
        log.info("connected to Discord: %d server(s), shard(s) %s of %s", len(self.guilds), shards, self.shard_count)

    async def _payload(self, guild: discord.abc.Snowflake | None) -> list[dict[str, Any]]:
        translator = self.tree.translator
        out = []
        for cmd in self.tree.get_commands(guild=guild):
            if translator is not None:
                out.append(await cmd.get_translated_payload(self.tree, translator))
            else:
                out.append(cmd.to_dict(self.tree))
        return out

    async def sync_if_changed(self) -> list[str]:
        """Sync each scope (global, or the development guilds) only when its command payload changed since the last
        sync recorded in the data directory. Discord allows 200 command creates a day."""
        state_path = self.data_dir / SYNC_STATE_FILE
        try:
            state: dict[str, str] = json.loads(state_path.read_text())
        except (OSError, ValueError):
            state = {}
        scopes: list[discord.Object | None]
        if self.config.guild_ids:
            scopes = [discord.Object(g) for g in self.config.guild_ids]
            for scope in scopes:
                self.tree.copy_global_to(guild=scope)
        else:
            scopes = [None]
        synced = []
        for scope in scopes:
            payload = await self._payload(scope)
            digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
            key = f"{self.application_id}:{scope.id if scope else 'global'}"
            if state.get(key) == digest:
                continue
            await self.tree.sync(guild=scope)
            state[key] = digest
            synced.append(str(scope.id) if scope else "global")
        if synced:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
            log.info("synced application commands: %s", ", ".join(synced))
        else:
            log.info("application commands unchanged; not syncing")
        self.synced = synced
        return synced

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled by cog listeners (reply-with-attachments) only."""

    async def close(self) -> None:
        self.engine.set_delivery_handler(None)
        await self.runner.close()
        await super().close()

    # ------------------------------------------------------------------------------------------- shared state
    def _capacity(self) -> int:
        if self.config.max_running:
            return self.config.max_running
        total = sum(s.limit for s in self.engine.status() if s.state != "invalid")
        return max(1, total)

    def remember_refs(self, job_id: str, refs: list[RefImage]) -> None:
        """Reference images of a job, kept in memory so Reroll works (core does not store them)."""
        if not refs:
            return
        self._refs[job_id] = refs
        while len(self._refs) > REF_CACHE_JOBS:
            self._refs.popitem(last=False)

    def refs_of(self, job_id: str) -> list[RefImage] | None:
        return self._refs.get(job_id)

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Send ``error`` to the one error handler (cogs/errors.py); log it if that is not loaded."""
        if self.error_reporter is not None:
            await self.error_reporter(interaction, error)
        else:
            log.error("unhandled error in an interaction", exc_info=error)

    async def tell_admins(self, error: JimengError, guild_id: int | None = None) -> None:
        """An account's session expired: log it, and post in the admin channel (the server's own from
        /server-settings, else DISCORD_ADMIN_CHANNEL_ID) when there is one, at most hourly per channel."""
        log.warning("a Jimeng session is invalid or expired (%s); update JIMENG_SESSION_IDS", error.message)
        channel_id = self.gate.admin_channel_id(guild_id)
        now = self.clock()
        if not channel_id or now - self._admin_noticed.get(channel_id, float("-inf")) < ADMIN_NOTICE_EVERY_S:
            return
        self._admin_noticed[channel_id] = now
        channel: Any = self.get_channel(channel_id)
        if channel is None:  # a server on a shard another process runs
            with contextlib.suppress(discord.HTTPException):
                channel = await self.fetch_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            masked = ", ".join(s.masked for s in self.engine.status() if s.state == "invalid") or "?"
            try:
                await channel.send(
                    f"⚠️ Jimeng session expired or invalid: {masked}. Update JIMENG_SESSION_IDS and restart the bot."
                )
            except discord.HTTPException as exc:
                log.warning("could not notify the admin channel (%s)", exc)
