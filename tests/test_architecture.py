"""The house rules that keep holding after a restructuring: what core may import, and how big a module may grow.

The import contracts themselves (one-way dependencies, no cycles inside a package) are import-linter's, in
pyproject.toml, run by `make lint`; this file checks what it cannot see (a submodule such as ``aiohttp.web``) and
runs it too, so `pytest` alone catches a broken contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "bot", "cogs", "api", "emulator")
MAX_LINES = 420  # "under ~400 lines": a module past this is doing two jobs
DATA_TABLES: frozenset[str] = frozenset()  # modules that are mostly data may be longer; none is today


def test_core_imports_no_front_end_and_no_http_server() -> None:
    """Importing every core module (the CLI included) loads neither discord, aiohttp.web nor a front end."""
    code = (
        "import importlib, pkgutil, sys, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in {'discord', 'bot', 'cogs', 'api'}\n"
        "             or k == 'aiohttp.web' or k.startswith('aiohttp.web_'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_import_contracts_hold() -> None:
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail("lint-imports is not installed: `pip install -e '.[dev]'`")
    out = subprocess.run([tool, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_small(package: str) -> None:
    too_long = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and rel not in DATA_TABLES:
            too_long[rel] = lines
    assert not too_long, f"split these modules (one job each): {too_long}"
