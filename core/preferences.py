"""Server and member settings (issue #15): what they hold, how they are checked, and the effective settings of a
request — the environment's defaults, then the server's, then the member's, then the request's own options.

A change is checked whole before anything is written, and written as one row (one transaction): a refused change
leaves the stored settings as they were. Front ends check who may change what (Discord permissions) and whether a
channel or role exists; core checks values. Nothing here knows Discord.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from core.catalogue import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from core.prefcheck import SettingsChecker
from core.registry import Registry
from core.wire import Region

if TYPE_CHECKING:
    from core.engine import Engine
    from core.jobs import JobStore

CACHE_S = 10.0  # settings read on every interaction come from memory this long (another process's change shows then)
OPTION_KEYS = ("model", "ratio", "resolution", "count", "negative_prompt", "language")
Source = Literal["env", "server", "member", "option"]


@dataclass(frozen=True, slots=True)
class MemberPrefs:
    """A member's own defaults in one server. None = not set."""

    image_model: str | None = None
    video_model: str | None = None
    ratio: str | None = None
    resolution: str | None = None
    count: int | None = None
    negative_prompt: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def is_empty(self) -> bool:
        return not self.to_dict()


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's settings. None = not set (the environment's value applies)."""

    channel_ids: tuple[int, ...] | None = None  # () = every channel, set explicitly
    role_id: int | None = None
    image_model: str | None = None
    video_model: str | None = None
    resolution: str | None = None
    member_jobs: int | None = None
    member_queue: int | None = None
    quota: int | None = None  # per member per Beijing day; 0 = nobody may generate
    quota_unit: str = "jobs"
    locale: str | None = None
    admin_channel_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if out.get("quota_unit") == "jobs":
            out.pop("quota_unit")
        if "channel_ids" in out:
            out["channel_ids"] = list(out["channel_ids"])
        return out

    @property
    def is_empty(self) -> bool:
        return not self.to_dict()


@dataclass(frozen=True, slots=True)
class ServerDefaults:
    """The environment's values: what a server that set nothing gets."""

    channel_ids: tuple[int, ...] = ()
    role_id: int | None = None
    image_model: str = DEFAULT_IMAGE_MODEL
    video_model: str = DEFAULT_VIDEO_MODEL
    resolution: str | None = None  # None: each model's own default
    member_jobs: int = 2
    member_queue: int = 5
    quota: int | None = None
    quota_unit: str = "jobs"
    locale: str = "en-US"
    admin_channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class Effective:
    """Settings for one request: environment ⊕ server ⊕ member ⊕ explicit options (the later wins)."""

    kind: str
    image_model: str
    video_model: str
    ratio: str | None
    resolution: str | None
    count: int | None
    negative_prompt: str
    language: str | None
    channel_ids: tuple[int, ...]
    role_id: int | None
    member_jobs: int
    member_queue: int
    quota: int | None
    quota_unit: str
    locale: str
    admin_channel_id: int | None
    source: dict[str, Source] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.video_model if self.kind == "video" else self.image_model


