//! Two-factor sign-in with an authenticator app (TOTP): adding and confirming it, a login that
//! then needs a code, the refusals (wrong, replayed, rate limited, expired or used challenges),
//! admin routes that need a second factor passed in the session, and an admin resetting another
//! account's lost factor.

use cairn_shared::ErrorCode;
use cairn_tests::{Answer, PASSWORD, TestApp, totp_code};
use reqwest::Method;
use serde_json::{Value, json};

async fn sign_in(app: &TestApp, challenge: &str, code: &str) -> Answer {
    app.request(
        Method::POST,
        "/api/v1/auth/second-factor",
        None,
        Some(&json!({ "challenge": challenge, "code": code, "deviceName": "phone" })),
    )
    .await
}

/// Log in with the password and return the challenge of the second-factor answer.
async fn challenge(app: &TestApp, username: &str) -> String {
    let answer = app.login_answer(username, PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.get("accessToken").is_none(), "{}", answer.body);
    let needed = &answer.body["secondFactor"];
    assert_eq!(needed["methods"], json!(["totp"]));
    assert!(needed["expiresAt"].is_string());
    needed["challenge"].as_str().unwrap().to_owned()
}

fn kinds(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_app_is_added_confirmed_and_its_seed_never_shown_again() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let none = app.get("/api/v1/me/second-factor", maria.token()).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["methods"], json!([]));

    let started = app
        .post("/api/v1/me/second-factor/totp", maria.token(), json!({}))
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let uri = started.body["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Cairn:maria?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")));

    let pending = app.get("/api/v1/me/second-factor", maria.token()).await;
    assert_eq!(pending.body["pending"], true);
    assert_eq!(pending.body["methods"], json!([]));

    // A wrong code keeps it disabled; a login still gives tokens.
    app.post(
        "/api/v1/me/second-factor/totp/confirm",
        maria.token(),
        json!({ "code": "000000" }),
    )
    .await
    .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    app.post(
        "/api/v1/me/second-factor/totp/confirm",
        maria.token(),
        json!({ "code": "abc" }),
    )
    .await
    .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    app.login("maria").await;

    // A new start replaces the pending one: the first seed no longer confirms.
    let again = app
        .post("/api/v1/me/second-factor/totp", maria.token(), json!({}))
        .await;
    let secret2 = again.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, secret2);
    app.post(
        "/api/v1/me/second-factor/totp/confirm",
        maria.token(),
        json!({ "code": totp_code(&secret, 0) }),
    )
    .await
    .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    let confirmed = app
        .post(
            "/api/v1/me/second-factor/totp/confirm",
            maria.token(),
            json!({ "code": totp_code(&secret2, 0) }),
        )
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);

    let enabled = app.get("/api/v1/me/second-factor", maria.token()).await;
    assert_eq!(enabled.body["methods"], json!(["totp"]));
    assert_eq!(enabled.body["pending"], false);
    assert!(!enabled.body.to_string().contains(&secret2));

    app.post("/api/v1/me/second-factor/totp", maria.token(), json!({}))
        .await
        .assert_error(409, ErrorCode::SecondFactorAlreadyEnabled);
    app.post(
        "/api/v1/me/second-factor/totp/confirm",
        maria.token(),
        json!({ "code": totp_code(&secret2, 1) }),
    )
    .await
    .assert_error(404, ErrorCode::SecondFactorNotFound);

    let activity = app.get("/api/v1/me/activity", maria.token()).await;
    assert_eq!(kinds(&activity.body)[0], "second-factor-added");
    assert_eq!(activity.body[0]["detail"], "totp");
    assert!(!activity.body.to_string().contains(&secret2));
    let me = app.get("/api/v1/me", maria.token()).await;
    assert!(!me.body.to_string().contains(&secret2));
}

