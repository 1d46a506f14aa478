"""The AWS material: cfn-lint on the template, botocore's ECS input shape on the task definitions,
the contract they follow, and the template's task definitions mirroring the JSON files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .common import CLOUD_MAP_DOMAIN, COLLECTOR, OTLP_GRPC_PORT, SECRET_VARS, SERVICES, load_yaml, one_line, rel
from .docker import dockerfile_instructions
from .observability import check_collector_config, exporters_of

# The collector sidecar reads its configuration from this variable (an SSM parameter holding
# deploy/ecs/otel-collector.yaml); a Standard parameter holds at most 4 KB.
COLLECTOR_CONFIG_VAR = "OTEL_COLLECTOR_CONFIG"
COLLECTOR_COMMAND = [f"--config=env:{COLLECTOR_CONFIG_VAR}"]
SSM_STANDARD_LIMIT = 4096

# Variables compose sets as a file holding the value, and ECS as the value itself.
FILE_VARIANTS = {"FEEDLINE_SERVICE_TOKEN_FILE": "FEEDLINE_SERVICE_TOKEN"}
# TLS is required on ECS and off in compose (plaintext on one machine's private network, no CA
# to make): these are the variables ECS sets and compose does not. The PEM ones are secrets.
TLS_SECRETS = ("FEEDLINE_TLS_CERT", "FEEDLINE_TLS_KEY", "FEEDLINE_TLS_CA")
ECS_ONLY = {*TLS_SECRETS, "FEEDLINE_TLS_SERVER_NAME"}

# Fargate's CPU units -> allowed memory (MiB).
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}


def check_cfn_lint(root: Path, problems: list[str]) -> None:
    template = root / "deploy" / "cloudformation" / "feedline.yaml"
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable", "--", str(template)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = [l for l in (result.stdout + result.stderr).splitlines() if l.strip()]
        for line in lines or [f"exit code {result.returncode}"]:
            problems.append(f"{rel(template, root)}: cfn-lint: {one_line(line.replace(str(root) + '/', ''))}")


def ecs_documents(root: Path, problems: list[str]) -> dict[str, dict]:
    documents = {}
    folder = root / "deploy" / "ecs"
    for path in sorted(folder.glob("*.json")):
        try:
            documents[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{rel(path, root)}: cannot read: {one_line(error)}")
    return documents


def check_ecs(root: Path, problems: list[str]) -> int:
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("ecs") \
        .operation_model("RegisterTaskDefinition").input_shape
    compose = load_yaml(root / "docker-compose.yml", [], root) or {}
    compose_services = compose.get("services") or {}
    documents = ecs_documents(root, problems)
    collector_env = check_ecs_collector_config(root, problems)
    for name in SERVICES:
        if name not in documents:
            problems.append(f"deploy/ecs/{name}.json: missing")
    for name, document in documents.items():
        where = f"deploy/ecs/{name}.json"
        if name not in SERVICES:
            problems.append(f"{where}: not one of the services {', '.join(SERVICES)}")
            continue
        report = ParamValidator().validate(document, shape)
        if report.has_errors():
            for line in report.generate_report().splitlines():
                problems.append(f"{where}: RegisterTaskDefinition: {one_line(line)}")
            continue
        port = SERVICES[name]
        if document.get("networkMode") != "awsvpc":
            problems.append(f"{where}: networkMode must be awsvpc")
        if document.get("requiresCompatibilities") != ["FARGATE"]:
            problems.append(f"{where}: requiresCompatibilities must be [\"FARGATE\"]")
        try:
            cpu, memory = int(document["cpu"]), int(document["memory"])
            if memory not in FARGATE_SIZES.get(cpu, set()):
                problems.append(f"{where}: cpu {cpu} / memory {memory} is not a Fargate size")
        except (KeyError, ValueError):
            problems.append(f"{where}: cpu and memory must be set, as numbers in strings")
        for role in ("executionRoleArn", "taskRoleArn"):
            if not str(document.get(role, "")).startswith("arn:aws:iam::"):
                problems.append(f"{where}: {role} must be an IAM role ARN")
        containers = document.get("containerDefinitions", [])
        if [c.get("name") for c in containers][1:] != [COLLECTOR]:
            problems.append(f"{where}: expected two container definitions: the service, then the {COLLECTOR} sidecar")
            continue
        container = containers[0]
        check_ecs_collector(where, container, containers[1], compose_services, collector_env, problems)
        if container.get("name") != name:
            problems.append(f"{where}: containerDefinitions[0].name must be {name}")
        if f"/{name}:" not in container.get("image", ""):
            problems.append(f"{where}: image must be <registry>/{name}:<tag>")
        if [p.get("containerPort") for p in container.get("portMappings", [])] != [port]:
            problems.append(f"{where}: portMappings must map containerPort {port}")
        expected = ["CMD", f"/usr/local/bin/{name}", "healthcheck"]
        if container.get("healthCheck", {}).get("command") != expected:
            problems.append(f"{where}: healthCheck.command must be {json.dumps(expected)}")
        logs = container.get("logConfiguration", {})
        if logs.get("logDriver") != "awslogs" or not {"awslogs-group", "awslogs-region"} <= set(logs.get("options", {})):
            problems.append(f"{where}: logConfiguration must be awslogs with a group and a region")

        env, secrets = container_variables(container)
        if len(env) != len(container.get("environment", [])) or len(secrets) != len(container.get("secrets", [])):
            problems.append(f"{where}: a variable is set twice")
        check_ecs_tls(where, name, env, secrets, problems)
        for variable in SECRET_VARS & set(env):
            problems.append(f"{where}: {variable} is a credential: it belongs in secrets, not environment")
        for variable, arn in secrets.items():
            if not re.fullmatch(r"arn:aws:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|ssm:[a-z0-9-]+:\d{12}:parameter/.+)", arn):
                problems.append(f"{where}: secret {variable} must come from a Secrets Manager or SSM ARN")
        if env.get("FEEDLINE_LISTEN_ADDR") != f"0.0.0.0:{port}":
            problems.append(f"{where}: FEEDLINE_LISTEN_ADDR must be 0.0.0.0:{port}")
        if env.get("OTEL_SERVICE_NAME") != name:
            problems.append(f"{where}: OTEL_SERVICE_NAME must be {name}")
        for variable, value in env.items():
            if variable.startswith("OTEL_EXPORTER_OTLP") and variable.endswith("ENDPOINT"):
                # The collector sidecar, in the same network namespace (awsvpc).
                if value != f"http://localhost:{OTLP_GRPC_PORT}":
                    problems.append(f"{where}: {variable} must be http://localhost:{OTLP_GRPC_PORT} (the {COLLECTOR} sidecar)")
                continue
            for url in filter(None, (u.strip() for u in value.split(","))) if variable.endswith(("_URL", "_ENDPOINT")) else []:
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or variable == "FEEDLINE_REDIS_URL":
                    continue
                target = (parts.hostname or "").removesuffix(f".{CLOUD_MAP_DOMAIN}")
                if not (parts.hostname or "").endswith(f".{CLOUD_MAP_DOMAIN}"):
                    problems.append(f"{where}: {variable} must name a host in {CLOUD_MAP_DOMAIN}")
                elif target in SERVICES:
                    # A service that serves TLS accepts nothing else: its callers must say https.
                    target_env, target_secrets = container_variables(
                        ((documents.get(target) or {}).get("containerDefinitions") or [{}])[0])
                    scheme = "https" if "FEEDLINE_TLS_CERT" in target_secrets | target_env.keys() else "http"
                    expected = f"{scheme}://{target}.{CLOUD_MAP_DOMAIN}:{SERVICES[target]}"
                    if url != expected:
                        why = " (it serves TLS)" if scheme == "https" else ""
                        problems.append(f"{where}: {variable} must be {expected}{why}")
        if "FEEDLINE_REDIS_URL" in env and not env["FEEDLINE_REDIS_URL"].startswith(("redis-cluster://", "rediss-cluster://")):
            problems.append(f"{where}: FEEDLINE_REDIS_URL must be a redis-cluster:// URL")
        # The same variables as compose, whose list the Rust contract test checks against the code.
        compose_env = (compose_services.get(name) or {}).get("environment")
        # Compose mounts the service token as a file (FEEDLINE_SERVICE_TOKEN_FILE); ECS injects
        # the secret's value (FEEDLINE_SERVICE_TOKEN). The same setting either way.
        compose_names = {FILE_VARIANTS.get(v, v) for v in compose_env} if isinstance(compose_env, dict) else set()
        ecs_names = (set(env) | set(secrets)) - ECS_ONLY
        if isinstance(compose_env, dict) and ecs_names != compose_names:
            missing = sorted(compose_names - ecs_names)
            extra = sorted(ecs_names - compose_names)
            problems.append(f"{where}: variables differ from docker-compose.yml (missing {missing}, extra {extra})")
    return len(documents)


def container_variables(container: dict) -> tuple[dict[str, str], dict[str, str]]:
    """A container definition's environment and secrets, each as {name: value or valueFrom}."""
    env = {e.get("name"): e.get("value") for e in container.get("environment", [])}
    secrets = {s.get("name"): s.get("valueFrom") for s in container.get("secrets", [])}
    return env, secrets


