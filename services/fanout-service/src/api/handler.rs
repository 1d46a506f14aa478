//! `feedline.fanout.v1.FanoutService`: opens a session per stream; posts replay requests.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use feedline_proto::fanout::v1::fanout_service_server::{FanoutService, FanoutServiceServer};
use feedline_proto::fanout::v1::{
    FanoutRequest, FanoutResponse, ReplayOutboxRequest, ReplayOutboxResponse, ReplayRequest,
};
use feedline_service_kit::CancellationToken;
use feedline_service_kit::layers::{OpenStream, hold};
use futures::Stream;
use tokio::sync::{OnceCell, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::replay::ReplayBroker;
use super::session;
use crate::timelines::Timelines;

/// Unanswered bytes per stream when `FEEDLINE_FANOUT_MAX_UNACKED_BYTES` is unset: 64 MiB.
pub const DEFAULT_MAX_UNACKED_BYTES: usize = 64 << 20;

/// The largest `FanoutRequest` decoded: 1000 events (the contract's most) of a 2000-character
/// post (up to 8000 bytes of UTF-8) and its envelope fit, with room; tonic's 4 MiB default did
/// not. A larger message ends the stream with OUT_OF_RANGE before it is buffered whole.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;

/// Shared by every stream: the timelines once Redis is reachable, and the limits.
pub struct AppState {
    timelines: OnceCell<Timelines>,
    /// Lanes per stream.
    pub lanes: usize,
    /// Unanswered events per stream, at most.
    pub max_unacked: usize,
    /// Encoded bytes of the unanswered events per stream, at most.
    pub max_unacked_bytes: usize,
    /// Cancelled at shutdown: sessions stop reading, finish what they hold, and end the stream.
    pub shutdown: CancellationToken,
    /// Replay requests waiting for a stream (from the topology watcher and `ReplayOutbox`).
    pub replays: ReplayBroker,
    /// Streams open now.
    pub(super) streams: AtomicUsize,
}

impl AppState {
    /// State with no Redis connection yet.
    pub fn new(lanes: usize, max_unacked: usize, shutdown: CancellationToken) -> Self {
        Self {
            timelines: OnceCell::new(),
            lanes,
            max_unacked,
            max_unacked_bytes: DEFAULT_MAX_UNACKED_BYTES,
            shutdown,
            replays: ReplayBroker::default(),
            streams: AtomicUsize::new(0),
        }
    }

    /// The same state with `bytes` (`FEEDLINE_FANOUT_MAX_UNACKED_BYTES`) as the per-stream
    /// bound on unanswered bytes.
    pub fn with_max_unacked_bytes(mut self, bytes: usize) -> Self {
        self.max_unacked_bytes = bytes;
        self
    }

    /// Installs the connected timelines (once).
    pub fn set_timelines(&self, timelines: Timelines) {
        let _ = self.timelines.set(timelines);
    }

    /// The timelines, if Redis has been reached.
    pub fn timelines(&self) -> Option<&Timelines> {
        self.timelines.get()
    }
}

/// The FanoutService handler.
#[derive(Clone)]
pub struct FanoutApi {
    state: Arc<AppState>,
}

impl FanoutApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    /// The gRPC service, decoding messages up to [`MAX_REQUEST_BYTES`].
    pub fn into_server(self) -> FanoutServiceServer<Self> {
        FanoutServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES)
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<FanoutResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FanoutService for FanoutApi {
    type FanoutStream = AckStream;

    async fn fanout(
        &self,
        mut request: Request<Streaming<FanoutRequest>>,
    ) -> Result<Response<Self::FanoutStream>, Status> {
        // Counted against FEEDLINE_MAX_OPEN_STREAMS until the acks stream ends or is dropped.
        let open = OpenStream::take(&mut request);
        let timelines = self
            .state
            .timelines()
            .cloned()
            .ok_or_else(|| Status::unavailable("redis cluster not connected yet; retry"))?;
        let inbound = request.into_inner();
        let (acks, rx) = mpsc::channel(64);
        tokio::spawn(session::run(inbound, timelines, acks, self.state.clone()));
        Ok(Response::new(Box::pin(hold(open, ReceiverStream::new(rx)))))
    }

    async fn replay_outbox(
        &self,
        request: Request<ReplayOutboxRequest>,
    ) -> Result<Response<ReplayOutboxResponse>, Status> {
        let minutes = super::validate::replay_minutes(request.into_inner().since_minutes)?;
        let since = (minutes > 0).then(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            feedline_proto::millis_to_timestamp(now - i64::from(minutes) * 60_000)
        });
        self.state.replays.post(ReplayRequest {
            since,
            reason: "admin".into(),
        });
        tracing::info!(since_minutes = minutes, "outbox replay requested");
        Ok(Response::new(ReplayOutboxResponse {
            sent: self.state.streams.load(Ordering::Relaxed) > 0,
        }))
    }
}
