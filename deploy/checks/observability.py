"""The telemetry path: the OpenTelemetry Collector configs (compose and ECS), Prometheus's scrape
config, Grafana's provisioning and the dashboard's queries against the metrics the services
export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .common import COLLECTOR, OTLP_GRPC_PORT, load_yaml, one_line, rel

OBSERVABILITY = Path("deploy") / "compose" / "observability"
DASHBOARDS = OBSERVABILITY / "grafana" / "dashboards"

# The metrics the services export (OTel name -> instrument kind, unit), as the telemetry code
# names them. A dashboard query may use only the Prometheus series these become.
METRICS = {
    "rpc.server.call.duration": ("histogram", "s"),
    "feedline.outbox.backlog": ("gauge", "{event}"),
    "feedline.outbox.oldest_age": ("gauge", "s"),
    "feedline.relay.lag": ("histogram", "s"),
    "feedline.fanout.lag": ("histogram", "s"),
    "feedline.fanout.recipients": ("histogram", ""),
    "feedline.fanout.pipeline.commands": ("histogram", ""),
    "feedline.redis.errors": ("counter", ""),
    "feedline.ingest.queue.records": ("gauge", ""),
    "feedline.ingest.queue.size": ("gauge", "By"),
    "feedline.ingest.batch.records": ("histogram", ""),
    "feedline.ingest.commit.duration": ("histogram", "s"),
    "feedline.ingest.records": ("counter", ""),
    "db.client.connection.count": ("gauge", ""),
    "db.client.connection.max": ("gauge", ""),
}
# Labels a query may match or group by: the metrics' attributes (dots become underscores), the
# job and instance the exporter derives from service.name and service.instance.id, and le.
LABELS = {"job", "instance", "le", "rpc_system_name", "rpc_method", "rpc_response_status_code",
          "db_client_connection_state"}
# Unit -> the suffix the collector's Prometheus translation appends; `{...}` units append none.
UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}
# What the dashboard must show (issue 17), each as a pattern one of its queries must match.
REQUIRED_QUERIES = {
    "fan-out lag p50": r"histogram_quantile\(\s*0\.5\s*,.*\bfeedline_fanout_lag_seconds_bucket\b",
    "fan-out lag p99": r"histogram_quantile\(\s*0\.99\s*,.*\bfeedline_fanout_lag_seconds_bucket\b",
    "outbox backlog rows": r"\bfeedline_outbox_backlog\b",
    "outbox oldest age": r"\bfeedline_outbox_oldest_age_seconds\b",
    "posts/s": r"rate\(rpc_server_call_duration_seconds_count\{(?=[^}]*rpc_method=\"feedline\.post\.v1\.PostService/CreatePost\")"
               r"(?=[^}]*rpc_response_status_code=\"OK\")",
    "RPC errors by method and code": r"by \((?=[^)]*rpc_method)(?=[^)]*rpc_response_status_code)[^)]*\).*"
                                     r"rpc_server_call_duration_seconds_count\{[^}]*rpc_response_status_code!=\"OK\"",
    "ingest records/s": r"rate\(feedline_ingest_records_total\b",
    "ingest queue depth": r"\bfeedline_ingest_queue_(records|size_bytes)\b",
}
# Collector component types these configs may use (the contrib image has them all); a
# misspelt type stops the collector at start.
COMPONENTS = {
    "receivers": {"otlp"},
    "processors": {"batch", "memory_limiter", "resource", "resourcedetection", "attributes", "filter"},
    "exporters": {"otlp_grpc", "otlp_http", "prometheus", "prometheus_remote_write", "debug"},
    "extensions": {"health_check", "sigv4auth", "pprof", "zpages"},
}
PIPELINE_TYPES = {"traces", "metrics", "logs"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                "and", "or", "unless", "inf", "nan"}


def prometheus_series(name: str, kind: str, unit: str) -> set[str]:
    """The series names the collector's prometheus and prometheus_remote_write exporters give an
    OTel metric (UnderscoreEscapingWithSuffixes)."""
    base = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    suffix = UNIT_SUFFIXES.get(unit, "")
    if suffix and not base.endswith("_" + suffix):
        base += "_" + suffix
    if kind == "counter":
        return {base + "_total"}
    if kind == "histogram":
        return {base + "_bucket", base + "_sum", base + "_count"}
    return {base}


def known_series() -> set[str]:
    return set().union(*(prometheus_series(n, k, u) for n, (k, u) in METRICS.items()))


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names a PromQL expression uses (as far as dashboards go:
    selectors, range vectors, function calls, by/without/on/ignoring groups)."""
    labels: set[str] = set()
    for body in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", body))
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    grouping = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
    for body in re.findall(grouping, text):
        labels |= set(re.findall(r"[a-zA-Z_]\w*", body))
    text = re.sub(grouping, " ", text)
    metrics = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\s*(\()?", text):
        name, call = match.groups()
        if not call and name.lower() not in PROMQL_WORDS:
            metrics.add(name)
    return metrics, labels


def check_collector_config(where: str, config, problems: list[str]) -> dict[str, dict]:
    """Every component a pipeline or the service names is defined, of a known type, and every
    receiver and exporter defined is used. Returns the pipelines (name -> definition)."""
    if not isinstance(config, dict):
        problems.append(f"{where}: not a collector configuration (a mapping)")
        return {}
    defined = {}
    for section, types in COMPONENTS.items():
        components = config.get(section) or {}
        if not isinstance(components, dict):
            problems.append(f"{where}: {section} must be a mapping")
            components = {}
        defined[section] = components
        for component in components:
            kind = str(component).split("/", 1)[0]
            if kind not in types:
                problems.append(f"{where}: {section}: unknown component type {kind!r} ({component}); "
                                f"known: {', '.join(sorted(types))}")
    service = config.get("service") or {}
    for extension in service.get("extensions") or []:
        if extension not in defined["extensions"]:
            problems.append(f"{where}: service.extensions names {extension}, which extensions does not define")
    pipelines = service.get("pipelines") or {}
    if not isinstance(pipelines, dict) or not pipelines:
        problems.append(f"{where}: service.pipelines is empty")
        return {}
    used = {"receivers": set(), "exporters": set()}
    for name, pipeline in pipelines.items():
        pipeline = pipeline or {}
        if str(name).split("/", 1)[0] not in PIPELINE_TYPES:
            problems.append(f"{where}: pipeline {name}: not a traces, metrics or logs pipeline")
        for section in ("receivers", "processors", "exporters"):
            names = pipeline.get(section) or []
            if section != "processors" and not names:
                problems.append(f"{where}: pipeline {name} has no {section}")
            for component in names:
                if component not in defined[section]:
                    problems.append(f"{where}: pipeline {name} names {section[:-1]} {component}, "
                                    f"which {section} does not define")
            used.get(section, set()).update(names)
        processors = pipeline.get("processors") or []
        if "memory_limiter" in processors and processors[0] != "memory_limiter":
            problems.append(f"{where}: pipeline {name}: memory_limiter must be the first processor")
    for section, names in used.items():
        for component in defined[section]:
            if component not in names:
                problems.append(f"{where}: {section[:-1]} {component} is defined but no pipeline uses it")
    for exporter, settings in defined["exporters"].items():
        authenticator = ((settings or {}).get("auth") or {}).get("authenticator")
        if authenticator and authenticator not in (service.get("extensions") or []):
            problems.append(f"{where}: exporter {exporter} authenticates with {authenticator}, "
                            f"which service.extensions does not enable")
    grpc = ((((defined["receivers"].get("otlp") or {}).get("protocols") or {}).get("grpc")) or {})
    if not str(grpc.get("endpoint", "")).endswith(f":{OTLP_GRPC_PORT}"):
        problems.append(f"{where}: receiver otlp must take gRPC on port {OTLP_GRPC_PORT} "
                        f"(the services' OTEL_EXPORTER_OTLP_ENDPOINT)")
    return {name: {**(p or {}), "_exporters": {e: defined["exporters"].get(e) or {} for e in (p or {}).get("exporters") or []}}
            for name, p in pipelines.items()}


def exporters_of(pipelines: dict, signal: str) -> dict[str, dict]:
    """The exporters of every pipeline of a signal (traces, metrics), with their settings."""
    found: dict[str, dict] = {}
    for name, pipeline in pipelines.items():
        if str(name).split("/", 1)[0] == signal:
            found.update(pipeline["_exporters"])
    return found


def mounted(root: Path, service: dict, target: str) -> Path | None:
    """The repository file or folder a compose service mounts at `target`."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            into = rest.split(":", 1)[0]
        else:
            source, into = str(volume.get("source", "")), str(volume.get("target", ""))
        if into == target and source.startswith("."):
            return root / source
    return None


def pinned(where: str, service: dict, repository: str, problems: list[str]) -> None:
    image = str(service.get("image", ""))
    if not re.fullmatch(re.escape(repository) + r":v?\d+\.\d+\.\d+", image):
        problems.append(f"{where}: image must be {repository}:<version> pinned to a release, not {image!r}")


def check_compose_observability(root: Path, problems: list[str]) -> str:
    """The collector, Prometheus and Grafana services of docker-compose.yml and their configs."""
    path = root / "docker-compose.yml"
    where = rel(path, root)
    compose = load_yaml(path, [], root) or {}
    services = compose.get("services") or {}
    collector = services.get(COLLECTOR)
    if not isinstance(collector, dict):
        problems.append(f"{where}: service {COLLECTOR} is missing (the services export OTLP to it)")
        return "no collector"
    pinned(f"{where}: {COLLECTOR}", collector, "otel/opentelemetry-collector-contrib", problems)
    command = " ".join(collector.get("command") or []) if isinstance(collector.get("command"), list) else str(collector.get("command", ""))
    config_path = re.search(r"--config[= ](/\S+)", command)
    config_file = mounted(root, collector, config_path.group(1)) if config_path else None
    if config_file is None:
        problems.append(f"{where}: {COLLECTOR}: command must say --config=<path> of a file mounted from the repository")
        return "no collector config"
    if not config_file.is_file():
        problems.append(f"{where}: {COLLECTOR}: mounts {rel(config_file, root)}, which does not exist")
        return "no collector config"
    config_where = rel(config_file, root)
    config = load_yaml(config_file, problems, root)
    pipelines = check_collector_config(config_where, config, problems)
    ports = {str(p).rsplit(":", 1)[-1] for p in collector.get("ports") or []}
    if str(OTLP_GRPC_PORT) not in ports:
        problems.append(f"{where}: {COLLECTOR}: ports must publish OTLP/gRPC {OTLP_GRPC_PORT}")
    # Traces to Jaeger, a service of this file, which the collector waits for.
    traces = exporters_of(pipelines, "traces")
    jaeger = [e for e, s in traces.items() if str(s.get("endpoint", "")).removeprefix("http://") == "jaeger:4317"]
    if pipelines and not jaeger:
        problems.append(f"{config_where}: the traces pipeline must export to jaeger:4317 (an otlp_grpc exporter)")
    if "jaeger" not in services:
        problems.append(f"{where}: service jaeger is missing (the collector sends traces to it)")
    # Metrics to Prometheus: the exporter Prometheus scrapes.
    metrics = exporters_of(pipelines, "metrics")
    exporter_ports = {str(s.get("endpoint", "")).rsplit(":", 1)[-1] for e, s in metrics.items()
                      if e.split("/", 1)[0] == "prometheus"}
    if pipelines and not exporter_ports:
        problems.append(f"{config_where}: the metrics pipeline must export to a prometheus exporter (scraped by Prometheus)")
    readers = ((((config or {}).get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get("readers") or []
    own_ports = {str(((r.get("pull") or {}).get("exporter") or {}).get("prometheus", {}).get("port")) for r in readers}
    check_prometheus(root, where, services, exporter_ports, own_ports, problems)
    dashboards = check_grafana(root, where, services, problems)
    return f"collector, Prometheus, Grafana, {dashboards} dashboard(s)"


def check_prometheus(root, where, services, exporter_ports, own_ports, problems) -> None:
    """Prometheus scrapes the collector's prometheus exporter, keeping the exporter's job label
    (the service name the dashboard groups by), and every target is a service on a port it serves."""
    prometheus = services.get("prometheus")
    if not isinstance(prometheus, dict):
        problems.append(f"{where}: service prometheus is missing")
        return
    pinned(f"{where}: prometheus", prometheus, "prom/prometheus", problems)
    command = " ".join(prometheus.get("command") or [])
    config_path = re.search(r"--config\.file=(\S+)", command)
    config_file = mounted(root, prometheus, config_path.group(1) if config_path else "/etc/prometheus/prometheus.yml")
    if config_file is None or not config_file.is_file():
        problems.append(f"{where}: prometheus: its --config.file must be a file mounted from the repository")
        return
    config_where = rel(config_file, root)
    config = load_yaml(config_file, problems, root)
    jobs = (config or {}).get("scrape_configs") if isinstance(config, dict) else None
    if not isinstance(jobs, list) or not jobs:
        problems.append(f"{config_where}: no scrape_configs")
        return
    names = [j.get("job_name") for j in jobs]
    if len(set(names)) != len(names) or None in names:
        problems.append(f"{config_where}: every scrape config needs a job_name of its own")
    scrapes_exporter = False
    for job in jobs:
        targets = [t for s in job.get("static_configs") or [] for t in s.get("targets") or []]
        if not targets:
            problems.append(f"{config_where}: job {job.get('job_name')}: no static targets")
        for target in targets:
            host, _, port = str(target).rpartition(":")
            if host in ("localhost", "127.0.0.1"):
                continue
            if host not in services:
                problems.append(f"{config_where}: job {job.get('job_name')}: target {target} is not a compose service")
            elif host == COLLECTOR and port not in exporter_ports | own_ports:
                problems.append(f"{config_where}: job {job.get('job_name')}: {target} is neither the collector's "
                                f"prometheus exporter (port {', '.join(sorted(exporter_ports)) or 'none'}) nor its own metrics")
            elif host == COLLECTOR and port in exporter_ports:
                scrapes_exporter = True
                if job.get("honor_labels") is not True:
                    problems.append(f"{config_where}: job {job.get('job_name')} must set honor_labels: true "
                                    f"(the exporter's job label is the service's name)")
    if not scrapes_exporter:
        problems.append(f"{config_where}: no job scrapes the collector's prometheus exporter")


def check_grafana(root: Path, where: str, services: dict, problems: list[str]) -> int:
    """Grafana's provisioned data sources point at the compose Prometheus and Jaeger, its
    dashboard provider at the mounted dashboards, and each dashboard passes check_dashboard."""
    grafana = services.get("grafana")
    if not isinstance(grafana, dict):
        problems.append(f"{where}: service grafana is missing")
        return 0
    pinned(f"{where}: grafana", grafana, "grafana/grafana", problems)
    provisioning = mounted(root, grafana, "/etc/grafana/provisioning")
    if provisioning is None or not provisioning.is_dir():
        problems.append(f"{where}: grafana: /etc/grafana/provisioning must be a folder mounted from the repository")
        return 0
    uids = set()
    for path in sorted((provisioning / "datasources").glob("*.y*ml")):
        for source in (load_yaml(path, problems, root) or {}).get("datasources") or []:
            uids.add(source.get("uid"))
            url = re.match(r"https?://([\w.-]+):(\d+)", str(source.get("url", "")))
            if not url or url.group(1) not in services:
                problems.append(f"{rel(path, root)}: data source {source.get('name')}: url must name a compose service")
    if not any(True for _ in (provisioning / "datasources").glob("*.y*ml")) or "prometheus" not in uids:
        problems.append(f"{rel(provisioning, root)}/datasources: needs the Prometheus data source (uid prometheus)")
    count = 0
    for path in sorted((provisioning / "dashboards").glob("*.y*ml")):
        for provider in (load_yaml(path, problems, root) or {}).get("providers") or []:
            target = ((provider.get("options") or {}).get("path") or "")
            folder = mounted(root, grafana, target)
            if folder is None or not folder.is_dir():
                problems.append(f"{rel(path, root)}: provider {provider.get('name')}: path {target} is not a folder "
                                f"mounted from the repository")
                continue
            for dashboard in sorted(folder.glob("*.json")):
                count += 1
                check_dashboard(root, dashboard, uids, problems)
    if count == 0:
        problems.append(f"{where}: grafana: no dashboard is provisioned")
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        folder = mounted(root, grafana, str(home).rsplit("/", 1)[0])
        if folder is None or not (folder / str(home).rsplit("/", 1)[1]).is_file():
            problems.append(f"{where}: grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is not a mounted file")
    return count


def panels_of(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included, rows themselves excluded."""
    found = []
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            found.extend(panel.get("panels") or [])
        else:
            found.append(panel)
    return found


def check_dashboard(root: Path, path: Path, datasource_uids: set, problems: list[str]) -> None:
    """Valid JSON; every panel queries a Prometheus data source; every query uses only series
    and labels the services export; the panels issue 17 asks for are there."""
    where = rel(path, root)
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        problems.append(f"{where}: not valid JSON: {one_line(error)}")
        return
    if not isinstance(dashboard, dict) or not dashboard.get("uid") or not isinstance(dashboard.get("panels"), list):
        problems.append(f"{where}: a dashboard needs a uid and panels")
        return
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    series, ids, expressions = known_series(), set(), []
    for panel in panels_of(dashboard):
        title = panel.get("title") or f"panel {panel.get('id')}"
        if panel.get("id") in ids:
            problems.append(f"{where}: {title}: panel id {panel.get('id')} is used twice")
        ids.add(panel.get("id"))
        targets = [t for t in panel.get("targets") or [] if str(t.get("expr", "")).strip()]
        if not targets:
            problems.append(f"{where}: {title}: no query")
        for target in targets:
            source = target.get("datasource") or panel.get("datasource") or {}
            uid = str(source.get("uid", "")) if isinstance(source, dict) else str(source)
            variable = re.fullmatch(r"\$\{?(\w+)\}?", uid)
            ok = (variable and (variables.get(variable.group(1)) or {}).get("query") == "prometheus") or uid in datasource_uids
            if not ok:
                problems.append(f"{where}: {title}: data source {uid!r} is neither a provisioned one nor a "
                                f"prometheus data source variable")
            expr = str(target["expr"])
            expressions.append(expr)
            metrics, labels = promql_names(expr)
            for metric in sorted(metrics - series):
                problems.append(f"{where}: {title}: {metric} is not a series the services export "
                                f"(deploy/checks/observability.py METRICS)")
            legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", str(target.get("legendFormat", ""))))
            for label in sorted((labels | legend_labels) - LABELS):
                problems.append(f"{where}: {title}: label {label} is not one the metrics carry")
    for what, pattern in REQUIRED_QUERIES.items():
        if not any(re.search(pattern, expr) for expr in expressions):
            problems.append(f"{where}: no panel shows {what} (a query matching {pattern})")