def check_ecs_tls(where: str, name: str, env: dict, secrets: dict, problems: list[str]) -> None:
    """TLS is required on ECS. The PEM material comes from secrets, and the health check, which
    dials 127.0.0.1, must expect the name the other services dial: the certificate is issued
    for <service>.feedline.local, not for the default `localhost`, and no public CA issues one
    for feedline.local, so the private CA is needed to verify it."""
    for variable in TLS_SECRETS:
        if variable not in secrets:
            problems.append(f"{where}: TLS is required on ECS: {variable} must come from secrets")
    server_name = f"{name}.{CLOUD_MAP_DOMAIN}"
    if env.get("FEEDLINE_TLS_SERVER_NAME") != server_name:
        problems.append(f"{where}: FEEDLINE_TLS_SERVER_NAME must be {server_name}, the name its callers "
                        f"dial and its certificate names (the health check verifies it)")


def check_cfn_mirrors_ecs(root: Path, problems: list[str]) -> None:
    """The template's task definitions must say what deploy/ecs/*.json says, where both are literal."""
    path = root / "deploy" / "cloudformation" / "feedline.yaml"
    where = rel(path, root)
    template = load_yaml(path, problems, root, cfn=True)
    if not isinstance(template, dict):
        return
    resources = template.get("Resources") or {}
    documents = ecs_documents(root, [])
    found = set()
    for logical, resource in resources.items():
        if resource.get("Type") != "AWS::ECS::TaskDefinition":
            continue
        props = resource.get("Properties") or {}
        for container in props.get("ContainerDefinitions") or []:
            name = container.get("Name")
            if name not in SERVICES or name not in documents:
                continue
            found.add(name)
            json_task = documents[name]
            json_container = json_task["containerDefinitions"][0]
            prefix = f"{where}: {logical}"
            pairs = [
                ("Cpu", props.get("Cpu"), json_task.get("cpu")),
                ("Memory", props.get("Memory"), json_task.get("memory")),
                ("NetworkMode", props.get("NetworkMode"), json_task.get("networkMode")),
                ("ContainerPort", [p.get("ContainerPort") for p in container.get("PortMappings") or []],
                 [p.get("containerPort") for p in json_container.get("portMappings", [])]),
                ("HealthCheck.Command", (container.get("HealthCheck") or {}).get("Command"),
                 json_container.get("healthCheck", {}).get("command")),
            ]
            for label, ours, theirs in pairs:
                if ours != theirs:
                    problems.append(f"{prefix}: {label} {ours!r} differs from deploy/ecs/{name}.json ({theirs!r})")
            cfn_env = {e["Name"]: e["Value"] for e in container.get("Environment") or []}
            json_env = {e["name"]: e["value"] for e in json_container.get("environment", [])}
            cfn_secrets = {s["Name"] for s in container.get("Secrets") or []}
            json_secrets = {s["name"] for s in json_container.get("secrets", [])}
            if set(cfn_env) != set(json_env) or cfn_secrets != json_secrets:
                problems.append(f"{prefix}: variables differ from deploy/ecs/{name}.json")
            for variable, value in cfn_env.items():
                # Literal values must agree; stack-specific ones (!Sub, !Ref) differ on purpose.
                if isinstance(value, str) and variable in json_env and value != json_env[variable]:
                    problems.append(f"{prefix}: {variable}={value!r} differs from deploy/ecs/{name}.json")
            cfn_depends = [{"containerName": d.get("ContainerName"), "condition": d.get("Condition")}
                           for d in container.get("DependsOn") or []]
            if cfn_depends != json_container.get("dependsOn", []):
                problems.append(f"{prefix}: DependsOn differs from deploy/ecs/{name}.json")
            sidecars = [c for c in props.get("ContainerDefinitions") or [] if c.get("Name") == COLLECTOR]
            json_sidecar = (json_task["containerDefinitions"][1:] or [{}])[0]
            if sidecars and json_sidecar:
                mirror_collector(prefix, name, sidecars[0], json_sidecar, template, problems)
    for name in SERVICES:
        if name in documents and name not in found:
            problems.append(f"{where}: no task definition with a container named {name}")
    # The Redis Cluster's shape and URL scheme must match its encryption setting.
    for logical, resource in resources.items():
        if resource.get("Type") == "AWS::ElastiCache::ReplicationGroup":
            props = resource.get("Properties") or {}
            if props.get("NumNodeGroups") != 3 or props.get("ReplicasPerNodeGroup") != 1:
                problems.append(f"{where}: {logical}: expected cluster mode with 3 node groups of 1 replica")
            scheme = "rediss-cluster://" if props.get("TransitEncryptionEnabled") is True else "redis-cluster://"
            urls = [json.dumps(e.get("Value")) for r in resources.values() if r.get("Type") == "AWS::ECS::TaskDefinition"
                    for c in (r.get("Properties") or {}).get("ContainerDefinitions") or []
                    for e in c.get("Environment") or [] if e.get("Name") == "FEEDLINE_REDIS_URL"]
            if any(scheme not in url for url in urls):
                problems.append(f"{where}: FEEDLINE_REDIS_URL must use {scheme} with TransitEncryptionEnabled "
                                f"{props.get('TransitEncryptionEnabled')}")
            outputs = [f"{key} {json.dumps(o.get('Value'))}" for key, o in (template.get("Outputs") or {}).items()
                       if "redis-cluster://" in json.dumps(o.get("Value")) or "rediss-cluster://" in json.dumps(o.get("Value"))]
            for output in outputs:
                if scheme not in output:
                    problems.append(f"{where}: output {output.split()[0]} must use {scheme} with TransitEncryptionEnabled "
                                    f"{props.get('TransitEncryptionEnabled')}")
    check_cfn_secret_access(where, resources, problems)
    check_cfn_database_tls(root, where, resources, problems)
    check_cfn_collector(root, where, template, problems)


