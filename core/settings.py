"""Settings read from the environment and ``.env`` — only entry points (``python -m core``/``bot``/``api``) use this.

Library code never reads the environment (STYLE §8); it takes an ``EngineConfig``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.catalogue import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from core.config import EngineConfig
from core.errors import JimengError
from core.links import MIN_SECRET_CHARS
from core.policy import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    IMAGE_DEADLINE_S,
    IMAGE_EXPECTED_S,
    LEASE_S,
    VIDEO_DEADLINE_S,
    VIDEO_EXPECTED_S,
)
from core.timings import Timing
from core.tokens import parse_tokens


class MissingSettingError(Exception):
    """A required setting is absent; the message is one readable line for the person starting the service."""


class JimengSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIMENG_", env_file=".env", extra="ignore")

    session_ids: SecretStr = Field(default=SecretStr(""), description="comma-separated [proxy@][region-]sessionid list")
    upstream_url: str | None = None
    account_concurrency: int = Field(default=DEFAULT_ACCOUNT_CONCURRENCY, ge=1, le=16)
    default_image_model: str = DEFAULT_IMAGE_MODEL
    default_video_model: str = DEFAULT_VIDEO_MODEL
    allow_private_urls: bool = False
    max_download_mb: int = Field(default=20, ge=1, le=200)
    data_dir: Path = Path("./data")
    keep_results: bool = True
    retention_days: float = Field(default=7.0, gt=0)
    max_storage_mb: int = Field(default=2048, ge=10)
    log_level: str = "INFO"
    # Signed links to kept results, served by the API at PUBLIC_BASE_URL/v1/files/… (every process shares the secret).
    public_base_url: str | None = None
    link_secret: SecretStr = Field(default=SecretStr(""), description="≥ 16 characters; enables signed result links")
    image_deadline_s: float = IMAGE_DEADLINE_S
    video_deadline_s: float = VIDEO_DEADLINE_S
    # First guess of how long a job takes, before the engine has observed any (the first poll comes near it).
    image_expected_s: float = Field(default=IMAGE_EXPECTED_S, gt=0)
    video_expected_s: float = Field(default=VIDEO_EXPECTED_S, gt=0)
    # Processes sharing the data directory (issue #16): a killed one's slots and jobs come back after this.
    lease_seconds: float = Field(default=LEASE_S, ge=1, le=3600)
    # PostgreSQL for processes on several hosts (issue #16): postgresql://user:password@host:5432/database
    database_url: SecretStr = Field(default=SecretStr(""), description="postgresql://… (instead of data_dir's SQLite)")

    @field_validator("link_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"needs at least {MIN_SECRET_CHARS} characters (a short secret can be guessed from a link)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        if raw and not raw.lower().startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user:password@host:5432/jimeng)")
        return SecretStr(raw)

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (the address clients use to reach the API)")
        return value

    def engine_config(self, *, required: bool = True) -> EngineConfig:
        raw = self.session_ids.get_secret_value()
        if required and not raw.strip():
            raise MissingSettingError(
                "JIMENG_SESSION_IDS is not set: put your Jimeng sessionid(s) in .env (see .env.example), "
                "e.g. JIMENG_SESSION_IDS=0123…abcd or us-0123…abcd for Dreamina"
            )
        try:
            tokens = parse_tokens(raw)
        except JimengError as err:
            raise MissingSettingError(f"JIMENG_SESSION_IDS is malformed: {err.message}") from None
        for tok in tokens:
            if tok.proxy and not tok.proxy.lower().startswith(("http://", "https://")):
                scheme = tok.proxy.split(":", 1)[0]
                raise MissingSettingError(
                    f"JIMENG_SESSION_IDS: account {tok.masked} uses a {scheme} proxy; only http(s) proxies are supported"
                )
        return EngineConfig(
            tokens=tokens,
            upstream_url=self.upstream_url or None,
            account_concurrency=self.account_concurrency,
            default_image_model=self.default_image_model,
            default_video_model=self.default_video_model,
            allow_private_urls=self.allow_private_urls,
            max_download_bytes=self.max_download_mb * 1024 * 1024,
            data_dir=self.data_dir,
            keep_results=self.keep_results,
            retention_days=self.retention_days,
            max_storage_mb=self.max_storage_mb,
            public_base_url=self.public_base_url or None,
            link_secret=self.link_secret.get_secret_value(),
            lease_s=self.lease_seconds,
            database_url=self.database_url.get_secret_value() or None,
            timing=Timing(
                image_deadline=self.image_deadline_s,
                video_deadline=self.video_deadline_s,
                image_expected=self.image_expected_s,
                video_expected=self.video_expected_s,
            ),
        )


def load_settings() -> JimengSettings:
    try:
        return JimengSettings()
    except ValidationError as err:
        first = err.errors()[0]
        name = "JIMENG_" + str(first["loc"][0]).upper() if first.get("loc") else "a JIMENG_ setting"
        raise MissingSettingError(f"{name} is invalid: {first['msg']}") from None
