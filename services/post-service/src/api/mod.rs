//! gRPC adapters: take the request, validate it, call the [`crate::store::Store`], map the
//! result. No business logic lives here.

mod graph;
mod posts;
mod state;
mod status;

pub use graph::GraphApi;
pub use posts::PostApi;
pub use state::AppState;