#[tokio::test]
async fn a_login_with_a_second_factor_needs_a_code_once() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let secret = app.enrol_totp(&maria).await;

    let first = challenge(&app, "maria").await;
    sign_in(&app, &first, "123456")
        .await
        .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    // The confirming code (this time step) is not accepted again; the next step's is.
    let code = totp_code(&secret, 1);
    let signed_in = sign_in(&app, &first, &code).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let token = signed_in.body["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", token).await.status, 200);

    // The challenge is single-use; the code is too (replay), even with a fresh challenge.
    sign_in(&app, &first, &code)
        .await
        .assert_error(401, ErrorCode::SecondFactorChallengeInvalid);
    let second = challenge(&app, "maria").await;
    sign_in(&app, &second, &code)
        .await
        .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    sign_in(&app, "not-a-challenge", &code)
        .await
        .assert_error(401, ErrorCode::SecondFactorChallengeInvalid);

    // A challenge is bound to its account: Maria's code does not answer Sam's.
    let sam = app.register("sam").await;
    app.enrol_totp(&sam).await;
    let sams = challenge(&app, "sam").await;
    sign_in(&app, &sams, &totp_code(&secret, 0))
        .await
        .assert_error(403, ErrorCode::SecondFactorCodeInvalid);

    // An expired challenge is refused.
    let expiring = challenge(&app, "maria").await;
    expire_challenges(&app).await;
    sign_in(&app, &expiring, &totp_code(&secret, 1))
        .await
        .assert_error(401, ErrorCode::SecondFactorChallengeInvalid);

    // A member without a second factor logs in as before.
    app.register("jordan").await;
    let jo = app.login("jordan").await;
    assert!(!jo.token().is_empty());
}