def mirror_collector(prefix: str, name: str, sidecar: dict, json_sidecar: dict, template: dict, problems: list[str]) -> None:
    """The template's collector sidecar says what the one of deploy/ecs/<name>.json says."""
    image = sidecar.get("Image")
    if isinstance(image, dict) and "Ref" in image:
        image = ((template.get("Parameters") or {}).get(image["Ref"]) or {}).get("Default")
    pairs = [
        ("Image (or its parameter's default)", image, json_sidecar.get("image")),
        ("Command", sidecar.get("Command"), json_sidecar.get("command")),
        ("Essential", sidecar.get("Essential"), json_sidecar.get("essential")),
        ("Memory", sidecar.get("Memory"), json_sidecar.get("memory")),
        ("environment names", sorted(e.get("Name") for e in sidecar.get("Environment") or []),
         sorted(e.get("name") for e in json_sidecar.get("environment", []))),
        ("secret names", sorted(s.get("Name") for s in sidecar.get("Secrets") or []),
         sorted(s.get("name") for s in json_sidecar.get("secrets", []))),
    ]
    for label, ours, theirs in pairs:
        if ours != theirs:
            problems.append(f"{prefix}: {COLLECTOR} {label} {ours!r} differs from deploy/ecs/{name}.json ({theirs!r})")


