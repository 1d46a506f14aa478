//! What a session sends: the rows a claim took, and the pages of a replay, each event as the
//! writer encoded it (see `events`).

use std::collections::HashMap;

use feedline_proto::fanout::v1::EncodedFanoutRequest;
use tokio::sync::mpsc;

use super::RelayConfig;
use super::dead_letters::{Burial, bury};
use super::deadline::sql;
use super::events::{event_from_row, replay_from_row};
use super::replay::Replay;
use super::session::{InFlight, Sent};
use crate::entity::outbox;
use crate::ids::now_ms;
use crate::store::{GiveUp, Store};

/// Sends the rows a claim took, each with its check (`events::check_row`: its ordering key); a row
/// whose payload does not decode is given up on at once.
pub(super) async fn send_claimed(
    store: &Store,
    tx: &mpsc::Sender<EncodedFanoutRequest>,
    inflight: &mut InFlight,
    rows: Vec<outbox::Model>,
    mut checked: HashMap<i64, Result<Option<i64>, String>>,
) -> Result<(), String> {
    let now = now_ms();
    let mut events = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let Some(check) = checked.remove(&row.id) else {
            continue;
        };
        match check {
            Ok(key) => {
                inflight.live.insert(
                    row.id,
                    Sent {
                        key,
                        attempts: row.attempts,
                    },
                );
                events.push(event_from_row(row, now));
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
        tx.send(EncodedFanoutRequest { events })
            .await
            .map_err(|_| "stream closed while sending".to_owned())?;
    }
    Ok(())
}

/// Sends the replay's next page if it may go now; returns whether it sent anything. Ends the
/// replay once everything is sent and answered.
pub(super) async fn send_replay(
    store: &Store,
    config: &RelayConfig,
    tx: &mpsc::Sender<EncodedFanoutRequest>,
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
    let mut events = Vec::with_capacity(rows.len());
    for (id, event) in rows.into_iter().filter_map(replay_from_row) {
        inflight.replayed.insert(id);
        events.push(event);
    }
    if events.is_empty() {
        return Ok(true);
    }
    tx.send(EncodedFanoutRequest { events })
        .await
        .map_err(|_| "stream closed while sending".to_owned())?;
    Ok(true)
}
