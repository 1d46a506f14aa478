//! Bad records and undecodable strings are refused with their field.

use super::*;

pub async fn bad_records_are_refused_with_their_field(s: &TestServer) {
    let key = s.create_app("bad").await;
    let mut client = s.client.clone();
    let mut send = async |records: Vec<LogRecord>| {
        client
            .ingest(with_key(&key, IngestRequest { records }))
            .await
            .unwrap_err()
    };
    assert_violation(&send(vec![]).await, "records");
    let mut unknown_level = record("x", "");
    unknown_level.level = 17;
    assert_violation(
        &send(vec![record("ok", ""), unknown_level]).await,
        "records[1].level",
    );
    let mut no_level = record("x", "");
    no_level.level = 0;
    assert_violation(&send(vec![no_level]).await, "records[0].level");
    let mut old = record("x", "");
    old.time = Some(now_minus(8 * 24 * 3600 * 1000));
    assert_violation(&send(vec![old]).await, "records[0].time");
    let mut future = record("x", "");
    future.time = Some(now_minus(-2 * 3600 * 1000));
    assert_violation(&send(vec![future]).await, "records[0].time");
    assert_violation(
        &send(vec![record(&"x".repeat(16_385), "")]).await,
        "records[0].message",
    );
    assert_violation(&send(vec![record("", "")]).await, "records[0].message");
    assert_violation(&send(vec![record("a\0b", "")]).await, "records[0].message");
    let mut trace = record("x", "");
    trace.trace_id = "not-hex".into();
    assert_violation(&send(vec![trace]).await, "records[0].trace_id");
    // Over the 4 MiB call limit, each record within its own.
    let big: Vec<LogRecord> = (0..300).map(|_| record(&"y".repeat(16_000), "")).collect();
    assert_violation(&send(big).await, "records");
    let many: Vec<LogRecord> = (0..1001).map(|i| record(&format!("{i}"), "")).collect();
    assert_violation(&send(many).await, "records");
    assert_eq!(
        count_rows(&s.db).await,
        0,
        "nothing of a refused call is stored"
    );
}

pub async fn undecodable_strings_are_invalid_argument(s: &TestServer) {
    let key = s.create_app("bytes").await;
    let status = crate::raw::ingest_invalid_utf8(s.addr, &key).await;
    assert_violation(&status, "records.message");
    assert_eq!(count_rows(&s.db).await, 0);
}
