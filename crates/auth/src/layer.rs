//! The inbound layer: authenticates from the request's metadata, before the body is read (an
//! anonymous caller cannot make a server buffer a large message), applies [`crate::access`],
//! and hands the [`Caller`] to the handler in the request's extensions.
//!
//! A token is checked synchronously, in `call`. Only a token whose key is unknown, while the
//! keys come from a URL that may be fetched again, waits for that fetch before it is decided.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::caller::Caller;
use crate::policy::{Access, access};
use crate::verify::{TokenError, Verifier};

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
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
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
            None => Ok(Caller::trusted()),
            Some(verifier) => {
                match verifier.authenticate(request.headers().get(http::header::AUTHORIZATION)) {
                    Err(error) if verifier.may_learn_key(&error) => {
                        // The service that was made ready is taken; a clone waits for the
                        // next call (tower's rule for calling the inner service later).
                        let clone = self.inner.clone();
                        let mut inner = std::mem::replace(&mut self.inner, clone);
                        let verifier = verifier.clone();
                        return Box::pin(async move {
                            verifier.fetch_keys_for_unknown_kid().await;
                            let caller = verifier
                                .authenticate(request.headers().get(http::header::AUTHORIZATION));
                            match admit(required, caller) {
                                Ok(caller) => {
                                    request.extensions_mut().insert(caller);
                                    inner.call(request).await
                                }
                                Err(status) => Ok(status.into_http()),
                            }
                        });
                    }
                    decided => decided,
                }
            }
        };
        match admit(required, caller) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

/// The caller, when its token verified and `required` lets it call; else the refusal.
fn admit(required: Access, caller: Result<Caller, TokenError>) -> Result<Caller, tonic::Status> {
    let caller = caller.map_err(|error| tonic::Status::unauthenticated(error.to_string()))?;
    required
        .allows(&caller)
        .map_err(tonic::Status::permission_denied)?;
    Ok(caller)
}
