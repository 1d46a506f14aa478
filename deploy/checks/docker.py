"""deploy/Dockerfile and .dockerignore, read as text: Docker itself is not needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .common import one_line, rel


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def check_dockerfile(root: Path, problems: list[str]) -> None:
    path = root / "deploy" / "Dockerfile"
    where = rel(path, root)
    try:
        instructions = dockerfile_instructions(path.read_text())
    except OSError as error:
        problems.append(f"{where}: cannot read: {one_line(error)}")
        return
    defaults = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            stages.append([])
        if not stages:
            if keyword == "ARG" and "=" in args:
                key, value = args.split("=", 1)
                defaults[key.strip()] = value.strip()
            continue
        stages[-1].append((keyword, args))
    if len(stages) < 2:
        problems.append(f"{where}: must be multi-stage (a build stage and a runtime stage)")
        return

    def base(stage):
        image = stage[0][1].split()[0]
        return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), image)

    bases = [base(s) for s in stages]
    if "rust:1.95-bookworm" not in bases:
        problems.append(f"{where}: the toolchain stage must be FROM rust:1.95-bookworm")
    if not (bases[-1] == "debian:bookworm-slim" or bases[-1].startswith("gcr.io/distroless/cc")):
        problems.append(f"{where}: the runtime stage must be FROM debian:bookworm-slim or distroless/cc")

    every = [i for s in stages for i in s]
    if not any(k == "ARG" and a.split("=")[0] == "SERVICE" for k, a in every):
        problems.append(f"{where}: needs `ARG SERVICE`")
    # A build argument is visible only in the stages that declare it, after the declaration.
    # ENTRYPOINT, CMD and HEALTHCHECK are left out: they expand $SERVICE at run time (ENV).
    for number, stage in enumerate(stages, 1):
        declared = False
        for keyword, args in stage:
            if keyword in ("ARG", "ENV") and re.match(r"SERVICE\b", args):
                declared = True
            elif keyword in ("RUN", "COPY", "ADD", "ENV", "LABEL", "WORKDIR", "USER") \
                    and re.search(r"\$\{?SERVICE\b", args) and not declared:
                problems.append(f"{where}: stage {number} uses $SERVICE in {keyword} before its `ARG SERVICE`")
                break
    builds = [a for k, a in every if k == "RUN" and "cargo build" in a]
    if not any(re.search(r"cargo build --release --locked --bin \"?\$\{?SERVICE", a) for a in builds):
        problems.append(f"{where}: needs `cargo build --release --locked --bin $SERVICE`")
    # The cached dependency layer: dependencies cooked before the sources are copied in.
    cached = False
    for stage in stages:
        keys = [(k, a) for k, a in stage]
        cook = next((i for i, (k, a) in enumerate(keys) if k == "RUN" and "cargo chef cook" in a), None)
        copy_all = next((i for i, (k, a) in enumerate(keys) if k == "COPY" and a.split()[-2:] == [".", "."]), None)
        if cook is not None and copy_all is not None and cook < copy_all:
            cached = True
    if not cached:
        problems.append(f"{where}: needs a cached dependency layer (`cargo chef cook` before `COPY . .`)")

    # Docker runs an exec form that is not valid JSON as a shell command instead, silently.
    for keyword, args in every:
        form = re.sub(r"^(--\S+\s+)*CMD\s+", "", args) if keyword == "HEALTHCHECK" else args
        if keyword in ("ENTRYPOINT", "CMD", "HEALTHCHECK", "RUN") and form.startswith("["):
            try:
                parsed = json.loads(form)
                if not all(isinstance(part, str) for part in parsed):
                    raise ValueError("not a list of strings")
            except ValueError as error:
                problems.append(f"{where}: {keyword} exec form is not a JSON array of strings: {one_line(error)}")

    final = stages[-1]
    users = [a for k, a in final if k == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{where}: the runtime stage must switch to a non-root USER")
    checks = [a for k, a in final if k == "HEALTHCHECK"]
    if not checks or "healthcheck" not in checks[-1] or checks[-1].upper().startswith("NONE"):
        problems.append(f"{where}: the runtime stage needs a HEALTHCHECK running `<binary> healthcheck`")
    if not any(k == "ENTRYPOINT" for k, _ in final):
        problems.append(f"{where}: the runtime stage needs an ENTRYPOINT")
    if not any(k == "COPY" and re.search(r"/usr/local/bin/\$\{?SERVICE\}?$", a) for k, a in final):
        problems.append(f"{where}: the binary must be copied to /usr/local/bin/$SERVICE")


def check_dockerignore(root: Path, problems: list[str]) -> None:
    path = root / ".dockerignore"
    try:
        lines = {l.strip().strip("/") for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")}
    except OSError as error:
        problems.append(f"{rel(path, root)}: cannot read: {one_line(error)}")
        return
    for entry in ("target", ".feedline", ".git"):
        if entry not in lines:
            problems.append(f"{rel(path, root)}: must exclude {entry}/")
