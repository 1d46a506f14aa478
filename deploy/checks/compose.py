"""docker-compose.yml and deploy/compose/: the Compose schema, and the contract the schema cannot
express (service wiring, health checks, dependencies, the Redis Cluster, loadgen's command)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .common import COLLECTOR, OTLP_GRPC_PORT, SERVICES, load_yaml, one_line, rel

# loadgen's address options and the service each must name.
LOADGEN_ADDRS = {
    "--post-addr": "post-service",
    "--fanout-addr": "fanout-service",
    "--feed-addr": "feed-read-service",
    "--logs-addr": "log-ingest-service",
}


def check_compose_schema(root: Path, problems: list[str]) -> int:
    """Validates the compose files against the Compose Specification's schema. Returns the number
    of files validated."""
    from jsonschema import Draft7Validator

    schema_path = root / "deploy" / "schemas" / "compose-spec.json"
    try:
        schema = json.loads(schema_path.read_text())
    except (OSError, ValueError) as error:
        problems.append(f"{rel(schema_path, root)}: cannot read: {one_line(error)}")
        return 0
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    count = 0
    for path in (root / "docker-compose.yml", root / "deploy" / "compose" / "mysql.yml"):
        document = load_yaml(path, problems, root)
        if document is None:
            continue
        count += 1
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
            where = "/".join(map(str, error.absolute_path)) or "<top level>"
            problems.append(f"{rel(path, root)}: schema: {where}: {one_line(error.message)}")
    return count


def command_text(service: dict) -> str:
    """A service's entrypoint and command as one text, whatever their form."""
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value is not None:
            parts.append(str(value))
    return " ".join(parts)


def conditions(service: dict) -> dict:
    """depends_on as {service: condition}; None as condition where it is missing."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: None for name in depends}
    return {name: (spec or {}).get("condition") for name, spec in depends.items()}


def created_databases(root: Path, service: dict) -> set[str]:
    """Databases a database container has after its first start: the one its environment names
    and those CREATE DATABASE'd by init scripts mounted from the repository."""
    env = service.get("environment") or {}
    names = {str(env[key]) for key in ("POSTGRES_DB", "MARIADB_DATABASE", "MYSQL_DATABASE") if key in env}
    if "POSTGRES_USER" in env and "POSTGRES_DB" not in env:
        names.add(str(env["POSTGRES_USER"]))
    for volume in service.get("volumes") or []:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith(".") and source.endswith(".sql"):
            try:
                text = (root / source).read_text()
            except OSError:
                continue
            names |= set(re.findall(r"(?i)create\s+database\s+(?:if\s+not\s+exists\s+)?[`\"]?(\w+)", text))
    return names


def check_compose_contract(root: Path, problems: list[str]) -> str:
    """The checks Python is best at: what the schema cannot say. Returns a summary."""
    path = root / "docker-compose.yml"
    where = rel(path, root)
    compose = load_yaml(path, problems, root)
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        problems.append(f"{where}: no services")
        return ""
    services = compose["services"]
    init, redis_nodes = check_redis_cluster(where, services, problems)
    for name, port in SERVICES.items():
        spec = services.get(name)
        if not isinstance(spec, dict):
            problems.append(f"{where}: service {name} is missing")
            continue
        check_service(root, f"{where}: {name}", name, port, spec, services, init, redis_nodes, problems)
    loadgen = services.get("loadgen")
    if not isinstance(loadgen, dict):
        problems.append(f"{where}: service loadgen is missing")
    else:
        check_loadgen(root, f"{where}: loadgen", loadgen, services, problems)
    check_mysql_variant(root, where, services, problems)
    return f"{len(SERVICES)} services, Redis Cluster of {len(redis_nodes)} nodes"


def check_redis_cluster(where: str, services: dict, problems: list[str]) -> tuple[str | None, list[str]]:
    """The one-shot container running `redis-cli --cluster create`, its six nodes and their
    settings. Returns the init container's name and the nodes' names."""
    inits = [name for name, s in services.items() if "--cluster create" in command_text(s or {})]
    if len(inits) != 1:
        problems.append(f"{where}: expected one service running `redis-cli --cluster create`, found {len(inits)}")
        return None, []
    init = inits[0]
    line = next(l for l in command_text(services[init]).splitlines() if "--cluster create" in l)
    create_args = line.split("--cluster create", 1)[1].split()
    addresses = [a for a in create_args if re.fullmatch(r"[\w.-]+:\d+", a)]
    nodes = [a.split(":")[0] for a in addresses]
    replicas = re.search(r"--cluster-replicas\s+(\d+)", line)
    if len(set(addresses)) != 6:
        problems.append(f"{where}: {init}: `--cluster create` names {len(set(addresses))} distinct nodes, expected 6")
    if not replicas or replicas.group(1) != "1":
        problems.append(f"{where}: {init}: `--cluster create` needs `--cluster-replicas 1` (3 masters + 3 replicas)")
    if "--cluster-yes" not in create_args:
        problems.append(f"{where}: {init}: `--cluster create` needs `--cluster-yes` (no one answers the prompt)")
    depends = conditions(services[init])
    for node in nodes:
        spec = services.get(node)
        if spec is None:
            problems.append(f"{where}: {init}: node {node} is not a service")
            continue
        # Each node must advertise a name other containers resolve, not its container IP.
        node_command = command_text(spec)
        for expected in ("--cluster-enabled yes", f"--cluster-announce-hostname {node}",
                         "--cluster-preferred-endpoint-type hostname"):
            if expected not in node_command:
                problems.append(f"{where}: {node}: redis-server needs `{expected}`")
        if "healthcheck" not in spec:
            problems.append(f"{where}: {node}: needs a healthcheck (the init container waits for it)")
        if depends.get(node) != "service_healthy":
            problems.append(f"{where}: {init}: depends_on {node} needs condition service_healthy")
    return init, nodes


