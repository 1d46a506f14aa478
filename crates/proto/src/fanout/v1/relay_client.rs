//! The relay's end of `FanoutService.Fanout`: the generated client's call, except that it sends
//! events already encoded ([`EncodedFanoutRequest`]) rather than encoding them again.

use tonic::codegen::{Body, Bytes, StdError, http};

use super::{EncodedFanoutRequest, FanoutResponse};
use crate::codec::ProtoCodec;

/// A `FanoutService` client for the outbox relay.
#[derive(Debug, Clone)]
pub struct RelayClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> RelayClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// A client over `inner`, a channel with whatever layers the caller adds.
    pub fn new(inner: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    /// Opens the `Fanout` stream: `requests` go out as they are; acks come back.
    pub async fn fanout(
        &mut self,
        requests: impl tonic::IntoStreamingRequest<Message = EncodedFanoutRequest>,
    ) -> Result<tonic::Response<tonic::codec::Streaming<FanoutResponse>>, tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {}", e.into())))?;
        let codec = ProtoCodec::<EncodedFanoutRequest, FanoutResponse>::default();
        let path = http::uri::PathAndQuery::from_static("/feedline.fanout.v1.FanoutService/Fanout");
        let mut request = requests.into_streaming_request();
        request.extensions_mut().insert(tonic::GrpcMethod::new(
            super::fanout_service_server::SERVICE_NAME,
            "Fanout",
        ));
        self.inner.streaming(request, path, codec).await
    }
}