def secret_references(value) -> set[str]:
    """The parameters and resources a ValueFrom or a policy Resource names: `!Ref X`, or
    `!Sub ${X}:key::` (a JSON key of secret X)."""
    if isinstance(value, dict) and "Ref" in value:
        return {value["Ref"]}
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return set(re.findall(r"\$\{([\w:]+)\}", text)) - {"AWS::Region", "AWS::AccountId", "AWS::Partition"}
    return set()


def check_cfn_secret_access(where: str, resources: dict, problems: list[str]) -> None:
    """ECS reads a task's secrets with the execution role before the container starts: a
    secret the role may not read stops every task of that service at launch."""
    # execution role -> secret -> the task definitions and variables that need it
    used: dict[str, dict[str, set[str]]] = {}
    for logical, resource in resources.items():
        if resource.get("Type") != "AWS::ECS::TaskDefinition":
            continue
        props = resource.get("Properties") or {}
        role = props.get("ExecutionRoleArn")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            problems.append(f"{where}: {logical}: ExecutionRoleArn must be !GetAtt <a role of this stack>.Arn")
            continue
        needs = used.setdefault(role["Fn::GetAtt"][0], {})
        for container in props.get("ContainerDefinitions") or []:
            for secret in container.get("Secrets") or []:
                for name in secret_references(secret.get("ValueFrom")):
                    needs.setdefault(name, set()).add(f"{logical} {secret.get('Name')}")
    # An SSM parameter (the collector's configuration) is read with ssm:GetParameters, a secret
    # with secretsmanager:GetSecretValue.
    ssm = {logical for logical, r in resources.items() if r.get("Type") == "AWS::SSM::Parameter"}
    for role, needs in sorted(used.items()):
        granted: dict[str, set[str]] = {"secretsmanager:GetSecretValue": set(), "ssm:GetParameters": set()}
        for policy in (resources.get(role, {}).get("Properties") or {}).get("Policies") or []:
            for statement in (policy.get("PolicyDocument") or {}).get("Statement") or []:
                actions = statement.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                for action in set(actions) & set(granted) if statement.get("Effect") == "Allow" else ():
                    resource_list = statement.get("Resource")
                    for item in resource_list if isinstance(resource_list, list) else [resource_list]:
                        granted[action] |= secret_references(item)
        for name, users in sorted(needs.items()):
            action = "ssm:GetParameters" if name in ssm else "secretsmanager:GetSecretValue"
            if name not in granted[action]:
                problems.append(f"{where}: {role} may not read secret {name} ({action}), "
                                f"which {sorted(users)[0]} needs")


