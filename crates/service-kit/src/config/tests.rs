//! Tests of the config readers: defaults, ranges, the auth and credential settings.

use std::time::Duration;

use super::*;

#[test]
fn defaults_use_the_service_port() {
    let c = ServerConfig::from_env(&Env::from_pairs(&[]), 50051).unwrap();
    assert_eq!(c.listen_addr.to_string(), "0.0.0.0:50051");
    assert_eq!(c.request_timeout, Duration::from_secs(10));
    assert_eq!(c.max_concurrent_requests, 1024);
    assert_eq!(c.max_open_streams, 256);
    assert_eq!(c.http2_max_concurrent_streams, 256);
    assert_eq!(c.max_connections, 4096);
}

#[test]
fn reads_are_recorded_whether_set_or_not() {
    let c = Env::from_pairs(&[("FEEDLINE_LISTEN_ADDR", "127.0.0.1:1"), ("UNRELATED", "x")]);
    ServerConfig::from_env(&c, 1).unwrap();
    let read = c.read_names();
    assert!(read.contains("FEEDLINE_LISTEN_ADDR"));
    assert!(
        read.contains("FEEDLINE_SHUTDOWN_GRACE_MS"),
        "unset names count too"
    );
    assert!(!read.contains("UNRELATED"));
    // Neither the raw map nor iteration counts as a read.
    assert_eq!(c.vars().len(), 2);
    assert_eq!(c.iter().count(), 2);
    assert_eq!(c.read_names(), read);
    assert_eq!(c.clone().read_names(), read);
}

