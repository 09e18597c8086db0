"""Every bad setting at once (issue #13): an operator fixes ``.env`` in one pass, not one restart per mistake.

Entry points build each settings class through :func:`collect`, gather the readable problems, and stop with
:func:`report` (one message on stderr, exit code 2). Values are never echoed: they may be secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.settings import MissingSettingError

T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)


def validation_problems(err: ValidationError, prefix: str) -> list[str]:
    """One line per invalid field, named as the environment variable (``JIMENG_MAX_DOWNLOAD_MB is invalid: …``)."""
    out = []
    for e in err.errors(include_url=False, include_input=False):
        name = f"{prefix}{str(e['loc'][0]).upper()}" if e.get("loc") else f"a {prefix} setting"
        out.append(f"{name} is invalid: {e['msg']}")
    return out


def build_settings(cls: type[S], prefix: str, problems: list[str]) -> S | None:
    """``cls()`` read from the environment. Its invalid fields are appended to ``problems`` and replaced by their
    defaults, so the checks that follow (a missing session id, a missing token …) still run and are reported too."""
    try:
        return cls()
    except ValidationError as err:
        problems.extend(validation_problems(err, prefix))
        bad = {str(e["loc"][0]) for e in err.errors() if e.get("loc")}
    defaults: dict[str, Any] = {n: f.default for n, f in cls.model_fields.items() if n in bad}
    try:
        return cls(**defaults)
    except ValidationError:
        return None


def collect(problems: list[str], build: Callable[[], T], prefix: str = "") -> T | None:
    """``build()``, or None with its problems appended (a ``ValidationError`` or a ``MissingSettingError``)."""
    try:
        return build()
    except ValidationError as err:
        problems.extend(validation_problems(err, prefix))
    except MissingSettingError as err:
        problems.append(str(err))
    return None


def report(prog: str, problems: list[str]) -> str:
    """The one message for stderr."""
    if len(problems) == 1:
        return f"{prog}: {problems[0]}"
    return f"{prog}: {len(problems)} settings need fixing (.env or the environment):\n" + "\n".join(
        f"  - {p}" for p in problems
    )