def check_cfn_database_tls(root: Path, where: str, resources: dict, problems: list[str]) -> None:
    """The database URLs the stack writes must verify RDS (sslmode=verify-full) against a CA
    file the image has: the runtime stage of deploy/Dockerfile must put it at that path."""
    try:
        instructions = dockerfile_instructions((root / "deploy" / "Dockerfile").read_text())
    except OSError:
        instructions = []
    runtime = []
    for keyword, args in instructions:
        runtime = [] if keyword == "FROM" else runtime + [(keyword, args)]
    image_files = {args.split()[-1] for keyword, args in runtime if keyword in ("COPY", "ADD")}
    for logical, resource in resources.items():
        if resource.get("Type") != "AWS::SecretsManager::Secret":
            continue
        value = (resource.get("Properties") or {}).get("SecretString")
        text = value.get("Fn::Sub") if isinstance(value, dict) else value
        if not isinstance(text, str) or not text.startswith(("postgres://", "postgresql://")):
            continue
        query = parse_qs(urlsplit(text.replace("${", "").replace("}", "")).query)
        if query.get("sslmode") != ["verify-full"]:
            problems.append(f"{where}: {logical}: the database URL needs sslmode=verify-full (the server's certificate "
                            f"and host name verified), not {query.get('sslmode')}")
        rootcert = (query.get("sslrootcert") or [""])[0]
        if not rootcert:
            problems.append(f"{where}: {logical}: the database URL needs sslrootcert=<the RDS CA bundle in the image>")
        elif rootcert not in image_files:
            problems.append(f"{where}: {logical}: sslrootcert={rootcert} is not a file the runtime stage of "
                            f"deploy/Dockerfile copies in")


