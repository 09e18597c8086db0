"""Discord settings (``DISCORD_*`` in the environment or ``.env``), read only by ``python -m bot``.

The bot itself takes a plain :class:`BotConfig`, so tests never depend on the environment (STYLE §8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import MissingSettingError

LOCALES = ("en-US", "zh-CN")


def _ids(raw: str) -> tuple[int, ...]:
    return tuple(int(p) for p in raw.replace(";", ",").replace(" ", ",").split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class BotConfig:
    """What the running bot needs to know (defaults match the settings' defaults)."""

    guild_ids: tuple[int, ...] = ()  # development guilds: commands sync there instantly instead of globally
    channel_ids: tuple[int, ...] = ()  # allow-list; empty means every channel
    member_jobs: int = 2  # concurrent jobs per member
    member_queue: int = 5  # jobs a member may have waiting beyond those
    max_running: int = 0  # jobs running at once across members; 0 = the accounts' total capacity
    status_interval: float = 3.0  # seconds between edits of a status message
    message_content: bool = False  # request the privileged Message Content intent
    locale: str = "en-US"  # replies for members whose Discord language is neither English nor Chinese
    admin_channel_id: int | None = None  # where "the session expired" notices go
    interaction_deadline_s: float = 14 * 60.0  # after this, results go to the channel (tokens live 15 min)
    shard_count: int | None = None  # None: the count Discord recommends (GET /gateway/bot) at each start
    shard_ids: tuple[int, ...] = ()  # the shards this process runs; empty: all of them
    extensions: tuple[str, ...] = field(
        default=("cogs.errors", "cogs.images", "cogs.videos", "cogs.account", "cogs.settings")
    )


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISCORD_", env_file=".env", extra="ignore")

    token: SecretStr = SecretStr("")
    guild_ids: str = ""
    channel_ids: str = ""
    member_jobs: int = Field(default=2, ge=1, le=10)
    member_queue: int = Field(default=5, ge=0, le=50)
    max_running: int = Field(default=0, ge=0, le=200)
    # Discord allows about 5 edits per 5 s on one message: never below 1.5 s (issue #11)
    status_interval: float = Field(default=3.0, ge=1.5, le=60)
    message_content: bool = False
    locale: str = "en-US"
    admin_channel_id: int | None = None
    # Discord at scale (issue #16): empty = the count Discord recommends; set both to split shards over processes
    shard_count: int | None = Field(default=None, ge=1, le=4096)
    shard_ids: str = ""

    @field_validator("admin_channel_id", "shard_count", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``DISCORD_ADMIN_CHANNEL_ID=`` (as in .env.example) means unset, not a bad number."""
        return None if isinstance(value, str) and not value.strip() else value

    def _shards(self) -> tuple[int, ...]:
        try:
            ids = _ids(self.shard_ids)
        except ValueError:
            raise MissingSettingError("DISCORD_SHARD_IDS must be comma-separated shard numbers (0, 1, …)") from None
        if ids and self.shard_count is None:
            raise MissingSettingError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total over every process)")
        if ids and (len(set(ids)) != len(ids) or not all(0 <= i < (self.shard_count or 0) for i in ids)):
            raise MissingSettingError(
                f"DISCORD_SHARD_IDS must be distinct numbers from 0 to {(self.shard_count or 1) - 1} "
                "(DISCORD_SHARD_COUNT - 1)"
            )
        return ids

    def bot_config(self) -> BotConfig:
        try:
            guilds, channels = _ids(self.guild_ids), _ids(self.channel_ids)
        except ValueError:
            raise MissingSettingError("DISCORD_GUILD_IDS / DISCORD_CHANNEL_IDS must be comma-separated ids") from None
        shard_ids = self._shards()
        locale = self.locale if self.locale in LOCALES else "en-US"
        return BotConfig(
            guild_ids=guilds,
            channel_ids=channels,
            member_jobs=self.member_jobs,
            member_queue=self.member_queue,
            max_running=self.max_running,
            status_interval=self.status_interval,
            message_content=self.message_content,
            locale=locale,
            admin_channel_id=self.admin_channel_id,
            shard_count=self.shard_count,
            shard_ids=shard_ids,
        )


def load_discord_settings() -> DiscordSettings:
    """Read ``DISCORD_*``; a missing token or a bad value is one readable ``MissingSettingError``."""
    try:
        settings = DiscordSettings()
    except ValidationError as err:
        first = err.errors()[0]
        name = "DISCORD_" + str(first["loc"][0]).upper() if first.get("loc") else "a DISCORD_ setting"
        raise MissingSettingError(f"{name} is invalid: {first['msg']}") from None
    if not settings.token.get_secret_value().strip():
        raise MissingSettingError(
            "DISCORD_TOKEN is not set: put your bot token in .env (see docs/DISCORD.md, 'Creating the application')"
        )
    return settings
