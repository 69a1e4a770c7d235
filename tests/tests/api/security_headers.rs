//! Security headers on every answer, `Cache-Control: no-store` on plans and tokens, and CORS for
//! configured origins only.

use cairn_shared::ErrorCode;
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use cairn_tests::{Answer, TestApp};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const ALLOWED: &str = "https://plans.example.org";
const OTHER: &str = "https://evil.example.com";

#[track_caller]
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    assert_security_headers_without_cors(headers, what);
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "no CORS without an Origin, on {what}"
    );
}

/// The headers every answer carries, whether or not CORS applies.
#[track_caller]
fn assert_security_headers_without_cors(headers: &HeaderMap, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {what}: {headers:?}"
        );
    }
    assert!(
        headers.contains_key("permissions-policy"),
        "permissions-policy on {what}"
    );
    assert!(
        !headers.contains_key("strict-transport-security"),
        "no HSTS over plain HTTP without a proxy, on {what}"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let owner = app.register("alice").await;
    let plan = app.create_plan(&owner, "Plan").await;

    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    assert_security_headers(&health.headers, "/healthz");

    let ok = app.get("/api/v1/me", owner.token()).await;
    assert_eq!(ok.status, 200);
    assert_security_headers(&ok.headers, "a 200");

    let unauthorized = app.request(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(unauthorized.status, 401);
    assert_security_headers(&unauthorized.headers, "a 401");

    let missing = app.request(Method::GET, "/no/such/route", None, None).await;
    missing.assert_error(404, ErrorCode::NotFound);
    assert_security_headers(&missing.headers, "a 404");

    let wrong_method = app.request(Method::PUT, "/healthz", None, None).await;
    wrong_method.assert_error(405, ErrorCode::MethodNotAllowed);
    assert_security_headers(&wrong_method.headers, "a 405");

    let bad_json = app
        .send_raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            "application/json",
            "{",
        )
        .await;
    assert_eq!(bad_json.status, 400);
    assert_security_headers(&bad_json.headers, "a 400");

    let got = app
        .get(&format!("/api/v1/plans/{plan}"), owner.token())
        .await;
    assert_eq!(got.status, 200, "body: {}", got.body);
    assert_security_headers(&got.headers, "a plan");
}

#[tokio::test]
async fn tokens_and_plans_are_never_cached() {
    let app = TestApp::spawn().await;
    let owner = app.register("alice").await;
    let plan = app.create_plan(&owner, "Plan").await;

    let no_store = |answer: &Answer, what: &str| {
        assert!(answer.status.is_success(), "{what}: {}", answer.body);
        assert_eq!(
            answer
                .headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what}"
        );
    };

    let register = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({
                "username": "bob",
                "displayName": "Bob",
                "password": cairn_tests::PASSWORD,
            })),
        )
        .await;
    no_store(&register, "register");
    let refresh_token = register.body["refreshToken"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let login = app.login_answer("alice", cairn_tests::PASSWORD).await;
    no_store(&login, "login");
    let refresh = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({ "refreshToken": refresh_token })),
        )
        .await;
    no_store(&refresh, "refresh");
    no_store(&app.get("/api/v1/me", owner.token()).await, "me");
    no_store(&app.get("/api/v1/plans", owner.token()).await, "plan list");
    for path in [
        format!("/api/v1/plans/{plan}"),
        format!("/api/v1/plans/{plan}/history"),
        format!("/api/v1/plans/{plan}/changes"),
        format!("/api/v1/plans/{plan}/access-log"),
        format!("/api/v1/plans/{plan}/export?format=json"),
    ] {
        no_store(&app.get(&path, owner.token()).await, &path);
    }
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client.request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the request is answered")
}

