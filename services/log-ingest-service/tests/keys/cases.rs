//! The cases run on every backend: rotation, listing, validation, the admin token, revocation seen by other replicas and by open streams.

use std::time::Duration;

use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{
    AppKey, CreateAppRequest, IngestRequest, IngestStreamRequest, ListAppKeysRequest,
    QueryLogsRequest, RevokeAppKeyRequest, RotateAppKeyRequest,
};
use feedline_test_harness::eventually;
use log_ingest_service::apps::secret::hash_key;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::common::{TestServer, admin_calls, as_admin, assert_violation, record, with_key};

/// Creates app `name`: its id, its first key and that key's id.
async fn app(s: &TestServer, name: &str) -> (i64, String, i64) {
    let created = s
        .client
        .clone()
        .create_app(as_admin(CreateAppRequest { name: name.into() }))
        .await
        .unwrap()
        .into_inner();
    let key_id = created.key.unwrap().key_id;
    (created.app.unwrap().app_id, created.app_key, key_id)
}

async fn rotate(s: &TestServer, app_id: i64, app_name: &str) -> Result<(AppKey, String), Status> {
    let request = RotateAppKeyRequest {
        app_id,
        app_name: app_name.into(),
    };
    let answer = s.client.clone().rotate_app_key(as_admin(request)).await?;
    let answer = answer.into_inner();
    Ok((answer.key.unwrap(), answer.app_key))
}

async fn revoke(s: &TestServer, key_id: i64) -> Result<AppKey, Status> {
    let request = RevokeAppKeyRequest { key_id };
    let answer = s.client.clone().revoke_app_key(as_admin(request)).await?;
    Ok(answer.into_inner().key.unwrap())
}

/// One record sent with `key`: Ok, or the refusal.
async fn send(client: &LogServiceClient<Channel>, key: &str, message: &str) -> Result<(), Status> {
    let request = IngestRequest {
        records: vec![record(message, "")],
    };
    client
        .clone()
        .ingest(with_key(key, request))
        .await
        .map(drop)
}

/// Asserts `result` is the refusal of a revoked key, and that it does not echo the key.
fn assert_revoked(result: Result<(), Status>, key: &str) {
    let status = result.expect_err("a revoked key is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "app key revoked");
    assert!(!format!("{status:?}").contains(key));
}

pub async fn rotation_issues_a_new_key_and_keeps_the_old_until_revoked(s: &TestServer) {
    let (app_id, old, old_id) = app(s, "rotor").await;
    let (new_key, new) = rotate(s, 0, "rotor").await.unwrap();
    assert_ne!(new, old);
    assert!(new.starts_with("flk_"));
    assert_ne!(new_key.key_id, old_id);
    assert_eq!(new_key.app_id, app_id);
    assert!(new_key.create_time.is_some() && new_key.revoke_time.is_none());

    // Both keys are the same app's while the clients roll over.
    send(&s.client, &old, "with the old key").await.unwrap();
    send(&s.client, &new, "with the new key").await.unwrap();
    let page = s
        .client
        .clone()
        .query_logs(with_key(&new, QueryLogsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.records.len(),
        2,
        "the new key reads the old key's records"
    );

    let revoked = revoke(s, old_id).await.unwrap();
    assert_eq!((revoked.key_id, revoked.app_id), (old_id, app_id));
    let revoke_time = revoked.revoke_time.expect("revoked");
    // The replica it was revoked through refuses it at once.
    assert_revoked(send(&s.client, &old, "too late").await, &old);
    send(&s.client, &new, "still fine").await.unwrap();
    let again = revoke(s, old_id).await.unwrap();
    assert_eq!(
        again.revoke_time,
        Some(revoke_time),
        "revocation is kept, not renewed"
    );

    // By id as well as by name.
    let (by_id, third) = rotate(s, app_id, "").await.unwrap();
    assert_eq!(by_id.app_id, app_id);
    send(&s.client, &third, "third key").await.unwrap();
}

pub async fn listed_keys_show_ids_and_times_never_secrets(s: &TestServer) {
    let (app_id, first, first_id) = app(s, "listed").await;
    let (second_key, second) = rotate(s, app_id, "").await.unwrap();
    revoke(s, first_id).await.unwrap();
    app(s, "unrelated").await;
    for request in [
        ListAppKeysRequest {
            app_id,
            app_name: String::new(),
        },
        ListAppKeysRequest {
            app_id: 0,
            app_name: "listed".into(),
        },
    ] {
        let answer = s
            .client
            .clone()
            .list_app_keys(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<_> = answer.keys.iter().map(|k| k.key_id).collect();
        assert_eq!(
            ids,
            [first_id, second_key.key_id],
            "oldest first, this app's only"
        );
        assert!(answer.keys.iter().all(|k| k.app_id == app_id));
        assert!(answer.keys[0].revoke_time.is_some());
        assert!(answer.keys[1].revoke_time.is_none());
        // Neither a key nor its hash, in any field.
        let bytes = answer.encode_to_vec();
        for secret in [
            first.clone(),
            hash_key(&first),
            second.clone(),
            hash_key(&second),
        ] {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "ListAppKeys holds a secret");
        }
    }
}

pub async fn key_rpcs_validate_and_answer_not_found(s: &TestServer) {
    let (app_id, _, _) = app(s, "valid").await;
    let neither = rotate(s, 0, "").await.unwrap_err();
    assert_violation(&neither, "app_id");
    assert_violation(&neither, "app_name");
    assert_violation(&rotate(s, app_id, "valid").await.unwrap_err(), "app_name");
    assert_violation(&rotate(s, -4, "").await.unwrap_err(), "app_id");
    assert_violation(&rotate(s, 0, "Not OK").await.unwrap_err(), "app_name");
    for missing in [rotate(s, app_id + 1, "").await, rotate(s, 0, "nope").await] {
        assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    }

    assert_violation(&revoke(s, 0).await.unwrap_err(), "key_id");
    assert_eq!(revoke(s, 12_345).await.unwrap_err().code(), Code::NotFound);

    let list = |app_id, app_name: &str| {
        let request = ListAppKeysRequest {
            app_id,
            app_name: app_name.into(),
        };
        let mut client = s.client.clone();
        async move { client.list_app_keys(as_admin(request)).await }
    };
    assert_violation(&list(0, "").await.unwrap_err(), "app_id");
    assert_eq!(list(0, "nope").await.unwrap_err().code(), Code::NotFound);
}

pub async fn admin_rpcs_need_the_admin_token(s: &TestServer) {
    let (app_id, key, key_id) = app(s, "guarded").await;
    for token in [None, Some("wrong-token"), Some(key.as_str())] {
        for (rpc, status) in admin_calls(&s.client, token, app_id, key_id).await {
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{rpc} with {token:?}"
            );
            assert!(
                status.message().contains("x-admin-token"),
                "{rpc}: {status:?}"
            );
            if let Some(token) = token {
                assert!(!status.message().contains(token), "{rpc} echoed the token");
            }
        }
    }
    // None of them did anything: the key still works and is the app's only one.
    send(&s.client, &key, "untouched").await.unwrap();
    let listed = s
        .client
        .clone()
        .list_app_keys(as_admin(ListAppKeysRequest {
            app_id,
            app_name: String::new(),
        }))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().keys.len(), 1);
}

