//! What a session does with the answers: applied rows retired, failed ones backed off (holding
//! only their author) or given up on, replayed ones counted.

use std::collections::HashSet;

use feedline_proto::fanout::v1::{FanoutOutcome, FanoutResponse};
use futures::FutureExt as _;

use super::RelayConfig;
use super::dead_letters::{Burial, bury};
use super::deadline::sql;
use super::holds::{Holds, backoff};
use super::replay::{Replay, earliest};
use super::session::{InFlight, Sent};
use crate::ids::now_ms;
use crate::store::{GiveUp, Store};

/// Most acks recorded in one bookkeeping round.
const MAX_ACKS_PER_ROUND: usize = 10_000;

/// The answer just read plus every answer already waiting behind it, so that one bookkeeping
/// transaction covers them all (while it commits, more arrive: the next round is larger).
/// Also returns why the stream ended, if it did: what arrived before that is recorded first.
pub(super) fn gather(
    first: Result<Option<FanoutResponse>, tonic::Status>,
    acks: &mut tonic::Streaming<FanoutResponse>,
) -> (Option<FanoutResponse>, Option<String>) {
    let ended = |message: Result<Option<FanoutResponse>, tonic::Status>| match message {
        Ok(Some(response)) => Ok(response),
        Ok(None) => Err("fanout-service closed the stream".to_owned()),
        Err(status) => Err(format!("stream: {status}")),
    };
    let mut response = match ended(first) {
        Ok(response) => response,
        Err(why) => return (None, Some(why)),
    };
    while response.acks.len() < MAX_ACKS_PER_ROUND {
        // `message` is cancel safe: a poll that finds nothing ready loses nothing.
        let Some(message) = acks.message().now_or_never() else {
            break;
        };
        match ended(message) {
            Ok(more) => {
                response.acks.extend(more.acks);
                response.replay = earliest(response.replay, more.replay);
            }
            Err(why) => return (Some(response), Some(why)),
        }
    }
    (Some(response), None)
}

/// What a round of acks calls for.
#[derive(Debug, Default)]
pub(super) struct Round {
    /// An event that answered RETRY was given up on: the stream must be replaced.
    pub reconnect: bool,
}

/// A new row that did not apply.
struct Failed {
    id: i64,
    sent: Sent,
    /// REJECTED (permanent) rather than RETRY.
    rejected: bool,
    message: String,
}

/// Records one batch of acks: applied rows are retired; a REJECTED row, or one that answered
/// RETRY for the `max_attempts`th time, is given up on; any other RETRY backs off (jittered)
/// and holds only its own author.
pub(super) async fn apply_acks(
    store: &Store,
    config: &RelayConfig,
    response: FanoutResponse,
    inflight: &mut InFlight,
    replay: &mut Option<Replay>,
    holds: &mut Holds,
) -> Result<Round, String> {
    let mut applied = Vec::new();
    let mut failed = Vec::new();
    for ack in response.acks {
        let outcome = FanoutOutcome::try_from(ack.outcome);
        if inflight.replayed.remove(&ack.event_id) {
            replay_answered(replay, ack.event_id, outcome, &ack.message);
            continue;
        }
        let Some(sent) = inflight.live.remove(&ack.event_id) else {
            continue; // not ours (a stale answer from before a reconnect): nothing to do
        };
        match outcome {
            Ok(FanoutOutcome::Applied) => applied.push(ack.event_id),
            outcome => failed.push(Failed {
                id: ack.event_id,
                sent,
                rejected: outcome == Ok(FanoutOutcome::Rejected),
                message: ack.message,
            }),
        }
    }
    sql(store.complete_outbox(&applied, !config.retention.is_zero()))
        .await
        .map_err(|e| format!("complete: {e}"))?;
    failed.sort_by_key(|f| f.id);
    let now = now_ms();
    let mut round = Round::default();
    let (mut burials, mut knock_on, mut retries) = (Vec::new(), Vec::new(), Vec::new());
    // Authors with an earlier failure in this round: their later failures are knock-on ones.
    let mut failing: HashSet<i64> = HashSet::new();
    for Failed {
        id,
        sent,
        rejected,
        message,
    } in failed
    {
        let attempts = sent.attempts + 1;
        let give_up = |error: String| Burial {
            letter: GiveUp {
                id,
                attempts,
                error,
            },
            author: sent.key,
        };
        if rejected {
            // Permanent: no retry can help, and fanout-service holds nothing of its author.
            burials.push(give_up(format!("rejected: {message}")));
            continue;
        }
        if sent
            .key
            .is_some_and(|key| failing.contains(&key) || holds.is_knock_on(key, id))
        {
            knock_on.push(id);
            continue;
        }
        failing.extend(sent.key);
        if attempts >= config.max_attempts as i32 {
            burials.push(give_up(format!("retried {attempts} times: {message}")));
            round.reconnect = true;
            continue;
        }
        tracing::warn!(event_id = id, attempts, reason = %message, "fanout asked to retry an event; backing off its author");
        let at = now + backoff(attempts).as_millis() as i64;
        retries.push((id, at));
        if let Some(key) = sent.key {
            holds.hold(key, id, at);
        }
    }
    bury(store, burials).await?;
    sql(store.release_outbox(&knock_on, false))
        .await
        .map_err(|e| format!("release: {e}"))?;
    sql(store.retry_outbox(&retries))
        .await
        .map_err(|e| format!("retry: {e}"))?;
    Ok(round)
}

/// Records the answer to a replayed event: it stays retained whatever the outcome (it was
/// applied once already); a RETRY makes the replay resume from it.
fn replay_answered(
    slot: &mut Option<Replay>,
    event_id: i64,
    outcome: Result<FanoutOutcome, prost::UnknownEnumValue>,
    message: &str,
) {
    let Some(replay) = slot.as_mut() else {
        return;
    };
    match outcome {
        Ok(FanoutOutcome::Applied) => replay.applied(),
        Ok(FanoutOutcome::Rejected) => {
            tracing::error!(event_id, reason = %message, "fanout rejected a replayed event; skipping it");
        }
        _ => {
            if !replay.retry(event_id) {
                tracing::error!(event_id, reason = %message, "outbox replay keeps failing; abandoning it");
                *slot = None;
            }
        }
    }
}
