#!/usr/bin/env python3
"""Static checks of the deployment material, for machines without a Docker engine or AWS account.

    python3 deploy/check.py              # every check; exit 1 with one line per problem
    python3 deploy/check.py --self-test  # breaks copies of the files and expects each check to fail

What it checks (deploy/README.md says the same, and what it cannot check):
- docker-compose.yml and deploy/compose/mysql.yml against the Compose JSON Schema
  (deploy/schemas/compose-spec.json, draft-07);
- the compose contract: the four services built from deploy/Dockerfile, environment in map form,
  listen addresses, ports, health checks, depends_on conditions, URLs that name real services,
  databases that exist, the Redis Cluster of 3 masters + 3 replicas, the loadgen command;
- the telemetry path in compose: the OpenTelemetry Collector's config (every pipeline's
  components defined and known, traces to Jaeger, metrics to a prometheus exporter), Prometheus's
  scrape targets, Grafana's provisioning, and the dashboard (valid JSON, a query in every panel,
  only series and labels the services export, the panels issue 17 asks for);
- deploy/Dockerfile: ARG SERVICE, the cached dependency layer, a non-root USER, HEALTHCHECK;
- .dockerignore: target/, .feedline/ and .git stay out of the build context;
- deploy/cloudformation/feedline.yaml with cfn-lint (errors and warnings);
- deploy/ecs/*.json against botocore's input shape of ECS RegisterTaskDefinition, plus the
  contract (secrets only as ARNs, the same variables as compose but for FEEDLINE_TLS_*, Cloud
  Map URLs, TLS required: the PEM settings from secrets, the health check's server name, https
  to every service that serves TLS);
- that the CloudFormation task definitions mirror deploy/ecs/*.json, that the Redis URLs match
  the cluster's in-transit encryption, that the execution role may read every secret the task
  definitions name, and that the database URLs verify RDS against a CA file the image has;
- the collector sidecar of every ECS task (deploy/ecs/otel-collector.yaml from an SSM parameter,
  metrics remote-written to Amazon Managed Prometheus) and its CloudFormation mirror.

The checks themselves are in deploy/checks/, one module per kind of material.
The first run creates target/deploy-venv and installs deploy/requirements.txt (pinned) into it;
later runs reuse it until requirements.txt changes. Needs Python 3.11 or newer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "target" / "deploy-venv"
REQUIREMENTS = REPO / "deploy" / "requirements.txt"
STAMP = VENV / ".feedline-requirements.sha256"
# Exit code for "cannot run here" (Python too old, no venv or pip, no package index): `cargo
# xtask test` reports the checks as skipped, and fails on it only in CI.
EXIT_MISSING_PREREQUISITES = 3


def missing(reason: str) -> None:
    """Exits with EXIT_MISSING_PREREQUISITES after one line saying what is missing."""
    print(f"deploy/check.py: cannot run: {reason}", file=sys.stderr)
    sys.exit(EXIT_MISSING_PREREQUISITES)


def bootstrap() -> None:
    """Re-runs this script inside target/deploy-venv, creating and filling it when needed."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if sys.version_info < (3, 11):
        missing(f"needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    python = VENV / "bin" / "python"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    pip_flags = ["--quiet", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    try:
        if not python.exists():
            created = subprocess.run([sys.executable, "-m", "venv", str(VENV)],
                                     capture_output=True, text=True)
            if created.returncode != 0:
                # Debian's python3 lacks ensurepip without python3-venv: make the venv without
                # pip and let this interpreter's pip install into it.
                shutil.rmtree(VENV, ignore_errors=True)
                subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(VENV)], check=True)
        if not STAMP.exists() or STAMP.read_text().strip() != digest:
            has_pip = subprocess.run([str(python), "-m", "pip", "--version"],
                                     capture_output=True).returncode == 0
            pip = [str(python), "-m", "pip"] if has_pip else [sys.executable, "-m", "pip", "--python", str(python)]
            subprocess.run([*pip, "install", *pip_flags, "-r", str(REQUIREMENTS)], check=True)
            STAMP.write_text(digest + "\n")
    except (subprocess.CalledProcessError, OSError) as error:
        missing(f"cannot prepare {VENV.relative_to(REPO)}: {error} "
                f"(on Debian: apt-get install python3-venv python3-pip; pip needs PyPI)")
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> int:
    bootstrap()
    # The checks live beside this script (deploy/checks/); imported only inside the venv, and
    # without leaving __pycache__ folders in the source tree.
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from checks.run import run_checks
    from checks.selftest import self_test

    args = sys.argv[1:]
    if args == ["--self-test"]:
        return self_test(REPO)
    if args:
        print(__doc__.split("\n\n")[1])
        return 2
    problems, done = run_checks(REPO)
    for problem in problems:
        print(problem)
    if problems:
        print(f"deploy checks failed: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("deploy checks OK: " + "; ".join(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
