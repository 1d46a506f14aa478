//! Real parts for tests: a throwaway Redis Cluster, a fresh database per test, an in-process OTLP
//! receiver and gRPC health polling. Nothing here sleeps for readiness: it polls with a deadline.

mod databases;
mod health;
mod otlp_receiver;
mod redis_cluster;

pub use databases::{Backend, TestDatabase};
pub use health::{ephemeral_listener, wait_for_serving};
pub use otlp_receiver::{OtlpReceiver, ReceivedSpan};
pub use redis_cluster::{RedisCluster, redis_server_available};
