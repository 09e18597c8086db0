"""Settings of the HTTP API process (``API_*``), read from the environment and ``.env`` by ``python -m api`` only."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Request bodies (issue #13). A JSON integer longer than this is no parameter's value: it parses as ±inf, which
# validation refuses naming the field (``int()`` itself refuses 4,300 digits with a bare ValueError).
JSON_MAX_INT_DIGITS = 400
# A caller at API_MAX_ACTIVE_JOBS is told to come back after this long (429 Retry-After).
CALLER_FULL_RETRY_S = 5.0
# Bodies larger than this are parsed in a worker thread, so a big body never holds the event loop.
JSON_THREAD_BYTES = 64 * 1024


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=5100, ge=0, le=65535)
    # Server mode when set: the Bearer must be one of these keys and the server's own accounts are used.
    keys: SecretStr = Field(default=SecretStr(""), description="comma-separated API keys; empty = Bearer-session mode")
    key_daily_jobs: int = Field(
        default=0, ge=0, description="jobs per key per Beijing day in server mode (counted in the store); 0 = unlimited"
    )
    max_body_mb: float = Field(default=50.0, gt=0, description="largest request body (JSON or multipart)")
    max_files: int = Field(default=10, ge=1, le=20, description="most uploaded files in one multipart request")
    max_file_mb: float = Field(default=20.0, gt=0, description="largest single uploaded file")
    lenient_json_kb: float = Field(
        default=256.0, ge=0, description="largest JSON body that is repaired when strict parsing fails; larger: 400"
    )
    max_active_jobs: int = Field(
        default=20, ge=0, description="unfinished jobs one caller (key or session ids) may have; 0 = unlimited"
    )
    disconnect_check_s: float = Field(
        default=0.5, gt=0, description="how often a synchronous request checks whether its caller is still there"
    )
    poll_after_ms: int = Field(default=2000, ge=50, description="openai-poll-after-ms hint sent with video tasks")
    stream_progress_s: float = Field(default=2.0, ge=0, description="least time between progress chunks (SSE)")
    keepalive_s: float = Field(default=15.0, gt=0, description="SSE comment sent after this much silence")

    def key_list(self) -> list[str]:
        return [k.strip() for k in self.keys.get_secret_value().split(",") if k.strip()]

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def lenient_json_bytes(self) -> int:
        return int(self.lenient_json_kb * 1024)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
