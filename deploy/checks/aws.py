"""The AWS material: cfn-lint on the template, botocore's ECS input shape on the task definitions,
the contract they follow, and the template's task definitions mirroring the JSON files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .common import CLOUD_MAP_DOMAIN, SECRET_VARS, SERVICES, load_yaml, one_line, rel
from .docker import dockerfile_instructions

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
        if len(containers) != 1:
            problems.append(f"{where}: expected one container definition")
            continue
        container = containers[0]
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
    for role, needs in sorted(used.items()):
        granted: set[str] = set()
        for policy in (resources.get(role, {}).get("Properties") or {}).get("Policies") or []:
            for statement in (policy.get("PolicyDocument") or {}).get("Statement") or []:
                actions = statement.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                if statement.get("Effect") == "Allow" and "secretsmanager:GetSecretValue" in actions:
                    resource_list = statement.get("Resource")
                    for item in resource_list if isinstance(resource_list, list) else [resource_list]:
                        granted |= secret_references(item)
        for name, users in sorted(needs.items()):
            if name not in granted:
                problems.append(f"{where}: {role} may not read secret {name} (secretsmanager:GetSecretValue), "
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
