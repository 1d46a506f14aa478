//! fanout-service (skeleton): fan-out on write into the home timelines of a Redis Cluster.
//!
//! Its contract is `feedline.fanout.v1.FanoutService` (`proto/feedline/fanout/v1/fanout.proto`):
//! post-service's outbox relay streams committed events; this service applies them with
//! pipelined, idempotent writes grouped per cluster node and acknowledges each event only once
//! every write is confirmed. The implementation lands with the fan-out issue.

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50052;
