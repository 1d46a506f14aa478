//! `feedline.redis.errors`: the one counter of failed Redis operations, shared by every service.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

/// Counts one Redis operation that failed or timed out, under `service` (the process's service
/// name, which is also its meter's name).
pub fn count_error(service: &'static str) {
    counter().add(1, &[KeyValue::new("service", service)]);
}

/// Reports `service`'s count as 0 until its first error: a counter never added to is not
/// exported at all, and a dashboard or alert would find no series.
pub fn declare_errors(service: &'static str) {
    counter().add(0, &[KeyValue::new("service", service)]);
}

fn counter() -> &'static Counter<u64> {
    static COUNTER: OnceLock<Counter<u64>> = OnceLock::new();
    COUNTER.get_or_init(|| {
        opentelemetry::global::meter("feedline-redis")
            .u64_counter("feedline.redis.errors")
            .with_unit("{error}")
            .with_description("Redis operations that failed or timed out")
            .build()
    })
}
