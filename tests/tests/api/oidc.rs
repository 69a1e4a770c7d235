//! Staff sign-in with the agency's identity provider, end to end against a real OpenID provider
//! (panva's certified `oidc-provider`, tests/oidc/provider.mjs, on loopback): the browser's
//! redirects followed by hand with its cookies, the handoff code traded like the PWA does.
//! Needs `npm ci` in tests/oidc (scripts/test does it).

use std::collections::HashMap;
use std::process::Stdio;

use cairn_shared::ErrorCode;
use cairn_shared::api::RegistrationMode;
use cairn_tests::TestApp;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use reqwest::Method;

async fn anon_post(app: &TestApp, path: &str, body: Value) -> cairn_tests::Answer {
    app.request(Method::POST, path, None, Some(&body)).await
}

/// The provider, stopped when dropped.
struct Provider {
    issuer: String,
    http: reqwest::Client,
    _child: Child,
    // Kept open: the provider's later writes to a closed pipe would stop it.
    _stdout: BufReader<tokio::process::ChildStdout>,
}

impl Provider {
    async fn start(redirect_uri: &str) -> Provider {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in tests/oidc first (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg(redirect_uri)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the provider");
        let stdout = child.stdout.take().expect("the provider's stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .await
            .expect("the provider says where it listens");
        let started: Value = serde_json::from_str(&line).expect("a JSON line");
        Provider {
            issuer: started["issuer"].as_str().expect("issuer").to_owned(),
            http: reqwest::Client::new(),
            _child: child,
            _stdout: stdout,
        }
    }

    async fn control(&self, what: &str, body: Value) {
        let answer = self
            .http
            .post(format!("{}/test/{what}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(answer.status(), 204);
    }

    async fn next_login(&self, account: &str, amr: &[&str]) {
        self.control("next-login", json!({ "account": account, "amr": amr }))
            .await;
    }
}

/// Cairn with staff sign-in through `provider` (admins: group `cairn-admins`; tenant
/// `agency-tenant` only), and the provider (started first, told Cairn's callback).
async fn cairn_and_provider() -> (TestApp, Provider) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let provider = Provider::start(&format!(
        "http://localhost:{port}/api/v1/auth/oidc/callback"
    ))
    .await;
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.listen = ([127, 0, 0, 1], port).into();
        settings.registration = RegistrationMode::Closed;
        settings.oidc_issuer = Some(issuer);
        settings.oidc_client_id = Some("cairn".into());
        settings.oidc_client_secret = Some("cairn-test-secret".to_owned().into());
        settings.oidc_display_name = "Riverside Recovery".into();
        settings.oidc_admin_values = vec!["cairn-admins".into()];
        settings.oidc_allowed_tenants = vec!["agency-tenant".into()];
        // oidc-provider, as the spec says, keeps `offline_access` only with a consent prompt.
        settings.oidc_prompt = Some("consent".into());
    })
    .await;
    (app, provider)
}

/// Where a browser's sign-in ended: the PWA address Cairn sent it to, and the callback URL it
/// came through (to replay).
struct Landing {
    fragment: String,
    callback: String,
}

/// A browser: follows redirects from `/auth/oidc/start` to the PWA, keeping each server's
/// cookies ("localhost" is Cairn on 127.0.0.1).
async fn browser_sign_in(app: &TestApp) -> Landing {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let mut jar: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut url =
        reqwest::Url::parse(&format!("{}/api/v1/auth/oidc/start", app.address)).expect("a URL");
    let mut callback = String::new();
    for _ in 0..10 {
        if url.host_str() == Some("localhost") {
            url.set_host(Some("127.0.0.1")).expect("a host");
        }
        if url.path() == "/api/v1/auth/oidc/callback" {
            callback = url.to_string();
        }
        let authority = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port().unwrap_or(80)
        );
        let cookies = jar
            .get(&authority)
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let mut request = http.get(url.clone());
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies);
        }
        let answer = request.send().await.expect("an answer");
        for set in answer.headers().get_all(SET_COOKIE) {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                jar.entry(authority.clone())
                    .or_default()
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        assert!(
            answer.status().is_redirection(),
            "{url}: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
        let location = answer.headers()[LOCATION]
            .to_str()
            .expect("a location")
            .to_owned();
        let next = url.join(&location).expect("a location URL");
        if let Some(fragment) = next.fragment() {
            assert_eq!(next.path(), "/", "Cairn sends the browser back to the PWA");
            assert!(next.query().is_none(), "nothing in the query: {next}");
            return Landing {
                fragment: fragment.to_owned(),
                callback,
            };
        }
        url = next;
    }
    panic!("too many redirects");
}

