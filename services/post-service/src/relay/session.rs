//! One relay session: a connection, a `Fanout` stream, claims sent in order (`send`), acks
//! applied (`acks`), and replays sent when fanout-service asks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use feedline_proto::fanout::v1::{EncodedFanoutRequest, RelayClient};
use feedline_service_kit::CancellationToken;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::RelayConfig;
use super::acks::{apply_acks, gather};
use super::deadline::sql;
use super::events::check_row;
use super::holds::Holds;
use super::replay::Replay;
use super::send::{send_claimed, send_replay};
use crate::ids::now_ms;
use crate::store::Store;

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
pub(super) struct Sent {
    /// Its ordering key (author), when its payload names one.
    pub key: Option<i64>,
    /// Failed attempts before this one.
    pub attempts: i32,
}

/// What a session has sent and not yet seen answered.
#[derive(Default)]
pub(super) struct InFlight {
    /// New rows (claimed from `outbox`), by id.
    pub live: BTreeMap<i64, Sent>,
    /// Replayed events (from `outbox_applied`): never the same ids as `live`.
    pub replayed: BTreeSet<i64>,
    /// Set at the first claim: see [`SessionEnd::left_claims`].
    pub claimed: bool,
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
    let mut client = RelayClient::new(feedline_service_kit::client_channel(
        channel,
        &config.credential,
    ));
    let (tx, rx) = mpsc::channel::<EncodedFanoutRequest>(4);
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
            let mut checked = HashMap::new();
            inflight.claimed = true;
            let claim = sql(
                store.claim_outbox_picking(after, room, lease_ms, |row, now| {
                    if inflight.live.contains_key(&row.id) {
                        return false;
                    }
                    let check = check_row(row);
                    let key = check.as_ref().ok().copied().flatten();
                    let take = holds.pick(row.id, key, row.available_at_ms, now);
                    if take {
                        checked.insert(row.id, check);
                    }
                    take
                }),
            )
            .await
            .map_err(|e| format!("claim: {e}"))?;
            if let Some(last) = claim.last_seen {
                after = Some(last);
                send_claimed(store, &tx, inflight, claim.rows, checked).await?;
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
