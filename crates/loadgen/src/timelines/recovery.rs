//! How long fan-out lag took to come back under a target after a Redis master was killed,
//! computed from the lag samples alone (no I/O): `fanout --kill-master-after`'s recovery.
//!
//! Definition: among the sampled posts acknowledged at or after the kill, t is the
//! acknowledgement of the first one from which on every sampled post reached all its
//! timelines within the target (1 s); recovery = t - kill. A sample never seen in every
//! timeline counts as over the target. When the last sample is over the target, or none came
//! after the kill, lag did not recover within the run. The sampling interval is the
//! resolution: at 200 posts/s and one sample in 50, 250 ms.

use std::time::Duration;

use crate::stats::Histogram;

/// The lag fan-out must be back under: the "until lag is back under 1 s".
pub const TARGET: Duration = Duration::from_secs(1);

/// A sampled post: seconds from the start of the load to its acknowledgement, and its lag in
/// ms (None: never seen in every timeline).
pub type LagSample = (f64, Option<f64>);

/// The recovery after a kill, and the lag of the posts acknowledged while it lasted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovery {
    /// Seconds from the kill to t (see the module); None: lag was not back under the target
    /// by the end of the run.
    pub after_s: Option<f64>,
    /// Samples acknowledged in [kill, t] (from the kill to the end when not recovered).
    pub window_samples: u64,
    /// Of those, never seen in every timeline.
    pub window_unseen: u64,
    /// Lag p99 and max of the window's seen samples.
    pub window_p99_ms: Option<f64>,
    pub window_max_ms: Option<f64>,
    /// Samples acknowledged at or after the kill that were over the target (or unseen).
    pub over_target: u64,
}

/// The recovery of `samples` (in any order) after a kill `kill_s` seconds into the load, for
/// a lag target of `target`.
pub fn recovery(samples: &[LagSample], kill_s: f64, target: Duration) -> Recovery {
    let target_ms = target.as_secs_f64() * 1000.0;
    let over = |lag: Option<f64>| lag.is_none_or(|ms| ms > target_ms);
    let mut after: Vec<LagSample> = samples
        .iter()
        .copied()
        .filter(|&(at, _)| at >= kill_s)
        .collect();
    after.sort_by(|a, b| a.0.total_cmp(&b.0));
    let last_over = after.iter().rposition(|&(_, lag)| over(lag));
    // The first sample of the run of samples under the target that lasts to the end.
    let back = match last_over {
        None => after.first(),
        Some(i) => after.get(i + 1),
    };
    let t = back.map(|&(at, _)| at);
    let window: Vec<LagSample> = after
        .iter()
        .copied()
        .take_while(|&(at, _)| t.is_none_or(|t| at <= t))
        .collect();
    let mut lags = Histogram::default();
    for ms in window.iter().filter_map(|&(_, lag)| lag) {
        lags.record(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    Recovery {
        after_s: t.map(|t| t - kill_s),
        window_samples: window.len() as u64,
        window_unseen: window.iter().filter(|(_, lag)| lag.is_none()).count() as u64,
        window_p99_ms: lags.quantile_ms(0.99),
        window_max_ms: lags.max_ms(),
        over_target: after.iter().filter(|&&(_, lag)| over(lag)).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample every 250 ms from `from` to `to` seconds, each with `lag` ms.
    fn samples(from: f64, to: f64, lag: Option<f64>) -> Vec<LagSample> {
        let n = ((to - from) / 0.25).round() as usize;
        (0..n).map(|i| (from + i as f64 * 0.25, lag)).collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[test]
    fn lag_over_a_second_after_the_kill_delays_recovery_until_the_last_such_post() {
        let mut all = samples(0.0, 10.0, Some(40.0));
        // Killed at 10 s: posts of the next 3 s wait for the failover, the later ones do not.
        all.extend(samples(10.0, 13.0, Some(3500.0)));
        all.extend(samples(13.0, 30.0, Some(60.0)));
        all.reverse();
        let r = recovery(&all, 10.0, TARGET);
        assert!(close(r.after_s, 3.0), "{r:?}");
        // 12 slow posts and the first one back under 1 s.
        assert_eq!(r.window_samples, 13);
        assert_eq!(r.over_target, 12);
        assert_eq!(r.window_unseen, 0);
        let max = r.window_max_ms.unwrap();
        assert!((3400.0..=3600.0).contains(&max), "{max}");
        assert!(r.window_p99_ms.unwrap() > 3000.0);
    }

    #[test]
    fn a_late_slow_post_moves_recovery_past_a_good_stretch() {
        let mut all = samples(10.0, 12.0, Some(2000.0));
        all.extend(samples(12.0, 15.0, Some(100.0)));
        all.push((15.0, Some(1001.0)));
        all.extend(samples(15.25, 20.0, Some(100.0)));
        let r = recovery(&all, 10.0, TARGET);
        assert!(close(r.after_s, 5.25), "{r:?}");
        assert_eq!(r.over_target, 9);
    }

    #[test]
    fn slow_posts_before_the_kill_do_not_count() {
        let mut all = samples(0.0, 10.0, Some(5000.0));
        all.extend(samples(10.0, 20.0, Some(50.0)));
        let r = recovery(&all, 10.0, TARGET);
        // Back at once: the first sample after the kill is under the target.
        assert!(close(r.after_s, 0.0), "{r:?}");
        assert_eq!((r.window_samples, r.over_target), (1, 0));
        assert!(r.window_max_ms.unwrap() < 60.0, "{r:?}");
    }

    #[test]
    fn a_run_that_never_recovers_has_no_recovery() {
        let mut all = samples(0.0, 10.0, Some(40.0));
        all.extend(samples(10.0, 30.0, Some(8000.0)));
        let r = recovery(&all, 10.0, TARGET);
        assert_eq!(r.after_s, None);
        // The window runs to the end of the run.
        assert_eq!(r.window_samples, 80);
        assert_eq!(r.over_target, 80);
    }

    #[test]
    fn an_unseen_last_post_is_not_a_recovery() {
        let mut all = samples(10.0, 20.0, Some(40.0));
        all.push((20.0, None));
        let r = recovery(&all, 10.0, TARGET);
        assert_eq!(r.after_s, None);
        assert_eq!((r.window_unseen, r.over_target), (1, 1));
        // An unseen post in the middle delays recovery like a slow one.
        all.extend(samples(20.25, 22.0, Some(40.0)));
        let r = recovery(&all, 10.0, TARGET);
        assert!(close(r.after_s, 10.25), "{r:?}");
    }

    #[test]
    fn no_sample_after_the_kill_is_no_recovery() {
        let r = recovery(&samples(0.0, 10.0, Some(40.0)), 10.0, TARGET);
        assert_eq!(r.after_s, None);
        assert_eq!(r.window_samples, 0);
        assert_eq!(r.window_p99_ms, None);
    }
}
