"""What every check shares: the service contract, YAML loading, and problem formatting."""

from __future__ import annotations

from pathlib import Path

# The contract every file here follows: service name -> gRPC port.
SERVICES = {
    "post-service": 50051,
    "fanout-service": 50052,
    "feed-read-service": 50053,
    "log-ingest-service": 50054,
}
# Variables that hold credentials: ECS must inject them from Secrets Manager / SSM.
SECRET_VARS = {"FEEDLINE_DATABASE_URL", "FEEDLINE_ADMIN_TOKEN", "FEEDLINE_SERVICE_TOKEN", "FEEDLINE_TLS_KEY"}
CLOUD_MAP_DOMAIN = "feedline.local"
# The OpenTelemetry Collector every service exports OTLP to: a compose service of this name, and
# on ECS a sidecar container of this name in each task (reached on localhost).
COLLECTOR = "otel-collector"
OTLP_GRPC_PORT = 4317


def yaml_loaders():
    """A YAML loader that rejects duplicate keys (which PyYAML would silently merge), and one that
    also reads CloudFormation's short-form intrinsics (`!Ref`, `!Sub`, ...)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen and key != "<<":
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)

    class CfnLoader(StrictLoader):
        pass

    def intrinsic(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = mapping(loader, node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", intrinsic)
    return StrictLoader, CfnLoader


def load_yaml(path: Path, problems: list[str], root: Path, cfn: bool = False):
    import yaml

    strict, cfn_loader = yaml_loaders()
    try:
        return yaml.load(path.read_text(), Loader=cfn_loader if cfn else strict)  # noqa: S506
    except (OSError, yaml.YAMLError) as error:
        problems.append(f"{rel(path, root)}: cannot read: {one_line(error)}")
        return None


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def one_line(value, limit: int = 240) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
