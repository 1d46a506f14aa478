//! deploy/ecs/<service>.json (RegisterTaskDefinition input): environment plus secrets, port
//! mapping and health check.

use std::sync::LazyLock;

use feedline_test_harness::TestCa;
use serde_json::Value;

use crate::Service;
use crate::contract::{ECS_DOMAIN, Platform, check_env, check_healthcheck, scalar};

/// Every way a `deploy/ecs/<service>.json` (RegisterTaskDefinition input) breaks the contract.
pub fn check_ecs(service: &Service, doc: &Value) -> Vec<String> {
    let name = service.name;
    let Some(container) = doc.pointer("/containerDefinitions/0") else {
        return vec![format!("ecs: {name}: no containerDefinitions[0]")];
    };
    let mut problems = Vec::new();
    let environment = name_value_list(container.get("environment"), "value");
    let secrets = name_value_list(container.get("secrets"), "valueFrom");
    match (environment, secrets) {
        (Ok(environment), Ok(secrets)) => {
            for (variable, _) in &environment {
                if secret_looking(variable) {
                    problems.push(format!(
                        "ecs: {name}: {variable} is in plain environment; it belongs in secrets"
                    ));
                }
            }
            let mut vars = environment;
            vars.extend(secrets.into_iter().map(|(v, _)| {
                let placeholder = secret_placeholder(&v);
                (v, placeholder)
            }));
            problems.extend(
                check_env(service, &vars, &Platform::Ecs)
                    .into_iter()
                    .map(|p| format!("ecs: {p}")),
            );
        }
        (Err(error), _) => problems.push(format!("ecs: {name}: environment: {error}")),
        (_, Err(error)) => problems.push(format!("ecs: {name}: secrets: {error}")),
    }
    let port = container.pointer("/portMappings/0/containerPort");
    if port.and_then(Value::as_u64) != Some(u64::from(service.port)) {
        problems.push(format!(
            "ecs: {name}: portMappings[0].containerPort is {}, expected {}",
            port.map_or("missing".to_owned(), Value::to_string),
            service.port
        ));
    }
    let command = container.pointer("/healthCheck/command");
    if let Some(problem) = check_healthcheck(service, "healthCheck.command", command) {
        problems.push(format!("ecs: {problem}"));
    }
    problems
}

/// A throwaway CA: the PEM the TLS secrets hold (ECS injects the text itself, not a path).
static TLS_PEM: LazyLock<TestCa> = LazyLock::new(|| TestCa::new().expect("a throwaway CA"));

/// A value the config accepts for a variable ECS takes from a secret (its real value is in
/// Secrets Manager or SSM, not in the file).
fn secret_placeholder(variable: &str) -> String {
    match variable {
        "FEEDLINE_TLS_CERT" => TLS_PEM.cert_pem().to_owned(),
        "FEEDLINE_TLS_KEY" => TLS_PEM.key_pem().to_owned(),
        "FEEDLINE_TLS_CA" => TLS_PEM.ca_pem().to_owned(),
        "FEEDLINE_DATABASE_URL" => "postgres://u:p@db:5432/feedline".to_owned(),
        "FEEDLINE_ADMIN_TOKEN" => "q3Vx9LmT2cRk7WpZ4nHy8JbE6sFd1GaU".to_owned(),
        "FEEDLINE_REDIS_URL" => format!("rediss-cluster://u:p@redis{ECS_DOMAIN}:6379"),
        "OTEL_EXPORTER_OTLP_HEADERS" => "authorization=Bearer x".to_owned(),
        // The JWKS document itself, as the secret holds it.
        "FEEDLINE_AUTH_JWKS" => {
            feedline_service_kit::auth::DevKeys::generate("iss", "aud").jwks_json()
        }
        _ => "placeholder".to_owned(),
    }
}

/// Whether a variable's value is a credential, which must come from `secrets`.
fn secret_looking(variable: &str) -> bool {
    ["DATABASE_URL", "TOKEN", "PASSWORD", "SECRET", "TLS_KEY"]
        .iter()
        .any(|word| variable.contains(word))
}

/// `[{name, <value_key>}]` as pairs, or a problem.
fn name_value_list(list: Option<&Value>, value_key: &str) -> Result<Vec<(String, String)>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let items = list.as_array().ok_or("not a list")?;
    items
        .iter()
        .map(|item| {
            let name = item.get("name").and_then(Value::as_str);
            let value = item.get(value_key).and_then(scalar);
            match (name, value) {
                (Some(name), Some(value)) => Ok((name.to_owned(), value)),
                _ => Err(format!("{item} lacks name or {value_key}")),
            }
        })
        .collect()
}
