//! Apps and their keys, apart from gRPC: creating apps, issuing, revoking and listing keys
//! (`admin`), the secrets themselves (`secret`), and the short-lived memory of which key
//! belongs to which app (`cache`).

pub mod admin;
pub mod cache;
pub mod secret;

pub use admin::Issued;
pub use cache::KeyCache;
