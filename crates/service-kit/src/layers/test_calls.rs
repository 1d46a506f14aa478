//! What the layers' unit tests share: a call to a path, that call answered by a layered
//! service, and the gRPC status an answer carries.

use tower::{Service, ServiceExt as _};

/// A call to `path` with an empty body.
pub(super) fn request(path: &str) -> http::Request<()> {
    http::Request::builder().uri(path).body(()).unwrap()
}

/// `svc`'s answer to a call to `path`, once it is ready.
pub(super) async fn answer<S>(svc: &mut S, path: &str) -> http::Response<String>
where
    S: Service<http::Request<()>, Response = http::Response<String>>,
    S::Error: std::fmt::Debug,
{
    svc.ready()
        .await
        .unwrap()
        .call(request(path))
        .await
        .unwrap()
}

/// The `grpc-status` header of a layer's answer (absent when the inner service answered).
pub(super) fn grpc_status(response: &http::Response<String>) -> Option<&str> {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
}
