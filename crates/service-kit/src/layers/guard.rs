//! The scaffolding the kit's inbound layers share: each layer is a [`Guard`] (its settings and
//! shared state) that admits or refuses one call and may bound it while it runs; [`Guarded`] is
//! the tower service around the inner one, which passes `poll_ready` through, never shows a
//! guard the exempt paths (health, reflection), and answers a refusal with its gRPC status.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What one inbound layer does with a call that is not exempt.
pub trait Guard: Clone {
    /// What an admitted call holds until its response head is ready (a permit); dropped then.
    type Ticket: Send + 'static;

    /// Whether calls to `path` concern this guard at all; the others pass untouched.
    fn applies(&self, _path: &str) -> bool {
        true
    }

    /// Admits `request` (and may leave it an extension for the handler), or refuses it with
    /// the status the caller gets at once.
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<Self::Ticket, tonic::Status>;

    /// Runs an admitted call's `response` future; by default to its end, then drops the ticket.
    /// An error is the status the caller gets instead of the response.
    fn run<T: 'static>(
        ticket: Self::Ticket,
        response: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, tonic::Status>> + Send + 'static {
        async move {
            let response = response.await;
            drop(ticket);
            Ok(response)
        }
    }
}

/// The service a guard's layer makes: `inner` behind `guard`.
#[derive(Clone, Debug)]
pub struct Guarded<S, G> {
    inner: S,
    guard: G,
}

impl<S, G> Guarded<S, G> {
    /// `inner` behind `guard`.
    pub(crate) fn new(inner: S, guard: G) -> Self {
        Self { inner, guard }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, G, B, RB> tower::Service<http::Request<B>> for Guarded<S, G>
where
    G: Guard,
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        if super::is_exempt(path) || !self.guard.applies(path) {
            return Box::pin(self.inner.call(request));
        }
        match self.guard.admit(&mut request) {
            Ok(ticket) => {
                let run = G::run(ticket, self.inner.call(request));
                Box::pin(async move { run.await.unwrap_or_else(|status| Ok(status.into_http())) })
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}
