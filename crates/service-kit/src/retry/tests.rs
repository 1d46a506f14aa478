//! Tests of the retry helper: backoff ceilings, the budget's bound on amplification, the
//! deadline rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::deadline::MIN_OUTGOING;
use super::*;

const BACKOFF: Backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(200));

/// A budget that never runs dry: the control that shows what the budget prevents.
fn unlimited() -> Arc<RetryBudget> {
    Arc::new(RetryBudget {
        milli_tokens: AtomicU64::new(u64::MAX / 2),
        deposit: 0,
        cap: u64::MAX,
    })
}

#[test]
fn ceilings_double_up_to_the_max() {
    let ceilings: Vec<u128> = (0..7).map(|r| BACKOFF.ceiling(r).as_millis()).collect();
    assert_eq!(ceilings, [10, 20, 40, 80, 160, 200, 200]);
    assert_eq!(BACKOFF.ceiling(u32::MAX), Duration::from_millis(200));
}

#[test]
fn delays_stay_under_the_ceiling_and_spread_over_it() {
    let delays: Vec<Duration> = (0..1000).map(|_| BACKOFF.delay(3)).collect();
    assert!(delays.iter().all(|d| *d <= Duration::from_millis(80)));
    let low = delays
        .iter()
        .filter(|d| **d < Duration::from_millis(20))
        .count();
    let high = delays
        .iter()
        .filter(|d| **d > Duration::from_millis(60))
        .count();
    // Uniform: a quarter each side, far from the 0 that a fixed delay would give.
    assert!(low > 150 && high > 150, "low {low}, high {high}");
}

#[test]
fn a_budget_starts_empty_and_fills_by_the_ratio() {
    let budget = RetryBudget::new(0.2, 2);
    assert!(!budget.withdraw());
    for _ in 0..4 {
        budget.deposit();
    }
    assert!(!budget.withdraw(), "0.8 of a token is no retry");
    budget.deposit();
    assert!(budget.withdraw());
    for _ in 0..100 {
        budget.deposit();
    }
    assert!(
        budget.withdraw() && budget.withdraw() && !budget.withdraw(),
        "capped"
    );
}

/// A dependency that always fails: attempts it sees over `calls` calls.
async fn attempts_against_a_failing_dependency(policy: &RetryPolicy, calls: u64) -> u64 {
    let attempts = AtomicU64::new(0);
    for _ in 0..calls {
        let result: Result<(), String> = policy
            .run_until(
                None,
                || async {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    Err("unavailable".to_owned())
                },
                |_| true,
            )
            .await;
        assert!(result.is_err());
    }
    attempts.into_inner()
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_amplification_at_1_2x() {
    let policy = RetryPolicy::new("dependency", BACKOFF, 5);
    let calls = 10_000;
    let attempts = attempts_against_a_failing_dependency(&policy, calls).await;
    let amplification = attempts as f64 / calls as f64;
    assert!(
        attempts <= calls * 12 / 10,
        "{attempts} attempts for {calls} calls: {amplification:.3}x"
    );
    // And the budget is used, not a retry-less policy passing by accident.
    assert!(attempts >= calls * 12 / 10 - 1, "{amplification:.3}x");
    assert_eq!(policy.counts(), (calls, attempts - calls));
}

#[tokio::test(start_paused = true)]
async fn without_the_budget_a_loop_would_amplify_by_max_attempts() {
    // The control for the test above: a budget that never runs dry lets every call retry.
    let policy = RetryPolicy::new("dependency", BACKOFF, 5).with_budget(unlimited());
    assert_eq!(
        attempts_against_a_failing_dependency(&policy, 100).await,
        500
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried_and_success_ends_the_run() {
    let policy = RetryPolicy::new("dependency", BACKOFF, 5).with_budget(unlimited());
    let mut tries = 0;
    let result: Result<u32, String> = policy
        .run_until(
            None,
            || {
                tries += 1;
                let n = tries;
                async move {
                    if n < 3 {
                        Err(format!("try {n}"))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_| true,
        )
        .await;
    assert_eq!(result, Ok(3));
    let mut tries = 0;
    let result: Result<(), String> = policy
        .run_until(
            None,
            || {
                tries += 1;
                async { Err("not found".to_owned()) }
            },
            |e| e != "not found",
        )
        .await;
    assert_eq!((result, tries), (Err("not found".to_owned()), 1));
}

#[tokio::test(start_paused = true)]
async fn outgoing_timeouts_follow_the_inbound_deadline() {
    let default = Duration::from_secs(2);
    assert_eq!(outgoing_timeout(default), default, "no inbound call");
    let deadline = Instant::now() + Duration::from_millis(500);
    with_deadline(deadline, async {
        assert_eq!(outgoing_timeout(default), Duration::from_millis(480));
        assert_eq!(
            outgoing_timeout(Duration::from_millis(50)),
            Duration::from_millis(50)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(outgoing_timeout(default), MIN_OUTGOING, "spent");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_timeout_is_given_up_on() {
    let stuck = std::future::pending::<()>();
    let start = Instant::now();
    assert_eq!(
        within(Duration::from_secs(5), stuck).await,
        Err(TimedOut(Duration::from_secs(5)))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(within(Duration::from_secs(5), async { 7 }).await, Ok(7));
    let deadline = Instant::now() + Duration::from_millis(500);
    let shortened = with_deadline(
        deadline,
        within(Duration::from_secs(5), async {
            std::future::pending::<()>().await
        }),
    )
    .await;
    assert_eq!(
        shortened,
        Err(TimedOut(Duration::from_millis(480))),
        "the inbound deadline wins"
    );
}

#[tokio::test(start_paused = true)]
async fn no_backoff_sleeps_past_the_deadline() {
    let policy = RetryPolicy::new(
        "dependency",
        Backoff::new(Duration::from_secs(1), Duration::from_secs(1)),
        100,
    )
    .with_budget(unlimited());
    let start = Instant::now();
    let deadline = start + Duration::from_millis(2500);
    let result: Result<(), String> = policy
        .run_until(
            Some(deadline),
            || async { Err("down".to_owned()) },
            |_| true,
        )
        .await;
    assert!(result.is_err());
    assert!(
        Instant::now() < deadline,
        "returned at {:?}",
        start.elapsed()
    );
}
