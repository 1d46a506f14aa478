//! The figures of `--json FILE`. The keys are stable; a figure that could not be measured
//! (no samples, no successful call) is `null`. Times are milliseconds unless the key says
//! otherwise; rates are per second.
//!
//! | key | meaning |
//! |---|---|
//! | `scenario` | `fanout`, `read`, `mixed`, `logs` or `follow-storm` |
//! | `run_id` | the six characters in the handles and app name the run created |
//! | `started_unix_ms` | when the load started |
//! | `duration_s` | from the start of the load to the last answer |
//! | `shape` | the shape in words |
//! | `options` | the options of the run (`vus`, `duration_s`, `rate` (null: closed loop), ...) |
//! | `requests` | calls answered, successfully or not (setup calls are not counted) |
//! | `ok` | calls answered successfully |
//! | `errors` | calls that failed, or succeeded with a wrong answer (e.g. a short page) |
//! | `retries` | `logs`: calls sent again after RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED (not errors; a call given up after 60 s is an error) |
//! | `rate` | `requests` / `duration_s` |
//! | `success_rate` | `ok` / `requests`, 0 to 1 |
//! | `latency_ms.{avg,p50,p95,p99,max}` | latency of the successful calls; open loop: from each call's intended start |
//! | `operations.<name>.{requests,ok,errors}` | per RPC: `CreatePost`, `GetFeed`, `ListAuthorPosts`, `Ingest`, `IngestStream` |
//! | `operations.<name>.latency_ms.{avg,p50,p95,p99,max}` | per RPC |
//! | `error_kinds.<"Rpc Code">.{count,first_message}` | errors grouped by RPC and kind (`ResourceExhausted`: refusals, never counted as missing data) |
//! | `error_kinds.<"Rpc Code">.latency_ms.{avg,p50,p95,p99,max}` | how long those calls took to fail (null where not measured) |
//! | `series[]` | one point per second of load: `t_s` (end of the window, since the start), `span_s`, `requests`, `ok`, `errors`, `rate`, `latency_ms.{p50,p99}` |
//! | `fanout.posts` | posts acknowledged during the load (`fanout`, `mixed`) |
//! | `fanout.setup_posts` | posts written before the load (warm-up, pre-fill), checked too |
//! | `fanout.authors`, `fanout.followers` | users who posted; users following at least one of them |
//! | `fanout.celebrity_authors`, `fanout.celebrity_posts` | authors above the celebrity threshold and their posts: pulled at read time, not fanned out, left out of the lag, drain and check |
//! | `fanout.timeline_writes` | posts acknowledged during the load x followers of each post's author |
//! | `fanout.timeline_writes_per_s` | `timeline_writes` / (load + drain) |
//! | `fanout.lag_ms.{samples,p50,p99,max}` | sampled posts: from the CreatePost answer until the post is in every follower's timeline (polled every 10 ms) |
//! | `fanout.lag_ms.unseen` | sampled posts not seen in every timeline by the end of the drain: delivered to a timeline that already held `timeline_cap` newer posts, so trimmed at once (the final check still covers them) |
//! | `fanout.lag_samples[]` | each measured sample: `t_s` (its acknowledgement, since the start of the load) and `lag_ms` |
//! | `fanout.drain_ms` | from the end of the load until every author's last posts are in every follower's timeline (null: not within 300 s) |
//! | `fanout.timelines_checked`, `fanout.entries_checked` | the final check: timelines read, entries expected in them |
//! | `fanout.missing` | expected entries not found: the newest `timeline_cap` acknowledged posts of each user's followees must all be in its timeline |
//! | `fanout.raw.{writes,masters,writes_per_s}` | `--random-followers`: after the load, `timeline_writes` single-member ZADDs of new members into the same timelines (filled to the cap), one `redis-cli --pipe` per master, all at once |
//! | `fanout.raw.ratio` | `fanout.timeline_writes_per_s` / `fanout.raw.writes_per_s` |
//! | `fanout.raw.arrival.{writes_per_s,ratio}` | the same writes again, in the order the posts were acknowledged (each post to all its followers) instead of timeline by timeline; the ratio as above |
//! | `fanout.failover.{node,timelines,of_timelines}` | `--kill-master-after`: the master killed (`host:port`) and the run's follower timelines it held, of all |
//! | `fanout.failover.kill_s` | seconds from the start of the load to the kill (null: the load ended first) |
//! | `fanout.failover.recovery_s` | from the kill to t, the acknowledgement of the first sampled post from which on every sampled post reached all its timelines within 1 s (an unseen one counts as over); null: not by the end of the load |
//! | `fanout.failover.window.{samples,unseen,p99_ms,max_ms}` | the sampled posts acknowledged in [kill, t]: how many, never seen everywhere, lag p99 and max |
//! | `fanout.failover.over_target` | sampled posts acknowledged after the kill with a lag over 1 s (or unseen) |
//! | `follows.{planned,accepted}` | `follow-storm` and `fanout --random-followers`: follows in the graph; Follow calls answered OK (refused ones are sent again until accepted) |
//! | `follows.storm_ms`, `follows.accepted_per_s` | from the first Follow to the last answer; `accepted` over it |
//! | `follows.latency_ms.{avg,p50,p95,p99,max}`, `follows.error_kinds` | the Follow calls, as `latency_ms` and `error_kinds` |
//! | `follows.applied_at_storm_end`, `follows.applied` | follow events fan-out applied (counted in the follower indexes `fl:`) when the last Follow was answered, and by the end |
//! | `follows.all_applied_ms`, `follows.applied_per_s` | from the first Follow until all were applied (null: not within the limit); `applied` over it |
//! | `follows.missing`, `follows.unexpected` | follows whose follower is not in the followee's index at the end; index members that are no planned follower |
//! | `logs.mode` | `unary` or `stream` |
//! | `logs.{senders,calls,records_per_call}` | the shape |
//! | `logs.acked` | records acknowledged |
//! | `logs.records_per_s` | `acked` / `duration_s` |
//! | `logs.ack_latency_ms.{avg,p50,p95,p99,max}` | per call (or stream batch), from its first send to its acknowledgement, retries included |
//! | `logs.found` | records QueryLogs returned for the run's app |
//! | `logs.missing` | acknowledged records not found |
//! | `logs.duplicates` | extra copies found of any record |
//! | `logs.unexpected` | records found that the run did not send |
//! | `logs.verify_ms` | how long reading them back took |
//! | `notes[]` | remarks printed with the summary |
//! | `passed` | no missing entry or record, no duplicate, and at least one call succeeded (exit code 0) |

