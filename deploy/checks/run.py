"""Every check in order, against one repository root."""

from __future__ import annotations

from pathlib import Path

from .aws import check_cfn_lint, check_cfn_mirrors_ecs, check_ecs
from .compose import check_compose_contract, check_compose_schema
from .docker import check_dockerfile, check_dockerignore
from .observability import check_compose_observability


def run_checks(root: Path, lint: bool = True) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    done: list[str] = []
    files = check_compose_schema(root, problems)
    done.append(f"compose schema ({files} files)")
    summary = check_compose_contract(root, problems)
    done.append(f"compose contract ({summary})")
    summary = check_compose_observability(root, problems)
    done.append(f"telemetry ({summary})")
    check_dockerfile(root, problems)
    done.append("Dockerfile")
    check_dockerignore(root, problems)
    done.append(".dockerignore")
    if lint:
        check_cfn_lint(root, problems)
        done.append("cfn-lint")
    count = check_ecs(root, problems)
    done.append(f"{count} ECS task definitions (botocore RegisterTaskDefinition)")
    check_cfn_mirrors_ecs(root, problems)
    done.append("CloudFormation mirrors ECS")
    return problems, done
