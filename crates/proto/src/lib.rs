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

/// One proto package: `pub mod $area { pub mod v1 { .. } }` holding its generated code, and
/// the glue modules written beside it (in `src/$area/v1/`).
macro_rules! package {
    ($(#[$doc:meta])* $area:ident, $package:literal $(, $($glue:item)+)?) => {
        $(#[$doc])*
        pub mod $area {
            /// Version 1.
            pub mod v1 {
                tonic::include_proto!($package);
                $($($glue)+)?
            }
        }
    };
}

package!(
    /// Users and the follow graph (`feedline.graph.v1`).
    graph,
    "feedline.graph.v1"
);

package!(
    /// Posts (`feedline.post.v1`).
    post,
    "feedline.post.v1"
);

package!(
    /// Fan-out events between the outbox relay and fanout-service (`feedline.fanout.v1`),
    /// with what every hop of the fan-out path shares: the event kinds, their labels and
    /// ordering key (`kind`), and the event encoded once (`encoded`, `relay_client`).
    fanout,
    "feedline.fanout.v1",
    mod encoded;
    mod kind;
    mod relay_client;
    pub use encoded::{EncodedFanoutRequest, Envelope, OutboxPayload};
    pub use kind::{EventKind, NO_KIND_LABEL};
    pub use relay_client::RelayClient;
);

package!(
    /// Home timeline reads (`feedline.feed.v1`).
    feed,
    "feedline.feed.v1"
);

package!(
    /// Log ingestion and queries (`feedline.logs.v1`).
    logs,
    "feedline.logs.v1"
);
