//! log-ingest-service over real gRPC, the same suite on SQLite, PostgreSQL and MySQL/MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

feedline_test_harness::on_every_backend!(
    ingested_records_come_back_newest_first_with_every_filter,
    pages_resume_and_tokens_are_bound_to_their_query,
    keys_are_required_and_read_only_their_app,
    client_record_ids_make_retries_safe,
    bad_records_are_refused_with_their_field,
    undecodable_strings_are_invalid_argument,
    streams_answer_each_request_by_id,
    create_app_validates_and_refuses_taken_names,
    every_character_survives_each_bulk_path,
);

mod cases {
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

    pub async fn ingested_records_come_back_newest_first_with_every_filter(s: &TestServer) {
        let key = s.create_app("shop").await;
        let mut traced = at(record("paid 100% in cash", ""), 3000, Severity::Warn);
        traced.trace_id = "0af7651916cd43dd8448eb211c80319c".into();
        traced.service = "payments".into();
        let records = vec![
            at(record("cart opened", "a"), 4000, Severity::Debug),
            traced,
            at(record("cart closed", "c"), 2000, Severity::Info),
            at(record("db down", "d"), 1000, Severity::Error),
        ];
        assert_eq!(ingest(s, &key, records).await, (4, 0));
        assert_eq!(count_rows(&s.db).await, 4);

        let all = query(s, &key, QueryLogsRequest::default()).await;
        assert_eq!(
            all,
            ["db down", "cart closed", "paid 100% in cash", "cart opened"]
        );
        let warn = QueryLogsRequest {
            min_level: Severity::Warn as i32,
            ..Default::default()
        };
        assert_eq!(query(s, &key, warn).await, ["db down", "paid 100% in cash"]);
        let trace = QueryLogsRequest {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            ..Default::default()
        };
        assert_eq!(query(s, &key, trace).await, ["paid 100% in cash"]);
        let service = QueryLogsRequest {
            service: "payments".into(),
            ..Default::default()
        };
        assert_eq!(query(s, &key, service).await, ["paid 100% in cash"]);
        // LIKE's wildcards match literally, and the match is case-sensitive everywhere.
        let percent = QueryLogsRequest {
            message_contains: "0% in".into(),
            ..Default::default()
        };
        assert_eq!(query(s, &key, percent).await, ["paid 100% in cash"]);
        let wildcard = QueryLogsRequest {
            message_contains: "c_rt".into(),
            ..Default::default()
        };
        assert!(query(s, &key, wildcard).await.is_empty());
        let upper = QueryLogsRequest {
            message_contains: "CART".into(),
            ..Default::default()
        };
        assert!(query(s, &key, upper).await.is_empty());
        let window = QueryLogsRequest {
            start_time: Some(now_minus(3500)),
            end_time: Some(now_minus(1500)),
            ..Default::default()
        };
        assert_eq!(
            query(s, &key, window).await,
            ["cart closed", "paid 100% in cash"]
        );

        // The record comes back as sent.
        let full = s
            .client
            .clone()
            .query_logs(with_key(&key, QueryLogsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let last = full.records.last().unwrap();
        let sent = last.record.as_ref().unwrap();
        assert_eq!(sent.client_record_id, "a");
        assert_eq!(
            sent.attributes.get("region").map(String::as_str),
            Some("eu")
        );
        assert_eq!(sent.level, Severity::Debug as i32);
        assert!(last.record_id > 0 && last.receive_time.is_some());
    }

    pub async fn pages_resume_and_tokens_are_bound_to_their_query(s: &TestServer) {
        let key = s.create_app("pager").await;
        // Seven records, two sharing one timestamp: the cursor must not skip or repeat them.
        let mut records: Vec<LogRecord> = (0..7)
            .map(|i| {
                at(
                    record(&format!("m{i}"), ""),
                    10_000 - i * 1000,
                    Severity::Info,
                )
            })
            .collect();
        records[4].time = records[3].time;
        ingest(s, &key, records).await;
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = s
                .client
                .clone()
                .query_logs(with_key(
                    &key,
                    QueryLogsRequest {
                        page_size: Some(2),
                        page_token: token.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(page.records.len() <= 2);
            seen.extend(page.records.into_iter().map(|r| r.record.unwrap().message));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
        assert_eq!(
            &seen[..3],
            ["m6", "m5", "m4"][..]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
        let unique: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 7);

        // A token of one query is refused by another, and garbage is refused.
        let first = s
            .client
            .clone()
            .query_logs(with_key(
                &key,
                QueryLogsRequest {
                    page_size: Some(2),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        for (token, min_level) in [
            (first.next_page_token.clone(), Severity::Warn),
            ("garbage".into(), Severity::Unspecified),
        ] {
            let err = s
                .client
                .clone()
                .query_logs(with_key(
                    &key,
                    QueryLogsRequest {
                        min_level: min_level as i32,
                        page_token: token,
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_err();
            assert_violation(&err, "page_token");
        }
        let err = s
            .client
            .clone()
            .query_logs(with_key(
                &key,
                QueryLogsRequest {
                    page_size: Some(1001),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_violation(&err, "page_size");
    }

    pub async fn keys_are_required_and_read_only_their_app(s: &TestServer) {
        let a = s.create_app("app-a").await;
        let b = s.create_app("app-b").await;
        ingest(s, &a, vec![record("from a", "x")]).await;
        ingest(s, &b, vec![record("from b", "x")]).await;
        assert_eq!(query(s, &a, QueryLogsRequest::default()).await, ["from a"]);
        assert_eq!(query(s, &b, QueryLogsRequest::default()).await, ["from b"]);

        let mut client = s.client.clone();
        let missing = client
            .ingest(IngestRequest {
                records: vec![record("x", "")],
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated);
        let unknown = client
            .ingest(with_key(
                "flk_not-a-key",
                IngestRequest {
                    records: vec![record("x", "")],
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::Unauthenticated);
        let query_unknown = client
            .query_logs(with_key("flk_nope", QueryLogsRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(query_unknown.code(), Code::Unauthenticated);
        assert_eq!(count_rows(&s.db).await, 2, "refused calls stored nothing");
    }

    pub async fn client_record_ids_make_retries_safe(s: &TestServer) {
        let key = s.create_app("retry").await;
        let call = vec![
            record("one", "id-1"),
            record("two", "id-2"),
            record("three", ""),
        ];
        assert_eq!(ingest(s, &key, call.clone()).await, (3, 0));
        // The retry: ids already stored are acknowledged, not stored again; no id, no guard.
        assert_eq!(ingest(s, &key, call).await, (1, 2));
        // The same id twice in one call: stored once.
        let twice = vec![record("four", "id-4"), record("four again", "id-4")];
        assert_eq!(ingest(s, &key, twice).await, (1, 1));
        assert_eq!(count_rows(&s.db).await, 5);
        // Ids are per app: another app may use the same one.
        let other = s.create_app("other").await;
        assert_eq!(ingest(s, &other, vec![record("one", "id-1")]).await, (1, 0));
    }

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

    pub async fn create_app_validates_and_refuses_taken_names(s: &TestServer) {
        let mut client = s.client.clone();
        let created = client
            .create_app(as_admin(CreateAppRequest {
                name: "billing".into(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(created.app_key.starts_with("flk_"));
        let app = created.app.unwrap();
        assert_eq!(app.name, "billing");
        let key = created.key.unwrap();
        assert_eq!(key.app_id, app.app_id);
        assert!(key.key_id > 0 && key.revoke_time.is_none());
        let taken = client
            .create_app(as_admin(CreateAppRequest {
                name: "billing".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(taken.code(), Code::AlreadyExists);
        let bad = client
            .create_app(as_admin(CreateAppRequest {
                name: "Not OK".into(),
            }))
            .await
            .unwrap_err();
        assert_violation(&bad, "name");
    }
}

/// A request no generated client can send: a `string` field holding invalid UTF-8.
mod raw {
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
        let codec: tonic_prost::ProstCodec<RawIngestRequest, ()> =
            tonic_prost::ProstCodec::default();
        grpc.unary(
            crate::common::with_key(key, request),
            PathAndQuery::from_static("/feedline.logs.v1.LogService/Ingest"),
            codec,
        )
        .await
        .unwrap_err()
    }
}