/// Sign `account` in at the provider and trade the handoff code: the exchange's answer.
async fn sign_in(app: &TestApp, provider: &Provider, account: &str, amr: &[&str]) -> Value {
    provider.next_login(account, amr).await;
    let landing = browser_sign_in(app).await;
    let code = landing
        .fragment
        .strip_prefix("oidc=")
        .unwrap_or_else(|| panic!("a handoff code, not {}", landing.fragment));
    let answer = anon_post(
        app,
        "/api/v1/auth/oidc/exchange",
        json!({ "code": code, "deviceName": "work laptop" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The code works once.
    anon_post(app, "/api/v1/auth/oidc/exchange", json!({ "code": code }))
        .await
        .assert_error(400, ErrorCode::OidcSignInFailed);
    answer.body
}

#[tokio::test]
async fn staff_sign_in_links_an_account_admin_by_group_and_member_otherwise() {
    let (app, provider) = cairn_and_provider().await;
    let option = app
        .request(Method::GET, "/api/v1/auth/oidc", None, None)
        .await;
    assert_eq!(option.status, 200);
    assert_eq!(option.body["displayName"], "Riverside Recovery");

    // Alice is in the admin group and signed in with two factors at the provider.
    let alice = sign_in(&app, &provider, "alice", &["pwd", "mfa"]).await;
    assert_eq!(alice["account"]["kind"], "admin", "{alice}");
    assert_eq!(alice["account"]["displayName"], "Alice Admin");
    let token = alice["accessToken"].as_str().expect("an access token");
    let accounts = app.get("/api/v1/admin/accounts", token).await;
    assert_eq!(
        accounts.status, 200,
        "the provider's MFA counts: {}",
        accounts.body
    );
    let activity = app.get("/api/v1/me/activity", token).await;
    assert_eq!(activity.body[0]["kind"], "signed-in");
    assert_eq!(activity.body[0]["deviceName"], "work laptop");

    // Signing in again finds the same account; without MFA, admin routes want a second factor.
    let again = sign_in(&app, &provider, "alice", &["pwd"]).await;
    assert_eq!(again["account"]["id"], alice["account"]["id"]);
    let token = again["accessToken"].as_str().expect("an access token");
    app.get("/api/v1/admin/accounts", token)
        .await
        .assert_error(403, ErrorCode::SecondFactorRequired);

    // Bob is staff, not in the admin group: a member.
    let bob = sign_in(&app, &provider, "bob", &["pwd"]).await;
    assert_eq!(bob["account"]["kind"], "member");
    assert_ne!(bob["account"]["id"], alice["account"]["id"]);
    let token = bob["accessToken"].as_str().expect("an access token");
    app.get("/api/v1/admin/accounts", token)
        .await
        .assert_error(403, ErrorCode::AdminOnly);
}

#[tokio::test]
async fn forged_misaddressed_and_replayed_sign_ins_are_refused() {
    let (app, provider) = cairn_and_provider().await;
    provider.next_login("bob", &["pwd"]).await;

    // An ID token signed by another key (with the provider's key id).
    provider.control("tamper", json!({ "mode": "forge" })).await;
    assert_eq!(
        browser_sign_in(&app).await.fragment,
        "oidc-error=oidc_sign_in_failed"
    );
    // One the provider really signed, but for another client.
    provider
        .control("tamper", json!({ "mode": "audience" }))
        .await;
    assert_eq!(
        browser_sign_in(&app).await.fragment,
        "oidc-error=oidc_sign_in_failed"
    );

    // A good sign-in, then its callback again (state used) ...
    provider.control("tamper", json!({ "mode": "none" })).await;
    let good = browser_sign_in(&app).await;
    assert!(good.fragment.starts_with("oidc="), "{}", good.fragment);
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .get(&good.callback)
        .send()
        .await
        .expect("an answer");
    assert_eq!(replayed.status(), 302);
    assert!(
        replayed.headers()[LOCATION]
            .to_str()
            .unwrap_or_default()
            .ends_with("#oidc-error=oidc_sign_in_failed")
    );
    // ... and that sign-in's ID token (its nonce) offered for a new one.
    provider
        .control("tamper", json!({ "mode": "replay" }))
        .await;
    assert_eq!(
        browser_sign_in(&app).await.fragment,
        "oidc-error=oidc_sign_in_failed"
    );
}

#[tokio::test]
async fn a_tenant_not_allowed_is_refused_and_gets_no_account() {
    let (app, provider) = cairn_and_provider().await;
    provider.next_login("mallory", &["pwd", "mfa"]).await;
    assert_eq!(
        browser_sign_in(&app).await.fragment,
        "oidc-error=oidc_not_allowed"
    );
    let users = app.store.users().await.expect("accounts");
    assert!(users.is_empty(), "no account was made: {users:?}");
}

#[tokio::test]
async fn disabling_the_person_at_the_provider_ends_their_session_at_its_next_refresh() {
    let (app, provider) = cairn_and_provider().await;
    let bob = sign_in(&app, &provider, "bob", &["pwd"]).await;
    let refreshed = anon_post(
        &app,
        "/api/v1/auth/refresh",
        json!({ "refreshToken": bob["refreshToken"] }),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);

    provider
        .control("disable", json!({ "account": "bob" }))
        .await;
    anon_post(
        &app,
        "/api/v1/auth/refresh",
        json!({ "refreshToken": refreshed.body["refreshToken"] }),
    )
    .await
    .assert_error(401, ErrorCode::OidcSessionEnded);
    let token = refreshed.body["accessToken"].as_str().expect("a token");
    assert_eq!(
        app.get("/api/v1/me", token).await.status,
        401,
        "the session ended"
    );
}

#[tokio::test]
async fn staff_sign_in_is_off_unless_configured() {
    let app = TestApp::spawn().await;
    app.request(Method::GET, "/api/v1/auth/oidc", None, None)
        .await
        .assert_error(404, ErrorCode::OidcNotConfigured);
    let start = app
        .request(Method::GET, "/api/v1/auth/oidc/start", None, None)
        .await;
    start.assert_error(404, ErrorCode::OidcNotConfigured);
}
