//! Staff sign-in with the agency's identity provider, end to end against a real OpenID provider
//! (panva's certified `oidc-provider`, tests/oidc/provider.mjs, on loopback): the browser's
//! redirects followed by hand with its cookies, the handoff code traded like the PWA does.
//! Needs `npm ci` in tests/oidc (scripts/test does it); helpers in tests/src/oidc.rs.

use cairn_shared::ErrorCode;
use cairn_tests::TestApp;
use cairn_tests::oidc::{Provider, browser_sign_in, cairn_and_provider};
use reqwest::Method;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

async fn anon_post(app: &TestApp, path: &str, body: Value) -> cairn_tests::Answer {
    app.request(Method::POST, path, None, Some(&body)).await
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

    // Taken out of the admin group at the provider: a member at the next sign-in.
    provider
        .control("groups", json!({ "account": "alice", "groups": ["staff"] }))
        .await;
    let demoted = sign_in(&app, &provider, "alice", &["pwd", "mfa"]).await;
    assert_eq!(demoted["account"]["id"], alice["account"]["id"]);
    assert_eq!(demoted["account"]["kind"], "member");

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

#[tokio::test]
async fn without_the_providers_mfa_an_admin_answers_cairns_own_second_factor() {
    let (app, provider) = cairn_and_provider().await;
    // Signed in with a password only at the provider: an admin, but not for admin routes yet.
    let first = sign_in(&app, &provider, "alice", &["pwd"]).await;
    let token = first["accessToken"].as_str().expect("an access token");
    let secret = app.enrol_totp_with(token).await;

    // The next sign-in without the provider's MFA asks for the app's code, as after a password.
    let needed = sign_in(&app, &provider, "alice", &["pwd"]).await;
    let challenge = needed["secondFactor"]["challenge"]
        .as_str()
        .unwrap_or_else(|| panic!("a second-factor challenge, not {needed}"));
    let answer = anon_post(
        &app,
        "/api/v1/auth/second-factor",
        json!({ "challenge": challenge, "code": cairn_tests::totp_code(&secret, 1) }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["accessToken"]
        .as_str()
        .expect("an access token");
    assert_eq!(app.get("/api/v1/admin/accounts", token).await.status, 200);

    // With the provider's MFA, no second question.
    let with_mfa = sign_in(&app, &provider, "alice", &["pwd", "mfa"]).await;
    assert!(with_mfa["accessToken"].is_string(), "{with_mfa}");
}
