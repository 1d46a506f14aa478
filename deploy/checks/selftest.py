"""Proof that every check can fail: each mutation breaks one copy of one file, and the checks
must then report a problem containing the expected text. The repository itself is never touched."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .run import run_checks

# (file, text, its replacement, text expected in one of the reported problems)
MUTATIONS = [
    ("docker-compose.yml", "--cluster-replicas 1 ", "--cluster-replicas 0 ", "--cluster-replicas 1"),
    ("docker-compose.yml", "redis-5:6379 redis-6:6379 --cluster", "redis-5:6379 --cluster", "names 5 distinct nodes"),
    ("docker-compose.yml", '["CMD", "/usr/local/bin/post-service", "healthcheck"]',
     '["CMD", "/usr/local/bin/fanout-service", "healthcheck"]', "post-service: healthcheck test"),
    ("docker-compose.yml", "    stop_grace_period: 20s\n    restart: unless-stopped\n\n  fanout-service:",
     "    stop_grace_periodd: 20s\n    restart: unless-stopped\n\n  fanout-service:", "schema:"),
    ("docker-compose.yml", "      FEEDLINE_LISTEN_ADDR: 0.0.0.0:50053\n", "      FEEDLINE_LISTEN_ADDR: 0.0.0.0:50055\n",
     "FEEDLINE_LISTEN_ADDR must be 0.0.0.0:50053"),
    ("docker-compose.yml", "feedline@postgres:5432/feedline_logs", "feedline@postgres:5432/feedline_log",
     "database feedline_log is not created"),
    ("docker-compose.yml", "redis-cluster-init: {condition: service_completed_successfully}\n      # Missing",
     "redis-cluster-init: {condition: service_started}\n      # Missing", "service_completed_successfully"),
    ("docker-compose.yml", '--duration, "60"', '--seconds, "60"', "`--seconds` is not an option"),
    ("deploy/compose/mysql.yml", "mariadb:3306/feedline_logs", "mariadb:3306/logs", "database logs is not created"),
    ("deploy/compose/mysql.yml", "feedline\n    depends_on:\n      mariadb: {condition: service_healthy}\n", "feedline\n",
     "post-service: depends_on mariadb needs service_healthy"),
    ("docker-compose.yml", "--cluster-announce-hostname, redis-4,", "--cluster-announce-hostname, redis-9,",
     "redis-4: redis-server needs `--cluster-announce-hostname redis-4`"),
    ("docker-compose.yml", '--post-addr, "post-service:50051"', '--post-addr, "post-service:50052"',
     "--post-addr must be post-service:50051"),
    ("deploy/Dockerfile", "USER feedline:feedline", "USER root", "non-root USER"),
    ("deploy/Dockerfile", 'exec \\"/usr/local/bin/$SERVICE\\" healthcheck', 'exec \\"/usr/local/bin/$SERVICE\\" --version',
     "HEALTHCHECK"),
    ("deploy/Dockerfile", '"exec \\"/usr/local/bin/$SERVICE\\" \\"$@\\"", "--"]', '"exec "/usr/local/bin/$SERVICE" "$@"", "--"]',
     "ENTRYPOINT exec form is not a JSON array"),
    ("deploy/Dockerfile", "ARG SERVICE\nRUN test", "RUN test", "stage 3 uses $SERVICE in RUN before its `ARG SERVICE`"),
    ("deploy/Dockerfile", "AS runtime\nARG SERVICE\n", "AS runtime\n", "stage 5 uses $SERVICE in COPY"),
    ("deploy/Dockerfile", "COPY . .\nARG SERVICE", "ARG SERVICE", "cached dependency layer"),
    (".dockerignore", "\ntarget/\n", "\n", "must exclude target/"),
    ("deploy/ecs/post-service.json", '"cpu": "512"', '"cpu": 512', "RegisterTaskDefinition"),
    ("deploy/ecs/post-service.json", '"memory": "1024"', '"memory": "8192"', "not a Fargate size"),
    ("deploy/ecs/log-ingest-service.json", '"secrets": [\n        {\n          "name": "FEEDLINE_DATABASE_URL"',
     '"environment2": [],\n      "secrets": [\n        {\n          "name": "FEEDLINE_DATABASE_URL"', "RegisterTaskDefinition"),
    ("deploy/ecs/log-ingest-service.json",
     '"valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:feedline/log-ingest-service/admin-token-AbCdEf"',
     '"valueFrom": "hunter2"', "must come from a Secrets Manager or SSM ARN"),
    ("deploy/ecs/fanout-service.json", "https://post-service.feedline.local:50051", "https://post-service:50051",
     "must name a host in feedline.local"),
    ("deploy/ecs/fanout-service.json", "https://post-service.feedline.local:50051", "http://post-service.feedline.local:50051",
     "must be https://post-service.feedline.local:50051 (it serves TLS)"),
    ("deploy/ecs/post-service.json", '"value": "post-service.feedline.local"', '"value": "localhost"',
     "FEEDLINE_TLS_SERVER_NAME must be post-service.feedline.local"),
    ("deploy/ecs/log-ingest-service.json", '"name": "FEEDLINE_TLS_KEY"', '"name": "FEEDLINE_TLS_KEYS"',
     "TLS is required on ECS: FEEDLINE_TLS_KEY must come from secrets"),
    ("deploy/cloudformation/feedline.yaml", 'Family: feedline-post-service\n      NetworkMode: awsvpc\n      RequiresCompatibilities: [FARGATE]\n      Cpu: "512"',
     'Family: feedline-post-service\n      NetworkMode: awsvpc\n      RequiresCompatibilities: [FARGATE]\n      Cpu: "256"', "Cpu '256' differs"),
    ("deploy/cloudformation/feedline.yaml", "NumNodeGroups: 3", "NumNodeGroups: three", "cfn-lint"),
    ("deploy/cloudformation/feedline.yaml", "TransitEncryptionEnabled: true", "TransitEncryptionEnabled: false",
     "FEEDLINE_REDIS_URL must use redis-cluster://"),
    ("deploy/cloudformation/feedline.yaml", "feed-read-service.\n    Value: !Sub rediss-cluster://",
     "feed-read-service.\n    Value: !Sub redis-cluster://", "output RedisConfigurationEndpoint must use rediss-cluster://"),
    ("deploy/cloudformation/feedline.yaml", "                  - !Ref ServiceTokenSecret\n                  - !Ref TlsSecretArn\n",
     "                  - !Ref ServiceTokenSecret\n", "ExecutionRole may not read secret TlsSecretArn"),
    ("deploy/cloudformation/feedline.yaml", "/feedline?sslmode=verify-full&", "/feedline?sslmode=require&",
     "PostDatabaseUrlSecret: the database URL needs sslmode=verify-full"),
    ("deploy/Dockerfile", "/rds-ca.pem /etc/feedline/rds-ca.pem", "/rds-ca.pem /etc/ssl/rds-ca.pem",
     "sslrootcert=/etc/feedline/rds-ca.pem is not a file the runtime stage"),
    # The telemetry path: collector, Prometheus, Grafana and the dashboard (compose), the
    # collector sidecar (ECS and CloudFormation).
    ("docker-compose.yml", "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317\n      OTEL_SERVICE_NAME: fanout-service",
     "OTEL_EXPORTER_OTLP_ENDPOINT: http://jaeger:4317\n      OTEL_SERVICE_NAME: fanout-service",
     "fanout-service: OTEL_EXPORTER_OTLP_ENDPOINT must be http://otel-collector:4317"),
    ("docker-compose.yml", "image: otel/opentelemetry-collector-contrib:0.165.0", "image: otel/opentelemetry-collector-contrib:latest",
     "pinned to a release"),
    ("docker-compose.yml", "      otel-collector: {condition: service_started}\n    stop_grace_period",
     "      jaeger: {condition: service_started}\n    stop_grace_period", "needs depends_on otel-collector"),
    ("deploy/compose/observability/otel-collector.yaml", "      exporters: [otlp_grpc/jaeger]", "      exporters: [otlp_grpc/jaegr]",
     "names exporter otlp_grpc/jaegr, which exporters does not define"),
    ("deploy/compose/observability/otel-collector.yaml", "    endpoint: jaeger:4317", "    endpoint: jaeger:14250",
     "the traces pipeline must export to jaeger:4317"),
    ("deploy/compose/observability/otel-collector.yaml", "  batch: {}", "  batchh: {}", "unknown component type 'batchh'"),
    ("deploy/compose/observability/otel-collector.yaml", "    endpoint: 0.0.0.0:8889", "    endpoint: 0.0.0.0:8899",
     "otel-collector:8889 is neither the collector's prometheus exporter"),
    ("deploy/compose/observability/otel-collector.yaml", "      processors: [memory_limiter, batch]\n      exporters: [prometheus]",
     "      processors: [batch, memory_limiter]\n      exporters: [prometheus]", "memory_limiter must be the first processor"),
    ("deploy/compose/observability/prometheus.yml", "    honor_labels: true\n", "", "must set honor_labels: true"),
    ("deploy/compose/observability/prometheus.yml", '"otel-collector:8889"', '"otel-colector:8889"', "is not a compose service"),
    ("deploy/compose/observability/grafana/provisioning/datasources/feedline.yaml", "url: http://prometheus:9090",
     "url: http://prometheus-server:9090", "url must name a compose service"),
    ("deploy/compose/observability/grafana/provisioning/dashboards/feedline.yaml", "path: /var/lib/grafana/dashboards/feedline",
     "path: /var/lib/grafana/dashboards/feedlines", "is not a folder mounted from the repository"),
    ("deploy/compose/observability/grafana/dashboards/feedline.json", "feedline_fanout_lag_seconds_bucket",
     "feedline_fanout_latency_seconds_bucket", "feedline_fanout_latency_seconds_bucket is not a series the services export"),
    ("deploy/compose/observability/grafana/dashboards/feedline.json", 'rpc_response_status_code!=\\"OK\\"',
     'rpc_status!=\\"OK\\"', "label rpc_status is not one the metrics carry"),
    ("deploy/compose/observability/grafana/dashboards/feedline.json", "histogram_quantile(0.99, sum by (le) (rate(feedline_fanout_lag",
     "histogram_quantile(0.9, sum by (le) (rate(feedline_fanout_lag", "no panel shows fan-out lag p99"),
    ("deploy/compose/observability/grafana/dashboards/feedline.json", '"uid": "feedline-overview",', '"uid": "feedline-overview"',
     "not valid JSON"),
    ("deploy/ecs/post-service.json", '"value": "http://localhost:4317"', '"value": "http://jaeger.feedline.local:4317"',
     "OTEL_EXPORTER_OTLP_ENDPOINT must be http://localhost:4317"),
    ("deploy/ecs/fanout-service.json", '"essential": false', '"essential": true', "otel-collector must not be essential"),
    ("deploy/ecs/feed-read-service.json", '"condition": "START"', '"condition": "HEALTHY"',
     "feed-read-service must dependsOn otel-collector START"),
    ("deploy/ecs/log-ingest-service.json", "otel/opentelemetry-collector-contrib:0.165.0", "otel/opentelemetry-collector-contrib:0.164.0",
     "otel-collector image must be"),
    ("deploy/ecs/otel-collector.yaml", "    auth:\n      authenticator: sigv4auth\n", "",
     "must authenticate with sigv4auth"),
    ("deploy/ecs/otel-collector.yaml", "${env:AMP_REMOTE_WRITE_URL}", "${env:AMP_URL}",
     "reads ${env:AMP_URL}, which is not set"),
    ("deploy/cloudformation/feedline.yaml", "            limit_mib: 200", "            limit_mib: 300",
     "no AWS::SSM::Parameter holds deploy/ecs/otel-collector.yaml verbatim"),
    ("deploy/cloudformation/feedline.yaml", "                Action: ssm:GetParameters\n", "                Action: ssm:GetParameter\n",
     "ExecutionRole may not read secret CollectorConfig (ssm:GetParameters)"),
    ("deploy/cloudformation/feedline.yaml", "                Action: aps:RemoteWrite\n", "                Action: aps:QueryMetrics\n",
     "TaskRole may not aps:RemoteWrite"),
    ("deploy/cloudformation/feedline.yaml", "          Essential: false\n", "          Essential: true\n",
     "otel-collector Essential True differs"),
]


def self_test(repo: Path) -> int:
    """Runs every mutation on a fresh copy of the files under `repo`; 0 when all were caught."""
    failures = []
    sources = ["docker-compose.yml", ".dockerignore", "deploy", "crates/loadgen/src/cli"]
    for index, (file, old, new, expected) in enumerate(MUTATIONS, 1):
        with tempfile.TemporaryDirectory(prefix="feedline-deploy-check-") as tmp:
            root = Path(tmp)
            for source in sources:
                src, dst = repo / source, root / source
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, dst)
                else:
                    shutil.copy2(src, dst)
            target = root / file
            text = target.read_text()
            if old not in text:
                failures.append(f"mutation {index} ({file}): text to replace not found: {old[:60]!r}")
                continue
            target.write_text(text.replace(old, new, 1))
            problems, _ = run_checks(root, lint="cloudformation" in file)
            if not any(expected in p for p in problems):
                failures.append(f"mutation {index} ({file}: {old[:40]!r} -> {new[:40]!r}) was not caught; "
                                f"expected a problem containing {expected!r}, got {problems[:3]}")
    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f"deploy check self-test OK: {len(MUTATIONS)} broken copies, each caught")
    return 0
