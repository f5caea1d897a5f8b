"""The deployment files (Dockerfile, compose.yaml, the systemd unit) against the code they start.

No container engine runs here, so these check what can be checked without one: every command
they run is one our CLI accepts, every setting they pass is one the bot reads, and the image
contains what the installed package needs at run time.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import Settings
from tests.cli_runner import PROJECT

SETTINGS = {name.upper() for name in Settings.model_fields}


def accepts(argv: list[str]) -> None:
    """`zhenggai ARGS…` parses (argparse exits on anything it does not know)."""
    assert argv[0].endswith("zhenggai"), argv
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exit_:
        pytest.fail(f"zhenggai refuses {argv[1:]}: exit {exit_.code}")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((PROJECT / "compose.yaml").read_text(encoding="utf-8")))


def test_compose_runs_migrations_before_the_bot_and_both_on_postgresql() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "bot"}
    accepts(services["migrate"]["command"])
    assert services["migrate"]["command"][1:] == ["db", "upgrade"]
    accepts(services["bot"]["command"])
    assert services["bot"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("migrate", "bot"):
        environment = services[name]["environment"]
        assert set(environment) <= SETTINGS, set(environment) - SETTINGS
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://zhenggai:")
        assert environment["DATABASE_URL"].endswith("@db/zhenggai")  # the db service's user and database
    database = services["db"]["environment"]
    assert (database["POSTGRES_USER"], database["POSTGRES_DB"]) == ("zhenggai", "zhenggai")


def test_the_webhook_command_suggested_in_compose_is_accepted() -> None:
    text = (PROJECT / "compose.yaml").read_text(encoding="utf-8")
    suggested = re.search(r"#\s*command: (\[.*\])", text)
    assert suggested is not None
    accepts(json.loads(suggested.group(1)))


def test_the_image_installs_the_package_and_its_data_and_runs_the_bot() -> None:
    dockerfile = (PROJECT / "Dockerfile").read_text(encoding="utf-8")
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY")}
    # What `pip install .` needs (pyproject, README for the metadata, the packages) and the data.
    assert {"pyproject.toml", "bot", "handlers", "data"} <= copied
    assert "README.md" in dockerfile
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    accepts(json.loads(cmd.group(1)))
    environment = dict(re.findall(r"(\w+)=(\S+)", dockerfile.split("ENV", 1)[1].split("WORKDIR", 1)[0]))
    settings = {k: v for k, v in environment.items() if not k.startswith(("PYTHON", "PIP_"))}
    assert set(settings) <= SETTINGS, set(settings) - SETTINGS
    assert settings["DATA_DIR"] == "/app/data" and "COPY data ./data" in dockerfile
    # The image runs as its own user, which must be able to write var/ (the SQLite default).
    assert "USER zhenggai" in dockerfile and "chown zhenggai /app/var" in dockerfile


def test_the_systemd_unit_migrates_then_runs_and_stops_gracefully() -> None:
    unit = (PROJECT / "deploy" / "zhenggai.service").read_text(encoding="utf-8")
    entries = dict(re.findall(r"^(\w+)=(.*)$", unit, re.MULTILINE))
    accepts(shlex.split(entries["ExecStartPre"]))
    accepts(shlex.split(entries["ExecStart"]))
    assert shlex.split(entries["ExecStartPre"])[1:] == ["db", "upgrade"]
    assert entries["KillSignal"] == "SIGTERM"
    name, value = entries["Environment"].split("=", 1)
    assert name in SETTINGS
    Settings(_env_file=None, **{name.lower(): value})  # type: ignore[call-arg]  # a valid value


def test_every_setting_the_deployment_files_mention_is_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (PROJECT / ".env.example").read_text(encoding="utf-8"),
                                re.MULTILINE))
    assert documented >= SETTINGS, SETTINGS - documented
    mentioned = set(compose()["services"]["bot"]["environment"]) | {"DATA_DIR", "LOG_FORMAT"}
    assert mentioned <= documented


def test_the_package_ships_its_migrations() -> None:
    # A non-editable install (the image's `pip install .`) has only what the packages include:
    # the migration scripts must be inside a package so `zhenggai db upgrade` finds them.
    versions = PROJECT / "bot" / "migrations" / "versions"
    assert (versions / "__init__.py").exists() and (versions.parent / "__init__.py").exists()
    assert sorted(p.name for p in versions.glob("0*.py"))
    pyproject = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"bot.migrations" = ["script.py.mako"]' in pyproject
    assert Path(PROJECT / "bot" / "migrations" / "script.py.mako").exists()
