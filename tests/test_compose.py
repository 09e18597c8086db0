"""docker-compose.yml (issue #16): PostgreSQL, the bot and two API replicas on one database and one results volume.

There is no Docker here: the file is parsed (PyYAML, with the merge keys Compose accepts) and checked for what the
processes need to share their work — and every setting it names must be one the programs read, so a renamed
setting cannot leave the file silently configuring nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from api.settings import ApiSettings
from bot.settings import DiscordSettings
from core.settings import JimengSettings

ROOT = Path(__file__).resolve().parents[1]
APPS = ("api-1", "api-2", "bot")
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "API_PORT_2"}  # read by Compose itself (interpolation), not by our programs
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _settings() -> set[str]:
    return {
        prefix + name.upper()
        for prefix, cls in (("JIMENG_", JimengSettings), ("API_", ApiSettings), ("DISCORD_", DiscordSettings))
        for name in cls.model_fields
    }


def test_the_services_share_one_database_and_one_results_volume() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"db", *APPS}
    assert services["db"]["image"].startswith("postgres:")
    assert set(compose["volumes"]) == {"data", "pgdata"}
    urls = set()
    for name in APPS:
        svc = services[name]
        env = svc["environment"]
        assert svc["image"] == "jimeng-bot:latest" and "build" in svc, name
        assert svc["depends_on"] == {"db": {"condition": "service_healthy"}}, name
        assert svc["volumes"] == ["data:/app/data"] and env["JIMENG_DATA_DIR"] == "/app/data", name
        urls.add(env["JIMENG_DATABASE_URL"])
        assert svc["restart"] == "unless-stopped" and svc["env_file"] == ".env", name
    assert len(urls) == 1  # one database for all three
    url = urls.pop()
    db_env = services["db"]["environment"]
    assert url.startswith("postgresql://") and "@db:5432/" in url  # the db service, by its name on the network
    assert url.endswith("/" + db_env["POSTGRES_DB"]) and url.startswith(f"postgresql://{db_env['POSTGRES_USER']}:")
    assert VARIABLE.findall(url) == VARIABLE.findall(db_env["POSTGRES_PASSWORD"]) == ["POSTGRES_PASSWORD"]
    assert [services[n]["command"] for n in APPS] == [["python", "-m", "api"]] * 2 + [["python", "-m", "bot"]]


def test_every_container_has_its_own_hostname_port_and_health_check() -> None:
    services = _compose()["services"]
    hostnames = [svc["hostname"] for svc in services.values()]
    assert len(set(hostnames)) == len(services)  # instance ids are hostname + pid, and pid is 1 in each container
    host_ports = []
    for name in ("api-1", "api-2"):
        svc = services[name]
        assert svc["healthcheck"]["test"] == ["CMD", "python", "-m", "api.healthcheck"]
        assert svc["environment"]["API_HOST"] == "0.0.0.0"
        (port,) = svc["ports"]
        found = re.fullmatch(r"(127\.0\.0\.1):(\$\{[^}]+\}):(\$\{[^}]+\})", port)  # loopback only
        assert found is not None, port
        assert found[3] == svc["environment"]["API_PORT"] == "${API_PORT:-5100}"
        host_ports.append(found[2])
    assert len(set(host_ports)) == 2
    assert services["db"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["bot"]["healthcheck"] == {"disable": True}


def test_every_setting_the_file_names_is_read_by_the_programs() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    services = _compose()["services"]
    named = {key for name in APPS for key in services[name]["environment"]}
    named |= set(VARIABLE.findall(text)) - COMPOSE_ONLY
    assert named >= {"JIMENG_DATABASE_URL", "JIMENG_DATA_DIR", "API_HOST", "API_PORT"}
    unknown = named - _settings()
    assert not unknown, f"docker-compose.yml names settings no program reads: {sorted(unknown)}"
    assert COMPOSE_ONLY.isdisjoint(_settings())
