"""A loopback fake of Discord (REST v10 + gateway) that a real discord.py 2.7 client talks to.

One aiohttp app on ``127.0.0.1:0`` serves REST under ``/api/v10``, the gateway websocket at
``/`` and a CDN under ``/cdn``. Point discord.py at it with the two patches described in
``/work/shared/discord/RESEARCH.md`` §3.2 (``tests/bot/harness.py`` does this for you)::

    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

What it models (beyond answering with valid payloads):

* interaction callbacks: 10062 for unknown interactions or a callback more than 3 s after the
  interaction was created (by the fake's clock), 40060 for a second acknowledgement;
* interaction webhooks (``@original`` edits, followups): 401/50027 once the token is older than
  15 min (by the fake's clock) or was expired by hand, 10015 before the interaction was acked;
* uploads: 413/40005 when any file is bigger than the interaction's ``attachment_size_limit``
  (webhooks) or the guild's upload limit (channel posts), 413/40005 when a request body is over
  ``MAX_REQUEST_BYTES`` (25 MiB, whatever the per-file limit), 400/50035 for more than
  ``MAX_ATTACHMENTS`` (10) files in one message;
* mentions: every message the bot *creates* is checked against Discord's allowed-mentions rule
  (no ``allowed_mentions`` = ping everything the content names: @everyone/@here, roles, users, and
  the replied-to author) and the would-be pings are recorded in ``fake.pings`` (edits never ping);
* edits: 5 edits per 5 s per message (wall clock), the 6th gets a 429 with ``Via`` and
  ``retry_after`` (discord.py waits and retries; ``fake.edit_429s`` counts them);
* channel posts: 403/50013 when the bot lacks VIEW_CHANNEL/SEND_MESSAGES/ATTACH_FILES in the
  channel (computed from roles and overwrites) or when ``channel_posts_forbidden`` is switched on;
* injected failures per route (``fail_next``) and 429s carrying ``Via: 1.1 google`` so discord.py
  retries them (``rate_limit``);
* the MESSAGE_CONTENT intent: without it, MESSAGE_CREATE and REST message reads carry empty
  content/attachments/embeds/components unless the bot wrote or is mentioned by the message.

Every REST and CDN request is recorded as a :class:`Call`. Messages are stored, so a later
component interaction can carry its message (needed for ``DynamicItem`` buttons).

Wire details that discord.py relies on silently: ``Content-Type`` must be exactly
``application/json`` (not aiohttp's ``json_response``), READY needs ``resume_gateway_url``, the
callback must answer 200 + ``{"interaction": {...}}`` to ``?with_response=1``, and interactions
need ``attachment_size_limit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

__all__ = [
    "ALL_PERMISSIONS",
    "INTENT_GUILDS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_MESSAGE_CONTENT",
    "MAX_ATTACHMENTS",
    "MAX_REQUEST_BYTES",
    "Call",
    "Channel",
    "FakeClock",
    "FakeDiscord",
    "FakeInteraction",
    "FileInfo",
    "Guild",
    "Member",
    "MiB",
    "Perm",
    "Ping",
    "Role",
    "User",
    "snowflake",
]

JSONDict = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
MiB = 1024 * 1024
_counter = itertools.count(1)
MAX_REQUEST_BYTES = 25 * MiB  # 26,214,400: Discord refuses a larger request body, whatever the per-file limit
MAX_ATTACHMENTS = 10  # files per message
EDITS_PER_WINDOW, EDIT_WINDOW_S = 5, 5.0  # per message


class Perm:
    """Discord permission bits used by the fake (same values as ``discord.Permissions``)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38

    DEFAULT_EVERYONE = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | SEND_MESSAGES_IN_THREADS
        | EMBED_LINKS
        | ATTACH_FILES
        | ADD_REACTIONS
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
        | CREATE_INSTANT_INVITE
    )


ALL_PERMISSIONS = (1 << 53) - 1

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

CALLBACK_WINDOW_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0


# --------------------------------------------------------------------------------------------- time & ids
class FakeClock:
    """Wall-clock seconds (``time.time()``) plus an offset that tests move with :meth:`advance`."""

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()

    def __call__(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


def snowflake(at: float | None = None) -> str:
    """A unique snowflake whose embedded timestamp is ``at`` (epoch seconds, default now)."""
    ms = int((time.time() if at is None else at) * 1000)
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


# --------------------------------------------------------------------------------------------- records
@dataclass
class FileInfo:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    size: int
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass
class Call:
    """One recorded request. ``route`` is the template, e.g.
    ``"PATCH /webhooks/{app}/{token}/messages/@original"``; ``json`` is ``payload_json`` for multipart."""

    method: str
    route: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[FileInfo]
    headers: dict[str, str]
    time: float
    size: int = 0  # bytes of the request body (all multipart parts)
    status: int | None = None  # set once the fake has answered
    response: Any = None
    injected: bool = False  # answered by fail_next / rate_limit

    @property
    def error_code(self) -> int | None:
        return self.response.get("code") if isinstance(self.response, dict) and (self.status or 0) >= 400 else None

    def matches(self, method: str | None, route_substr: str) -> bool:
        return (method in (None, "*") or self.method == method.upper()) and (
            route_substr in self.route or route_substr in self.path
        )


@dataclass
class Ping:
    """Who a created message would notify, by Discord's allowed-mentions rule."""

    message_id: str
    route: str
    everyone: bool  # @everyone or @here
    roles: list[int]
    users: list[int]
    content: str


@dataclass
class _Injection:
    method: str | None
    route_substr: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


@dataclass
class CommandSync:
    guild_id: int | None  # None for global
    body: list[JSONDict]
    time: float


# --------------------------------------------------------------------------------------------- entities
@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> JSONDict:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name if self.global_name is not None else (None if self.bot else self.name),
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "flags": 0,
            "public_flags": 0,
        }


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> JSONDict:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


@dataclass(eq=False)
class Member:
    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = 1_735_689_600.0  # 2025-01-01

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSONDict:
        out: JSONDict = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": _iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            out["user"] = self.user.payload()
        if permissions is not None:
            out["permissions"] = str(permissions)
        return out


@dataclass(eq=False)
class Channel:
    id: int
    guild_id: int | None  # None for DM channels
    name: str
    type: int = 0  # 0 text, 1 DM, 5 announcement, 11 public thread ...
    position: int = 0
    nsfw: bool = False
    overwrites: dict[int, tuple[int, int]] = field(default_factory=dict)  # target id -> (allow, deny)
    recipient: User | None = None  # DM channels

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, guild: Guild | None = None) -> JSONDict:
        if self.guild_id is None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        overwrites = [
            {
                "id": str(target),
                "type": 0 if guild is not None and target in guild.roles else 1,
                "allow": str(allow),
                "deny": str(deny),
            }
            for target, (allow, deny) in self.overwrites.items()
        ]
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": overwrites,
            "nsfw": self.nsfw,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    premium_tier: int = 0
    preferred_locale: str = "en-US"
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def filesize_limit(self) -> int:
        """Per-file upload limit for bot posts (as discord.py's ``Guild.filesize_limit``)."""
        return {2: 50 * MiB, 3: 100 * MiB}.get(self.premium_tier, 10 * MiB)

    def payload(self, *, members_of: Iterable[int] | None = None) -> JSONDict:
        """GUILD_CREATE payload; ``members_of`` limits ``members`` to those user ids (Discord sends only the
        bot itself to clients without the GUILD_MEMBERS intent)."""
        keep = None if members_of is None else set(members_of)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "member_count": len(self.members),
            "large": False,
            "preferred_locale": self.preferred_locale,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "vanity_url_code": None,
            "max_members": 500000,
            "joined_at": _iso(1_735_689_600.0),
            "emojis": [],
            "stickers": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "presences": [],
            "voice_states": [],
            "roles": [r.payload() for r in self.roles.values()],
            "channels": [c.payload(self) for c in self.channels.values()],
            "members": [m.payload() for uid, m in self.members.items() if keep is None or uid in keep],
        }