pub async fn a_key_revoked_through_one_replica_is_refused_by_another_within_the_ttl(
    s: &TestServer,
) {
    const TTL: Duration = Duration::from_millis(1000);
    let replica = s
        .replica(&[("FEEDLINE_APP_KEY_CACHE_TTL_MS", "1000")])
        .await;
    let (_, key, key_id) = app(s, "replicated").await;
    let (_, next) = rotate(s, 0, "replicated").await.unwrap();
    // The replica knows (and caches) the key before it is revoked.
    send(&replica.client, &key, "via the replica")
        .await
        .unwrap();

    revoke(s, key_id).await.unwrap();
    // The replica's TTL, and slack for a slow machine.
    let refused = eventually("the replica refuses the revoked key", TTL * 10, || async {
        match send(&replica.client, &key, "after the revocation").await {
            Ok(()) => anyhow::bail!("still accepted"),
            Err(status) => Ok(status),
        }
    })
    .await
    .unwrap();
    assert_revoked(Err(refused), &key);
    send(&replica.client, &next, "the rotated key works there")
        .await
        .unwrap();
    replica.stop().await;
}

pub async fn an_open_stream_ends_once_its_key_is_revoked(s: &TestServer) {
    let (_, key, key_id) = app(s, "streamer").await;
    let (tx, rx) = mpsc::channel(4);
    let mut answers = s
        .client
        .clone()
        .ingest_stream(with_key(&key, ReceiverStream::new(rx)))
        .await
        .unwrap()
        .into_inner();
    let batch = |request_id: u64| IngestStreamRequest {
        request_id,
        records: vec![record(&format!("batch {request_id}"), "")],
    };
    tx.send(batch(1)).await.unwrap();
    let first = answers.message().await.unwrap().expect("an answer");
    assert_eq!((first.request_id, first.code), (1, 0));

    revoke(s, key_id).await.unwrap();
    tx.send(batch(2)).await.unwrap();
    let ended = answers.message().await.expect_err("the stream ends");
    assert_eq!(ended.code(), Code::Unauthenticated);
    assert_eq!(ended.message(), "app key revoked");
    drop(tx);
}
