//! Streams answer each request by id; every character survives each bulk write path.

use super::*;

pub async fn streams_answer_each_request_by_id(s: &TestServer) {
    let key = s.create_app("stream").await;
    let requests = vec![
        IngestStreamRequest {
            request_id: 7,
            records: vec![record("s1", "s1"), record("s2", "s2")],
        },
        IngestStreamRequest {
            request_id: 8,
            records: vec![],
        },
        IngestStreamRequest {
            request_id: 9,
            records: vec![record("s1", "s1"), record("s3", "s3")],
        },
    ];
    let mut answers = s
        .client
        .clone()
        .ingest_stream(with_key(&key, tokio_stream::iter(requests)))
        .await
        .unwrap()
        .into_inner();
    let mut by_id = std::collections::HashMap::new();
    while let Some(answer) = answers.message().await.unwrap() {
        by_id.insert(answer.request_id, answer);
    }
    assert_eq!(
        by_id.len(),
        3,
        "one answer per request, then the stream ends"
    );
    // Requests 7 and 9 both carry s1 and may be written by two writers at once: either may
    // store it, and the other counts it as a duplicate.
    assert_eq!(by_id[&7].code, 0);
    assert!((1..=2).contains(&by_id[&7].accepted), "{:?}", by_id[&7]);
    assert_eq!(
        by_id[&8].code,
        Code::InvalidArgument as i32,
        "a bad batch is answered in-band"
    );
    assert!(by_id[&8].message.contains("records"));
    assert_eq!(by_id[&9].code, 0);
    assert_eq!(
        by_id[&7].accepted + by_id[&9].accepted,
        3,
        "s1 is stored once"
    );
    assert_eq!(count_rows(&s.db).await, 3);

    let unauthenticated = s
        .client
        .clone()
        .ingest_stream(tokio_stream::iter(Vec::<IngestStreamRequest>::new()))
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
}

/// Batches without client ids take COPY on PostgreSQL, others the array INSERT: text
/// that needs escaping in either comes back byte for byte.
pub async fn every_character_survives_each_bulk_path(s: &TestServer) {
    let key = s.create_app("chars").await;
    let text = "tab\there\nnew line\\back\\slash\r 'quote' \"dq\" é 🦀 \\N %_";
    let mut plain = record(text, "");
    plain.service = "svc\twith\ttabs".into();
    plain.attributes = [("k\t\"".to_owned(), "v\n\\".to_owned())].into();
    ingest(s, &key, vec![plain.clone()]).await;
    let mut with_id = plain.clone();
    with_id.client_record_id = "id\twith\\odd chars".into();
    ingest(s, &key, vec![with_id.clone()]).await;
    let page = s
        .client
        .clone()
        .query_logs(with_key(&key, QueryLogsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.records.len(), 2);
    for stored in page.records {
        let r = stored.record.unwrap();
        let sent = if r.client_record_id.is_empty() {
            &plain
        } else {
            &with_id
        };
        assert_eq!(&r, sent);
    }
}
