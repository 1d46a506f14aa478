//! gRPC adapters: take the request, validate it, call the [`crate::store::Store`], map the
//! result. No business logic lives here.

mod dead_letters;
mod graph;
mod posts;
mod state;
mod status;
pub mod validate;

pub use graph::GraphApi;
pub use posts::PostApi;
pub use state::AppState;

use feedline_service_kit::auth::Caller;

use crate::error::Error;

/// The caller the auth layer verified (none: UNAUTHENTICATED, never let through).
fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Error> {
    Ok(Caller::of(request.extensions())?.clone())
}
