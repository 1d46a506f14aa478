//! The gRPC face of the service: `feedline.feed.v1.FeedService`, a thin adapter over `feed`.

mod status;
mod validate;

use std::sync::{Arc, OnceLock};

use feedline_proto::feed::v1::feed_service_server::FeedService;
use feedline_proto::feed::v1::{FeedItem, FeedItemSource, GetFeedRequest, GetFeedResponse};
use feedline_service_kit::auth::{BEARER_HEADER, Caller};
use tonic::{Request, Response, Status};

use crate::error::FeedError;
use crate::feed::{Feed, Source};

/// What the handlers share: the feed, once the cluster is connected.
#[derive(Default)]
pub struct AppState {
    feed: OnceLock<Feed>,
}

impl AppState {
    /// Installs the feed (once; later calls are ignored).
    pub fn set_feed(&self, feed: Feed) {
        let _ = self.feed.set(feed);
    }

    fn feed(&self) -> Result<&Feed, FeedError> {
        self.feed.get().ok_or(FeedError::NotReady(
            "not yet connected to the Redis Cluster",
        ))
    }
}

/// The FeedService handlers.
#[derive(Clone)]
pub struct FeedApi {
    state: Arc<AppState>,
}

impl FeedApi {
    /// Handlers over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl FeedService for FeedApi {
    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn get_feed(
        &self,
        request: Request<GetFeedRequest>,
    ) -> Result<Response<GetFeedResponse>, Status> {
        let caller = Caller::of(request.extensions())
            .map_err(FeedError::from)?
            .clone();
        let authorization = request
            .metadata()
            .get(BEARER_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let request = validate::get_feed(&request.into_inner())?;
        let feed = self.state.feed()?;
        feed.check_reader(&caller, authorization.as_deref(), request.user_id)
            .await?;
        let page = feed
            .page(request.user_id, request.page_size, request.after)
            .await?;
        Ok(Response::new(GetFeedResponse {
            items: page
                .items
                .into_iter()
                .map(|item| FeedItem {
                    post: Some(item.post),
                    source: match item.source {
                        Source::Fanout => FeedItemSource::Fanout,
                        Source::Pulled => FeedItemSource::Pulled,
                    }
                    .into(),
                })
                .collect(),
            next_page_token: page
                .next
                .map(|cursor| cursor.encode(request.user_id))
                .unwrap_or_default(),
        }))
    }
}
