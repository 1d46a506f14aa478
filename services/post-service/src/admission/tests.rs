//! Admission control's unit tests: the bounds, the drain rate, the prior.

use super::*;

fn admission(max_lag_ms: u64, max_backlog: u64) -> Admission {
    Admission::new(AdmissionConfig {
        max_lag: Duration::from_millis(max_lag_ms),
        max_backlog,
        refresh: Duration::from_millis(50),
    })
}

fn measured(a: &Admission, age_ms: Option<i64>, backlog: u64) {
    let oldest = age_ms.map_or(i64::MAX, |age| now_ms() - age);
    a.oldest_ms.store(oldest, Ordering::Relaxed);
    a.backlog.store(backlog, Ordering::Relaxed);
    a.admitted_at_measure
        .store(a.admitted.load(Ordering::Relaxed), Ordering::Relaxed);
    a.active.store(true, Ordering::Relaxed);
}

#[test]
fn admits_everything_until_measured() {
    let a = admission(1000, 10);
    a.oldest_ms.store(0, Ordering::Relaxed);
    a.backlog.store(1_000_000, Ordering::Relaxed);
    assert!(a.check().is_ok());
}

#[test]
fn before_a_rate_is_measured_writes_are_judged_by_the_prior() {
    // 1,000 events/s assumed: at a 500 ms bound, about 500 queued events are let in.
    let a = admission(500, 0);
    let mut drain = DrainRate::default();
    let t0 = Instant::now();
    a.record(&mut drain, t0, front(1, 400), 0);
    for _ in 0..=100 {
        assert!(a.check().is_ok(), "up to 400 + 100 queued: 500 ms");
    }
    assert!(
        matches!(a.check(), Err(Error::Overloaded { .. })),
        "501 queued"
    );
    a.record(
        &mut drain,
        t0 + Duration::from_millis(50),
        front(1, 600),
        100,
    );
    assert!(matches!(a.check(), Err(Error::Overloaded { .. })));
}

#[test]
fn refuses_past_the_age_bound_with_a_retry_delay() {
    let a = admission(1000, 0);
    measured(&a, Some(500), 1_000_000);
    assert!(a.check().is_ok(), "the count bound is off");
    measured(&a, Some(5000), 1);
    match a.check() {
        Err(Error::Overloaded {
            reason,
            retry_after,
        }) => {
            assert!(reason.contains("behind"), "{reason}");
            assert!(
                (Duration::from_secs(2)..Duration::from_secs(3)).contains(&retry_after),
                "{retry_after:?}"
            );
        }
        other => panic!("expected Overloaded, got {other:?}"),
    }
    measured(&a, None, 0);
    assert!(a.check().is_ok(), "an empty outbox has no age");
}

fn front(oldest_id: i64, backlog: u64) -> Option<OutboxFront> {
    Some(OutboxFront {
        oldest_id,
        oldest_ms: now_ms(),
        backlog,
    })
}

#[test]
fn the_wait_is_the_backlog_over_the_drain_rate_of_a_busy_second() {
    let mut drain = DrainRate::default();
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // Front advancing 1,000 ids/s, a backlog of 3,000 behind it.
    // No busy second yet: the prior's 1,000 events/s.
    let prior = Some(Duration::from_secs(3));
    assert_eq!(drain.observe(at(0), front(1, 3000)), prior, "no rate yet");
    assert_eq!(
        drain.observe(at(500), front(501, 3000)),
        prior,
        "half a window"
    );
    let wait = drain
        .observe(at(1000), front(1001, 3000))
        .expect("a busy second");
    assert_eq!(wait.as_millis(), 3000);
    // The rate follows the last second only: now 2,000 ids/s.
    drain.observe(at(1500), front(2001, 3000));
    let wait = drain
        .observe(at(2000), front(3001, 3000))
        .expect("still busy");
    assert_eq!(wait.as_millis(), 1500);
    // A front that then stands still for a second keeps the last rate it measured (at
    // 2.5 s, over 1.5 s to 2.5 s: 1,000 ids/s); the oldest event's age tells the stall.
    drain.observe(at(2500), front(3001, 3000));
    let wait = drain
        .observe(at(3000), front(3001, 3000))
        .expect("the last rate");
    assert_eq!(wait.as_millis(), 3000);
    // An empty outbox ends the busy stretch; the next burst is judged by the last rate
    // (a little relaxed) until a whole busy second measures a new one (here 200 ids/s).
    assert_eq!(drain.observe(at(3050), None), None);
    let wait = drain
        .observe(at(3100), front(9000, 400))
        .expect("the last rate");
    assert_eq!(wait.as_millis(), 360);
    drain.observe(at(3600), front(9100, 400));
    let wait = drain
        .observe(at(4100), front(9200, 400))
        .expect("a new rate");
    assert_eq!(wait.as_millis(), 2000);
}

