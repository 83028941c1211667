"""docker-compose.yml, deploy/nginx.conf and deploy/Dockerfile name things that exist.

Docker does not run here, so these checks read the files: every service's command is a
real entry point, the gateway routes to real services, and the image holds the code.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from board.cli import build_parser
from projections.runtime.worker import WORKER_POOL_SIZE
from shared.auth.access_store import POOL_SIZE as ACCESS_POOL_SIZE
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
PACKAGES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"][
    "build"
]["targets"]["wheel"]["packages"]


def source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def defines(module: str, attribute: str) -> bool:
    path = source(module)
    if path is None:
        return False
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return attribute in names


def test_the_stack_has_its_processes() -> None:
    assert {"postgres", "kafka", "setup", "relay", "projector", "notifier", "gateway"} <= (
        SERVICES.keys()
    )
    assert {"command_api", "query_api"} <= set(APP_SERVICES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_runs_a_real_entry_point(name: str) -> None:
    program, *arguments = SERVICES[name]["command"]

    if program == "board":
        build_parser().parse_args(arguments)
    else:
        assert program == "uvicorn"
        module, _, attribute = arguments[0].partition(":")
        assert defines(module, attribute), f"{module} does not define {attribute}"
        assert_project_imports_resolve(module)


def assert_project_imports_resolve(module: str) -> None:
    path = source(module)
    assert path is not None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
            for alias in node.names:
                assert defines(node.module or "", alias.name), (
                    f"{module} imports {alias.name} from {node.module}, which does not define it"
                )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_the_connections_and_a_secret_of_its_own(name: str) -> None:
    environment = SERVICES[name]["environment"]

    assert environment["DATABASE_URL"].startswith("postgresql://")
    assert environment["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] in SERVICES
    assert environment["BOARD_ENV"] == "production"
    assert environment["BOARD_SECRET_KEY"].startswith("${BOARD_SECRET_KEY:?")


def test_processes_start_after_setup_and_setup_after_healthy_stores() -> None:
    assert {"postgres", "kafka"} <= {n for n, s in SERVICES.items() if "healthcheck" in s}
    assert SERVICES["setup"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
    }
    for name in set(APP_SERVICES) - {"setup"}:
        assert SERVICES[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"}
        }


def test_every_dependency_names_a_service() -> None:
    for service in SERVICES.values():
        assert set(service.get("depends_on", ())) <= SERVICES.keys()


def test_the_gateway_mounts_the_nginx_configuration() -> None:
    mounts = [volume.split(":") for volume in SERVICES["gateway"]["volumes"]]

    assert ["./deploy/nginx.conf", "/etc/nginx/nginx.conf", "ro"] in mounts


def test_nginx_upstreams_are_compose_services_on_their_ports() -> None:
    servers = re.findall(r"^\s*server\s+([\w-]+):(\d+);", NGINX, re.MULTILINE)

    assert servers
    for host, port in servers:
        command = SERVICES[host]["command"]
        assert command[command.index("--port") + 1] == port


def test_nginx_sends_reads_to_the_query_api_and_writes_to_the_command_api() -> None:
    upstreams = set(re.findall(r"^\s*upstream\s+([\w-]+)\s*\{", NGINX, re.MULTILINE))
    routes = dict(re.findall(r"^\s*(GET|HEAD|default)\s+([\w-]+);", NGINX, re.MULTILINE))
    targets = re.findall(r"proxy_pass\s+http://([$\w-]+);", NGINX)

    assert routes == {"GET": "query_api", "HEAD": "query_api", "default": "command_api"}
    assert set(routes.values()) <= upstreams
    assert {t for t in targets if not t.startswith("$")} <= upstreams
    assert re.search(r"location /api/ \{\s*proxy_pass http://\$api_upstream;", NGINX)


def test_nginx_sends_an_events_history_to_the_command_api() -> None:
    [(pattern, target)] = re.findall(r"location ~ (\S+) \{\s*proxy_pass http://([\w-]+);", NGINX)

    assert target == "command_api"
    assert re.fullmatch(pattern, "/api/events/0b1c/history/")
    assert not re.fullmatch(pattern, "/api/events/0b1c/")


def test_nginx_sends_the_admin_to_the_process_that_serves_it() -> None:
    [target] = re.findall(r"location /admin/ \{\s*proxy_pass http://([\w-]+);", NGINX)
    program, *arguments = SERVICES[target]["command"]

    assert program == "board"
    parsed = build_parser().parse_args(arguments)
    assert parsed.command == "serve"
    # Sign-ins are throttled per client: the server trusts nginx's X-Forwarded-For.
    assert parsed.forwarded_allow_ips == SERVICES["gateway"]["networks"]["default"]["ipv4_address"]
    assert "proxy_set_header Host $http_host;" in NGINX


def test_the_image_holds_every_package_and_installs_the_locked_dependencies() -> None:
    copied = {
        name
        for line in DOCKERFILE.splitlines()
        if line.startswith("COPY ")
        for name in line.split()[1:-1]
    }
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()

    assert "FROM python:3.11-slim" in DOCKERFILE
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    assert copied >= {"pyproject.toml", "uv.lock", "README.md", *PACKAGES}
    for name in ["pyproject.toml", "uv.lock", "README.md", *(f"{p}/" for p in PACKAGES)]:
        assert f"!{name}" in ignore, f"{name} is left out of the build context"


# PostgreSQL's own defaults, unless the postgres service's command sets them.
DEFAULT_MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3


def most_connections(name: str) -> int:
    """The connections a service's process holds with every pool at its fullest.

    Read from the code that opens them: the event store's pool is `BOARD_DB_POOL_SIZE` plus
    as much overflow; the command API's blocking pool takes `BOARD_DB_POOL_SIZE` and its
    async engine as much again plus overflow; the query API's read-only engine has no
    overflow; the access store has a small pool and a listener; the query API listens for
    watermarks and polls them while requests wait; each worker has its engine, its own
    small event-store pool and a listener for the relay; the relay works on one connection.
    """
    service = SERVICES[name]
    size = int(
        service["environment"].get(
            "BOARD_DB_POOL_SIZE", Settings.model_fields["db_pool_size"].default
        )
    )
    access = ACCESS_POOL_SIZE + 1
    command_api = 2 * size + size + 2 * size + access
    query_api = size + access + 2
    worker_event_store = 2 * WORKER_POOL_SIZE
    program, command, *_ = service["command"]
    if program == "uvicorn":
        return {"command_api.asgi:app": command_api, "query_api.asgi:app": query_api}[command]
    return {
        "setup": 0,  # done before anything else starts
        "relay": 1,
        # projections/read_models/app.py: pool 2, overflow 2.
        "projections": 4 + worker_event_store + 1,
        # projections/notifier/app.py: pool 4, overflow 4.
        "notifier": 8 + worker_event_store + 1,
        # Both APIs in one process, sharing one access store.
        "serve": command_api + query_api - access,
    }[command]


def max_connections() -> int:
    command = SERVICES["postgres"].get("command", [])
    for argument in command:
        if argument.startswith("max_connections="):
            return int(argument.partition("=")[2])
    return DEFAULT_MAX_CONNECTIONS


def test_every_pool_at_its_fullest_fits_in_postgres_max_connections() -> None:
    needed = {name: most_connections(name) for name in APP_SERVICES}

    assert sum(needed.values()) <= max_connections() - SUPERUSER_RESERVED_CONNECTIONS, needed
