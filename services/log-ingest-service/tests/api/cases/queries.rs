//! Ingest then query: every filter, newest first, pages and their tokens.

use super::*;

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
