"""`docker/compose.yml` and `docker/Dockerfile`, checked without Docker: the services
exist and depend on each other coherently, the images are the ones the code expects,
the ports agree with the settings and the Dockerfile, the web tier scales apart from the
engine, every CANDLEFLOW_* variable is a setting with a valid value, and the image
installs the wheel."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from candleflow.cli import COMMANDS
from candleflow.core.settings import SETTINGS_DOC, Settings
from candleflow.stack.kafka import KAFKA_VERSION

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SERVICES = {"kafka", "timescaledb", "migrate", "engine", "web", "ingest"}
CANDLEFLOW_SERVICES = ("migrate", "engine", "web", "ingest")
IMAGE = "candleflow:local"
KNOWN = {name for name, _default, _meaning in SETTINGS_DOC}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _interpolated(value: object) -> str:
    """Compose's `${NAME:-default}` as the default it stands for when NAME is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: _interpolated(value) for name, value in (service.get("environment") or {}).items()}


def _settings_of(service: dict[str, Any]) -> Settings:
    """The service's CANDLEFLOW_* variables as candleflow reads them (an error if one is bad)."""
    env = {k: v for k, v in _environment(service).items() if k.startswith("CANDLEFLOW_")}
    return Settings.from_env(env)


def _final_stage(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (instruction, _args) in enumerate(dockerfile) if instruction == "FROM"]
    return dockerfile[starts[-1] :]


def test_the_services_and_their_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on a missing service {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck for {name}"


def test_the_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}", "the broker of the local stack and compose"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    builders = [name for name, s in services.items() if "build" in s]
    assert builders == ["migrate"]
    assert services["migrate"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / services["migrate"]["build"]["context"] / "docker" / "Dockerfile").is_file()
    for name in CANDLEFLOW_SERVICES:
        assert services[name]["image"] == IMAGE, name


def test_every_candleflow_variable_is_a_valid_setting(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        unknown = {v for v in _environment(service) if v.startswith("CANDLEFLOW_")} - KNOWN - {"CANDLEFLOW_INGEST"}
        assert not unknown, f"{name} sets variables candleflow does not read: {unknown}"
        _settings_of(service)  # raises ConfigError naming a malformed value


def test_kafka_and_database_addresses_point_at_their_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka_env = _environment(services["kafka"])
    database_env = _environment(services["timescaledb"])
    for name in CANDLEFLOW_SERVICES:
        settings = _settings_of(services[name])
        for server in settings.kafka_bootstrap.split(","):
            assert f"PLAINTEXT://{server.strip()}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"], name
        url = urlsplit(settings.database_url)
        assert url.hostname == "timescaledb" and (url.port or 5432) == 5432, name
        assert (url.username, url.password, url.path.lstrip("/")) == (
            database_env["POSTGRES_USER"],
            database_env["POSTGRES_PASSWORD"],
            database_env["POSTGRES_DB"],
        ), name


def test_the_web_port_agrees_with_settings_and_the_dockerfile(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    web = compose["services"]["web"]
    settings = _settings_of(web)
    published = [str(port).split(":") for port in web["ports"]]
    assert [container for _host, container in published] == [str(settings.web_port)]
    exposed = [args for instruction, args in _final_stage(dockerfile) if instruction == "EXPOSE"]
    assert exposed == [str(settings.web_port)]
    for name in ("engine", "web"):
        assert _settings_of(compose["services"][name]).source == "none", (
            f"{name}: the ingest service feeds the topic; a worker feed would double it"
        )


def test_the_web_tier_scales_apart_from_the_engine(compose: dict[str, Any]) -> None:
    """`--scale web=3` needs a host port for each web container (a range, never one fixed
    port), and the engine, which serves no chart, publishes none."""
    services = compose["services"]
    assert _environment(services["engine"])["CANDLEFLOW_ROLE"] == "engine"
    assert _environment(services["web"])["CANDLEFLOW_ROLE"] == "web"
    assert "ports" not in services["engine"]
    (host, _container) = str(services["web"]["ports"][0]).split(":")
    first, _, last = host.partition("-")
    assert last and int(last) - int(first) + 1 >= 3, f"host port {host} fits fewer than 3 web containers"
    assert "container_name" not in services["web"], "a fixed container name cannot be scaled"


def test_commands_are_candleflow_commands(compose: dict[str, Any], dockerfile: list[tuple[str, str]]) -> None:
    from candleflow.sources.cli import ingest

    services = compose["services"]
    commands = {name: _interpolated(" ".join(s["command"])) for name, s in services.items() if "command" in s}
    final_cmd = next(args for instruction, args in reversed(_final_stage(dockerfile)) if instruction == "CMD")
    commands["Dockerfile CMD"] = " ".join(yaml.safe_load(final_cmd))
    for name, command in commands.items():
        argv = shlex.split(command)
        assert argv[0] == "candleflow" and argv[1] in COMMANDS, f"{name}: {command}"
        assert "-l" not in argv, f"{name}: the log level comes from CANDLEFLOW_LOG_LEVEL"
        if argv[1] == "ingest":
            assert argv[2] in ingest.commands, f"{name}: {command}"


def test_the_image_installs_the_wheel_and_nothing_of_the_clone(dockerfile: list[tuple[str, str]]) -> None:
    final = _final_stage(dockerfile)
    runs = " ".join(args for instruction, args in final if instruction == "RUN")
    assert re.search(r"pip install \S*candleflow-\*\.whl", runs)
    assert "-e " not in runs
    copies = [args for instruction, args in final if instruction == "COPY"]
    assert copies and all(args.startswith("--from=") for args in copies), f"the clone copied in: {copies}"
    builds = " ".join(args for instruction, args in dockerfile if instruction == "RUN")
    assert "python -m build --wheel" in builds
    env = " ".join(args for instruction, args in final if instruction == "ENV")
    settings_env = dict(re.findall(r"(CANDLEFLOW_[A-Z_]+)=(\S+)", env))
    assert set(settings_env) <= KNOWN
    Settings.from_env(settings_env)
