//! Sending pipelines in as few socket writes as fred allows.
//!
//! fred (10.1) writes the commands of a pipeline one by one and flushes the socket after each
//! (a `writev`, and a wake-up of the Redis node that reads it) unless another command waits
//! behind it in the client's queue. A PING queued right behind the pipelines is that command,
//! and when it goes out it flushes every connection: the pipelines then leave in about one
//! write per node. (fred also flushes after every custom command, whatever is queued: the
//! timeline writes use typed commands.)

use std::convert::Infallible;
use std::future::Future;

use fred::clients::Client;
use fred::interfaces::ClientLike as _;
use fred::types::Value;

/// Awaits `pipelines` (futures that send pipelines through `client` on their first poll) with
/// a PING queued behind them, so that their commands are flushed together. The PING's answer
/// is not waited for: a node it reaches, or fails to (a failover), says nothing of the
/// pipelines, and must not hold them up.
pub async fn flushed_together<T>(client: &Client, pipelines: impl Future<Output = T>) -> T {
    let ping = async {
        let _: Result<Value, _> = client.ping(None).await;
        std::future::pending::<Infallible>().await
    };
    tokio::select! {
        // Biased: the pipelines are polled (and so queued) first, the PING behind them.
        biased;
        sent = pipelines => sent,
        never = ping => match never {},
    }
}
