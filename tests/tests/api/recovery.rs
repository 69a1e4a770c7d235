//! Getting back into an account: changing a password, recovery codes, and reset codes an admin
//! issues. Each refusal leaves the password and the sessions as they were.

use cairn_shared::ErrorCode;
use cairn_shared::api::{AuthTokens, RecoveryCodeStatus, ResetCode};
use cairn_tests::sync_client::{SyncClient, WAIT};
use cairn_tests::{Answer, PASSWORD, Session, TestApp};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

const NEW_PASSWORD: &str = "purple kettle on the windowsill";

/// Register `username` and return its session and the recovery codes shown once.
async fn register_with_codes(app: &TestApp, username: &str) -> (Session, Vec<String>) {
    let session = app.register(username).await;
    let codes = session
        .tokens
        .recovery_codes
        .clone()
        .expect("codes at registration");
    (session, codes)
}

async fn redeem(app: &TestApp, route: &str, username: &str, code: &str, password: &str) -> Answer {
    app.request(
        Method::POST,
        route,
        None,
        Some(&json!({
            "username": username,
            "code": code,
            "newPassword": password,
            "deviceName": "borrowed phone",
        })),
    )
    .await
}

async fn recover(app: &TestApp, username: &str, code: &str) -> Answer {
    redeem(app, "/api/v1/auth/recover", username, code, NEW_PASSWORD).await
}

async fn reset(app: &TestApp, username: &str, code: &str) -> Answer {
    redeem(app, "/api/v1/auth/reset", username, code, NEW_PASSWORD).await
}

async fn change_password(app: &TestApp, session: &Session, current: &str, new: &str) -> Answer {
    app.post(
        "/api/v1/me/password",
        session.token(),
        json!({ "currentPassword": current, "newPassword": new }),
    )
    .await
}

async fn issue_reset_code(app: &TestApp, admin: &Session, account: &Session) -> Answer {
    app.post(
        &format!("/api/v1/admin/accounts/{}/reset-code", account.user_id()),
        admin.token(),
        json!({}),
    )
    .await
}

async fn reset_code(app: &TestApp, admin: &Session, account: &Session) -> String {
    let answer = issue_reset_code(app, admin, account).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.json::<ResetCode>().code
}

/// The password is still `password` and the session still works.
async fn unchanged(app: &TestApp, session: &Session, password: &str) {
    assert_eq!(
        app.login_answer(&session.username, password).await.status,
        StatusCode::OK,
        "the password still works"
    );
    assert_eq!(
        app.get("/api/v1/me", session.token()).await.status,
        StatusCode::OK,
        "the session still works"
    );
}

/// The session has ended: its access token and its refresh token are refused.
async fn ended(app: &TestApp, session: &Session) {
    app.get("/api/v1/me", session.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({ "refreshToken": session.tokens.refresh_token })),
    )
    .await
    .assert_error(401, ErrorCode::InvalidRefreshToken);
}

async fn status(app: &TestApp, session: &Session) -> RecoveryCodeStatus {
    let answer = app.get("/api/v1/me/recovery-codes", session.token()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.get("codes").is_none(), "never the codes");
    answer.json()
}

#[tokio::test]
async fn changing_my_password_ends_my_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;
    let mut laptop_socket = app.sync_client(&laptop).await;

    let answer = change_password(&app, &phone, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);

    assert!(
        laptop_socket.wait_until(WAIT, SyncClient::closed).await,
        "the other session's socket is closed at once"
    );
    ended(&app, &laptop).await;
    unchanged(&app, &phone, NEW_PASSWORD).await;
    app.login_answer("maria", PASSWORD)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    let sessions = app.get("/api/v1/me/sessions", phone.token()).await;
    assert_eq!(
        sessions.body.as_array().map(Vec::len),
        Some(2),
        "this session and the sign-in with the new password: {}",
        sessions.body
    );
}

#[tokio::test]
async fn a_wrong_current_password_or_a_weak_new_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;

    change_password(&app, &phone, "not my password at all", NEW_PASSWORD)
        .await
        .assert_error(403, ErrorCode::WrongPassword);
    change_password(&app, &phone, PASSWORD, "short")
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    change_password(&app, &phone, PASSWORD, "password123")
        .await
        .assert_error(422, ErrorCode::ValidationFailed);

    unchanged(&app, &phone, PASSWORD).await;
    unchanged(&app, &laptop, PASSWORD).await;
}

