//! Users: create, read, bad input, duplicate handles.

use super::*;

pub async fn create_and_get_user(s: &TestServer) {
    let created = user(s, "Alice_01").await;
    assert!(created.user_id > 0);
    assert_eq!(
        created.handle, "alice_01",
        "handles are folded to lower case"
    );
    assert!(created.create_time.is_some());
    let got = s
        .graph
        .clone()
        .get_user(GetUserRequest {
            user_id: created.user_id,
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(got, created);
}

pub async fn create_user_rejects_bad_input(s: &TestServer) {
    let mut graph = s.graph.clone();
    for (handle, display_name, field) in [
        ("", "x", "handle"),
        ("ab", "x", "handle"),
        ("has space", "x", "handle"),
        (&*"h".repeat(31), "x", "handle"),
        ("fine_handle", &*"n".repeat(101), "display_name"),
        ("fine_handle", "bell\u{7}", "display_name"),
    ] {
        let status = graph
            .create_user(CreateUserRequest {
                handle: handle.into(),
                display_name: display_name.into(),
                subject: String::new(),
            })
            .await
            .unwrap_err();
        assert_violation(&status, field);
    }
    // Every violation is reported at once.
    let status = graph
        .create_user(CreateUserRequest {
            handle: "!".into(),
            display_name: "n".repeat(101),
            subject: String::new(),
        })
        .await
        .unwrap_err();
    assert_violation(&status, "handle");
    assert_violation(&status, "display_name");
}

pub async fn duplicate_handle_is_already_exists(s: &TestServer) {
    user(s, "bob").await;
    let status = s
        .graph
        .clone()
        .create_user(CreateUserRequest {
            handle: "BOB".into(),
            display_name: String::new(),
            subject: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
}

pub async fn get_user_unknown_or_invalid(s: &TestServer) {
    let mut graph = s.graph.clone();
    let status = graph
        .get_user(GetUserRequest { user_id: 424242 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    for bad in [0, -5] {
        let status = graph
            .get_user(GetUserRequest { user_id: bad })
            .await
            .unwrap_err();
        assert_violation(&status, "user_id");
    }
}
