//! `feedline_redis::keys`, the Redis layout fanout-service validates deliveries into, compiled
//! from its own source file without the Redis client.

#[path = "../../../crates/redis/src/keys.rs"]
pub mod keys;
