//! Real parts for tests: a throwaway Redis Cluster, a fresh database per test, a PostgreSQL server a
//! test can crash and restart or close to connections, an in-process OTLP receiver, gRPC health
//! polling, service binaries as child processes (other packages' found where cargo built them),
//! a `/metrics` scraper and a TCP proxy that counts or swallows gRPC calls. Nothing here sleeps
//! for readiness: it polls with a deadline.

mod backend_cases;
mod databases;
mod grpc_proxy;
mod health;
mod metrics_scrape;
mod otlp_receiver;
mod owned_postgres;
mod poll;
mod ports;
mod postgres_outage;
mod process;
mod redis_cluster;
mod social;
mod status;
mod tls;
mod workspace_binary;

pub use databases::{Backend, TestDatabase};
pub use grpc_proxy::{GrpcProxy, ProxiedCall};
pub use health::{wait_for_health, wait_for_serving, wait_for_serving_tls};
pub use metrics_scrape::{Label, MetricSamples, http_get};
pub use otlp_receiver::{OtlpReceiver, ReceivedSpan};
pub use owned_postgres::OwnedPostgres;
pub use poll::eventually;
pub use ports::{ephemeral_listener, free_addr};
pub use postgres_outage::PostgresOutage;
pub use process::{Output, ServiceProcess, isolated_command};
pub use redis_cluster::{RedisCluster, redis_server_available};
pub use social::Social;
pub use status::{assert_violation, retry_delay};
pub use tls::TestCa;
pub use workspace_binary::workspace_binary;
