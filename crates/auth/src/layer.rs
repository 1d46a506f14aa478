//! The inbound layer: authenticates from the request's metadata, before the body is read (an
//! anonymous caller cannot make a server buffer a large message), applies [`crate::access`],
//! and hands the [`Caller`] to the handler in the request's extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::caller::Caller;
use crate::policy::{Access, access};
use crate::verify::Verifier;

/// Authentication for every call of a server; `None` turns it off (every caller is trusted).
#[derive(Clone, Debug)]
pub struct AuthLayer {
    verifier: Option<Arc<Verifier>>,
}

impl AuthLayer {
    /// Verifies with `verifier`; `None`: authentication off.
    pub fn new(verifier: Option<Arc<Verifier>>) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    verifier: Option<Arc<Verifier>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let required = access(request.uri().path());
        if required == Access::Open {
            return Box::pin(self.inner.call(request));
        }
        let caller = match &self.verifier {
            None => Caller::trusted(),
            Some(verifier) => {
                match verifier.authenticate(request.headers().get(http::header::AUTHORIZATION)) {
                    Ok(caller) => caller,
                    Err(error) => {
                        let status = tonic::Status::unauthenticated(error.to_string());
                        return Box::pin(async move { Ok(status.into_http()) });
                    }
                }
            }
        };
        if let Err(reason) = required.allows(&caller) {
            let status = tonic::Status::permission_denied(reason);
            return Box::pin(async move { Ok(status.into_http()) });
        }
        request.extensions_mut().insert(caller);
        Box::pin(self.inner.call(request))
    }
}
