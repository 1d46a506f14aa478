//! The text sections of two scenarios' own figures: the Redis failover of
//! `fanout --kill-master-after` and the follows of `follow-storm`.

use super::text::{Section, count, error_rows, latency_line, missing_rows, opt_ms};
use super::{FailoverFigures, FollowFigures};

/// `--kill-master-after`: the master killed and the recovery of the lag.
pub(super) fn failover_section(f: &FailoverFigures) -> Section {
    let mut s = Section::new(Some("redis failover"));
    s.row(
        "master killed",
        format!(
            "{} (holding {} of {} follower timelines)",
            f.node,
            count(f.timelines as f64),
            count(f.of_timelines as f64)
        ),
    );
    let Some(kill_s) = f.kill_s else {
        s.row("killed at", "not killed: the load ended first");
        return s;
    };
    s.row(
        "killed at",
        format!("{kill_s:.2} s into the load (SHUTDOWN NOW NOSAVE FORCE)"),
    );
    let r = &f.recovery;
    s.row(
        "recovery",
        r.after_s.map_or_else(
            || "lag not back under 1 s by the end of the load".to_owned(),
            |after| {
                format!(
                    "{after:.2} s (from the kill to the first sampled post from which on every \
                     one reached all its timelines within 1 s)"
                )
            },
        ),
    );
    let unseen = if r.window_unseen > 0 {
        format!(", {} never seen everywhere", r.window_unseen)
    } else {
        String::new()
    };
    s.row(
        "lag in the window",
        format!(
            "p99={}  max={}  ({} sampled posts acknowledged in [kill, kill + recovery], {} \
             over 1 s after the kill{unseen})",
            opt_ms(r.window_p99_ms),
            opt_ms(r.window_max_ms),
            count(r.window_samples as f64),
            count(r.over_target as f64)
        ),
    );
    s
}

/// `follow-storm`: the follows sent, applied and checked.
pub(super) fn follow_section(f: &FollowFigures) -> Section {
    let mut s = Section::new(Some("follows"));
    s.row(
        "follows accepted",
        format!(
            "{} of {} in {:.1} s   {}/s",
            count(f.accepted as f64),
            count(f.planned as f64),
            f.storm.as_secs_f64(),
            count(f.accepted_per_s)
        ),
    );
    s.row(
        "Follow latency",
        latency_line(&f.totals.all().latency.summary()),
    );
    error_rows(&mut s, &f.totals);
    s.row(
        "follows applied",
        format!(
            "{} when the last Follow was answered, {} in all",
            count(f.applied_at_storm_end as f64),
            count(f.applied as f64)
        ),
    );
    s.row(
        "applied rate",
        match f.all_applied {
            Some(took) => format!(
                "{}/s (all applied {:.1} s after the first Follow)",
                count(f.applied_per_s),
                took.as_secs_f64()
            ),
            None => format!(
                "{}/s (not all applied within the limit)",
                count(f.applied_per_s)
            ),
        },
    );
    let checked = format!(
        "{} follows checked in the follower indexes ({} unexpected)",
        count(f.planned as f64),
        count(f.unexpected as f64)
    );
    missing_rows(
        &mut s,
        "missing followers",
        f.missing,
        &checked,
        &f.examples,
    );
    s
}