def check_service(root, prefix, name, port, spec, services, init, redis_nodes, problems) -> None:
    """One feedline service: build, environment, port, health check, and dependencies that match
    what its URLs point at."""
    build = spec.get("build")
    if not isinstance(build, dict) or build.get("dockerfile") != "deploy/Dockerfile" \
            or build.get("context", ".") != "." or (build.get("args") or {}).get("SERVICE") != name:
        problems.append(f"{prefix}: build must be context `.`, dockerfile deploy/Dockerfile, args SERVICE: {name}")
    env = spec.get("environment")
    if not isinstance(env, dict):
        problems.append(f"{prefix}: environment must be in map form")
        env = {}
    env = {k: str(v) for k, v in env.items()}
    if env.get("FEEDLINE_LISTEN_ADDR") != f"0.0.0.0:{port}":
        problems.append(f"{prefix}: FEEDLINE_LISTEN_ADDR must be 0.0.0.0:{port}")
    if spec.get("ports") != [f"{port}:{port}"]:
        problems.append(f"{prefix}: ports must be [\"{port}:{port}\"]")
    if env.get("OTEL_SERVICE_NAME") != name:
        problems.append(f"{prefix}: OTEL_SERVICE_NAME must be {name}")
    collector_url = f"http://{COLLECTOR}:{OTLP_GRPC_PORT}"
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") != collector_url:
        problems.append(f"{prefix}: OTEL_EXPORTER_OTLP_ENDPOINT must be {collector_url} (the collector, "
                        f"which passes traces to Jaeger and metrics to Prometheus)")
    expected_test = ["CMD", f"/usr/local/bin/{name}", "healthcheck"]
    if (spec.get("healthcheck") or {}).get("test") != expected_test:
        problems.append(f"{prefix}: healthcheck test must be {json.dumps(expected_test)}")
    depends = conditions(spec)
    if not depends:
        problems.append(f"{prefix}: needs depends_on with conditions")
    for dependency, condition in depends.items():
        if condition not in ("service_healthy", "service_completed_successfully", "service_started"):
            problems.append(f"{prefix}: depends_on {dependency} has no condition")
        elif dependency not in services:
            problems.append(f"{prefix}: depends_on {dependency}, which is not a service")

    # Every URL between services names one that exists, on its port.
    for variable, value in env.items():
        if not variable.endswith("_URL") or variable == "FEEDLINE_DATABASE_URL":
            continue
        for url in filter(None, (u.strip() for u in value.split(","))):
            if not url.startswith("http"):
                continue
            target = urlsplit(url).hostname
            if target not in services:
                problems.append(f"{prefix}: {variable}: {target} is not a service")
            elif target in SERVICES and url != f"http://{target}:{SERVICES[target]}":
                problems.append(f"{prefix}: {variable} must be http://{target}:{SERVICES[target]}")
    if COLLECTOR not in depends:
        problems.append(f"{prefix}: exports to {COLLECTOR}, so it needs depends_on {COLLECTOR}")
    # post-service is a start-up dependency of its readers; fanout-service is not one of
    # post-service's (that would be a cycle: its relay reconnects instead).
    if "FEEDLINE_POST_SERVICE_URL" in env and depends.get("post-service") != "service_healthy":
        problems.append(f"{prefix}: reads FEEDLINE_POST_SERVICE_URL, so depends_on post-service needs service_healthy")
    if "FEEDLINE_REDIS_URL" in env:
        url = urlsplit(env["FEEDLINE_REDIS_URL"])
        hosts = [url.hostname] + [n.split(":")[0] for n in parse_qs(url.query).get("node", [])]
        if url.scheme not in ("redis-cluster", "rediss-cluster"):
            problems.append(f"{prefix}: FEEDLINE_REDIS_URL must be redis-cluster://host:port?node=host:port")
        for host in hosts:
            if host not in redis_nodes:
                problems.append(f"{prefix}: FEEDLINE_REDIS_URL names {host}, not a node of the cluster")
        if init and depends.get(init) != "service_completed_successfully":
            problems.append(f"{prefix}: reads FEEDLINE_REDIS_URL, so depends_on {init} needs service_completed_successfully")
    if "FEEDLINE_DATABASE_URL" in env:
        check_database_url(root, prefix, env["FEEDLINE_DATABASE_URL"], services, depends, problems)


