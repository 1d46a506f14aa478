//! Setup work of many calls (users, follows, posts before the load): a number of them in
//! flight at once, stopped at the first failure, with a progress line of the steps done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Result;
use futures::stream::{self, StreamExt as _, TryStreamExt as _};

use super::Progress;

/// Runs `step` on each of `items`, `concurrency` at once in any order, until every one is
/// done or one fails. The progress line reads "`label`: done of `total`"; each step adds to
/// the counter it is given as it goes, so one item may count as many steps.
pub async fn run_steps<I, F, Fut>(
    label: &str,
    total: u64,
    concurrency: usize,
    items: I,
    mut step: F,
) -> Result<()>
where
    I: IntoIterator,
    F: FnMut(I::Item, Arc<AtomicU64>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::steps(label.to_owned(), done.clone(), total);
    let finished = stream::iter(items)
        .map(|item| step(item, done.clone()))
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await;
    progress.stop().await;
    finished
}