async fn expire_challenges(app: &TestApp) {
    use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => "UPDATE second_factor_challenges SET expires_at = $1",
        _ => "UPDATE second_factor_challenges SET expires_at = ?",
    };
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [past.into()]))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_codes_are_rate_limited() {
    let app = TestApp::spawn_with(|s| {
        s.code_attempts_per_account = 3;
        s.code_attempts_window_secs = 3600;
    })
    .await;
    let maria = app.register("maria").await;
    let secret = app.enrol_totp(&maria).await;
    let first = challenge(&app, "maria").await;
    for _ in 0..3 {
        sign_in(&app, &first, "000000")
            .await
            .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    }
    let limited = sign_in(&app, &first, &totp_code(&secret, 1)).await;
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn admin_routes_need_a_second_factor_passed_in_the_session() {
    let app = TestApp::spawn().await;
    create_admin(&app, "agency").await;
    let before = app.login("agency").await;
    let refused = app.get("/api/v1/admin/accounts", before.token()).await;
    refused.assert_error(403, ErrorCode::SecondFactorRequired);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/me/second-factor/totp")
    );

    // Added from another session: that one passes, the older one still does not.
    let other = app.login("agency").await;
    let secret = app.enrol_totp(&other).await;
    assert_eq!(
        app.get("/api/v1/admin/accounts", other.token())
            .await
            .status,
        200
    );
    app.get("/api/v1/admin/counts", before.token())
        .await
        .assert_error(403, ErrorCode::SecondFactorRequired);

    // Removing it (with a current code) takes admin routes away from every session.
    app.request(
        Method::DELETE,
        "/api/v1/me/second-factor/totp",
        Some(other.token()),
        Some(&json!({ "code": "000000" })),
    )
    .await
    .assert_error(403, ErrorCode::SecondFactorCodeInvalid);
    let removed = app
        .request(
            Method::DELETE,
            "/api/v1/me/second-factor/totp",
            Some(other.token()),
            Some(&json!({ "code": totp_code(&secret, 1) })),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    app.get("/api/v1/admin/counts", other.token())
        .await
        .assert_error(403, ErrorCode::SecondFactorRequired);
    let status = app.get("/api/v1/me/second-factor", other.token()).await;
    assert_eq!(status.body["methods"], json!([]));
    let activity = app.get("/api/v1/me/activity", other.token()).await;
    assert_eq!(kinds(&activity.body)[0], "second-factor-removed");
    // And the password alone signs in again (tokens, no challenge).
    app.login("agency").await;
}

async fn create_admin(app: &TestApp, username: &str) {
    let created = cairn_server::services::accounts::create_account(
        &app.store,
        username,
        &cairn_tests::display_name(username),
        secrecy::SecretString::from(PASSWORD),
        cairn_shared::api::AccountKind::Admin,
    )
    .await;
    assert!(created.is_ok(), "{created:?}");
}

#[tokio::test]
async fn an_admin_signing_in_through_the_second_factor_may_use_admin_routes() {
    let app = TestApp::spawn().await;
    create_admin(&app, "agency").await;
    let first = app.login("agency").await;
    let secret = app.enrol_totp(&first).await;
    // The enrolment used this time step's code; the next one signs in.
    let passed = challenge(&app, "agency").await;
    let answer = sign_in(&app, &passed, &totp_code(&secret, 1)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/admin/counts", token).await.status, 200);
    let activity = app.get("/api/v1/me/activity", token).await;
    assert_eq!(activity.body[0]["kind"], "signed-in");
    assert_eq!(activity.body[0]["deviceName"], "phone");
}

#[tokio::test]
async fn another_admin_resets_a_lost_second_factor() {
    let app = TestApp::spawn().await;
    let agency = app.admin("agency").await;
    let helper = app.admin("helper").await;
    let maria = app.register("maria").await;
    app.enrol_totp(&maria).await;
    let maria_id = maria.user_id().to_string();

    app.post(
        &format!(
            "/api/v1/admin/accounts/{}/second-factor/reset",
            agency.user_id()
        ),
        agency.token(),
        json!({}),
    )
    .await
    .assert_error(422, ErrorCode::ValidationFailed);
    app.post(
        &format!("/api/v1/admin/accounts/{maria_id}/second-factor/reset"),
        maria.token(),
        json!({}),
    )
    .await
    .assert_error(403, ErrorCode::AdminOnly);

    let reset = app
        .post(
            &format!("/api/v1/admin/accounts/{maria_id}/second-factor/reset"),
            helper.token(),
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    // Her sessions ended; she logs in with the password alone now.
    assert_eq!(app.get("/api/v1/me", maria.token()).await.status, 401);
    let maria = app.login("maria").await;
    let activity = app.get("/api/v1/me/activity", maria.token()).await;
    assert!(kinds(&activity.body).contains(&"second-factor-reset".to_owned()));
    let audit = app.get("/api/v1/admin/audit", agency.token()).await;
    assert_eq!(audit.body["entries"][0]["action"], "second-factor-reset");
    assert_eq!(audit.body["entries"][0]["targetId"], maria_id.as_str());
    assert_eq!(
        audit.body["entries"][0]["adminId"],
        helper.user_id().to_string()
    );

    app.post(
        &format!("/api/v1/admin/accounts/{maria_id}/second-factor/reset"),
        helper.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::SecondFactorNotFound);
}

#[tokio::test]
async fn a_recovery_code_is_the_way_back_from_a_lost_second_factor_and_a_reset_code_is_not() {
    let app = TestApp::spawn().await;
    let first = app.admin("agency").await;
    // A second admin, with an app and recovery codes, loses the phone.
    let created = app
        .post(
            "/api/v1/admin/accounts",
            first.token(),
            json!({"username": "staff", "displayName": "Staff", "password": cairn_tests::PASSWORD, "kind": "admin"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let staff = app.login("staff").await;
    app.enrol_totp(&staff).await;
    let codes = app
        .post(
            "/api/v1/me/recovery-codes",
            staff.token(),
            json!({ "password": cairn_tests::PASSWORD }),
        )
        .await;
    assert_eq!(codes.status, 201, "{}", codes.body);
    let code = codes.body["codes"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let recovered = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/recover",
            None,
            Some(&json!({"username": "staff", "code": code, "newPassword": "a kettle on the staff room shelf"})),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    let token = recovered.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let counts = app.get("/api/v1/admin/counts", &token).await;
    assert_eq!(
        counts.status, 200,
        "a recovery code passes the second factor: {}",
        counts.body
    );

    // A reset code from another admin sets a password but does not pass the factor.
    let issued = app
        .post(
            &format!("/api/v1/admin/accounts/{}/reset-code", staff.user_id()),
            first.token(),
            json!({}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let reset = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/reset",
            None,
            Some(&json!({"username": "staff", "code": issued.body["code"], "newPassword": "another kettle, same staff room"})),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let token = reset.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.get("/api/v1/admin/counts", &token)
        .await
        .assert_error(403, cairn_shared::ErrorCode::SecondFactorRequired);
}