# --------------------------------------------------------------------------------------------- interactions
@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake sent through the gateway, with helpers to inspect the bot's answer."""

    fake: FakeDiscord = field(repr=False)
    id: str
    token: str
    type: int
    payload: JSONDict = field(repr=False)
    created_at: float  # by the fake's clock
    user: User
    channel: Channel
    attachment_size_limit: int
    acked_type: int | None = None  # callback type once acknowledged
    expired: bool = False  # forced expiry of the token
    original_id: str | None = None  # message id behind @original

    @property
    def callbacks(self) -> list[Call]:
        return self.fake.calls_matching("POST", f"/interactions/{self.id}/")

    @property
    def callback(self) -> Call | None:
        """The first callback call (whatever its status)."""
        cbs = self.callbacks
        return cbs[0] if cbs else None

    @property
    def calls(self) -> list[Call]:
        """Every REST call made for this interaction (callback and its webhook)."""
        return [c for c in self.fake.calls if f"/{self.token}" in c.path]

    @property
    def original(self) -> JSONDict | None:
        return self.fake.messages.get(self.original_id) if self.original_id else None

    @property
    def followups(self) -> list[JSONDict]:
        return [
            m for m in self.fake.messages.values() if m.get("_interaction") == self.id and m["id"] != self.original_id
        ]

    async def wait_callback(self, timeout: float = 5.0) -> Call:
        return await self.fake.wait_for_call("POST", f"/interactions/{self.id}/", timeout=timeout)

    def expire(self) -> None:
        """Expire the token now (webhook calls then get 401/50027, callbacks 10062)."""
        self.expired = True


# --------------------------------------------------------------------------------------------- gateway
@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    query: dict[str, str]
    seq: int = 0
    identify: JSONDict | None = None
    session_id: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def intents(self) -> int:
        return int((self.identify or {}).get("intents", 0))

    @property
    def shard(self) -> tuple[int, int]:
        s = (self.identify or {}).get("shard") or [0, 1]
        return int(s[0]), int(s[1])


