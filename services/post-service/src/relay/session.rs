//! One relay session: a connection, a `Fanout` stream, claims sent in order, acks applied, and
//! replays sent when fanout-service asks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use feedline_proto::fanout::v1::{FanoutEvent, FanoutOutcome, FanoutRequest, FanoutResponse};
use feedline_service_kit::CancellationToken;
use futures::FutureExt as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::RelayConfig;
use super::dead_letters::{Burial, bury};
use super::deadline::sql;
use super::events::{decode_row, event_from_row, ordering_key, replay_from_row};
use super::holds::{Holds, backoff};
use super::replay::{Replay, earliest};
use crate::ids::now_ms;
use crate::store::{GiveUp, Store};

/// Why a session ended, and whether it got anything acknowledged first (which resets backoff).
#[derive(Debug)]
pub struct SessionEnd {
    /// What broke.
    pub error: String,
    /// True when at least one event was acknowledged.
    pub made_progress: bool,
    /// True when it claimed rows (or tried to): some may still be claimed, by a claim that
    /// committed after its deadline or a release that failed, so the next session must
    /// release every claim first.
    pub left_claims: bool,
}

/// A new row sent and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Sent {
    /// Its ordering key (author), when its payload names one.
    key: Option<i64>,
    /// Failed attempts before this one.
    attempts: i32,
}

/// What a session has sent and not yet seen answered.
#[derive(Default)]
struct InFlight {
    /// New rows (claimed from `outbox`), by id.
    live: BTreeMap<i64, Sent>,
    /// Replayed events (from `outbox_applied`): never the same ids as `live`.
    replayed: BTreeSet<i64>,
    /// Set at the first claim: see [`SessionEnd::left_claims`].
    claimed: bool,
}

/// Runs one session against `endpoint` until shutdown (`Ok`) or a failure (`Err`). Rows still
/// in flight when it ends are released so the next session sends them first; a replay in
/// progress resumes in the next session from its first unanswered event.
pub(super) async fn run_session(
    store: &Store,
    config: &RelayConfig,
    endpoint: &str,
    shutdown: &CancellationToken,
    replay: &mut Option<Replay>,
) -> Result<(), SessionEnd> {
    let mut inflight = InFlight::default();
    let mut made_progress = false;
    let result = drive(
        store,
        config,
        endpoint,
        shutdown,
        &mut inflight,
        replay,
        &mut made_progress,
    )
    .await;
    let ids: Vec<i64> = inflight.live.into_keys().collect();
    if let Err(error) = sql(store.release_outbox(&ids, false)).await {
        tracing::warn!(%error, "releasing in-flight outbox rows");
    }
    if let (Some(replay), Some(first)) = (replay.as_mut(), inflight.replayed.first()) {
        replay.rewind(first - 1);
    }
    result.map_err(|error| SessionEnd {
        error,
        made_progress,
        left_claims: inflight.claimed,
    })
}

