//! The cases of the suite, one module per part of the API; the helpers they share are here.

use feedline_proto::logs::v1::{
    CreateAppRequest, IngestRequest, IngestStreamRequest, LogRecord, QueryLogsRequest, Severity,
};
use tonic::Code;

use crate::common::{
    TestServer, as_admin, assert_violation, count_rows, now_minus, record, with_key,
};

fn at(mut r: LogRecord, millis_ago: i64, level: Severity) -> LogRecord {
    r.time = Some(now_minus(millis_ago));
    r.level = level as i32;
    r
}

async fn ingest(s: &TestServer, key: &str, records: Vec<LogRecord>) -> (i32, i32) {
    let answer = s
        .client
        .clone()
        .ingest(with_key(key, IngestRequest { records }))
        .await
        .unwrap()
        .into_inner();
    (answer.accepted, answer.duplicates)
}

async fn query(s: &TestServer, key: &str, q: QueryLogsRequest) -> Vec<String> {
    let answer = s.client.clone().query_logs(with_key(key, q)).await.unwrap();
    answer
        .into_inner()
        .records
        .into_iter()
        .map(|r| r.record.unwrap().message)
        .collect()
}

mod apps;
mod bulk;
mod queries;
mod validation;

pub use apps::*;
pub use bulk::*;
pub use queries::*;
pub use validation::*;