/// A browser's CORS preflight for `POST /api/v1/plans` with a bearer token and a JSON body.
async fn preflight(client: &reqwest::Client, app: &TestApp, origin: &str) -> reqwest::Response {
    send(
        client,
        app,
        Method::OPTIONS,
        "/api/v1/plans",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
    )
    .await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn_with(|s| {
        s.cors_allowed_origins = vec![ALLOWED.into()];
    })
    .await;
    let owner = app.register("alice").await;
    let client = reqwest::Client::new();

    let allowed = preflight(&client, &app, ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(header(&allowed, "access-control-max-age").is_some());
    assert!(header(&allowed, "access-control-allow-credentials").is_none());
    assert_security_headers_on(&allowed);

    let refused = preflight(&client, &app, OTHER).await;
    assert!(!refused.status().is_success(), "{}", refused.status());
    assert!(header(&refused, "access-control-allow-origin").is_none());
    assert!(header(&refused, "access-control-allow-methods").is_none());
    assert_security_headers_on(&refused);

    let bearer = format!("Bearer {}", owner.token());
    let actual = send(
        &client,
        &app,
        Method::GET,
        "/api/v1/me",
        &[("origin", ALLOWED), ("authorization", &bearer)],
    )
    .await;
    assert_eq!(actual.status(), 200);
    assert_eq!(
        header(&actual, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let exposed = header(&actual, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-automerge-heads"), "{exposed}");

    let foreign = send(
        &client,
        &app,
        Method::GET,
        "/api/v1/me",
        &[("origin", OTHER), ("authorization", &bearer)],
    )
    .await;
    assert!(header(&foreign, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn no_cors_headers_without_configured_origins() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let preflight = send(
        &client,
        &app,
        Method::OPTIONS,
        "/api/v1/plans",
        &[
            ("origin", ALLOWED),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert!(header(&preflight, "access-control-allow-origin").is_none());
    assert!(header(&preflight, "access-control-allow-methods").is_none());
    assert_security_headers_on(&preflight);

    let actual = send(
        &client,
        &app,
        Method::GET,
        "/healthz",
        &[("origin", ALLOWED)],
    )
    .await;
    assert_eq!(actual.status(), 200);
    assert!(header(&actual, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn hsts_only_behind_a_trusted_proxy_and_csp_is_configurable() {
    let app = TestApp::spawn_with(|s| {
        s.trust_proxy = true;
        s.content_security_policy = "default-src 'self'".into();
    })
    .await;
    let answer = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        answer
            .headers
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    assert_eq!(
        answer
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some("default-src 'self'")
    );

    let app = TestApp::spawn_with(|s| {
        s.trust_proxy = true;
        s.hsts_max_age_secs = 0;
    })
    .await;
    let answer = app.request(Method::GET, "/healthz", None, None).await;
    assert!(!answer.headers.contains_key("strict-transport-security"));
}

#[track_caller]
fn assert_security_headers_on(response: &reqwest::Response) {
    let what = format!("{} {}", response.status(), response.url());
    assert_security_headers_without_cors(response.headers(), &what);
}

#[tokio::test]
async fn built_in_tls_serves_https_with_hsts() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).expect("the certificate is written");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("the key is written");

    let database_url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("a database");
    let settings = cairn_server::config::Settings {
        listen: "127.0.0.1:0".parse().expect("an address"),
        data_dir: dir.path().to_owned(),
        database_url: Some(database_url.into()),
        jwt_secret: Some(cairn_tests::TEST_JWT_SECRET.into()),
        tls_cert_path: Some(cert_path),
        tls_key_path: Some(key_path),
        registration: cairn_shared::api::RegistrationMode::Open,
        ..Default::default()
    };
    let app = cairn_server::startup::Application::build(settings)
        .await
        .expect("Cairn starts with TLS");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes())
                .expect("a PEM certificate"),
        )
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .expect("an HTTPS client");
    let answer = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        header(&answer, "strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(header(&answer, "x-content-type-options"), Some("nosniff"));

    // A phone syncs over the same TLS port: the WebSocket upgrade and its frames run on the
    // TLS stream (`wss://`).
    let registered: serde_json::Value = client
        .post(format!("https://localhost:{port}/api/v1/auth/register"))
        .json(&json!({
            "username": "maria",
            "displayName": "Maria",
            "password": "a long enough password",
            "deviceName": "phone",
        }))
        .send()
        .await
        .expect("an HTTPS answer")
        .json()
        .await
        .expect("tokens");
    let token = registered["accessToken"].as_str().expect("an access token");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(certified.cert.der().clone())
        .expect("the certificate is trusted");
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("a connection");
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("a name"),
            tcp,
        )
        .await
        .expect("a TLS session");
    let (mut socket, _) = tokio_tungstenite::client_async(
        format!("wss://localhost:{port}/sync?token={token}"),
        stream,
    )
    .await
    .expect("the WebSocket upgrade over TLS");
    let join = Message::Join {
        sender_id: PeerId("phone".into()),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    socket
        .send(WsMessage::Binary(protocol::encode(&join).into()))
        .await
        .expect("sent");
    // The server may ping first; the answer is the first binary frame.
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("an answer in time");
    let Some(Ok(WsMessage::Binary(bytes))) = answer else {
        panic!("expected a binary frame, got {answer:?}");
    };
    assert!(
        matches!(protocol::decode(&bytes), Ok(Message::Peer { .. })),
        "the server answers the handshake over TLS"
    );
    // Its frames go out at once over TLS too (see `sync::the_server_sends_each_message_at_once`).
    let accepted = crate::accepted_connections(port);
    assert!(!accepted.is_empty(), "the server's end of the connection");
    for (peer, nodelay) in accepted {
        assert!(
            nodelay,
            "the TLS connection from {peer} holds small writes back"
        );
    }

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
}
