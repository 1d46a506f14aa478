//! A variable that cannot be used, and the readers that parse one with a default: a value,
//! a value in a range, milliseconds in a range, a URL of a known scheme.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::Env;

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: String,
    /// Its value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads `name` from `env`, parsing it with `FromStr`; unset or empty gives `default`.
pub fn parse_or<T>(env: &Env, name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError {
            variable: name.to_owned(),
            value: raw.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Reads `name` as [`parse_or`] does; the value (given or default) must lie in `range`.
pub fn ranged_or<T>(
    env: &Env,
    name: &str,
    default: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display,
    T::Err: Display,
{
    let value = parse_or(env, name, default)?;
    check_range(name, value, range)
}

/// Reads a duration given in milliseconds, which must lie in `range`.
pub fn millis_or(
    env: &Env,
    name: &str,
    default: Duration,
    range: RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    ranged_or(env, name, default.as_millis() as u64, range).map(Duration::from_millis)
}

/// Reads a URL that must start with one of `schemes` (e.g. `"http://"`); unset or empty
/// gives `default`.
pub fn url_or(
    env: &Env,
    name: &str,
    default: &str,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    let url: String = parse_or(env, name, default.to_owned())?;
    if schemes.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url)
    } else {
        Err(ConfigError {
            variable: name.to_owned(),
            value: url,
            reason: format!("must start with {}", schemes.join(" or ")),
        })
    }
}

/// `value`, which must lie in `range`.
pub fn check_range<T: PartialOrd + Display>(
    name: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            variable: name.to_owned(),
            value: value.to_string(),
            reason: format!("must be between {} and {}", range.start(), range.end()),
        })
    }
}
