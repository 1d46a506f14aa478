//! A request no generated client can send: a `string` field holding invalid UTF-8.

use std::net::SocketAddr;

use tonic::Status;
use tonic::codegen::http::uri::PathAndQuery;

#[derive(Clone, PartialEq, prost::Message)]
struct RawRecord {
    #[prost(message, optional, tag = "1")]
    time: Option<prost_types::Timestamp>,
    #[prost(int32, tag = "2")]
    level: i32,
    /// `string message = 4` in logs.proto, sent as bytes.
    #[prost(bytes = "vec", tag = "4")]
    message: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawIngestRequest {
    #[prost(message, repeated, tag = "1")]
    records: Vec<RawRecord>,
}

pub async fn ingest_invalid_utf8(addr: SocketAddr, key: &str) -> Status {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = RawIngestRequest {
        records: vec![RawRecord {
            time: Some(crate::common::now_minus(0)),
            level: 3,
            message: vec![0x66, 0xff, 0xfe],
        }],
    };
    let codec: tonic_prost::ProstCodec<RawIngestRequest, ()> = tonic_prost::ProstCodec::default();
    grpc.unary(
        crate::common::with_key(key, request),
        PathAndQuery::from_static("/feedline.logs.v1.LogService/Ingest"),
        codec,
    )
    .await
    .unwrap_err()
}
