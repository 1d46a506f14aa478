//! The rules both platforms share: what a service's environment may hold and where its URLs
//! may point.

use std::collections::BTreeSet;

use feedline_service_kit::Env;
use serde_json::Value;

use crate::{SERVICES, Service};

/// The DNS suffix of the ECS services (Cloud Map / Service Connect namespace).
pub const ECS_DOMAIN: &str = ".feedline.local";

/// Where a deployment file's URLs are resolved.
pub enum Platform<'a> {
    /// docker-compose: a host is a service name; these are the file's services.
    Compose(&'a BTreeSet<String>),
    /// ECS: `<service>.feedline.local`, or `localhost` for a sidecar (an OTLP collector).
    Ecs,
}

impl Platform<'_> {
    fn our_service(&self, host: &str) -> Option<&'static Service> {
        let name = match self {
            Platform::Compose(_) => Some(host),
            Platform::Ecs => host.strip_suffix(ECS_DOMAIN),
        };
        SERVICES.iter().find(|s| Some(s.name) == name)
    }

    fn expected_host(&self, name: &str) -> String {
        match self {
            Platform::Compose(_) => name.to_owned(),
            Platform::Ecs => format!("{name}{ECS_DOMAIN}"),
        }
    }

    /// Whether a host that is none of ours (a collector, Jaeger) can be resolved at all.
    fn knows_other(&self, host: &str) -> bool {
        match self {
            Platform::Compose(names) => names.contains(host),
            Platform::Ecs => {
                host.ends_with(ECS_DOMAIN) || host == "localhost" || host == "127.0.0.1"
            }
        }
    }
}

/// The command both platforms must run to check health: the binary itself, no curl in the image.
pub fn healthcheck_command(service: &Service) -> Value {
    serde_json::json!([
        "CMD",
        format!("/usr/local/bin/{}", service.name),
        "healthcheck"
    ])
}

/// A problem if `actual` (the file's health check command, at `field`) is not
/// [`healthcheck_command`].
pub fn check_healthcheck(service: &Service, field: &str, actual: Option<&Value>) -> Option<String> {
    let expected = healthcheck_command(service);
    (actual != Some(&expected)).then(|| {
        let actual = actual.map_or("missing".to_owned(), Value::to_string);
        format!("{}: {field} is {actual}, expected {expected}", service.name)
    })
}

/// The value the config reads in place of a file that exists only where the service runs (a
/// volume or a mounted secret): a JWKS document for `FEEDLINE_AUTH_JWKS`, a file holding a
/// token for `FEEDLINE_SERVICE_TOKEN_FILE`. Other values are unchanged.
fn run_time_file(variable: &str, value: &str) -> String {
    match variable {
        "FEEDLINE_AUTH_JWKS" if !value.trim_start().starts_with('{') => {
            feedline_service_kit::auth::DevKeys::generate("iss", "aud").jwks_json()
        }
        "FEEDLINE_SERVICE_TOKEN_FILE" => {
            let path = std::env::temp_dir()
                .join(format!("feedline-deploy-test-{}.token", std::process::id()));
            std::fs::write(&path, "placeholder").expect("a temporary token file");
            path.display().to_string()
        }
        _ => value.to_owned(),
    }
}

/// Checks the environment a platform gives `service`: its config accepts it and listens on the
/// service's port; every `FEEDLINE_*` name is one the config reads and every other one is a
/// telemetry variable; every `FEEDLINE_*_URL` the config reads is set; every
/// `http(s)://host:port` names the right service and port.
pub fn check_env(service: &Service, vars: &[(String, String)], platform: &Platform) -> Vec<String> {
    let name = service.name;
    let mut problems = Vec::new();
    let env: Env = vars
        .iter()
        .map(|(variable, value)| (variable.clone(), run_time_file(variable, value)))
        .collect();
    match (service.listen_addr)(&env) {
        Err(error) => {
            // Reads stop at the first bad value: the name checks below would mislead.
            return vec![format!(
                "{name}: the config rejects its environment: {error}"
            )];
        }
        Ok(addr) if addr.port() != service.port => problems.push(format!(
            "{name}: FEEDLINE_LISTEN_ADDR listens on port {}, but {name}'s port is {}",
            addr.port(),
            service.port
        )),
        Ok(_) => {}
    }
    let read = env.read_names();
    // An address left unset falls back to its local-development default (127.0.0.1, a SQLite
    // file), which in a container reaches nothing or the wrong store. The config reads some
    // only under other settings (post-service reads FEEDLINE_REDIS_URL when authentication
    // and a rate limit are on), so `read` says which this environment needs.
    for variable in read.iter().filter(|v| is_address(v)) {
        if !vars.iter().any(|(name, _)| name == variable) {
            problems.push(format!(
                "{name}: reads {variable}, which is not set (its default is a local address)"
            ));
        }
    }
    for (variable, value) in vars {
        if variable.starts_with("FEEDLINE_")
            && !feedline_telemetry::ENV_VARS.contains(&variable.as_str())
        {
            if !read.contains(variable) {
                problems.push(format!(
                    "{name}: {variable} is set but {name} never reads it"
                ));
            }
        } else if !feedline_telemetry::ENV_VARS.contains(&variable.as_str()) {
            problems.push(format!(
                "{name}: {variable} is neither a FEEDLINE_ variable {name} reads nor a telemetry \
                 variable (feedline_telemetry::ENV_VARS)"
            ));
        }
        // The issuer is an identifier that looks like a URL, not an address we call.
        if variable == "FEEDLINE_AUTH_ISSUER" {
            continue;
        }
        for url in value.split(',').map(str::trim) {
            if let Some(problem) = check_url(variable, url, platform) {
                problems.push(format!("{name}: {problem}"));
            }
        }
    }
    problems
}

/// Whether `variable` is where a service finds another part of the system (a service, Redis,
/// a database).
fn is_address(variable: &str) -> bool {
    variable.starts_with("FEEDLINE_") && variable.ends_with("_URL")
}

/// A problem with `url` (the value of `variable`) if it is an `http(s)://` URL that does not
/// name a service of `platform` on that service's port.
fn check_url(variable: &str, url: &str, platform: &Platform) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Some(format!("{variable}={url}: no port"));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Some(format!("{variable}={url}: bad port {port:?}"));
    };
    match platform.our_service(host) {
        Some(target) if target.port == port => None,
        Some(target) => Some(format!(
            "{variable}={url}: port {port}, but {} listens on {}",
            target.name, target.port
        )),
        // The service-to-service variables must name one of ours.
        None if variable.starts_with("FEEDLINE_") => Some(format!(
            "{variable}={url}: {host} is not a feedline service (e.g. {})",
            platform.expected_host("post-service")
        )),
        None if !platform.knows_other(host) => {
            Some(format!("{variable}={url}: {host} names no service here"))
        }
        None => None,
    }
}

/// A string, number or boolean as the text a container sees; null (compose's "take it from the
/// shell") as empty.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}