#[tokio::test]
async fn guessing_the_current_password_is_rate_limited_like_login() {
    let app = TestApp::spawn_with(|settings| {
        settings.login_attempts_per_account_and_address_per_hour = 3;
    })
    .await;
    let phone = app.register("maria").await;
    for _ in 0..3 {
        change_password(&app, &phone, "a wrong guess here", NEW_PASSWORD)
            .await
            .assert_error(403, ErrorCode::WrongPassword);
    }
    let limited = change_password(&app, &phone, "a wrong guess here", NEW_PASSWORD).await;
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.contains_key("retry-after"));
    // The same allowance as signing in: the guesses count there too.
    app.login_answer("maria", PASSWORD)
        .await
        .assert_error(429, ErrorCode::RateLimited);
    assert_eq!(
        app.get("/api/v1/me", phone.token()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn registration_shows_recovery_codes_once() {
    let app = TestApp::spawn().await;
    let (maria, codes) = register_with_codes(&app, "maria").await;
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    for code in &codes {
        assert_eq!(code.len(), 9, "{code}: two groups of four");
        assert_eq!(code.as_bytes()[4], b'-');
    }
    let status = status(&app, &maria).await;
    assert_eq!(status.remaining, 10);
    assert!(status.created_at.is_some());

    let login = app.login_answer("maria", PASSWORD).await;
    assert!(login.body.get("recoveryCodes").is_none(), "{}", login.body);
}

#[tokio::test]
async fn a_recovery_code_sets_a_new_password_once_and_ends_every_old_session() {
    let app = TestApp::spawn().await;
    let (phone, codes) = register_with_codes(&app, "maria").await;
    let laptop = app.login("maria").await;
    let mut socket = app.sync_client(&laptop).await;

    let answer = recover(&app, "Maria", &codes[0]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let tokens: AuthTokens = answer.json();
    assert!(tokens.recovery_codes.is_none());
    assert!(socket.wait_until(WAIT, SyncClient::closed).await);
    ended(&app, &phone).await;
    ended(&app, &laptop).await;
    let fresh = Session {
        username: "maria".into(),
        tokens,
    };
    unchanged(&app, &fresh, NEW_PASSWORD).await;
    app.login_answer("maria", PASSWORD)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);

    // The same code again: refused, and nothing changes.
    redeem(
        &app,
        "/api/v1/auth/recover",
        "maria",
        &codes[0],
        "yet another fine password",
    )
    .await
    .assert_error(401, ErrorCode::RecoveryCodeInvalid);
    unchanged(&app, &fresh, NEW_PASSWORD).await;

    // Another code, typed in lower case without the dash, works.
    let typed = codes[1].replace('-', " ").to_lowercase();
    let again = redeem(
        &app,
        "/api/v1/auth/recover",
        "maria",
        &typed,
        "yet another fine password",
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let fresh = Session {
        username: "maria".into(),
        tokens: again.json(),
    };
    assert_eq!(status(&app, &fresh).await.remaining, 8);
}

#[tokio::test]
async fn another_accounts_code_and_an_unknown_username_get_the_same_refusal() {
    let app = TestApp::spawn().await;
    let (maria, _) = register_with_codes(&app, "maria").await;
    let (_, bobs_codes) = register_with_codes(&app, "bob").await;

    let foreign = recover(&app, "maria", &bobs_codes[0]).await;
    foreign.assert_error(401, ErrorCode::RecoveryCodeInvalid);
    let unknown = recover(&app, "nobody-here", &bobs_codes[0]).await;
    unknown.assert_error(401, ErrorCode::RecoveryCodeInvalid);
    assert_eq!(foreign.body, unknown.body);
    let invalid_name = recover(&app, "no", "ABCD-EFGH").await;
    assert_eq!(invalid_name.body, unknown.body);
    let wrong = recover(&app, "maria", "ABCD-EFGH").await;
    assert_eq!(wrong.body, unknown.body);
    // A recovery code is not a reset code.
    reset(&app, "bob", &bobs_codes[0])
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);

    unchanged(&app, &maria, PASSWORD).await;
    // Bob's code was not used up by those attempts.
    assert_eq!(
        recover(&app, "bob", &bobs_codes[0]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_new_set_of_recovery_codes_voids_the_old_one() {
    let app = TestApp::spawn().await;
    let (maria, old_codes) = register_with_codes(&app, "maria").await;
    // Someone holding her unlocked phone, without her password, cannot make a new set.
    app.post(
        "/api/v1/me/recovery-codes",
        maria.token(),
        json!({ "password": "not her password" }),
    )
    .await
    .assert_error(403, ErrorCode::WrongPassword);
    app.post("/api/v1/me/recovery-codes", maria.token(), json!({}))
        .await
        .assert_error(400, ErrorCode::BadRequest);
    assert_eq!(status(&app, &maria).await.remaining, 10);
    let answer = app
        .post(
            "/api/v1/me/recovery-codes",
            maria.token(),
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let new_codes: Vec<String> = serde_json::from_value(answer.body["codes"].clone()).unwrap();
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|code| !old_codes.contains(code)));
    assert_eq!(status(&app, &maria).await.remaining, 10);

    recover(&app, "maria", &old_codes[0])
        .await
        .assert_error(401, ErrorCode::RecoveryCodeInvalid);
    unchanged(&app, &maria, PASSWORD).await;
    assert_eq!(
        recover(&app, "maria", &new_codes[0]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_weak_new_password_with_a_good_code_uses_nothing_up() {
    let app = TestApp::spawn().await;
    let (maria, codes) = register_with_codes(&app, "maria").await;
    redeem(&app, "/api/v1/auth/recover", "maria", &codes[0], "password")
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    unchanged(&app, &maria, PASSWORD).await;
    assert_eq!(status(&app, &maria).await.remaining, 10);
}

#[tokio::test]
async fn guessing_codes_is_rate_limited_per_account_known_or_not() {
    let app = TestApp::spawn_with(|settings| {
        settings.code_attempts_per_account = 3;
    })
    .await;
    let (maria, codes) = register_with_codes(&app, "maria").await;
    for username in ["maria", "nobody-here"] {
        for _ in 0..3 {
            recover(&app, username, "ABCD-EFGH")
                .await
                .assert_error(401, ErrorCode::RecoveryCodeInvalid);
        }
        let limited = recover(&app, username, "ABCD-EFGH").await;
        limited.assert_error(429, ErrorCode::RateLimited);
        assert!(limited.headers.contains_key("retry-after"));
    }
    // Reset codes count against the same allowance.
    reset(&app, "maria", "ABCD-EFGH")
        .await
        .assert_error(429, ErrorCode::RateLimited);
    // Even the right code waits: the limit does not tell right from wrong.
    recover(&app, "maria", &codes[0])
        .await
        .assert_error(429, ErrorCode::RateLimited);
    unchanged(&app, &maria, PASSWORD).await;
}

#[tokio::test]
async fn guessing_codes_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|settings| {
        settings.code_attempts_per_address = 4;
    })
    .await;
    for n in 0..4 {
        recover(&app, &format!("someone{n}"), "ABCD-EFGH")
            .await
            .assert_error(401, ErrorCode::RecoveryCodeInvalid);
    }
    let limited = recover(&app, "someone9", "ABCD-EFGH").await;
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_disabled_account_cannot_recover() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let (maria, codes) = register_with_codes(&app, "maria").await;
    let disable = format!("/api/v1/admin/accounts/{}/disable", maria.user_id());
    assert_eq!(
        app.post(&disable, admin.token(), json!({})).await.status,
        StatusCode::OK
    );
    recover(&app, "maria", &codes[0])
        .await
        .assert_error(403, ErrorCode::AccountDisabled);
    let enable = format!("/api/v1/admin/accounts/{}/enable", maria.user_id());
    assert_eq!(
        app.post(&enable, admin.token(), json!({})).await.status,
        StatusCode::OK
    );
    // The code was not used up by the refusal.
    assert_eq!(
        recover(&app, "maria", &codes[0]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_reset_code_lets_the_person_choose_a_new_password_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let maria = app.register("maria").await;
    let mut socket = app.sync_client(&maria).await;

    let answer = issue_reset_code(&app, &admin, &maria).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let issued: ResetCode = answer.json();
    let hours = (issued.expires_at - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes");
    assert_eq!(issued.code.len(), 9);
    // Issuing it changes nothing yet.
    unchanged(&app, &maria, PASSWORD).await;

    let answer = reset(&app, "maria", &issued.code).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(socket.wait_until(WAIT, SyncClient::closed).await);
    ended(&app, &maria).await;
    let fresh = Session {
        username: "maria".into(),
        tokens: answer.json(),
    };
    unchanged(&app, &fresh, NEW_PASSWORD).await;

    redeem(
        &app,
        "/api/v1/auth/reset",
        "maria",
        &issued.code,
        "yet another fine password",
    )
    .await
    .assert_error(401, ErrorCode::ResetCodeInvalid);
    unchanged(&app, &fresh, NEW_PASSWORD).await;
}

#[tokio::test]
async fn only_an_admin_issues_reset_codes_and_never_for_themself() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let other_admin = app.admin("staff2").await;
    let maria = app.register("maria").await;
    let bob = app.register("bob").await;

    issue_reset_code(&app, &bob, &maria)
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    issue_reset_code(&app, &admin, &admin)
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    app.post(
        &format!("/api/v1/admin/accounts/{}/reset-code", uuid::Uuid::new_v4()),
        admin.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::AccountNotFound);
    // Another admin's password: allowed (a lost password of staff is handled by another admin).
    let code = reset_code(&app, &admin, &other_admin).await;
    assert_eq!(reset(&app, "staff2", &code).await.status, StatusCode::OK);
    unchanged(&app, &maria, PASSWORD).await;
}

#[tokio::test]
async fn a_new_reset_code_voids_the_previous_one_and_codes_are_per_account() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let maria = app.register("maria").await;
    let bob = app.register("bob").await;
    let first = reset_code(&app, &admin, &maria).await;
    let second = reset_code(&app, &admin, &maria).await;
    let bobs = reset_code(&app, &admin, &bob).await;

    reset(&app, "maria", &first)
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);
    reset(&app, "maria", &bobs)
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);
    let unknown = reset(&app, "nobody-here", &second).await;
    unknown.assert_error(401, ErrorCode::ResetCodeInvalid);
    // A reset code is not a recovery code.
    recover(&app, "maria", &second)
        .await
        .assert_error(401, ErrorCode::RecoveryCodeInvalid);
    unchanged(&app, &maria, PASSWORD).await;
    unchanged(&app, &bob, PASSWORD).await;

    assert_eq!(reset(&app, "maria", &second).await.status, StatusCode::OK);
    assert_eq!(reset(&app, "bob", &bobs).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_reset_code_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin("staff").await;
    let maria = app.register("maria").await;
    let code = reset_code(&app, &admin, &maria).await;

    // A day has passed.
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let backend = db.get_database_backend();
    let sql = if cairn_tests::on_postgres() {
        "UPDATE reset_codes SET expires_at = $1"
    } else {
        "UPDATE reset_codes SET expires_at = ?"
    };
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [past.into()]))
        .await
        .unwrap();
    db.close().await.unwrap();

    reset(&app, "maria", &code)
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);
    unchanged(&app, &maria, PASSWORD).await;
}

#[tokio::test]
async fn reset_codes_cannot_be_issued_for_disabled_accounts_and_the_ttl_is_configurable() {
    let app = TestApp::spawn_with(|settings| settings.reset_code_ttl_hours = 2).await;
    let admin = app.admin("staff").await;
    let maria = app.register("maria").await;
    let answer = issue_reset_code(&app, &admin, &maria).await;
    let issued: ResetCode = answer.json();
    let minutes = (issued.expires_at - chrono::Utc::now()).num_minutes();
    assert!((60..=120).contains(&minutes), "{minutes}");

    let disable = format!("/api/v1/admin/accounts/{}/disable", maria.user_id());
    assert_eq!(
        app.post(&disable, admin.token(), json!({})).await.status,
        StatusCode::OK
    );
    issue_reset_code(&app, &admin, &maria)
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    reset(&app, "maria", &issued.code)
        .await
        .assert_error(403, ErrorCode::AccountDisabled);
}
