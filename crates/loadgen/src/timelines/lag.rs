//! Fan-out lag of sampled posts: from the CreatePost answer until the post is in the
//! timelines of all its author's followers, polled every 10 ms (longer with many samples
//! pending, see `watch::pause`) while the load runs.
//!
//! A post can legitimately never be seen everywhere: one delivered to a timeline that already
//! holds `cap` newer posts (other authors' lanes ran ahead) is trimmed at once. So sampling
//! ends when the drain is over (everything is delivered by then): what is still pending after
//! one last round is counted as unseen, not as a lag.
//!
//! A round that fails (a Redis master killed on purpose, `--kill-master-after`: the client
//! holds every command while it reconnects) is tried again; the sampler fails only when
//! rounds keep failing for 60 s. Meanwhile nothing is seen, so the lags of that time include
//! the watcher's own reconnect, as fan-out's own writes wait for theirs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use fred::prelude::Client;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::posts::Sample;
use super::watch::{POLL, Watch, pause, poll};
use crate::social::Social;
use crate::stats::Histogram;

/// A sample not everywhere after this long is given up (counted as unseen).
const GIVE_UP: Duration = Duration::from_secs(300);
/// How long rounds may keep failing before the sampler fails.
const FAILING_LIMIT: Duration = Duration::from_secs(60);

/// The lags measured.
#[derive(Clone, Debug, Default)]
pub struct LagOutcome {
    pub lag: Histogram,
    /// Samples not seen in every timeline by the end of the drain (or within 300 s).
    pub unseen: u64,
    /// Samples of authors without followers or of celebrities, not measured.
    pub skipped: u64,
    /// Each measured sample: when it was acknowledged, and its lag.
    pub points: Vec<(Instant, Duration)>,
    /// When each unseen sample was acknowledged.
    pub unseen_points: Vec<Instant>,
    /// Rounds that failed and were tried again.
    pub failed_rounds: u64,
}

/// Measures the samples arriving on `samples` until the channel closes and every pending
/// one is resolved, or `drained` is cancelled (then after one last round). `skip[i]`: user
/// i's posts are not fanned out (a celebrity).
pub fn spawn(
    redis: Client,
    social: Arc<Social>,
    skip: Arc<Vec<bool>>,
    mut samples: UnboundedReceiver<Sample>,
    drained: CancellationToken,
) -> JoinHandle<Result<LagOutcome>> {
    tokio::spawn(async move {
        let mut outcome = LagOutcome::default();
        // Side by side: each watch and when its post was acknowledged.
        let mut watches: Vec<Watch> = Vec::new();
        let mut acked: Vec<Instant> = Vec::new();
        let mut closed = false;
        let mut wait = POLL;
        let mut failing_since: Option<Instant> = None;
        loop {
            tokio::time::sleep(wait).await;
            wait = POLL;
            let last_round = drained.is_cancelled();
            while !closed {
                match samples.try_recv() {
                    Ok(sample) => {
                        let author = sample.author as usize;
                        if skip.get(author).copied().unwrap_or(true)
                            || social.followers.get(author).is_none_or(Vec::is_empty)
                        {
                            outcome.skipped += 1;
                            continue;
                        }
                        watches.push(Watch::new(
                            sample.post_id,
                            social.follower_ids(sample.author),
                        ));
                        acked.push(sample.acked);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => closed = true,
                }
            }
            if watches.is_empty() {
                if closed {
                    return Ok(outcome);
                }
                continue;
            }
            match poll(&redis, &mut watches).await {
                Ok(sent) => {
                    wait = pause(sent);
                    failing_since = None;
                }
                Err(error) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > FAILING_LIMIT {
                        return Err(error.context(format!(
                            "watching the timelines failed for {} s",
                            FAILING_LIMIT.as_secs()
                        )));
                    }
                    if outcome.failed_rounds == 0 {
                        eprintln!("lag sampler: a round failed, trying again: {error:#}");
                    }
                    outcome.failed_rounds += 1;
                    if !last_round {
                        continue;
                    }
                }
            }
            let now = Instant::now();
            let mut i = 0;
            while i < watches.len() {
                let resolved = if let Some(seen_at) = watches[i].seen_at {
                    let lag = seen_at.saturating_duration_since(acked[i]);
                    outcome.lag.record(lag);
                    outcome.points.push((acked[i], lag));
                    true
                } else if last_round || now.duration_since(acked[i]) > GIVE_UP {
                    outcome.unseen += 1;
                    outcome.unseen_points.push(acked[i]);
                    true
                } else {
                    false
                };
                if resolved {
                    watches.swap_remove(i);
                    acked.swap_remove(i);
                } else {
                    i += 1;
                }
            }
        }
    })
}
