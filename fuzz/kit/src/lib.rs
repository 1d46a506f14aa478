//! The pure parts of `feedline-service-kit` the fuzzed code uses, compiled from their own
//! source files: the fuzz build then needs neither tonic's server nor sea-orm.

#[path = "../../../crates/service-kit/src/page_token.rs"]
pub mod page_token;
#[path = "../../../crates/service-kit/src/validation.rs"]
pub mod validation;
