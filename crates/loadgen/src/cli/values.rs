//! The value checks of loadgen's options: whole numbers in a range, a positive rate, service
//! addresses and Redis Cluster URLs, each error naming what is wrong.

use std::ops::RangeInclusive;

/// A parser of whole numbers in `range`, for `#[arg(value_parser = ...)]`.
pub fn whole<T>(range: RangeInclusive<T>) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Clone + Send + Sync + 'static,
{
    move |text: &str| {
        let number: T = text
            .parse()
            .map_err(|_| format!("`{text}`: not a whole number"))?;
        if !range.contains(&number) {
            return Err(format!(
                "`{text}`: out of range ({} to {})",
                range.start(),
                range.end()
            ));
        }
        Ok(number)
    }
}

/// An open loop's rate: above 0 and at most 10,000,000 requests/s.
pub fn rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}`: not a number"))?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
        return Err(format!("`{text}`: must be above 0 and at most 10000000"));
    }
    Ok(rate)
}

/// `host:port` or `http(s)://host:port` as a URL tonic accepts.
pub fn address(value: &str) -> Result<String, String> {
    let url = if value.starts_with("http://") || value.starts_with("https://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let bad = || format!("`{value}`: not an address like 127.0.0.1:50051");
    let uri: tonic::transport::Uri = url.parse().map_err(|_| bad())?;
    if uri.host().is_none_or(str::is_empty) || uri.port_u16().is_none() {
        return Err(bad());
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(bad());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A `redis-cluster://` (or `rediss-cluster://`) URL.
pub fn redis_url(value: &str) -> Result<String, String> {
    if feedline_redis::URL_SCHEMES
        .iter()
        .any(|scheme| value.starts_with(scheme))
    {
        Ok(value.to_owned())
    } else {
        Err(format!("`{value}`: not a redis-cluster:// URL"))
    }
}
