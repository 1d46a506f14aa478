//! Replay requests on their way to a relay: posted by the topology watcher or the
//! `ReplayOutbox` RPC, taken by exactly one `Fanout` stream, which asks its relay to re-send
//! the retained window. One relay replaying is enough (each replays the whole database's
//! window) and spares Redis the same writes twice.

use std::sync::Mutex;

use feedline_proto::fanout::v1::ReplayRequest;
use tokio::sync::Notify;

/// The request waiting for a stream, if any.
#[derive(Default)]
pub struct ReplayBroker {
    pending: Mutex<Option<ReplayRequest>>,
    /// One permit per post: wakes one waiting stream, or the next stream to wait.
    ready: Notify,
}

impl ReplayBroker {
    /// Posts a request. Merged with one still waiting, keeping the one that covers more.
    pub fn post(&self, request: ReplayRequest) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let merged = match pending.take() {
            Some(waiting) if covers_more(&waiting, &request) => waiting,
            _ => request,
        };
        *pending = Some(merged);
        drop(pending);
        self.ready.notify_one();
    }

    /// Waits until a request is posted and takes it (one stream gets each request).
    pub async fn take(&self) -> ReplayRequest {
        loop {
            self.ready.notified().await;
            if let Some(request) = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                return request;
            }
        }
    }

    /// True when a request waits for a stream.
    pub fn is_pending(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// True when `a` asks for at least what `b` does (an earlier `since`; unset is the earliest).
fn covers_more(a: &ReplayRequest, b: &ReplayRequest) -> bool {
    let since = |r: &ReplayRequest| {
        r.since
            .as_ref()
            .and_then(feedline_proto::timestamp_to_millis)
            .unwrap_or(0)
    };
    since(a) <= since(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> ReplayRequest {
        ReplayRequest {
            since: Some(feedline_proto::millis_to_timestamp(ms)),
            reason: "test".into(),
        }
    }

    #[tokio::test]
    async fn a_request_waits_for_a_stream_and_goes_to_one() {
        let broker = ReplayBroker::default();
        broker.post(at(5));
        broker.post(at(3));
        broker.post(at(9));
        assert!(broker.is_pending());
        assert_eq!(
            broker.take().await,
            at(3),
            "merged into the one covering most"
        );
        assert!(!broker.is_pending());
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), broker.take());
        assert!(second.await.is_err(), "taken once");
    }
}