use serde_json::{Map, Value, json};

use super::Report;
use crate::stats::{Histogram, Latency, Totals};

fn latency(latency: &Latency) -> Value {
    json!({
        "avg": latency.avg,
        "p50": latency.p50,
        "p95": latency.p95,
        "p99": latency.p99,
        "max": latency.max,
    })
}

fn histogram(h: &Histogram) -> Value {
    latency(&h.summary())
}

fn error_kinds(totals: &Totals) -> Map<String, Value> {
    let mut kinds = Map::new();
    for (kind, error) in &totals.errors {
        kinds.insert(
            kind.clone(),
            json!({
                "count": error.count,
                "first_message": error.first_message,
                "latency_ms": histogram(&error.latency),
            }),
        );
    }
    kinds
}

/// The figures of `report` under the keys above.
pub fn to_json(report: &Report) -> Value {
    let mut operations = Map::new();
    for (op, stats) in &report.totals.ops {
        operations.insert(
            (*op).to_owned(),
            json!({
                "requests": stats.ok + stats.errors,
                "ok": stats.ok,
                "errors": stats.errors,
                "latency_ms": histogram(&stats.latency),
            }),
        );
    }
    let kinds = error_kinds(&report.totals);
    let series: Vec<Value> = report
        .totals
        .series
        .iter()
        .map(|s| {
            json!({
                "t_s": s.t_s,
                "span_s": s.span_s,
                "requests": s.ok + s.errors,
                "ok": s.ok,
                "errors": s.errors,
                "rate": (s.ok + s.errors) as f64 / s.span_s.max(1e-9),
                "latency_ms": {"p50": s.p50_ms, "p99": s.p99_ms},
            })
        })
        .collect();
    let options: Map<String, Value> = report
        .options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let mut out = json!({
        "scenario": report.scenario.name(),
        "run_id": report.run_id,
        "started_unix_ms": report.started_unix_ms,
        "duration_s": report.totals.elapsed.as_secs_f64(),
        "shape": report.shape,
        "options": options,
        "requests": report.requests(),
        "ok": report.ok(),
        "errors": report.errors(),
        "retries": report.totals.retries,
        "rate": report.rate(),
        "success_rate": report.success(),
        "latency_ms": latency(&report.latency()),
        "operations": operations,
        "error_kinds": kinds,
        "series": series,
        "notes": report.notes,
        "passed": report.passed(),
    });
    if let Some(f) = &report.fanout {
        let lag = f.lag.lag.summary();
        out["fanout"] = json!({
            "posts": f.posts,
            "setup_posts": f.setup_posts,
            "authors": f.authors,
            "followers": f.followers,
            "celebrity_authors": f.celebrity_authors,
            "celebrity_posts": f.celebrity_posts,
            "timeline_writes": f.timeline_writes,
            "timeline_writes_per_s": f.timeline_writes_per_s,
            "lag_ms": {
                "samples": f.lag.lag.count(),
                "p50": lag.p50,
                "p99": lag.p99,
                "max": lag.max,
                "unseen": f.lag.unseen,
            },
            "lag_samples": f
                .lag_points
                .iter()
                .map(|(t, lag)| json!({"t_s": t, "lag_ms": lag}))
                .collect::<Vec<Value>>(),
            "drain_ms": f.drain.map(|d| d.as_secs_f64() * 1000.0),
            "timelines_checked": f.completeness.timelines,
            "entries_checked": f.completeness.checked,
            "missing": f.completeness.missing,
        });
        if let Some(failover) = &f.failover {
            let r = &failover.recovery;
            out["fanout"]["failover"] = json!({
                "node": failover.node,
                "timelines": failover.timelines,
                "of_timelines": failover.of_timelines,
                "kill_s": failover.kill_s,
                "recovery_s": r.after_s,
                "window": {
                    "samples": r.window_samples,
                    "unseen": r.window_unseen,
                    "p99_ms": r.window_p99_ms,
                    "max_ms": r.window_max_ms,
                },
                "over_target": r.over_target,
            });
        }
        if let Some(raw) = &f.raw {
            out["fanout"]["raw"] = json!({
                "writes": raw.writes,
                "masters": raw.masters,
                "writes_per_s": raw.writes_per_s,
                "ratio": raw.ratio,
                "arrival": {
                    "writes_per_s": raw.arrival_writes_per_s,
                    "ratio": raw.arrival_ratio,
                },
            });
        }
    }
    if let Some(f) = &report.follows {
        out["follows"] = json!({
            "planned": f.planned,
            "accepted": f.accepted,
            "storm_ms": f.storm.as_secs_f64() * 1000.0,
            "accepted_per_s": f.accepted_per_s,
            "latency_ms": histogram(&f.totals.all().latency),
            "error_kinds": error_kinds(&f.totals),
            "applied_at_storm_end": f.applied_at_storm_end,
            "applied": f.applied,
            "all_applied_ms": f.all_applied.map(|d| d.as_secs_f64() * 1000.0),
            "applied_per_s": f.applied_per_s,
            "missing": f.missing,
        });
    }
    if let Some(l) = &report.logs {
        out["logs"] = json!({
            "mode": l.mode,
            "senders": l.senders,
            "calls": l.calls,
            "records_per_call": l.records_per_call,
            "acked": l.acked,
            "records_per_s": l.records_per_s,
            "ack_latency_ms": latency(&report.latency()),
            "found": l.found,
            "missing": l.missing,
            "duplicates": l.duplicates,
            "unexpected": l.unexpected,
            "verify_ms": l.verify.as_secs_f64() * 1000.0,
        });
    }
    out
}
