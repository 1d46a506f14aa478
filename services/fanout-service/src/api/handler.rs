//! `feedline.fanout.v1.FanoutService`: opens a session per stream.

use std::pin::Pin;
use std::sync::Arc;

use feedline_proto::fanout::v1::fanout_service_server::FanoutService;
use feedline_proto::fanout::v1::{FanoutRequest, FanoutResponse};
use feedline_service_kit::CancellationToken;
use futures::Stream;
use tokio::sync::{OnceCell, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::session;
use crate::timelines::Timelines;

/// Shared by every stream: the timelines once Redis is reachable, and the limits.
pub struct AppState {
    timelines: OnceCell<Timelines>,
    /// Lanes per stream.
    pub lanes: usize,
    /// Unanswered events per stream, at most.
    pub max_unacked: usize,
    /// Cancelled at shutdown: sessions stop reading, finish what they hold, and end the stream.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State with no Redis connection yet.
    pub fn new(lanes: usize, max_unacked: usize, shutdown: CancellationToken) -> Self {
        Self {
            timelines: OnceCell::new(),
            lanes,
            max_unacked,
            shutdown,
        }
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
}

type AckStream = Pin<Box<dyn Stream<Item = Result<FanoutResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FanoutService for FanoutApi {
    type FanoutStream = AckStream;

    async fn fanout(
        &self,
        request: Request<Streaming<FanoutRequest>>,
    ) -> Result<Response<Self::FanoutStream>, Status> {
        let timelines = self
            .state
            .timelines()
            .cloned()
            .ok_or_else(|| Status::unavailable("redis cluster not connected yet; retry"))?;
        let inbound = request.into_inner();
        let (acks, rx) = mpsc::channel(64);
        tokio::spawn(session::run(inbound, timelines, acks, self.state.clone()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
