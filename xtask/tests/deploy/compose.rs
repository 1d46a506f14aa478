//! docker-compose.yml: parsed as compose reads it, and checked service by service.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::SERVICES;
use crate::contract::{Platform, check_env, check_healthcheck, scalar};

/// Every way `docker-compose.yml` breaks the contract, each naming service and variable.
pub fn check_compose(doc: &Value) -> Vec<String> {
    let Some(services) = doc.get("services").and_then(Value::as_object) else {
        return vec!["compose: no services".to_owned()];
    };
    let names: BTreeSet<String> = services.keys().cloned().collect();
    let platform = Platform::Compose(&names);
    let mut problems = Vec::new();
    for service in &SERVICES {
        let name = service.name;
        let Some(def) = services.get(name) else {
            problems.push(format!("compose: service {name} is missing"));
            continue;
        };
        if def.get("env_file").is_some() {
            problems.push(format!(
                "compose: {name}: env_file cannot be checked; set variables in environment"
            ));
        }
        match compose_environment(def.get("environment")) {
            Ok(vars) => problems.extend(
                check_env(service, &vars, &platform)
                    .into_iter()
                    .map(|p| format!("compose: {p}")),
            ),
            Err(error) => problems.push(format!("compose: {name}: {error}")),
        }
        let ports = def.get("ports").and_then(Value::as_array);
        if !ports.is_some_and(|ports| {
            ports
                .iter()
                .any(|p| container_port(p) == Some(service.port))
        }) {
            problems.push(format!(
                "compose: {name}: ports do not publish container port {}",
                service.port
            ));
        }
        let test = def.get("healthcheck").and_then(|h| h.get("test"));
        if let Some(problem) = check_healthcheck(service, "healthcheck.test", test) {
            problems.push(format!("compose: {problem}"));
        }
    }
    problems
}

/// A compose `environment`, in map form or list form (`NAME=VALUE`, or `NAME` alone).
fn compose_environment(environment: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    match environment {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                scalar(v)
                    .map(|v| (k.clone(), v))
                    .ok_or_else(|| format!("environment.{k} is not a scalar"))
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let item = item.as_str().ok_or("environment item is not a string")?;
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                Ok((k.to_owned(), v.to_owned()))
            })
            .collect(),
        Some(other) => Err(format!("environment is neither a map nor a list: {other}")),
    }
}

/// The container port of a compose `ports` entry: `"50051"`, `"8080:50051"`,
/// `"127.0.0.1:8080:50051/tcp"`, `50051` or `{target: 50051, ...}`.
fn container_port(entry: &Value) -> Option<u16> {
    match entry {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.rsplit(':').next()?.split('/').next()?.parse().ok(),
        Value::Object(map) => container_port(map.get("target")?),
        _ => None,
    }
}

/// Parses a compose file as compose does: anchors, `<<` merge keys, `${VAR:-default}`.
pub fn parse_compose(text: &str) -> Value {
    let mut yaml: serde_norway::Value = serde_norway::from_str(text).expect("valid YAML");
    yaml.apply_merge().expect("merge keys");
    let mut doc = serde_json::to_value(yaml).expect("a JSON-like document");
    interpolate_all(&mut doc);
    doc
}

/// Compose's `${NAME:-default}` / `${NAME-default}` become the default, `${NAME}`, `${NAME:?err}`
/// and `$NAME` become empty (no shell environment is assumed), `$$` is a `$`.
pub fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(braced) = rest.strip_prefix('{') {
            let end = braced.find('}').unwrap_or(braced.len());
            let inner = &braced[..end];
            if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
                out.push_str(default);
            }
            rest = braced.get(end + 1..).unwrap_or("");
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Applies [`interpolate`] to every string of a compose document.
fn interpolate_all(value: &mut Value) {
    match value {
        Value::String(s) => *s = interpolate(s),
        Value::Array(items) => items.iter_mut().for_each(interpolate_all),
        Value::Object(map) => map.values_mut().for_each(interpolate_all),
        _ => {}
    }
}

/// Compose's merge of an override file (`-f docker-compose.yml -f deploy/compose/x.yml`) as far
/// as these checks go: maps merge key by key, anything else is replaced.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}
