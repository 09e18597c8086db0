"""Deployment files (issue #13): the image's health check follows API_PORT, and every install uses one pinned set.

There is no Docker here: the Dockerfile and docker-compose.yml are read as text, and the health-check command they
run (``python -m api.healthcheck``) is run for real against a live API on a port that is not 5100.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.api.conftest import ApiFactory

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def _closure(requirements: list[Requirement], extras: frozenset[str] = frozenset()) -> dict[str, Requirement]:
    """Every distribution the project needs (with the dev extra), followed through installed metadata."""
    seen: dict[str, Requirement] = {}
    todo = [(r, extras) for r in requirements]
    while todo:
        req, ex = todo.pop()
        envs = [{"extra": e} for e in ex] or [{"extra": ""}]
        if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen[name] = req
        for raw in metadata.requires(req.name) or []:
            todo.append((Requirement(raw), frozenset(req.extras)))
    return seen


def test_every_dependency_is_pinned_and_installed_at_its_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [Requirement(r) for r in project["dependencies"]]
    direct += [Requirement(r) for extra in project.get("optional-dependencies", {}).values() for r in extra]
    pins = _pins()
    for req in direct:  # pyproject's own lines, the dev extra included
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (pyproject.toml) is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req} does not allow its pin {pins[name]}"
    for name in _closure(direct):  # and what they pull in
        assert name in pins, f"{name} (needed by the project) is not pinned in constraints.txt"
        installed = metadata.version(name)
        assert installed == pins[name], f"{name}: installed {installed}, pinned {pins[name]} (regenerate: README)"
    assert "jimeng-bot" not in pins and "jimeng_bot" not in pins  # the project itself is never pinned


def test_every_install_uses_the_constraints() -> None:
    make_installs = [ln for ln in (ROOT / "Makefile").read_text().splitlines() if "pip install" in ln]
    assert make_installs and all("-c constraints.txt" in ln for ln in make_installs), make_installs
    docker = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*constraints\.txt", docker, re.M)
    docker_installs = [ln for ln in docker.splitlines() if "pip install" in ln]
    assert docker_installs and all("-c constraints.txt" in ln for ln in docker_installs), docker_installs
    assert 'PIP_CONSTRAINT="$PWD/constraints.txt"' in (ROOT / ".ci" / "run").read_text()
    assert "constraints.txt" in (ROOT / "README.md").read_text()


def _healthcheck_instruction(dockerfile: str) -> str:
    joined = dockerfile.replace("\\\n", " ")
    found = [ln for ln in joined.splitlines() if ln.startswith("HEALTHCHECK")]
    assert len(found) == 1, found
    return found[0]


def test_health_checks_read_the_port_setting() -> None:
    check = _healthcheck_instruction((ROOT / "Dockerfile").read_text())
    assert '"python", "-m", "api.healthcheck"' in check and not re.search(r"\b\d{4,5}\b", check), check
    compose = (ROOT / "docker-compose.yml").read_text()
    assert 'test: ["CMD", "python", "-m", "api.healthcheck"]' in compose
    assert "5100/healthz" not in compose
    # The port the container listens on, the one published and the one checked are the same setting.
    assert 'API_PORT: "${API_PORT:-5100}"' in compose
    assert '"127.0.0.1:${API_PORT:-5100}:${API_PORT:-5100}"' in compose


async def _healthcheck(port: int, host: str = "0.0.0.0") -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_"))}
    env.update(API_PORT=str(port), API_HOST=host, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.healthcheck", env=env, cwd=ROOT / "tests", stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_the_health_check_follows_api_port(make_api: ApiFactory) -> None:
    async with make_api() as api:
        port = int(api.url.rsplit(":", 1)[1])
        assert port != 5100
        assert await _healthcheck(port) == (0, "")
        assert (await _healthcheck(port, host="127.0.0.1"))[0] == 0
    with socket.socket() as s:  # a port nobody listens on: unhealthy, one line, exit 1
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    rc, err = await _healthcheck(free)
    assert rc == 1 and err.startswith("unhealthy:") and "Traceback" not in err