async fn drive(
    store: &Store,
    config: &RelayConfig,
    endpoint: &str,
    shutdown: &CancellationToken,
    inflight: &mut InFlight,
    replay: &mut Option<Replay>,
    made_progress: &mut bool,
) -> Result<(), String> {
    let dial = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| format!("bad fanout endpoint: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(20));
    let channel = config
        .tls
        .apply(dial)
        .map_err(|e| format!("fanout endpoint TLS: {e}"))?
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut client = FanoutServiceClient::new(feedline_service_kit::client_channel(
        channel,
        &config.credential,
    ));
    let (tx, rx) = mpsc::channel::<FanoutRequest>(4);
    let mut acks = client
        .fanout(ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("open stream: {s}"))?
        .into_inner();
    tracing::info!(%endpoint, "outbox relay connected");

    let signal = store.outbox_signal();
    let lease_ms = config.lease.as_millis() as i64;
    // Highest id looked at in this pass; None means "start from the oldest row".
    let mut after: Option<i64> = None;
    // The authors waiting behind a failed event of theirs; nobody else waits.
    let mut holds = Holds::default();
    // A held event's backoff ended: send nothing new until everything in flight is answered,
    // then go back to the front of the outbox, where it is (so nothing of its author passes it).
    let mut rescan = false;

    loop {
        rescan |= holds.take_due(now_ms());
        if rescan && inflight.live.is_empty() {
            rescan = false;
            after = None;
        }
        if replay.is_some() {
            // New rows wait until the replay is done: none may overtake an older event of its
            // author. The replay itself starts once every new row sent is answered.
            if inflight.live.is_empty() && send_replay(store, config, &tx, inflight, replay).await?
            {
                continue;
            }
        } else if !rescan && inflight.live.len() < config.window {
            let room = (config.window - inflight.live.len()).min(config.batch) as u64;
            let mut decoded = HashMap::new();
            inflight.claimed = true;
            let claim = sql(
                store.claim_outbox_picking(after, room, lease_ms, |row, now| {
                    if inflight.live.contains_key(&row.id) {
                        return false;
                    }
                    let event = decode_row(row);
                    let key = event.as_ref().ok().and_then(ordering_key);
                    let take = holds.pick(row.id, key, row.available_at_ms, now);
                    if take {
                        decoded.insert(row.id, (event, key));
                    }
                    take
                }),
            )
            .await
            .map_err(|e| format!("claim: {e}"))?;
            if let Some(last) = claim.last_seen {
                after = Some(last);
                send_claimed(store, &tx, inflight, claim.rows, decoded).await?;
                continue;
            }
            if !store.is_sqlite() {
                // PostgreSQL and MySQL commit concurrent writers in any order, so a row can
                // commit below the cursor after the pass went by it. The next claim starts from
                // the oldest row again: rows in flight hold their lease and are skipped, and a
                // late row (a concurrent writer's, so it commutes with what went ahead) is sent.
                // On SQLite one writer commits in id order, so the cursor never passes a row.
                after = None;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = acks.message() => {
                let (response, ended) = gather(message, &mut acks);
                if let Some(mut response) = response {
                    if let Some(request) = response.replay.take() {
                        tracing::info!(reason = %request.reason, "fanout-service asked for a replay of the retained outbox window");
                        *replay = Some(Replay::new(&request));
                    }
                    let round = apply_acks(store, config, response, inflight, replay, &mut holds).await?;
                    *made_progress = true;
                    if round.reconnect {
                        // fanout-service turns away the later events of an author whose event
                        // answered RETRY until that event is sent again on the same stream; a
                        // given-up event never is, and a new stream starts without that hold.
                        return Err("gave up on an event fanout-service kept retrying; a new stream lets its author's later events go on".to_owned());
                    }
                }
                if let Some(ended) = ended {
                    return Err(ended);
                }
            }
            _ = signal.notified(), if !rescan => {}
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// Sends the rows a claim took; a row whose payload does not decode is given up on at once.
async fn send_claimed(
    store: &Store,
    tx: &mpsc::Sender<FanoutRequest>,
    inflight: &mut InFlight,
    rows: Vec<crate::entity::outbox::Model>,
    mut decoded: HashMap<i64, (Result<FanoutEvent, String>, Option<i64>)>,
) -> Result<(), String> {
    let now = now_ms();
    let mut events = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let Some((event, key)) = decoded.remove(&row.id) else {
            continue;
        };
        match event {
            Ok(event) => {
                inflight.live.insert(
                    row.id,
                    Sent {
                        key,
                        attempts: row.attempts,
                    },
                );
                events.push(event_from_row(row, event, now));
            }
            Err(error) => unreadable.push(Burial {
                letter: GiveUp {
                    id: row.id,
                    attempts: row.attempts + 1,
                    error,
                },
                author: None,
            }),
        }
    }
    bury(store, unreadable).await?;
    if !events.is_empty() {
        tx.send(FanoutRequest { events })
            .await
            .map_err(|_| "stream closed while sending".to_owned())?;
    }
    Ok(())
}

/// Sends the replay's next page if it may go now; returns whether it sent anything. Ends the
/// replay once everything is sent and answered.
async fn send_replay(
    store: &Store,
    config: &RelayConfig,
    tx: &mpsc::Sender<FanoutRequest>,
    inflight: &mut InFlight,
    slot: &mut Option<Replay>,
) -> Result<bool, String> {
    let Some(replay) = slot.as_mut() else {
        return Ok(false);
    };
    if !replay.ready(&inflight.replayed) || inflight.replayed.len() >= config.window {
        return Ok(false);
    }
    let room = (config.window - inflight.replayed.len()).min(config.batch) as u64;
    let rows = sql(store.applied_page(replay.after, replay.since_ms, room))
        .await
        .map_err(|e| format!("replay read: {e}"))?;
    let Some(last) = rows.last().map(|r| r.id) else {
        if inflight.replayed.is_empty() {
            tracing::info!(events = replay.applied, "outbox replay finished");
            *slot = None;
        }
        return Ok(false);
    };
    replay.after = last;
    let events: Vec<_> = rows.into_iter().filter_map(replay_from_row).collect();
    inflight.replayed.extend(events.iter().map(|e| e.event_id));
    if events.is_empty() {
        return Ok(true);
    }
    tx.send(FanoutRequest { events })
        .await
        .map_err(|_| "stream closed while sending".to_owned())?;
    Ok(true)
}

/// Most acks recorded in one bookkeeping round.
const MAX_ACKS_PER_ROUND: usize = 10_000;

/// The answer just read plus every answer already waiting behind it, so that one bookkeeping
/// transaction covers them all (while it commits, more arrive: the next round is larger).
/// Also returns why the stream ended, if it did: what arrived before that is recorded first.
fn gather(
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
struct Round {
    /// An event that answered RETRY was given up on: the stream must be replaced.
    reconnect: bool,
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
async fn apply_acks(
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