#[test]
fn a_slow_rate_relaxes_each_time_the_outbox_is_found_empty() {
    let mut drain = DrainRate::default();
    let t0 = Instant::now();
    // A slow spell: 10 events/s.
    drain.observe(t0, front(1, 100));
    let slow = drain
        .observe(t0 + Duration::from_secs(1), front(11, 100))
        .expect("a busy second");
    assert_eq!(slow.as_millis(), 10_000);
    // Then the outbox keeps emptying between small bursts: 20 measurements (a second at
    // the default refresh) later, the same backlog is predicted 8x faster.
    for i in 0..20 {
        assert_eq!(
            drain.observe(t0 + Duration::from_millis(1050 + i * 50), None),
            None
        );
    }
    let relaxed = drain
        .observe(t0 + Duration::from_secs(3), front(100, 100))
        .expect("the relaxed rate");
    assert!(relaxed < slow / 8, "{relaxed:?}");
}

#[test]
fn before_a_rate_is_measured_the_prior_predicts() {
    let mut drain = DrainRate::default();
    let t0 = Instant::now();
    // 1,000 events/s assumed: 5,000 queued wait 5 s.
    assert_eq!(
        drain.observe(t0, front(1, 5000)),
        Some(Duration::from_secs(5))
    );
    // A front that stood still measures nothing: the prior stays.
    assert_eq!(
        drain.observe(t0 + Duration::from_secs(2), front(1, 9000)),
        Some(Duration::from_secs(9))
    );
}

#[test]
fn relaxing_stops_at_the_fastest_rate_measured() {
    let mut drain = DrainRate::default();
    let t0 = Instant::now();
    // Healthy: 2,000 events in a second. Then a slow spell: 10 in a second.
    drain.observe(t0, front(1, 5000));
    drain.observe(t0 + Duration::from_secs(1), front(2001, 5000));
    drain.observe(t0 + Duration::from_secs(2), front(2011, 5000));
    // Quiet for a long time: relaxes to the healthy rate, not to nothing.
    for i in 0..200 {
        drain.observe(t0 + Duration::from_millis(2050 + i * 50), None);
    }
    let burst = drain
        .observe(t0 + Duration::from_secs(20), front(3000, 500))
        .expect("a prediction");
    assert_eq!(burst.as_millis(), 250);
}

#[test]
fn refuses_when_the_predicted_wait_passes_the_bound_while_the_oldest_is_young() {
    let a = admission(500, 0);
    measured(&a, Some(100), 5000);
    assert!(a.check().is_ok(), "young and no rate known");
    // 1,200 events at 1 ms each.
    measured(&a, Some(100), 1200);
    a.per_event_ns.store(1_000_000, Ordering::Relaxed);
    match a.check() {
        Err(Error::Overloaded {
            reason,
            retry_after,
        }) => {
            assert!(reason.contains("1200 ms behind"), "{reason}");
            assert!(
                (Duration::from_millis(700)..Duration::from_millis(1050)).contains(&retry_after),
                "{retry_after:?}"
            );
        }
        other => panic!("expected Overloaded, got {other:?}"),
    }
    measured(&a, Some(100), 400);
    assert!(a.check().is_ok(), "a wait within the bound");
}

#[test]
fn writes_admitted_since_the_last_measurement_count_into_the_wait() {
    let a = admission(500, 0);
    measured(&a, Some(10), 0);
    a.per_event_ns.store(1_000_000, Ordering::Relaxed);
    let admitted = (0..1000).take_while(|_| a.check().is_ok()).count();
    assert_eq!(admitted, 501, "the 501st makes the wait 501 ms");
    // A new measurement takes over from the count.
    measured(&a, Some(10), 100);
    assert!(a.check().is_ok());
}

#[test]
fn refuses_past_the_count_bound() {
    let a = admission(0, 100);
    measured(&a, Some(60_000), 100);
    assert!(a.check().is_ok(), "the age bound is off; 100 is within");
    measured(&a, Some(0), 101);
    assert!(matches!(a.check(), Err(Error::Overloaded { .. })));
}
