//! Sends one operation over and over, as a closed loop (VUs with no think time) or an open
//! loop (a fixed arrival rate whose latency runs from each call's intended start, so a stalled
//! service cannot hide its stall by slowing the load down: no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::options::Load;
use crate::stats::Recorder;

/// Which call this is.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The virtual user sending it (open loop: `n % vus`).
    pub vu: usize,
    /// Calls started before this one, across every VU.
    pub n: u64,
}

/// Why a call failed: `kind` groups it in the summary, `message` explains the first one.
#[derive(Debug, Clone)]
pub struct OpError {
    pub kind: String,
    pub message: String,
    /// A refusal's RetryInfo delay (RESOURCE_EXHAUSTED): a closed-loop VU waits this long
    /// before its next call, as a gRPC client honouring server pushback does.
    pub pushback: Option<Duration>,
}

impl OpError {
    /// A gRPC error, grouped by its code.
    pub fn status(status: &tonic::Status) -> Self {
        let refused = status.code() == tonic::Code::ResourceExhausted;
        Self {
            kind: format!("{:?}", status.code()),
            message: status.message().to_owned(),
            pushback: refused
                .then(|| retry_after(status, Duration::ZERO))
                .flatten()
                .filter(|delay| !delay.is_zero()),
        }
    }

    /// An answer that is wrong although the call succeeded.
    pub fn wrong(kind: &str, message: String) -> Self {
        Self {
            kind: kind.to_owned(),
            message,
            pushback: None,
        }
    }
}

/// When a call answered `status` should be sent again: after its RetryInfo delay (or
/// `default`) for RESOURCE_EXHAUSTED and UNAVAILABLE (the contract's "send it again") and
/// DEADLINE_EXCEEDED (outcome unknown; callers resend only idempotent calls); None for any
/// other code.
pub fn retry_after(status: &tonic::Status, default: Duration) -> Option<Duration> {
    use tonic_types::StatusExt as _;
    matches!(
        status.code(),
        tonic::Code::ResourceExhausted | tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
    )
    .then(|| {
        status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
            .unwrap_or(default)
    })
}

/// What a call reports: its operation's name and how it went.
pub type Outcome = (&'static str, Result<(), OpError>);

fn record(recorder: &Recorder, started: Instant, (op, result): Outcome) {
    match result {
        Ok(()) => recorder.ok(op, started.elapsed()),
        Err(error) => recorder.error_after(op, &error.kind, &error.message, started.elapsed()),
    }
}

/// Runs `op` as `load` says until its duration has passed or `stop` is cancelled; calls in
/// flight then finish and are recorded too. Returns when the last one is answered.
pub async fn drive<F, Fut>(load: &Load, recorder: &Arc<Recorder>, stop: &CancellationToken, op: F)
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let driver = Driver {
        op: Arc::new(op),
        deadline: recorder.started() + load.duration,
        recorder,
        stop,
    };
    match load.rate {
        None => driver.closed_loop(load.vus).await,
        Some(rate) => driver.open_loop(load.vus, rate).await,
    }
}

/// What both loops share: the operation, when the load ends, where its calls are recorded.
struct Driver<'a, F> {
    op: Arc<F>,
    deadline: Instant,
    recorder: &'a Arc<Recorder>,
    stop: &'a CancellationToken,
}

impl<F, Fut> Driver<'_, F>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    async fn closed_loop(self, vus: usize) {
        let counter = Arc::new(AtomicU64::new(0));
        let deadline = self.deadline;
        let mut tasks = JoinSet::new();
        for vu in 0..vus {
            let (op, recorder, stop, counter) = (
                self.op.clone(),
                self.recorder.clone(),
                self.stop.clone(),
                counter.clone(),
            );
            tasks.spawn(async move {
                while Instant::now() < deadline && !stop.is_cancelled() {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    let outcome = op(Call { vu, n }).await;
                    let pushback = outcome.1.as_ref().err().and_then(|e| e.pushback);
                    record(&recorder, started, outcome);
                    if let Some(delay) = pushback {
                        let until = (Instant::now() + delay).min(deadline);
                        tokio::select! {
                            () = tokio::time::sleep_until(until) => {}
                            () = stop.cancelled() => {}
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn open_loop(self, vus: usize, rate: f64) {
        let started = self.recorder.started();
        let in_flight = Arc::new(Semaphore::new(vus));
        let mut tasks = JoinSet::new();
        for n in 0u64.. {
            let due = started + Duration::from_secs_f64(n as f64 / rate);
            if due >= self.deadline {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = self.stop.cancelled() => break,
            }
            let permit = tokio::select! {
                permit = in_flight.clone().acquire_owned() => permit,
                () = self.stop.cancelled() => break,
            };
            let Ok(permit) = permit else { break };
            let (op, recorder) = (self.op.clone(), self.recorder.clone());
            tasks.spawn(async move {
                let _permit = permit;
                recorder.send_lag(due.elapsed());
                let outcome = op(Call {
                    vu: (n % vus as u64) as usize,
                    n,
                })
                .await;
                // From when it was due: time spent waiting for a free slot counts.
                record(&recorder, due, outcome);
            });
            // Reap the finished ones so a long run does not keep every handle.
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn open_loop_sends_at_the_rate_and_counts_waiting() {
        let recorder = Arc::new(Recorder::new());
        let load = Load {
            vus: 1,
            duration: Duration::from_secs(1),
            rate: Some(10.0),
        };
        // One slot and 250 ms per call: calls queue, and their latency includes the wait.
        drive(&load, &recorder, &CancellationToken::new(), |_| async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            ("Op", Ok(()))
        })
        .await;
        let totals = recorder.finish();
        let op = &totals.ops["Op"];
        assert_eq!(op.ok, 10);
        // The 10th call was due at 0.9 s, started at 2.25 s and ended at 2.5 s: 1.6 s after due.
        let max = op.latency.max_ms().unwrap();
        assert!((1590.0..1610.0).contains(&max), "{max}");
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_stops_at_the_deadline_and_counts_errors() {
        let recorder = Arc::new(Recorder::new());
        let load = Load {
            vus: 2,
            duration: Duration::from_millis(1000),
            rate: None,
        };
        drive(
            &load,
            &recorder,
            &CancellationToken::new(),
            |call| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if call.n % 2 == 0 {
                    ("Op", Ok(()))
                } else {
                    ("Op", Err(OpError::wrong("Odd", format!("call {}", call.n))))
                }
            },
        )
        .await;
        let totals = recorder.finish();
        let op = &totals.ops["Op"];
        assert_eq!(op.ok + op.errors, 20);
        assert_eq!(op.errors, 10);
        assert_eq!(totals.errors["Op Odd"].count, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_load_early() {
        let recorder = Arc::new(Recorder::new());
        let stop = CancellationToken::new();
        let load = Load {
            vus: 1,
            duration: Duration::from_secs(3600),
            rate: Some(100.0),
        };
        let cancel = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            cancel.cancel();
        });
        drive(&load, &recorder, &stop, |_| async { ("Op", Ok(())) }).await;
        let ok = recorder.finish().ops["Op"].ok;
        assert!((49..=51).contains(&ok), "{ok}");
    }
}