def collector_config_text(root: Path, problems: list[str]) -> str | None:
    path = root / "deploy" / "ecs" / "otel-collector.yaml"
    try:
        return path.read_text()
    except OSError as error:
        problems.append(f"{rel(path, root)}: cannot read: {one_line(error)}")
        return None


def check_ecs_collector_config(root: Path, problems: list[str]) -> set[str]:
    """deploy/ecs/otel-collector.yaml: consistent, small enough for a Standard SSM parameter,
    traces on over OTLP and metrics to Amazon Managed Prometheus, signed. Returns the
    environment variables it reads (${env:NAME})."""
    path = root / "deploy" / "ecs" / "otel-collector.yaml"
    where = rel(path, root)
    text = collector_config_text(root, problems)
    if text is None:
        return set()
    if len(text.encode()) > SSM_STANDARD_LIMIT:
        problems.append(f"{where}: {len(text.encode())} bytes, more than a Standard SSM parameter holds ({SSM_STANDARD_LIMIT})")
    pipelines = check_collector_config(where, load_yaml(path, problems, root), problems)
    if pipelines:
        if not any(e.split("/", 1)[0] == "otlp_grpc" for e in exporters_of(pipelines, "traces")):
            problems.append(f"{where}: the traces pipeline must export over OTLP/gRPC (otlp_grpc), where the traces went before")
        remote = {e: s for e, s in exporters_of(pipelines, "metrics").items() if e.split("/", 1)[0] == "prometheus_remote_write"}
        if not remote:
            problems.append(f"{where}: the metrics pipeline must remote-write to Amazon Managed Prometheus (prometheus_remote_write)")
        for exporter, settings in remote.items():
            if not str(((settings.get("auth") or {}).get("authenticator") or "")).startswith("sigv4auth"):
                problems.append(f"{where}: {exporter} must authenticate with sigv4auth (AMP takes SigV4-signed writes only)")
    return set(re.findall(r"\$\{env:(\w+)\}", text))