def check_mysql_variant(root: Path, where: str, services: dict, problems: list[str]) -> None:
    """The MariaDB service under profile `mysql`, and deploy/compose/mysql.yml pointing the
    database services at it."""
    mariadb = [n for n, s in services.items() if str((s or {}).get("image", "")).startswith(("mariadb", "mysql"))]
    if not mariadb or any("mysql" not in (services[n].get("profiles") or []) for n in mariadb):
        problems.append(f"{where}: the MySQL/MariaDB service must exist under profile `mysql`")
    path = root / "deploy" / "compose" / "mysql.yml"
    override = load_yaml(path, problems, root)
    if not isinstance(override, dict):
        return
    for name, spec in (override.get("services") or {}).items():
        prefix = f"{rel(path, root)}: {name}"
        if name not in services:
            problems.append(f"{prefix}: not a service of docker-compose.yml")
            continue
        env = spec.get("environment")
        if not isinstance(env, dict):
            problems.append(f"{prefix}: environment must be in map form")
            continue
        # Compose merges depends_on maps: the override adds to the base file's.
        merged = conditions(services[name]) | conditions(spec)
        if "FEEDLINE_DATABASE_URL" in env:
            check_database_url(root, prefix, str(env["FEEDLINE_DATABASE_URL"]), services, merged, problems)


def check_database_url(root, prefix, url, services, depends, problems) -> None:
    """The database server is a service the caller waits for, and it creates the database."""
    parts = urlsplit(url)
    host, database = parts.hostname, parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "mysql"):
        problems.append(f"{prefix}: FEEDLINE_DATABASE_URL must be postgres:// or mysql://")
        return
    if host not in services:
        problems.append(f"{prefix}: FEEDLINE_DATABASE_URL names {host}, not a service")
        return
    if depends.get(host) != "service_healthy":
        problems.append(f"{prefix}: depends_on {host} needs service_healthy")
    if database not in created_databases(root, services[host]):
        problems.append(f"{prefix}: database {database} is not created by {host}")


def loadgen_options(cli: Path) -> set[str]:
    """The long options loadgen's clap definitions declare (`#[arg(long ...)] pub field`, as
    `--field`, or `long = "name"`); empty when the folder cannot be read."""
    known: set[str] = set()
    try:
        sources = [path.read_text() for path in sorted(cli.glob("*.rs"))]
    except OSError:
        return known
    for text in sources:
        for attr, field in re.findall(r'#\[arg\(([^\]]*\blong\b[^\]]*)\)\]\s*(?:///[^\n]*\s*)*pub ([a-z_]+):', text):
            named = re.search(r'\blong\s*=\s*"([a-z-]+)"', attr)
            known.add("--" + (named.group(1) if named else field.replace("_", "-")))
    return known


def check_loadgen(root, prefix, loadgen, services, problems) -> None:
    """The fan-out scenario, with options the binary accepts and addresses of the services."""
    if "loadgen" not in (loadgen.get("profiles") or []):
        problems.append(f"{prefix}: must be under profile `loadgen`")
    if ((loadgen.get("build") or {}).get("args") or {}).get("SERVICE") != "loadgen":
        problems.append(f"{prefix}: build args SERVICE must be loadgen")
    command = loadgen.get("command")
    if not isinstance(command, list) or not command or command[0] != "fanout":
        problems.append(f"{prefix}: command must be a list starting with the `fanout` scenario")
        return
    cli = root / "crates" / "loadgen" / "src" / "cli"
    known = loadgen_options(cli)
    if not known:
        problems.append(f"{prefix}: cannot read {rel(cli, root)} for loadgen's options")
    options: dict[str, str | None] = {}
    for index, token in enumerate(command[1:], 1):
        if token.startswith("--"):
            following = command[index + 1] if index + 1 < len(command) else None
            options[token] = None if following is None or following.startswith("--") else following
            if known and token not in known:
                problems.append(f"{prefix}: `{token}` is not an option of loadgen (crates/loadgen/src/cli/)")
    depends = conditions(loadgen)
    for flag, service in LOADGEN_ADDRS.items():
        address = (options.get(flag) or "").removeprefix("http://")
        if address != f"{service}:{SERVICES[service]}":
            problems.append(f"{prefix}: {flag} must be {service}:{SERVICES[service]}")
        if depends.get(service) != "service_healthy":
            problems.append(f"{prefix}: depends_on {service} needs service_healthy")
    fanout_env = (services.get("fanout-service") or {}).get("environment") or {}
    if not isinstance(fanout_env, dict) or options.get("--redis-url") != fanout_env.get("FEEDLINE_REDIS_URL"):
        problems.append(f"{prefix}: --redis-url must equal fanout-service's FEEDLINE_REDIS_URL")
    if (loadgen.get("healthcheck") or {}).get("disable") is not True:
        problems.append(f"{prefix}: a one-shot client: its healthcheck must be disabled")