#[test]
fn debug_shows_names_not_values() {
    let c = Env::from_pairs(&[("FEEDLINE_ADMIN_TOKEN", "s3cret")]);
    let shown = format!("{c:?}");
    assert!(
        shown.contains("FEEDLINE_ADMIN_TOKEN") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[test]
fn bad_values_name_the_variable() {
    let err = ServerConfig::from_env(&Env::from_pairs(&[("FEEDLINE_LISTEN_ADDR", "nope")]), 1)
        .unwrap_err();
    assert_eq!(err.variable, "FEEDLINE_LISTEN_ADDR");
    let err = ServerConfig::from_env(
        &Env::from_pairs(&[("FEEDLINE_MAX_CONCURRENT_REQUESTS", "0")]),
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("between 1 and"), "{err}");
    for name in [
        "FEEDLINE_MAX_OPEN_STREAMS",
        "FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS",
        "FEEDLINE_MAX_CONNECTIONS",
    ] {
        let err = ServerConfig::from_env(&Env::from_pairs(&[(name, "0")]), 1).unwrap_err();
        assert_eq!(err.variable, name);
    }
}

#[test]
fn a_ranged_value_is_parsed_then_bounded() {
    let read = |value: &str| ranged_or(&Env::from_pairs(&[("N", value)]), "N", 5u32, 1..=10);
    assert_eq!(read("").unwrap(), 5, "unset or empty: the default");
    assert_eq!((read("1").unwrap(), read(" 10 ").unwrap()), (1, 10));
    let err = read("11").unwrap_err();
    assert_eq!((err.variable.as_str(), err.value.as_str()), ("N", "11"));
    assert!(err.reason.contains("between 1 and 10"), "{err}");
    assert_eq!(read("x").unwrap_err().variable, "N");
    let env = Env::new();
    assert!(
        ranged_or(&env, "N", 0u32, 1..=10).is_err(),
        "so is the default"
    );
}

#[test]
fn auth_is_read_from_a_file_or_the_document_itself() {
    let off = ServerConfig::from_env(&Env::from_pairs(&[]), 1).unwrap();
    assert!(off.auth.is_none() && !off.credential.is_set());

    let keys = feedline_auth::DevKeys::generate("iss", "aud");
    let jwks = keys.jwks_json();
    let inline = Env::from_pairs(&[
        ("FEEDLINE_AUTH_JWKS", jwks.as_str()),
        ("FEEDLINE_AUTH_ISSUER", "iss"),
        ("FEEDLINE_SERVICE_TOKEN", "abc.def.ghi"),
    ]);
    let on = ServerConfig::from_env(&inline, 1).unwrap();
    let auth = on.auth.unwrap();
    assert!(
        matches!(&auth.keys, feedline_auth::KeySource::Fixed(k) if k.len() == 1),
        "{:?}",
        auth.keys
    );
    assert_eq!(auth.issuer.as_deref(), Some("iss"));
    assert_eq!(auth.audience, None);
    assert_eq!(auth.admin_scope, "feedline:admin");
    assert!(on.credential.is_set());

    let dir = std::env::temp_dir().join(format!("service-kit-jwks-{}", std::process::id()));
    keys.save(&dir).unwrap();
    let path = feedline_auth::DevKeys::jwks_path(&dir)
        .display()
        .to_string();
    let file = ServerConfig::from_env(
        &Env::from_pairs(&[("FEEDLINE_AUTH_JWKS", path.as_str())]),
        1,
    );
    assert!(file.unwrap().auth.is_some());
    std::fs::remove_dir_all(&dir).unwrap();

    let missing = Env::from_pairs(&[("FEEDLINE_AUTH_JWKS", "/nonexistent/jwks.json")]);
    let err = ServerConfig::from_env(&missing, 1).unwrap_err();
    assert_eq!(err.variable, "FEEDLINE_AUTH_JWKS");
    let token_file = dir.with_extension("token");
    std::fs::write(&token_file, "abc.def.ghi\n").unwrap();
    let path = token_file.display().to_string();
    let from_file = Env::from_pairs(&[("FEEDLINE_SERVICE_TOKEN_FILE", path.as_str())]);
    assert!(
        ServerConfig::from_env(&from_file, 1)
            .unwrap()
            .credential
            .is_set()
    );
    let both = Env::from_pairs(&[
        ("FEEDLINE_SERVICE_TOKEN_FILE", path.as_str()),
        ("FEEDLINE_SERVICE_TOKEN", "x"),
    ]);
    assert!(ServerConfig::from_env(&both, 1).is_err());
    std::fs::remove_file(&token_file).unwrap();
    let leeway = Env::from_pairs(&[("FEEDLINE_AUTH_LEEWAY_S", "9999")]);
    assert_eq!(
        ServerConfig::from_env(&leeway, 1).unwrap_err().variable,
        "FEEDLINE_AUTH_LEEWAY_S"
    );
}

#[test]
fn auth_keys_may_come_from_a_url() {
    let cognito = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/.well-known/jwks.json";
    let url = Env::from_pairs(&[
        ("FEEDLINE_AUTH_JWKS", cognito),
        ("FEEDLINE_AUTH_JWKS_REFRESH_S", "60"),
    ]);
    let auth = auth_from_env(&url).unwrap().unwrap();
    let feedline_auth::KeySource::Url(source) = &auth.keys else {
        panic!("not a URL source: {:?}", auth.keys);
    };
    assert_eq!(source.url.as_str(), cognito);
    assert_eq!(source.refresh, Duration::from_secs(60));
    let local = Env::from_pairs(&[("FEEDLINE_AUTH_JWKS", "http://127.0.0.1:8080/jwks")]);
    let auth = auth_from_env(&local).unwrap().unwrap();
    assert!(
        matches!(&auth.keys, feedline_auth::KeySource::Url(s) if s.refresh == Duration::from_secs(300))
    );

    let bad_url = Env::from_pairs(&[("FEEDLINE_AUTH_JWKS", "https://")]);
    assert_eq!(
        auth_from_env(&bad_url).unwrap_err().variable,
        "FEEDLINE_AUTH_JWKS"
    );
    let too_often = Env::from_pairs(&[
        ("FEEDLINE_AUTH_JWKS", cognito),
        ("FEEDLINE_AUTH_JWKS_REFRESH_S", "1"),
    ]);
    assert_eq!(
        auth_from_env(&too_often).unwrap_err().variable,
        "FEEDLINE_AUTH_JWKS_REFRESH_S"
    );
}
