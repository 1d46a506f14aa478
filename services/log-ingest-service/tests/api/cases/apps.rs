//! Apps and keys: a key reads only its app, client record ids make retries safe, CreateApp validates.

use super::*;

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
