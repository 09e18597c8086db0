"""Settings of the HTTP API process (``API_*``), read from the environment and ``.env`` by ``python -m api`` only."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=5100, ge=0, le=65535)
    # Server mode when set: the Bearer must be one of these keys and the server's own accounts are used.
    keys: SecretStr = Field(default=SecretStr(""), description="comma-separated API keys; empty = Bearer-session mode")
    key_daily_jobs: int = Field(default=0, ge=0, description="jobs per key per UTC day in server mode; 0 = unlimited")
    max_body_mb: float = Field(default=50.0, gt=0, description="largest request body (JSON or multipart)")
    max_files: int = Field(default=10, ge=1, le=20, description="most uploaded files in one multipart request")
    max_file_mb: float = Field(default=20.0, gt=0, description="largest single uploaded file")
    poll_after_ms: int = Field(default=2000, ge=50, description="openai-poll-after-ms hint sent with video tasks")
    stream_progress_s: float = Field(default=2.0, ge=0, description="least time between progress chunks (SSE)")
    keepalive_s: float = Field(default=15.0, gt=0, description="SSE comment sent after this much silence")

    def key_list(self) -> list[str]:
        return [k.strip() for k in self.keys.get_secret_value().split(",") if k.strip()]

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
