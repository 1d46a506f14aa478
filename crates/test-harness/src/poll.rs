//! The one poll-until-deadline loop for tests: retry a check until it holds or time runs out.

use std::future::Future;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

/// How often [`eventually`] retries.
const POLL: Duration = Duration::from_millis(20);

/// Calls `check` every 20 ms until it returns `Ok`, and returns that value; after `deadline`,
/// fails with `what` and the last error.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() >= end => {
                bail!("{what}: not within {deadline:?}; last: {error:#}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