def check_ecs_collector(where: str, service: dict, collector: dict, compose_services: dict,
                        config_env: set[str], problems: list[str]) -> None:
    """The sidecar of one task definition: the compose collector's image, its configuration from
    an SSM parameter, every variable that configuration reads, and the service waiting for it."""
    compose_image = str((compose_services.get(COLLECTOR) or {}).get("image", ""))
    if collector.get("image") != compose_image:
        problems.append(f"{where}: {COLLECTOR} image must be {compose_image!r}, as in docker-compose.yml")
    if collector.get("command") != COLLECTOR_COMMAND:
        problems.append(f"{where}: {COLLECTOR} command must be {json.dumps(COLLECTOR_COMMAND)}")
    if collector.get("essential") is not False:
        problems.append(f"{where}: {COLLECTOR} must not be essential (a collector that stops must not stop the service)")
    env, secrets = container_variables(collector)
    if not re.fullmatch(r"arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter/.+", secrets.get(COLLECTOR_CONFIG_VAR, "")):
        problems.append(f"{where}: {COLLECTOR}: {COLLECTOR_CONFIG_VAR} must come from an SSM parameter ARN (secrets)")
    for variable in sorted(config_env - set(env) - set(secrets)):
        problems.append(f"{where}: {COLLECTOR}: deploy/ecs/otel-collector.yaml reads ${{env:{variable}}}, which is not set")
    logs = collector.get("logConfiguration", {})
    if logs.get("logDriver") != "awslogs":
        problems.append(f"{where}: {COLLECTOR}: logConfiguration must be awslogs")
    if {"containerName": COLLECTOR, "condition": "START"} not in service.get("dependsOn", []):
        problems.append(f"{where}: {service.get('name')} must dependsOn {COLLECTOR} START (it exports to it from the start)")


def check_cfn_collector(root: Path, where: str, template: dict, problems: list[str]) -> None:
    """The template ships deploy/ecs/otel-collector.yaml verbatim as an SSM parameter, lets the
    execution role read it and the task role write to the Prometheus workspace the sidecars
    write to."""
    resources = template.get("Resources") or {}
    text = collector_config_text(root, [])
    parameters = {logical: r for logical, r in resources.items() if r.get("Type") == "AWS::SSM::Parameter"
                  and (r.get("Properties") or {}).get("Value") == text}
    if not parameters:
        problems.append(f"{where}: no AWS::SSM::Parameter holds deploy/ecs/otel-collector.yaml verbatim")
    for logical, resource in parameters.items():
        if (resource.get("Properties") or {}).get("Tier", "Standard") == "Standard" and len((text or "").encode()) > SSM_STANDARD_LIMIT:
            problems.append(f"{where}: {logical}: the configuration exceeds a Standard parameter's 4 KB")
    workspaces = [logical for logical, r in resources.items() if r.get("Type") == "AWS::APS::Workspace"]
    for logical, resource in resources.items():
        if resource.get("Type") != "AWS::ECS::TaskDefinition" or logical.startswith("Jaeger"):
            continue
        containers = {c.get("Name"): c for c in (resource.get("Properties") or {}).get("ContainerDefinitions") or []}
        sidecar = containers.get(COLLECTOR)
        if sidecar is None:
            problems.append(f"{where}: {logical}: no {COLLECTOR} sidecar")
            continue
        config = {s.get("Name"): s.get("ValueFrom") for s in sidecar.get("Secrets") or []}.get(COLLECTOR_CONFIG_VAR)
        if not secret_references(config) & set(parameters):
            problems.append(f"{where}: {logical}: {COLLECTOR} must take {COLLECTOR_CONFIG_VAR} from the collector's SSM parameter")
        remote = {e.get("Name"): e.get("Value") for e in sidecar.get("Environment") or []}.get("AMP_REMOTE_WRITE_URL")
        if not any(w in json.dumps(remote) for w in workspaces):
            problems.append(f"{where}: {logical}: {COLLECTOR} AMP_REMOTE_WRITE_URL must name the stack's AWS::APS::Workspace")
    role = resources.get("TaskRole") or {}
    statements = [s for p in (role.get("Properties") or {}).get("Policies") or []
                  for s in (p.get("PolicyDocument") or {}).get("Statement") or []]
    if not any(s.get("Effect") == "Allow" and "aps:RemoteWrite" in json.dumps(s.get("Action"))
               and any(w in json.dumps(s.get("Resource")) for w in workspaces) for s in statements):
        problems.append(f"{where}: TaskRole may not aps:RemoteWrite to the Prometheus workspace (the sidecars sign with it)")