def _jresp(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # discord.py's json_or_text() decodes only when Content-Type == 'application/json' EXACTLY;
    # aiohttp's web.json_response() appends '; charset=utf-8' and must not be used.
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return web.Response(status=status, body=json.dumps(data).encode(), headers=h)


def _error(status: int, code: int, message: str) -> tuple[int, JSONDict]:
    return status, {"message": message, "code": code}


class _Reply(Exception):
    """Raised inside handlers to answer with an error (status, body, headers)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _too_many_files() -> _Reply:
    errors = {
        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {MAX_ATTACHMENTS} or fewer in length."}]
    }
    return _Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": {"attachments": errors}})


def _fail(status: int, code: int, message: str) -> _Reply:
    return _Reply(status, {"message": message, "code": code})


AttachmentLike = JSONDict | tuple[str, bytes] | tuple[str, bytes, str]
Handler = Callable[[web.Request, dict[str, str], Any, list[FileInfo]], Awaitable[tuple[int, Any]]]


# --------------------------------------------------------------------------------------------- the fake
class FakeDiscord:
    """The fake Discord. ``await start()`` it, then point discord.py at :attr:`api_base` / :attr:`gateway_url`.

    Default world (created in ``__init__``): :attr:`guild` "Test Guild" with :attr:`channel` #general;
    users :attr:`owner` (guild owner), :attr:`admin` (role "Admin" with MANAGE_GUILD), :attr:`user`
    ("alice", a normal member) and the bot (:attr:`bot_user`, role "jimeng-bot").
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        clock: Callable[[], float] | None = None,
        attachment_size_limit: int | None = None,
        shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
        privileged_intents: int = PRIVILEGED_INTENTS,
        echo_bot_messages: bool = True,
    ) -> None:
        self.token = token
        self.clock: Callable[[], float] = clock or FakeClock()
        #: default ``attachment_size_limit`` of interactions (None: the guild's upload limit)
        self.attachment_size_limit = attachment_size_limit
        self.shards = shards
        self.heartbeat_interval_ms = heartbeat_interval_ms
        #: privileged intents enabled "in the developer portal"; others close the gateway with 4014
        self.privileged_intents = privileged_intents
        #: send MESSAGE_CREATE/UPDATE/DELETE to the bot for (non-ephemeral) messages it makes over REST
        self.echo_bot_messages = echo_bot_messages
        #: switch: every bot-token channel post gets 403/50013
        self.channel_posts_forbidden = False
        #: user ids whose DMs are closed (DM posts get 403/50007)
        self.dms_closed: set[int] = set()

        self.calls: list[Call] = []
        #: would-be notifications of every message the bot created (see ``_record_pings``)
        self.pings: list[Ping] = []
        #: 429s the per-message edit limit answered
        self.edit_429s = 0
        self._edits: dict[str, list[float]] = {}
        self.identifies: list[JSONDict] = []
        self.command_syncs: list[CommandSync] = []
        self.registered_commands: dict[int | None, list[JSONDict]] = {}
        self.messages: dict[str, JSONDict] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.cdn_files: dict[str, tuple[bytes, str]] = {}
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.connections: list[_Connection] = []
        #: every DISPATCH after READY (event, payload as the first receiving connection got it)
        self.gateway_events: list[tuple[str, JSONDict]] = []

        self._injections: list[_Injection] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._build_routes()

        self.app_id = int(snowflake(self.clock() - 86400 * 400))
        self.bot_user = self.create_user("jimeng-bot", bot=True, id=self.app_id)
        self.owner = self.create_user("owner")
        self.admin = self.create_user("admin")
        self.user = self.create_user("alice")
        self.guild = self.create_guild("Test Guild", owner=self.owner)
        self.channel = next(iter(self.guild.channels.values()))
        self.admin_role = self.create_role(self.guild, "Admin", Perm.MANAGE_GUILD)
        self.add_member(self.guild, self.admin, roles=[self.admin_role])
        self.add_member(self.guild, self.user)

    # ----------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=512 * MiB)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/cdn/{name:.*}", self._cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def now(self) -> float:
        return self.clock()

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (needs the default :class:`FakeClock` or one with ``advance``)."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("this fake's clock cannot be advanced")
        advance(seconds)

    # ----------------------------------------------------------------------------------------- world factories
    def create_user(self, name: str, *, bot: bool = False, id: int | None = None) -> User:
        user = User(id=id or int(snowflake(self.clock() - 86400 * 300)), name=name, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str = "Guild",
        *,
        owner: User | None = None,
        premium_tier: int = 0,
        preferred_locale: str = "en-US",
        everyone_permissions: int = Perm.DEFAULT_EVERYONE,
        channel_name: str = "general",
    ) -> Guild:
        """A guild with @everyone, one text channel, its owner and the bot (role "jimeng-bot") as members.

        Guilds created before the bot connects arrive in READY/GUILD_CREATE; for later ones call
        :meth:`announce_guild`."""
        gid = int(snowflake(self.clock() - 86400 * 200))
        owner = owner or self.create_user(f"{name}-owner")
        guild = Guild(
            id=gid, name=name, owner_id=owner.id, premium_tier=premium_tier, preferred_locale=preferred_locale
        )
        guild.roles[gid] = Role(id=gid, guild_id=gid, name="@everyone", permissions=everyone_permissions)
        self.guilds[gid] = guild
        self.create_channel(guild, channel_name)
        self.add_member(guild, owner)
        bot_role = self.create_role(guild, "jimeng-bot", Perm.DEFAULT_EVERYONE, managed=True)
        self.add_member(guild, self.bot_user, roles=[bot_role])
        return guild

    def create_channel(
        self, guild: Guild, name: str, *, type: int = 0, overwrites: Mapping[int, tuple[int, int]] | None = None
    ) -> Channel:
        channel = Channel(
            id=int(snowflake(self.clock() - 86400 * 100)),
            guild_id=guild.id,
            name=name,
            type=type,
            position=len(guild.channels),
            overwrites=dict(overwrites or {}),
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def create_role(self, guild: Guild, name: str, permissions: int, *, managed: bool = False) -> Role:
        role = Role(
            id=int(snowflake(self.clock() - 86400 * 100)),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            managed=managed,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: Guild, user: User, *, roles: Iterable[Role | int] = (), nick: str | None = None
    ) -> Member:
        member = Member(
            user=user, guild_id=guild.id, roles=[r.id if isinstance(r, Role) else int(r) for r in roles], nick=nick
        )
        guild.members[user.id] = member
        self.users[user.id] = user
        return member

    def set_overwrite(self, channel: Channel, target: User | Role | int, *, allow: int = 0, deny: int = 0) -> None:
        """Channel permission overwrite for a role or member (as Discord's ``permission_overwrites``)."""
        tid = target if isinstance(target, int) else target.id
        channel.overwrites[tid] = (allow, deny)

    def permissions_for(self, user: User, channel: Channel) -> int:
        """Discord's permission algorithm: base roles, ADMINISTRATOR/owner, then @everyone, role, member overwrites."""
        if channel.guild_id is None:
            return (
                Perm.VIEW_CHANNEL
                | Perm.SEND_MESSAGES
                | Perm.ATTACH_FILES
                | Perm.EMBED_LINKS
                | Perm.READ_MESSAGE_HISTORY
            )
        guild = self.guilds[channel.guild_id]
        if user.id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user.id)
        role_ids = member.roles if member else []
        perms = guild.everyone.permissions
        for rid in role_ids:
            if rid in guild.roles:
                perms |= guild.roles[rid].permissions
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        ow = channel.overwrites
        if guild.id in ow:
            allow, deny = ow[guild.id]
            perms = (perms & ~deny) | allow
        allow = deny = 0
        for rid in role_ids:
            if rid in ow:
                allow |= ow[rid][0]
                deny |= ow[rid][1]
        perms = (perms & ~deny) | allow
        if user.id in ow:
            allow, deny = ow[user.id]
            perms = (perms & ~deny) | allow
        return perms

    def add_cdn_file(self, name: str, data: bytes, content_type: str | None = None) -> str:
        """Serve ``data`` at ``/cdn/<name>`` and return its URL."""
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.cdn_files[name] = (data, ctype)
        return f"{self.base_url}/cdn/{name}"

    def attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> JSONDict:
        """An attachment payload whose ``url`` the fake serves (for options, modal uploads, user messages)."""
        aid = snowflake(self.clock())
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        url = self.add_cdn_file(f"attachments/{aid}/{filename}", data, ctype)
        out: JSONDict = {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        if ctype.startswith("image/"):
            out["width"], out["height"] = width or 1, height or 1
        return out

    def _to_attachment(self, a: AttachmentLike) -> JSONDict:
        if isinstance(a, dict):
            return a
        return self.attachment(*a)

    # ----------------------------------------------------------------------------------------- failure injection
    def fail_next(
        self,
        method: str | None,
        route_substr: str,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``/``body`` instead of handling them.
        ``route_substr`` is matched against the route template and the path (like :meth:`calls_matching`)."""
        if body is None:
            body = {"message": f"{status}: injected", "code": 0}
        self._injections.append(_Injection(method, route_substr, status, body, dict(headers or {}), times))

    def rate_limit(
        self,
        method: str | None,
        route_substr: str,
        *,
        retry_after: float = 0.05,
        times: int = 1,
        via: bool = True,
        is_global: bool = False,
        scope: str = "user",
    ) -> None:
        """Inject 429s. With ``via`` (as Discord behind Google's LB sends) discord.py sleeps
        ``retry_after`` and retries; without it discord.py raises ``HTTPException`` at once."""
        headers = {"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Scope": scope}
        if via:
            headers["Via"] = "1.1 google"
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        self.fail_next(method, route_substr, 429, body, headers=headers, times=times)

    # ----------------------------------------------------------------------------------------- call records
    def calls_matching(self, method: str | None, route_substr: str = "") -> list[Call]:
        """Calls whose method equals ``method`` (None or "*": any) and whose route template or path contains
        ``route_substr``."""
        return [c for c in self.calls if c.matches(method, route_substr)]

    @property
    def unmatched_calls(self) -> list[Call]:
        """REST calls no route handled (answered by the catch-all 404)."""
        return [c for c in self.calls if c.route.endswith(" <unmatched>")]

    @property
    def sync_count(self) -> int:
        return len(self.command_syncs)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_call(
        self, method: str | None, route_substr: str, *, count: int = 1, timeout: float = 5.0
    ) -> Call:
        """Wait until ``count`` matching calls have been answered; return the ``count``-th."""

        def ready() -> bool:
            return len([c for c in self.calls_matching(method, route_substr) if c.status is not None]) >= count

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            seen = "\n  ".join(f"{c.route} -> {c.status}" for c in self.calls[-30:])
            raise AssertionError(
                f"timed out waiting for {count}x {method} {route_substr!r}; last calls:\n  {seen}"
            ) from None
        return [c for c in self.calls_matching(method, route_substr) if c.status is not None][count - 1]

    async def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.01) -> Any:
        """Poll ``predicate`` until it returns something truthy (returned)."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    await asyncio.sleep(interval)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}") from None
        return value

    # ----------------------------------------------------------------------------------------- commands
    def commands(self, guild: Guild | int | None = None) -> list[JSONDict]:
        """The commands registered by the last sync (global when ``guild`` is None)."""
        gid = guild.id if isinstance(guild, Guild) else guild
        return self.registered_commands.get(gid, [])

    def _command_guild_id(self, name: str, ctype: int, guild_id: int) -> int | None:
        if any(c["name"] == name and c.get("type", 1) == ctype for c in self.registered_commands.get(guild_id, [])):
            return guild_id
        return None

    def _command_id(self, name: str, ctype: int, guild_id: int | None) -> str:
        for c in self.registered_commands.get(guild_id, []):
            if c["name"] == name and c.get("type", 1) == ctype:
                return str(c["id"])
        return snowflake(self.clock())

    # ----------------------------------------------------------------------------------------- gateway
    def _events_for(self, guild_id: int | None) -> list[_Connection]:
        out = []
        for conn in self.connections:
            if conn.identify is None or conn.ws.closed:
                continue
            shard_id, shard_count = conn.shard
            if (0 if guild_id is None else (guild_id >> 22) % shard_count) == shard_id:
                out.append(conn)
        return out

    async def _send(self, conn: _Connection, frame: JSONDict) -> None:
        async with conn.lock:
            if frame.get("op") == 0:
                conn.seq += 1
                frame["s"] = conn.seq
            await conn.ws.send_str(json.dumps(frame))

    async def dispatch(
        self,
        event: str,
        data: JSONDict | Callable[[_Connection], JSONDict | None],
        *,
        guild_id: int | None = None,
    ) -> int:
        """Send a DISPATCH (op 0) to every identified connection of the shard that owns ``guild_id``.
        ``data`` may be a function of the connection (None: skip that connection). Returns how many got it."""
        sent = 0
        for conn in self._events_for(guild_id):
            d = data(conn) if callable(data) else data
            if d is None:
                continue
            await self._send(conn, {"op": 0, "t": event, "d": d})
            if not sent:
                self.gateway_events.append((event, d))
            sent += 1
        return sent

    def _guild_create(self, conn: _Connection, guild: Guild) -> JSONDict:
        return guild.payload(members_of=None if conn.intents & INTENT_GUILD_MEMBERS else [self.bot_user.id])

    async def announce_guild(self, guild: Guild) -> None:
        """GUILD_CREATE for a guild created after the bot connected."""
        await self.dispatch("GUILD_CREATE", lambda c: self._guild_create(c, guild), guild_id=guild.id)

    async def disconnect_all(self, code: int = 4000) -> None:
        """Close every gateway connection with ``code`` (4000: discord.py resumes; 4004: auth failed ...)."""
        for conn in list(self.connections):
            await conn.ws.close(code=code)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws=ws, query=dict(request.query))
        self.connections.append(conn)
        try:
            await self._send(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                await self._on_gateway_frame(conn, frame.get("op"), frame.get("d"))
        finally:
            self.connections.remove(conn)
        return ws

    async def _on_gateway_frame(self, conn: _Connection, op: int | None, d: Any) -> None:
        if op == 1:  # heartbeat
            await self._send(conn, {"op": 11, "d": None})
        elif op == 2:  # identify
            if d.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            if int(d.get("intents", 0)) & PRIVILEGED_INTENTS & ~self.privileged_intents:
                await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            conn.identify = d
            conn.session_id = "session-" + snowflake()
            self.identifies.append(d)
            shard_id, shard_count = conn.shard
            guilds = [g for g in self.guilds.values() if (g.id >> 22) % shard_count == shard_id]
            ready = {
                "v": 10,
                "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": conn.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": str(self.app_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "_trace": ["fake-discord"],
            }
            await self._send(conn, {"op": 0, "t": "READY", "d": ready})
            for g in guilds:
                await self._send(conn, {"op": 0, "t": "GUILD_CREATE", "d": self._guild_create(conn, g)})
            await self._notify()
        elif op == 6:  # resume
            conn.identify = conn.identify or {"token": d.get("token"), "intents": self._current_intents()}
            conn.session_id = d.get("session_id", conn.session_id)
            await self._send(conn, {"op": 0, "t": "RESUMED", "d": {"_trace": ["fake-discord"]}})
        elif op == 8:  # request guild members
            gid = int(d.get("guild_id"))
            guild = self.guilds.get(gid)
            members = [m.payload() for m in guild.members.values()] if guild else []
            chunk = {
                "guild_id": str(gid),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
                "presences": [],
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            await self._send(conn, {"op": 0, "t": "GUILD_MEMBERS_CHUNK", "d": chunk})
        # op 3 (presence), op 4 (voice) ... are accepted and ignored

    def _current_intents(self) -> int | None:
        """Intents of the most recent IDENTIFY (None before any)."""
        return int(self.identifies[-1].get("intents", 0)) if self.identifies else None

    # ----------------------------------------------------------------------------------------- message visibility
    def _visible(self, msg: JSONDict, intents: int | None) -> JSONDict:
        """``msg`` as a bot with ``intents`` sees it (MESSAGE_CONTENT rules, RESEARCH §2.3)."""
        out = {k: v for k, v in msg.items() if not k.startswith("_")}
        if out.get("referenced_message"):
            out["referenced_message"] = self._visible(out["referenced_message"], intents)
        if intents is None or intents & INTENT_MESSAGE_CONTENT:
            return out
        if out.get("guild_id") is None:  # DMs with the bot
            return out
        if str(out["author"]["id"]) == str(self.bot_user.id):
            return out
        if any(str(m["id"]) == str(self.bot_user.id) for m in out.get("mentions", [])):
            return out
        out.update(content="", embeds=[], attachments=[], components=[])
        out.pop("poll", None)
        return out

    # ----------------------------------------------------------------------------------------- messages
    def _message(
        self,
        channel: Channel,
        author: User,
        *,
        content: str = "",
        embeds: list[JSONDict] | None = None,
        components: list[JSONDict] | None = None,
        attachments: list[JSONDict] | None = None,
        flags: int = 0,
        type: int = 0,
        mentions: Sequence[User] = (),
        reference: JSONDict | None = None,
        **extra: Any,
    ) -> JSONDict:
        mention_ids = {int(x) for x in re.findall(r"<@!?(\d+)>", content)} | {u.id for u in mentions}
        msg: JSONDict = {
            "id": snowflake(self.clock()),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": content,
            "timestamp": _iso(self.clock()),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self._mention_payload(channel, uid) for uid in mention_ids if uid in self.users],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "components": components or [],
            "reactions": [],
            "pinned": False,
            "type": type,
            "flags": flags,
            **extra,
        }
        if channel.guild_id is not None:
            msg["guild_id"] = str(channel.guild_id)
            member = self.guilds[channel.guild_id].members.get(author.id)
            if member is not None and "webhook_id" not in msg:
                msg["member"] = member.payload(with_user=False)
        if reference is not None:
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": reference["id"],
                "channel_id": reference["channel_id"],
                **({"guild_id": reference["guild_id"]} if reference.get("guild_id") else {}),
            }
            msg["referenced_message"] = {k: v for k, v in reference.items() if not k.startswith("_")}
        self.messages[msg["id"]] = msg
        return msg

    def _mention_payload(self, channel: Channel, uid: int) -> JSONDict:
        out = self.users[uid].payload()
        if channel.guild_id is not None and (m := self.guilds[channel.guild_id].members.get(uid)):
            out["member"] = m.payload(with_user=False)
        return out

    def add_message(
        self,
        content: str = "",
        *,
        author: User | None = None,
        channel: Channel | None = None,
        components: list[JSONDict] | None = None,
        embeds: list[JSONDict] | None = None,
        attachments: Sequence[AttachmentLike] = (),
        flags: int = 0,
    ) -> JSONDict:
        """Store a message without telling the bot (e.g. a result posted by "a previous process")."""
        return self._message(
            channel or self.channel,
            author or self.bot_user,
            content=content,
            components=components,
            embeds=embeds,
            attachments=[self._to_attachment(a) for a in attachments],
            flags=flags,
        )

    def message(self, message_id: str | int) -> JSONDict:
        return self.messages[str(message_id)]

    def _uploaded_attachments(self, files: list[FileInfo], body: JSONDict, channel_id: str) -> list[JSONDict]:
        described = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
        out = []
        for f in files:
            aid = snowflake(self.clock())
            url = self.add_cdn_file(f"attachments/{channel_id}/{aid}/{f.filename}", f.data, f.content_type)
            meta = described.get(str(f.index), {})
            att: JSONDict = {
                "id": aid,
                "filename": meta.get("filename") or f.filename,
                "size": f.size,
                "url": url,
                "proxy_url": url,
                "content_type": f.content_type or mimetypes.guess_type(f.filename)[0] or "application/octet-stream",
            }
            if meta.get("description"):
                att["description"] = meta["description"]
            if (att["content_type"] or "").startswith("image/"):
                att["width"] = att["height"] = 1
            out.append(att)
        return out

    def _apply_body(self, msg: JSONDict, body: JSONDict | None, files: list[FileInfo], *, edit: bool) -> JSONDict:
        body = body or {}
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                msg[key] = body[key]
        if "flags" in body and body["flags"] is not None:
            msg["flags"] = int(body["flags"]) | (msg.get("flags", 0) & FLAG_EPHEMERAL)
        if edit:
            msg["flags"] = msg.get("flags", 0) & ~FLAG_LOADING
            msg["edited_timestamp"] = _iso(self.clock())
        if edit and "attachments" in body and body["attachments"] is not None:
            keep = {str(a.get("id")) for a in body["attachments"] if isinstance(a, dict)}
            msg["attachments"] = [a for a in msg.get("attachments", []) if str(a["id"]) in keep]
        if files:
            if len(msg.get("attachments", [])) + len(files) > MAX_ATTACHMENTS:
                raise _too_many_files()
            msg["attachments"] = [
                *msg.get("attachments", []),
                *self._uploaded_attachments(files, body, msg["channel_id"]),
            ]
        if "content" in body and body["content"] is not None:
            ids = {int(x) for x in re.findall(r"<@!?(\d+)>", body["content"])}
            channel = self.channels.get(int(msg["channel_id"]))
            if channel is not None:
                msg["mentions"] = [self._mention_payload(channel, uid) for uid in ids if uid in self.users]
        return msg

    def _record_pings(self, msg: JSONDict, body: JSONDict | None, route: str) -> None:
        """Discord's rule for a new message: without ``allowed_mentions`` everything the content names pings
        (and a reply pings the replied-to author); with it, only what ``parse`` / ``users`` / ``roles`` /
        ``replied_user`` allow. Bots never ping themselves."""
        body = body or {}
        content = body.get("content") or ""
        am = body.get("allowed_mentions")
        if am is None:
            parse, users_ok, roles_ok, replied_user = {"everyone", "roles", "users"}, set(), set(), True
        else:
            parse = set(am.get("parse") or [])
            users_ok = {int(u) for u in am.get("users") or []}
            roles_ok = {int(r) for r in am.get("roles") or []}
            replied_user = bool(am.get("replied_user", False))
        named_users = {int(x) for x in re.findall(r"<@!?(\d+)>", content)}
        users = {u for u in named_users if "users" in parse or u in users_ok}
        ref = msg.get("referenced_message")
        if ref and replied_user:
            users.add(int(ref["author"]["id"]))
        users.discard(self.bot_user.id)
        roles = {int(r) for r in re.findall(r"<@&(\d+)>", content) if "roles" in parse or int(r) in roles_ok}
        everyone = "everyone" in parse and re.search(r"@(everyone|here)\b", content) is not None
        if everyone or roles or users:
            self.pings.append(Ping(msg["id"], route, everyone, sorted(roles), sorted(users), content))

    def _check_edit_rate(self, message_id: str) -> None:
        """5 edits per 5 s per message (wall clock); the next gets a 429 that discord.py waits out and retries."""
        now = time.monotonic()
        recent = [t for t in self._edits.get(message_id, []) if now - t < EDIT_WINDOW_S]
        if len(recent) >= EDITS_PER_WINDOW:
            self._edits[message_id] = recent
            self.edit_429s += 1
            retry = round(EDIT_WINDOW_S - (now - recent[0]), 3)
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": False}
            headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry))), "X-RateLimit-Scope": "user"}
            raise _Reply(429, body, headers)
        self._edits[message_id] = [*recent, now]

    async def _echo(self, event: str, msg: JSONDict) -> None:
        if not self.echo_bot_messages or msg.get("flags", 0) & FLAG_EPHEMERAL:
            return
        gid = int(msg["guild_id"]) if msg.get("guild_id") else None
        if event == "MESSAGE_DELETE":
            data: JSONDict = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if gid:
                data["guild_id"] = str(gid)
            await self.dispatch(event, lambda c: data if self._wants_messages(c, gid) else None, guild_id=gid)
            return
        await self.dispatch(
            event, lambda c: self._visible(msg, c.intents) if self._wants_messages(c, gid) else None, guild_id=gid
        )

    @staticmethod
    def _wants_messages(conn: _Connection, guild_id: int | None) -> bool:
        return bool(conn.intents & (INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES))

    # ----------------------------------------------------------------------------------------- injecting events
    async def message_create(
        self,
        content: str = "",
        *,
        author: User | None = None,
        channel: Channel | None = None,
        guild: Guild | None = None,
        attachments: Sequence[AttachmentLike] = (),
        embeds: list[JSONDict] | None = None,
        reference: JSONDict | str | int | None = None,
        mentions: Sequence[User] = (),
        reply_ping: bool = True,
    ) -> JSONDict:
        """A user posts a message (MESSAGE_CREATE to connections with GUILD_MESSAGES). Bots without the
        MESSAGE_CONTENT intent get empty content/attachments/embeds unless the message mentions the bot
        (``mentions`` or ``<@id>`` in ``content``; a reply to the bot pings it when ``reply_ping``).
        Returns the full stored message."""
        channel = self._pick_channel(guild, channel)
        author = author or self.user
        ref = self.message(reference) if isinstance(reference, str | int) else reference
        mention_list = list(mentions)
        if ref is not None and reply_ping and int(ref["author"]["id"]) in self.users:
            mention_list.append(self.users[int(ref["author"]["id"])])
        msg = self._message(
            channel,
            author,
            content=content,
            embeds=embeds,
            attachments=[self._to_attachment(a) for a in attachments],
            mentions=mention_list,
            reference=ref,
        )
        if channel.guild_id is not None and author.id in self.guilds[channel.guild_id].members:
            msg["member"] = self.guilds[channel.guild_id].members[author.id].payload(with_user=False)
        await self.dispatch(
            "MESSAGE_CREATE",
            lambda c: self._visible(msg, c.intents) if self._wants_messages(c, channel.guild_id) else None,
            guild_id=channel.guild_id,
        )
        return msg

    def _pick_channel(self, guild: Guild | None, channel: Channel | None) -> Channel:
        """``channel``, else the first channel of ``guild``, else the default #general."""
        if channel is not None:
            return channel
        return next(iter(guild.channels.values())) if guild is not None else self.channel

    def _new_interaction(
        self,
        itype: int,
        data: JSONDict,
        *,
        user: User | None,
        channel: Channel | None,
        locale: str,
        permissions: int | None,
        app_permissions: int | None,
        attachment_size_limit: int | None,
        age: float,
        message: JSONDict | None = None,
    ) -> FakeInteraction:
        user = user or self.user
        channel = channel or self.channel
        if channel.guild_id is None:
            raise ValueError("the fake only builds guild interactions")
        guild = self.guilds[channel.guild_id]
        created = self.clock() - age
        iid = snowflake(created)
        token = f"itok-{iid}-{snowflake()}"
        member = guild.members.get(user.id) or self.add_member(guild, user)
        perms = self.permissions_for(user, channel) if permissions is None else permissions
        app_perms = self.permissions_for(self.bot_user, channel) if app_permissions is None else app_permissions
        limit = attachment_size_limit or self.attachment_size_limit or guild.filesize_limit
        payload: JSONDict = {
            "id": iid,
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(guild),
            "member": member.payload(permissions=perms),
            "token": token,
            "version": 1,
            "locale": locale,
            "guild_locale": guild.preferred_locale,
            "app_permissions": str(app_perms),
            "attachment_size_limit": limit,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }
        if message is not None:
            payload["message"] = {k: v for k, v in message.items() if not k.startswith("_")}
        ix = FakeInteraction(
            fake=self,
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            created_at=created,
            user=user,
            channel=channel,
            attachment_size_limit=limit,
        )
        self.interactions[iid] = ix
        return ix

    async def _send_interaction(self, ix: FakeInteraction) -> FakeInteraction:
        if not await self.dispatch("INTERACTION_CREATE", ix.payload, guild_id=ix.channel.guild_id):
            raise RuntimeError("no bot is connected to the fake gateway")
        return ix

    def _options(
        self, options: Mapping[str, Any] | Sequence[JSONDict] | None, resolved: JSONDict, guild: Guild
    ) -> list[JSONDict]:
        if options is None:
            return []
        if not isinstance(options, Mapping):
            return [dict(o) for o in options]
        out: list[JSONDict] = []
        for name, value in options.items():
            if isinstance(value, bool):
                out.append({"name": name, "type": 5, "value": value})
            elif isinstance(value, int):
                out.append({"name": name, "type": 4, "value": value})
            elif isinstance(value, float):
                out.append({"name": name, "type": 10, "value": value})
            elif isinstance(value, str):
                out.append({"name": name, "type": 3, "value": value})
            elif isinstance(value, User):
                resolved.setdefault("users", {})[str(value.id)] = value.payload()
                member = guild.members.get(value.id)
                if member is not None:
                    resolved.setdefault("members", {})[str(value.id)] = member.payload(with_user=False)
                out.append({"name": name, "type": 6, "value": str(value.id)})
            elif isinstance(value, Role):
                resolved.setdefault("roles", {})[str(value.id)] = value.payload()
                out.append({"name": name, "type": 8, "value": str(value.id)})
            elif isinstance(value, Channel):
                ch = value.payload(self.guilds.get(value.guild_id or 0))
                ch["permissions"] = str(self.permissions_for(self.bot_user, value))
                resolved.setdefault("channels", {})[str(value.id)] = ch
                out.append({"name": name, "type": 7, "value": str(value.id)})
            elif isinstance(value, dict | tuple):
                att = self._to_attachment(value)
                resolved.setdefault("attachments", {})[str(att["id"])] = att
                out.append({"name": name, "type": 11, "value": str(att["id"])})
            else:
                raise TypeError(f"cannot turn option {name}={value!r} into a Discord option")
        return out

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSONDict] | None,
        attachments: Mapping[str, AttachmentLike] | None,
        subcommand: str | None,
        channel: Channel | None,
    ) -> JSONDict:
        resolved: JSONDict = {}
        merged: Any = options
        if attachments:
            merged = {**(options or {}), **attachments} if not isinstance(options, Sequence) else options
        guild = self.guilds[(channel or self.channel).guild_id or 0]
        opts = self._options(merged, resolved, guild)
        if isinstance(options, Sequence) and attachments:
            opts += self._options(dict(attachments), resolved, guild)
        if subcommand:
            parts = subcommand.split()
            if len(parts) == 1:
                opts = [{"name": parts[0], "type": 1, "options": opts}]
            elif len(parts) == 2:
                opts = [{"name": parts[0], "type": 2, "options": [{"name": parts[1], "type": 1, "options": opts}]}]
            else:
                raise ValueError("subcommand is 'sub' or 'group sub'")
        gid = (channel or self.channel).guild_id or 0
        cmd_guild = self._command_guild_id(name, 1, gid)
        data: JSONDict = {"id": self._command_id(name, 1, cmd_guild), "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd_guild:
            data["guild_id"] = str(cmd_guild)
        return data

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSONDict] | None = None,
        *,
        user: User | None = None,
        channel: Channel | None = None,
        guild: Guild | None = None,
        locale: str = "en-US",
        permissions: int | None = None,
        app_permissions: int | None = None,
        attachments: Mapping[str, AttachmentLike] | None = None,
        subcommand: str | None = None,
        attachment_size_limit: int | None = None,
        age: float = 0.0,
    ) -> FakeInteraction:
        """A chat-input command (interaction type 2). ``options`` as a dict is typed from the Python values
        (str/int/float/bool, User, Role, Channel, attachment payload or ``(filename, bytes[, type])``); a
        list is sent as raw option payloads. ``attachments`` adds ATTACHMENT options by name.
        ``subcommand``: ``"sub"`` or ``"group sub"``. ``permissions`` overrides the member's channel
        permissions (default: computed). ``age`` creates the interaction that many seconds ago."""
        channel = self._pick_channel(guild, channel)
        data = self._command_data(name, options, attachments, subcommand, channel)
        ix = self._new_interaction(
            2,
            data,
            user=user,
            channel=channel,
            locale=locale,
            permissions=permissions,
            app_permissions=app_permissions,
            attachment_size_limit=attachment_size_limit,
            age=age,
        )
        return await self._send_interaction(ix)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSONDict] | None = None,
        *,
        focused: str,
        user: User | None = None,
        channel: Channel | None = None,
        guild: Guild | None = None,
        locale: str = "en-US",
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """An autocomplete interaction (type 4); ``focused`` names the option being typed (its value is
        what the user typed so far, a string)."""
        channel = self._pick_channel(guild, channel)
        data = self._command_data(name, options, None, subcommand, channel)
        opts = data["options"]
        while opts and opts[0]["type"] in (1, 2):
            opts = opts[0]["options"]
        for o in opts:
            if o["name"] == focused:
                o["focused"] = True
                o["value"] = str(o["value"])
                break
        else:
            opts.append({"name": focused, "type": 3, "value": "", "focused": True})
        ix = self._new_interaction(
            4,
            data,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            attachment_size_limit=None,
            age=0.0,
        )
        return await self._send_interaction(ix)

    async def context_menu_message(
        self,
        name: str,
        target_message: JSONDict | str | int,
        *,
        user: User | None = None,
        channel: Channel | None = None,
        guild: Guild | None = None,
        locale: str = "en-US",
        permissions: int | None = None,
        attachment_size_limit: int | None = None,
        age: float = 0.0,
    ) -> FakeInteraction:
        """A message context menu command (type 2, command type 3); the target arrives in
        ``resolved.messages`` with its content and attachments whatever the intents."""
        target = self.message(target_message) if isinstance(target_message, str | int) else target_message
        channel = channel or (self._pick_channel(guild, None) if guild else self.channels[int(target["channel_id"])])
        cmd_guild = self._command_guild_id(name, 3, channel.guild_id or 0)
        data: JSONDict = {
            "id": self._command_id(name, 3, cmd_guild),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: {k: v for k, v in target.items() if not k.startswith("_")}}},
        }
        if cmd_guild:
            data["guild_id"] = str(cmd_guild)
        ix = self._new_interaction(
            2,
            data,
            user=user,
            channel=channel,
            locale=locale,
            permissions=permissions,
            app_permissions=None,
            attachment_size_limit=attachment_size_limit,
            age=age,
        )
        return await self._send_interaction(ix)

    async def context_menu_user(
        self,
        name: str,
        target_user: User,
        *,
        user: User | None = None,
        channel: Channel | None = None,
        guild: Guild | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user context menu command (type 2, command type 2)."""
        channel = self._pick_channel(guild, channel)
        cmd_guild = self._command_guild_id(name, 2, channel.guild_id or 0)
        resolved: JSONDict = {"users": {str(target_user.id): target_user.payload()}}
        member = self.guilds[channel.guild_id or 0].members.get(target_user.id) if channel.guild_id else None
        if member is not None:
            resolved["members"] = {str(target_user.id): member.payload(with_user=False)}
        data: JSONDict = {
            "id": self._command_id(name, 2, cmd_guild),
            "name": name,
            "type": 2,
            "target_id": str(target_user.id),
            "resolved": resolved,
        }
        if cmd_guild:
            data["guild_id"] = str(cmd_guild)
        ix = self._new_interaction(
            2,
            data,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            attachment_size_limit=None,
            age=0.0,
        )
        return await self._send_interaction(ix)

    @staticmethod
    def _walk_components(components: Iterable[JSONDict]) -> Iterable[JSONDict]:
        for comp in components:
            yield comp
            yield from FakeDiscord._walk_components(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    yield from FakeDiscord._walk_components([comp[key]])

    async def click(
        self,
        message: JSONDict | str | int,
        custom_id: str,
        *,
        user: User | None = None,
        values: Sequence[str] | None = None,
        locale: str = "en-US",
        age: float = 0.0,
    ) -> FakeInteraction:
        """A component interaction (type 3) on a stored message: a button press, or a select with ``values``.
        The interaction carries the message with its components, as discord.py needs for DynamicItems."""
        msg = self.message(message if isinstance(message, str | int) else message["id"])
        comp = next(
            (c for c in self._walk_components(msg.get("components", [])) if c.get("custom_id") == custom_id), None
        )
        if comp is None:
            raise ValueError(f"message {msg['id']} has no component with custom_id {custom_id!r}")
        data: JSONDict = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] != 2:
            data["values"] = list(values or [])
        ix = self._new_interaction(
            3,
            data,
            user=user,
            channel=self.channels[int(msg["channel_id"])],
            locale=locale,
            permissions=None,
            app_permissions=None,
            attachment_size_limit=None,
            age=age,
            message=msg,
        )
        return await self._send_interaction(ix)

    def _submit_component(
        self, comp: JSONDict, fields: Mapping[str, Any], uploads: Mapping[str, Sequence[JSONDict]], resolved: JSONDict
    ) -> JSONDict:
        ctype = comp["type"]
        if ctype == 1:
            return {
                "type": 1,
                "id": comp.get("id", 0),
                "components": [
                    self._submit_component(c, fields, uploads, resolved) for c in comp.get("components", [])
                ],
            }
        if ctype == 18:
            return {
                "type": 18,
                "id": comp.get("id", 0),
                "component": self._submit_component(comp["component"], fields, uploads, resolved),
            }
        cid = comp.get("custom_id")
        out: JSONDict = {"type": ctype, "id": comp.get("id", 0)}
        if cid is None:
            return out
        out["custom_id"] = cid
        if ctype == 4:
            out["value"] = str(fields.get(cid, comp.get("value") or ""))
        elif ctype == 19:
            atts = list(uploads.get(cid, []))
            for a in atts:
                resolved.setdefault("attachments", {})[str(a["id"])] = a
            out["values"] = [str(a["id"]) for a in atts]
        else:
            value = fields.get(cid)
            if isinstance(value, list | tuple):
                out["values"] = [str(v) for v in value]
            elif value is not None:
                out["value"] = value
            elif ctype in (3, 5, 6, 7, 8):
                out["values"] = []
        return out

    async def submit_modal(
        self,
        interaction_or_custom_id: FakeInteraction | str,
        fields: Mapping[str, Any] | None = None,
        *,
        attachments: Mapping[str, Sequence[AttachmentLike]] | None = None,
        user: User | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Submit a modal (type 5). Given the interaction the bot answered with a modal (callback type 9),
        the submission mirrors that modal's components: ``fields`` maps custom_id -> text value (or list of
        values for selects); ``attachments`` maps a FileUpload's custom_id -> files, sent in
        ``resolved.attachments``. Given a custom_id string, each field becomes a Label(TextInput) and each
        attachments entry a Label(FileUpload)."""
        fields = dict(fields or {})
        uploads = {k: [self._to_attachment(a) for a in v] for k, v in (attachments or {}).items()}
        resolved: JSONDict = {}
        message = None
        if isinstance(interaction_or_custom_id, FakeInteraction):
            parent = interaction_or_custom_id
            cb = next((c for c in parent.callbacks if c.status == 200 and (c.json or {}).get("type") == 9), None)
            if cb is None:
                raise ValueError("that interaction was not answered with a modal")
            modal = cb.json["data"]
            custom_id = modal["custom_id"]
            components = [self._submit_component(c, fields, uploads, resolved) for c in modal["components"]]
            user = user or parent.user
            channel = parent.channel
            message = parent.payload.get("message")
        else:
            custom_id = interaction_or_custom_id
            channel = self.channel
            components = []
            n = itertools.count(1)
            for cid, value in fields.items():
                inner = {"type": 4, "id": next(n), "custom_id": cid, "value": str(value)}
                components.append({"type": 18, "id": next(n), "component": inner})
            for cid, atts in uploads.items():
                for a in atts:
                    resolved.setdefault("attachments", {})[str(a["id"])] = a
                inner = {"type": 19, "id": next(n), "custom_id": cid, "values": [str(a["id"]) for a in atts]}
                components.append({"type": 18, "id": next(n), "component": inner})
        data: JSONDict = {"custom_id": custom_id, "components": components}
        if resolved:
            data["resolved"] = resolved
        ix = self._new_interaction(
            5,
            data,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            attachment_size_limit=None,
            age=0.0,
            message=message,
        )
        return await self._send_interaction(ix)

    # ----------------------------------------------------------------------------------------- HTTP plumbing
    def _build_routes(self) -> None:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._h_me),
            ("GET", "/oauth2/applications/@me", self._h_app),
            ("GET", "/applications/@me", self._h_app),
            ("GET", "/gateway/bot", self._h_gateway_bot),
            ("GET", "/gateway", self._h_gateway_bot),
            ("PUT", "/applications/{app}/commands", self._h_sync),
            ("GET", "/applications/{app}/commands", self._h_get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._h_sync),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._h_get_commands),
            ("POST", "/interactions/{interaction}/{token}/callback", self._h_callback),
            ("POST", "/webhooks/{app}/{token}", self._h_followup),
            ("GET", "/webhooks/{app}/{token}/messages/@original", self._h_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/@original", self._h_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/@original", self._h_webhook_message),
            ("GET", "/webhooks/{app}/{token}/messages/{message}", self._h_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self._h_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message}", self._h_webhook_message),
            ("POST", "/users/@me/channels", self._h_create_dm),
            ("GET", "/users/{user}", self._h_get_user),
            ("GET", "/guilds/{guild}", self._h_get_guild),
            ("GET", "/guilds/{guild}/channels", self._h_get_guild),
            ("GET", "/guilds/{guild}/roles", self._h_get_guild),
            ("GET", "/guilds/{guild}/members/{user}", self._h_get_member),
            ("GET", "/channels/{channel}", self._h_get_channel),
            ("POST", "/channels/{channel}/typing", self._h_no_content),
            ("POST", "/channels/{channel}/messages", self._h_channel_post),
            ("GET", "/channels/{channel}/messages", self._h_channel_history),
            ("GET", "/channels/{channel}/messages/{message}", self._h_channel_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._h_channel_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self._h_channel_message),
            ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._h_no_content),
            ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._h_no_content),
        ]
        for method, template, handler in table:
            rx = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
            self._routes.append((method, re.compile(rx), template, handler))

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[FileInfo], int]:
        files: list[FileInfo] = []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            size = 0
            reader = await request.multipart()
            async for part in reader:
                raw = await part.read()  # type: ignore[union-attr]
                size += len(raw)
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(raw)
                else:
                    m = re.fullmatch(r"files\[(\d+)\]", name)
                    files.append(
                        FileInfo(
                            index=int(m.group(1)) if m else len(files),
                            filename=part.filename or name,
                            size=len(raw),
                            content_type=part.headers.get("Content-Type"),
                            data=bytes(raw),
                        )
                    )
            return payload, files, size
        raw = await request.read()
        return (json.loads(raw) if raw else None), files, len(raw)

    async def _cdn(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        call = Call(
            "GET", "GET /cdn/{file}", "/cdn/" + name, dict(request.query), None, [], dict(request.headers), self.clock()
        )
        self.calls.append(call)
        if name in self.cdn_files:
            data, ctype = self.cdn_files[name]
            call.status = 200
            resp = web.Response(body=data, headers={"Content-Type": ctype})
        else:
            call.status = 404
            resp = web.Response(status=404, text="not found")
        await self._notify()
        return resp

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        body, files, size = await self._read_body(request)
        handler: Handler | None = None
        params: dict[str, str] = {}
        route = f"{method} {path} <unmatched>"
        for m, rx, template, h in self._routes:
            if m == method and (mt := rx.fullmatch(path)):
                handler, params, route = h, mt.groupdict(), f"{method} {template}"
                break
        call = Call(method, route, path, dict(request.query), body, files, dict(request.headers), self.clock(), size)
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            injection = next(
                (i for i in self._injections if i.remaining and call.matches(i.method, i.route_substr)), None
            )
            if injection is not None:
                injection.remaining -= 1
                call.injected = True
                raise _Reply(injection.status, injection.body, injection.headers)
            if handler is None:
                raise _fail(404, 0, "404: Not Found")
            if size > MAX_REQUEST_BYTES:
                raise _fail(413, 40005, "Request entity too large")
            if len(files) > MAX_ATTACHMENTS:
                raise _too_many_files()
            bot_route = not route.split(" ", 1)[1].startswith(("/interactions/", "/webhooks/"))
            if bot_route and request.headers.get("Authorization") != f"Bot {self.token}":
                raise _fail(401, 0, "401: Unauthorized")
            status, data = await handler(request, params, body, files)
        except _Reply as r:
            status, data, headers = r.status, r.body, r.headers
        call.status, call.response = status, data
        await self._notify()
        if status == 204:
            return web.Response(status=204)
        return _jresp(data, status, headers)

    # ----------------------------------------------------------------------------------------- REST handlers
    async def _h_no_content(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        return 204, None

    async def _h_me(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        return 200, {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "locale": "en-US"}

    async def _h_app(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        return 200, {
            "id": str(self.app_id),
            "name": self.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "interactions_endpoint_url": None,
            "bot": self.bot_user.payload(),
        }

    async def _h_gateway_bot(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.shards,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    async def _h_sync(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        gid = int(p["guild"]) if "guild" in p else None
        if p["app"] != str(self.app_id):
            raise _fail(403, 50001, "Missing Access")
        self.command_syncs.append(CommandSync(gid, list(body or []), self.clock()))
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self.registered_commands.get(gid, [])}
        out = []
        for cmd in body or []:
            c = dict(cmd)
            c.setdefault("type", 1)
            c.setdefault("description", "")
            c.setdefault("options", [])
            perms = c.get("default_member_permissions")
            c["default_member_permissions"] = None if perms is None else str(perms)  # Discord answers a string
            c.setdefault("nsfw", False)
            c["id"] = previous.get((c["name"], c["type"])) or snowflake(self.clock())
            c["application_id"] = str(self.app_id)
            c["version"] = snowflake(self.clock())
            if gid is not None:
                c["guild_id"] = str(gid)
            out.append(c)
        self.registered_commands[gid] = out
        return 200, out

    async def _h_get_commands(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        return 200, self.registered_commands.get(int(p["guild"]) if "guild" in p else None, [])

    @staticmethod
    def _check_sizes(files: list[FileInfo], limit: int) -> None:
        if any(f.size > limit for f in files):
            raise _fail(413, 40005, "Request entity too large")

    async def _h_callback(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        ix = self.interactions.get(p["interaction"])
        if ix is None or ix.token != p["token"] or ix.expired:
            raise _fail(404, 10062, "Unknown interaction")
        if ix.acked_type is not None:
            raise _fail(400, 40060, "Interaction has already been acknowledged.")
        if self.clock() - ix.created_at > CALLBACK_WINDOW_S:
            raise _fail(404, 10062, "Unknown interaction")
        self._check_sizes(files, ix.attachment_size_limit)
        body = body or {}
        rtype = int(body.get("type", 0))
        rdata = body.get("data") or {}
        flags = int(rdata.get("flags") or 0)
        ix.acked_type = rtype
        info: JSONDict = {
            "id": ix.id,
            "type": ix.type,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(flags & FLAG_EPHEMERAL),
        }
        resource: JSONDict = {"type": rtype}
        echo: tuple[str, JSONDict] | None = None
        if rtype in (4, 5):
            msg = self._message(
                ix.channel,
                self.bot_user,
                flags=(flags & FLAG_EPHEMERAL) | (FLAG_LOADING if rtype == 5 else 0),
                type=(20 if (ix.payload["data"] or {}).get("type", 1) == 1 else 23) if ix.type == 2 else 0,
                webhook_id=str(self.app_id),
                application_id=str(self.app_id),
                interaction_metadata=self._metadata(ix),
                _interaction=ix.id,
            )
            if rtype == 4:
                self._apply_body(msg, rdata, files, edit=False)
                self._record_pings(msg, rdata, "callback")
            ix.original_id = msg["id"]
            info["response_message_id"] = msg["id"]
            resource["message"] = self._visible(msg, None)
            echo = ("MESSAGE_CREATE", msg)
        elif rtype in (6, 7) and "message" in ix.payload:  # component interaction, or a modal opened from one
            mid = ix.payload["message"]["id"]
            ix.original_id = mid
            if rtype == 7 and mid in self.messages:
                self._check_edit_rate(mid)
                msg = self._apply_body(self.messages[mid], rdata, files, edit=True)
                resource["message"] = self._visible(msg, None)
                echo = ("MESSAGE_UPDATE", msg)
        if echo is not None:
            await self._echo(*echo)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        return 200, {"interaction": info, "resource": resource}

    def _metadata(self, ix: FakeInteraction) -> JSONDict:
        out: JSONDict = {
            "id": ix.id,
            "type": ix.type,
            "user": ix.user.payload(),
            "authorizing_integration_owners": {"0": str(ix.channel.guild_id)},
        }
        if ix.type == 2:
            out["name"] = (ix.payload.get("data") or {}).get("name", "")
        if ix.type == 3:
            out["interacted_message_id"] = ix.payload["message"]["id"]
        return out

    def _webhook_interaction(self, p: dict[str, str], files: list[FileInfo]) -> FakeInteraction:
        if p["app"] != str(self.app_id):
            raise _fail(404, 10015, "Unknown Webhook")
        ix = next((i for i in self.interactions.values() if i.token == p["token"]), None)
        if ix is None or ix.expired or self.clock() - ix.created_at > TOKEN_LIFETIME_S:
            raise _fail(401, 50027, "Invalid Webhook Token")
        if ix.acked_type is None:
            raise _fail(404, 10015, "Unknown Webhook")
        self._check_sizes(files, ix.attachment_size_limit)
        return ix

    async def _h_followup(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        ix = self._webhook_interaction(p, files)
        body = body or {}
        original = ix.original
        if original is not None and original.get("flags", 0) & FLAG_LOADING:
            # The first followup after a "thinking" defer replaces the loading message (as Discord does).
            msg = self._apply_body(original, body, files, edit=True)
            event = "MESSAGE_UPDATE"
        else:
            msg = self._message(
                ix.channel,
                self.bot_user,
                flags=int(body.get("flags") or 0),
                webhook_id=str(self.app_id),
                application_id=str(self.app_id),
                interaction_metadata=self._metadata(ix),
                _interaction=ix.id,
            )
            self._apply_body(msg, body, files, edit=False)
            event = "MESSAGE_CREATE"
        self._record_pings(msg, body, "followup")
        await self._echo(event, msg)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return 204, None
        return 200, self._visible(msg, None)

    async def _h_webhook_message(
        self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]
    ) -> Any:
        ix = self._webhook_interaction(p, files)
        mid = p.get("message", ix.original_id)
        msg = self.messages.get(mid or "")
        if msg is None or (msg.get("_interaction") != ix.id and mid != ix.original_id):
            raise _fail(404, 10008, "Unknown Message")
        if request.method == "GET":
            return 200, self._visible(msg, None)
        if request.method == "DELETE":
            del self.messages[msg["id"]]
            await self._echo("MESSAGE_DELETE", msg)
            return 204, None
        self._check_edit_rate(msg["id"])
        self._apply_body(msg, body, files, edit=True)
        await self._echo("MESSAGE_UPDATE", msg)
        return 200, self._visible(msg, None)

    def _channel(self, p: dict[str, str]) -> Channel:
        channel = self.channels.get(int(p["channel"])) if p["channel"].isdigit() else None
        if channel is None:
            raise _fail(404, 10003, "Unknown Channel")
        return channel

    def _guild(self, p: dict[str, str]) -> Guild:
        guild = self.guilds.get(int(p["guild"])) if p["guild"].isdigit() else None
        if guild is None:
            raise _fail(404, 10004, "Unknown Guild")
        return guild

    async def _h_get_user(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        user = self.users.get(int(p["user"])) if p["user"].isdigit() else None
        if user is None:
            raise _fail(404, 10013, "Unknown User")
        return 200, user.payload()

    async def _h_get_guild(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        guild = self._guild(p)
        if request.path.endswith("/channels"):
            return 200, [c.payload(guild) for c in guild.channels.values()]
        if request.path.endswith("/roles"):
            return 200, [r.payload() for r in guild.roles.values()]
        out = guild.payload()
        for key in ("channels", "members", "threads", "presences", "voice_states", "joined_at", "large"):
            out.pop(key, None)
        return 200, out

    async def _h_get_member(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        guild = self._guild(p)
        member = guild.members.get(int(p["user"])) if p["user"].isdigit() else None
        if member is None:
            raise _fail(404, 10007, "Unknown Member")
        return 200, member.payload()

    async def _h_get_channel(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        channel = self._channel(p)
        return 200, channel.payload(self.guilds.get(channel.guild_id or 0))

    async def _h_create_dm(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        uid = int((body or {}).get("recipient_id", 0))
        if uid not in self.users:
            raise _fail(400, 50035, "Invalid Form Body")
        channel = next((c for c in self.channels.values() if c.recipient is not None and c.recipient.id == uid), None)
        if channel is None:
            channel = Channel(
                id=int(snowflake(self.clock())), guild_id=None, name="", type=1, recipient=self.users[uid]
            )
            self.channels[channel.id] = channel
        return 200, channel.payload()

    async def _h_channel_post(self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]) -> Any:
        channel = self._channel(p)
        body = body or {}
        if channel.guild_id is None:
            assert channel.recipient is not None
            if channel.recipient.id in self.dms_closed:
                raise _fail(403, 50007, "Cannot send messages to this user")
            limit = 10 * MiB
        else:
            perms = self.permissions_for(self.bot_user, channel)
            if not perms & Perm.VIEW_CHANNEL:
                raise _fail(403, 50001, "Missing Access")
            needed = Perm.SEND_MESSAGES | (Perm.ATTACH_FILES if files else 0)
            if self.channel_posts_forbidden or perms & needed != needed:
                raise _fail(403, 50013, "Missing Permissions")
            limit = self.guilds[channel.guild_id].filesize_limit
        self._check_sizes(files, limit)
        if not (
            body.get("content") or body.get("embeds") or body.get("components") or files or body.get("sticker_ids")
        ):
            raise _fail(400, 50006, "Cannot send an empty message")
        ref = None
        if isinstance(body.get("message_reference"), dict):
            ref = self.messages.get(str(body["message_reference"].get("message_id")))
        msg = self._message(channel, self.bot_user, reference=ref)
        self._apply_body(msg, body, files, edit=False)
        self._record_pings(msg, body, "channel")
        await self._echo("MESSAGE_CREATE", msg)
        return 200, self._visible(msg, None)

    def _channel_msg(self, p: dict[str, str]) -> tuple[Channel, JSONDict]:
        channel = self._channel(p)
        msg = self.messages.get(p["message"])
        if msg is None or msg["channel_id"] != str(channel.id):
            raise _fail(404, 10008, "Unknown Message")
        return channel, msg

    async def _h_channel_history(
        self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]
    ) -> Any:
        channel = self._channel(p)
        limit = int(request.query.get("limit", 50))
        msgs = [m for m in self.messages.values() if m["channel_id"] == str(channel.id)]
        msgs.sort(key=lambda m: int(m["id"]), reverse=True)
        intents = self._current_intents()
        return 200, [self._visible(m, intents) for m in msgs[:limit]]

    async def _h_channel_message(
        self, request: web.Request, p: dict[str, str], body: Any, files: list[FileInfo]
    ) -> Any:
        channel, msg = self._channel_msg(p)
        if request.method == "GET":
            return 200, self._visible(msg, self._current_intents())
        is_own = str(msg["author"]["id"]) == str(self.bot_user.id)
        if request.method == "DELETE":
            if not is_own and not self.permissions_for(self.bot_user, channel) & Perm.MANAGE_MESSAGES:
                raise _fail(403, 50013, "Missing Permissions")
            del self.messages[msg["id"]]
            await self._echo("MESSAGE_DELETE", msg)
            return 204, None
        if not is_own:
            raise _fail(403, 50005, "Cannot edit a message authored by another user")
        if channel.guild_id is not None:
            self._check_sizes(files, self.guilds[channel.guild_id].filesize_limit)
        self._check_edit_rate(msg["id"])
        self._apply_body(msg, body, files, edit=True)
        await self._echo("MESSAGE_UPDATE", msg)
        return 200, self._visible(msg, None)
