//! Every feedline gRPC contract, one module per proto package (`feedline.<area>.v1`).
//!
//! Services use `tonic` and `prost` through the re-exports here, so the whole workspace
//! agrees on one version of each.

pub use prost;
pub use prost_types;
pub use tonic;

pub mod codec;
mod time;

pub use time::{millis_to_timestamp, timestamp_to_millis};

/// Encoded `FileDescriptorSet` of every feedline package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("feedline_descriptor");

/// Users and the follow graph (`feedline.graph.v1`).
pub mod graph {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("feedline.graph.v1");
    }
}

/// Posts (`feedline.post.v1`).
pub mod post {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("feedline.post.v1");
    }
}

/// Fan-out events between the outbox relay and fanout-service (`feedline.fanout.v1`).
pub mod fanout {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("feedline.fanout.v1");
    }
}

/// Home timeline reads (`feedline.feed.v1`).
pub mod feed {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("feedline.feed.v1");
    }
}

/// Log ingestion and queries (`feedline.logs.v1`).
pub mod logs {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("feedline.logs.v1");
    }
}