class Preferences:
    """Member and server settings in the store, checked against the registry and the configured accounts' regions."""

    def __init__(
        self,
        store: JobStore,
        registry: Registry,
        regions: Callable[[], frozenset[Region]],
        defaults: ServerDefaults | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.registry = registry
        self.regions = regions
        self.check = SettingsChecker(registry, regions)
        self.defaults = defaults or ServerDefaults()
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = asyncio.Lock()  # read-modify-write of one row at a time

    @classmethod
    def for_engine(cls, engine: Engine, defaults: ServerDefaults | None = None) -> Preferences:
        return cls(engine.store, engine.registry, engine.regions, defaults)

    # ------------------------------------------------------------------------------------------------ reading

    async def _load(self, scope: str, subject: str) -> dict[str, Any]:
        hit = self._cache.get((scope, subject))
        if hit is not None and self._clock() - hit[0] < CACHE_S:
            return dict(hit[1])
        data = await self.store.load_settings(scope, subject) or {}
        self._cache[(scope, subject)] = (self._clock(), data)
        return dict(data)

    async def get_member(self, guild_id: int | None, user_id: int) -> MemberPrefs:
        data = await self._load("member", _member_subject(guild_id, user_id))
        known = {f.name for f in fields(MemberPrefs)}
        return MemberPrefs(**{k: v for k, v in data.items() if k in known})

    async def get_guild(self, guild_id: int) -> GuildSettings:
        data = await self._load("guild", str(guild_id))
        known = {f.name for f in fields(GuildSettings)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("channel_ids"), list):
            data["channel_ids"] = tuple(data["channel_ids"])
        return GuildSettings(**data)

    # ------------------------------------------------------------------------------------------------ writing

    async def set_member(self, guild_id: int | None, user_id: int, **changes: Any) -> MemberPrefs:
        """Apply ``changes`` (None unsets a field). Everything is checked first; then one write."""
        async with self._lock:
            current = await self.get_member(guild_id, user_id)
            updated = replace(current, **self.check.checked(_FIELDS_MEMBER, changes))
            self.check.model_fit(updated.image_model, updated.resolution, updated.count)
            await self._save("member", _member_subject(guild_id, user_id), updated.to_dict())
            return updated

    async def set_guild(self, guild_id: int, **changes: Any) -> GuildSettings:
        async with self._lock:
            current = await self.get_guild(guild_id)
            checked = self.check.checked(_FIELDS_GUILD, changes)
            if "quota_unit" in checked and checked["quota_unit"] is None:
                checked["quota_unit"] = "jobs"
            updated = replace(current, **checked)
            self.check.model_fit(updated.image_model, updated.resolution, None)
            await self._save("guild", str(guild_id), updated.to_dict())
            return updated

    async def reset_member(self, guild_id: int | None, user_id: int) -> None:
        async with self._lock:
            await self._save("member", _member_subject(guild_id, user_id), None)

    async def reset_guild(self, guild_id: int) -> None:
        async with self._lock:
            await self._save("guild", str(guild_id), None)

    async def _save(self, scope: str, subject: str, data: dict[str, Any] | None) -> None:
        self._cache.pop((scope, subject), None)
        await self.store.save_settings(scope, subject, data or None)
        self._cache[(scope, subject)] = (self._clock(), data or {})

    # ------------------------------------------------------------------------------------------------ checks

    def _usable(self, name: str | None, kind: str) -> str | None:
        """A stored default model, or None when the accounts no longer offer it (the next layer's default applies)."""
        info = self.registry.get(name) if name else None
        regions = self.regions()
        if info is None or info.kind != kind or (regions and not info.regions & regions):
            return None
        return info.name

    async def effective(
        self,
        guild_id: int | None,
        user_id: int | None,
        options: Mapping[str, Any] | None = None,
        *,
        kind: str = "image",
    ) -> Effective:
        """The settings one request runs with. ``options`` (``model``, ``ratio``, ``resolution``, ``count``,
        ``negative_prompt``, ``language``; None or "" = not given) win over everything."""
        d = self.defaults
        guild = await self.get_guild(guild_id) if guild_id is not None else GuildSettings()
        member = await self.get_member(guild_id, user_id) if user_id is not None else MemberPrefs()
        opts = {k: v for k, v in (options or {}).items() if k in OPTION_KEYS and v not in (None, "")}
        source: dict[str, Source] = {}

        def pick(name: str, *layers: tuple[Source, Any]) -> Any:
            for src, value in layers:
                if value is not None:
                    source[name] = src
                    return value
            return None

        given: Any = opts.get("model")
        image_opt: list[tuple[Source, Any]] = [("option", given)] if kind != "video" else []
        video_opt: list[tuple[Source, Any]] = [("option", given)] if kind == "video" else []
        image_model = pick(
            "image_model",
            *image_opt,
            ("member", self._usable(member.image_model, "image")),
            ("server", self._usable(guild.image_model, "image")),
            ("env", d.image_model),
        )
        video_model = pick(
            "video_model",
            *video_opt,
            ("member", self._usable(member.video_model, "video")),
            ("server", self._usable(guild.video_model, "video")),
            ("env", d.video_model),
        )
        if kind == "video":  # the stored resolution and count are image settings
            resolution = pick("resolution", ("option", opts.get("resolution")))
            count = pick("count", ("option", opts.get("count")))
        else:
            resolution = pick(
                "resolution",
                ("option", opts.get("resolution")),
                ("member", member.resolution),
                ("server", guild.resolution),
                ("env", d.resolution),
            )
            count = pick("count", ("option", opts.get("count")), ("member", member.count))
            # a default made for another model is dropped (the model's own default applies), not sent to fail the job
            info = self.registry.get(image_model)
            if info and resolution and source["resolution"] != "option" and resolution not in info.resolutions:
                resolution = None
                source.pop("resolution")
            if info and count and source["count"] != "option" and count not in (info.count_options or (1,)):
                count = None
                source.pop("count")
        return Effective(
            kind=kind,
            image_model=image_model,
            video_model=video_model,
            ratio=pick("ratio", ("option", opts.get("ratio")), ("member", member.ratio)),
            resolution=resolution,
            count=count,
            negative_prompt=pick(
                "negative_prompt",
                ("option", opts.get("negative_prompt")),
                ("member", member.negative_prompt),
                ("env", ""),
            ),
            language=pick("language", ("option", opts.get("language")), ("member", member.language)),
            channel_ids=pick("channel_ids", ("server", guild.channel_ids), ("env", d.channel_ids)),
            role_id=pick("role_id", ("server", guild.role_id), ("env", d.role_id)),
            member_jobs=pick("member_jobs", ("server", guild.member_jobs), ("env", d.member_jobs)),
            member_queue=pick("member_queue", ("server", guild.member_queue), ("env", d.member_queue)),
            quota=pick("quota", ("server", guild.quota), ("env", d.quota)),
            quota_unit=guild.quota_unit if guild.quota is not None else d.quota_unit,
            locale=pick("locale", ("server", guild.locale), ("env", d.locale)),
            admin_channel_id=pick("admin_channel_id", ("server", guild.admin_channel_id), ("env", d.admin_channel_id)),
            source=source,
        )


def _member_subject(guild_id: int | None, user_id: int) -> str:
    return f"{guild_id if guild_id is not None else 'dm'}:{user_id}"


_FIELDS_MEMBER = frozenset(f.name for f in fields(MemberPrefs))
_FIELDS_GUILD = frozenset(f.name for f in fields(GuildSettings))
