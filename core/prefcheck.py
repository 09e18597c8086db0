"""Checking server and member settings (issue #15): each value against its range or list, a default model against
the registry and the regions of the configured accounts. A refusal is a ``SettingsError`` naming the setting."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from core.errors import SettingsError
from core.params import MAX_PROMPT_CHARS
from core.registry import Registry
from core.wire import RATIOS, RESOLUTIONS, Region

LANGUAGES = ("en-US", "zh-CN")
QUOTA_UNITS = ("jobs", "credits")
MEMBER_JOBS_RANGE = (1, 10)  # as DISCORD_MEMBER_JOBS
MEMBER_QUEUE_RANGE = (0, 50)  # as DISCORD_MEMBER_QUEUE
QUOTA_MAX = 1_000_000


def _error(param: str, code: str, message: str, **details: Any) -> SettingsError:
    return SettingsError(message, param=param, code=code, details=details)


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(name, "bad_type", f"{name} must be a whole number", value=value)
    if not lo <= value <= hi:
        raise _error(name, "out_of_range", f"{name} must be {lo}–{hi}, got {value}", value=value, min=lo, max=hi)
    return value


def _snowflake(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _error(name, "bad_id", f"{name} must be a channel or role id (a positive number)", value=value)
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...], code: str) -> str:
    if not isinstance(value, str) or value.strip() not in allowed:
        raise _error(name, code, f"{name} must be one of {', '.join(allowed)}", value=value, allowed=list(allowed))
    return value.strip()


class SettingsChecker:
    def __init__(self, registry: Registry, regions: Callable[[], frozenset[Region]]) -> None:
        self.registry = registry
        self.regions = regions

    def checked(self, known: Collection[str], changes: Mapping[str, Any]) -> dict[str, Any]:
        """Each change checked (None: unset the field); raises ``SettingsError`` at the first bad one."""
        out: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise _error(name, "unknown_setting", f"there is no setting '{name}'", setting=name)
            out[name] = None if value is None else self._value(name, value)
        return out

    def _value(self, name: str, value: Any) -> Any:
        if name in ("image_model", "video_model"):
            return self._model(name, value, "video" if name == "video_model" else "image")
        if name == "ratio":
            return _choice(name, value, (*RATIOS, "auto"), "bad_ratio")
        if name == "resolution":
            return _choice(name, value, RESOLUTIONS, "bad_resolution")
        if name == "count":
            return _int(name, value, 1, self._max_count())
        if name == "negative_prompt":
            if not isinstance(value, str):
                raise _error(name, "bad_type", "the negative prompt must be text", value=value)
            if len(value) > MAX_PROMPT_CHARS:
                raise _error(
                    name,
                    "too_long",
                    f"the negative prompt is longer than {MAX_PROMPT_CHARS} characters",
                    max=MAX_PROMPT_CHARS,
                )
            return value.strip() or None
        if name in ("language", "locale"):
            return _choice(name, value, LANGUAGES, "bad_language")
        if name == "quota_unit":
            return _choice(name, value, QUOTA_UNITS, "bad_quota_unit")
        if name == "quota":
            return _int(name, value, 0, QUOTA_MAX)
        if name == "member_jobs":
            return _int(name, value, *MEMBER_JOBS_RANGE)
        if name == "member_queue":
            return _int(name, value, *MEMBER_QUEUE_RANGE)
        if name in ("role_id", "admin_channel_id"):
            return _snowflake(name, value)
        if name == "channel_ids":
            if isinstance(value, int | str):
                value = [value]
            if not isinstance(value, list | tuple | set | frozenset):
                raise _error(name, "bad_type", "channel_ids must be a list of channel ids", value=value)
            return tuple(sorted({_snowflake(name, v) for v in value}))
        raise _error(name, "unknown_setting", f"there is no setting '{name}'", setting=name)  # pragma: no cover

    def _model(self, name: str, value: Any, kind: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _error(name, "bad_type", f"{name} must be a model name", value=value)
        info = self.registry.get(value.strip())
        if info is None:
            raise _error(name, "unknown_model", f"there is no model '{value.strip()}'", model=value.strip())
        if info.kind != kind:
            raise _error(
                name,
                "wrong_model_kind",
                f"'{info.name}' is a {info.kind} model, not a {kind} model",
                model=info.name,
                kind=info.kind,
            )
        regions = self.regions()
        if regions and not info.regions & regions:
            have = sorted(r.value for r in regions)
            raise _error(
                name,
                "model_not_offered",
                f"'{info.name}' is not offered where the bot's accounts are ({', '.join(have)})",
                model=info.name,
                regions=have,
            )
        return info.name

    def _max_count(self) -> int:
        return max((m.count_range[1] for m in self.registry.all("image")), default=1)

    def model_fit(self, model: str | None, resolution: str | None, count: int | None) -> None:
        """A default resolution or count the chosen default model does not offer would fail every job: refuse it."""
        info = self.registry.get(model) if model else None
        if info is None:
            return
        if resolution is not None and resolution not in info.resolutions:
            raise _error(
                "resolution",
                "bad_resolution",
                f"'{info.name}' does not offer {resolution} (it offers {', '.join(info.resolutions)})",
                value=resolution,
                allowed=list(info.resolutions),
                model=info.name,
            )
        if count is not None and count not in (info.count_options or (1,)):
            allowed = list(info.count_options or (1,))
            raise _error(
                "count",
                "out_of_range",
                f"'{info.name}' makes {', '.join(map(str, allowed))} images per job",
                value=count,
                allowed=allowed,
                model=info.name,
            )

    # ------------------------------------------------------------------------------------------------ effective
