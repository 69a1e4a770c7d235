use cairn_shared::ErrorCode;
use cairn_shared::api::RegistrationMode;
use cairn_tests::{PASSWORD, TestApp};
use reqwest::Method;
use serde_json::json;

fn register_body(username: &str, code: Option<&str>) -> serde_json::Value {
    json!({
        "username": username,
        "displayName": "Someone",
        "password": PASSWORD,
        "enrollmentCode": code,
    })
}

async fn register(app: &TestApp, username: &str, code: Option<&str>) -> cairn_tests::Answer {
    app.request(
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(&register_body(username, code)),
    )
    .await
}

#[tokio::test]
async fn open_registration_logs_the_new_member_in() {
    let app = TestApp::spawn().await;
    let maria = app.register("Maria").await;
    assert_eq!(
        maria.tokens.account.username, "maria",
        "usernames are not case-sensitive"
    );
    let me = app.get("/api/v1/me", maria.token()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["displayName"], "Maria");
    assert_eq!(me.body["kind"], "member");
    assert!(me.body.get("passwordHash").is_none());

    register(&app, "MARIA", None)
        .await
        .assert_error(409, ErrorCode::UsernameTaken);
}

#[tokio::test]
async fn registration_rejects_weak_or_odd_input() {
    let app = TestApp::spawn().await;
    let short = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({"username": "sam", "displayName": "Sam", "password": "short"})),
        )
        .await;
    short.assert_error(422, ErrorCode::ValidationFailed);
    let bad_name = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({"username": "no spaces please", "displayName": "Sam", "password": PASSWORD})),
        )
        .await;
    bad_name.assert_error(422, ErrorCode::ValidationFailed);
    let no_display = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({"username": "sam", "displayName": "   ", "password": PASSWORD})),
        )
        .await;
    no_display.assert_error(422, ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn closed_registration_refuses_everyone() {
    let app = TestApp::spawn_with(|s| s.registration = RegistrationMode::Closed).await;
    register(&app, "sam", None)
        .await
        .assert_error(403, ErrorCode::RegistrationClosed);
    register(&app, "sam", Some("ABCD-EFGH-JK"))
        .await
        .assert_error(403, ErrorCode::RegistrationClosed);
}

#[tokio::test]
async fn enrollment_registration_needs_a_valid_unused_code() {
    let app = TestApp::spawn_with(|s| s.registration = RegistrationMode::Enrollment).await;
    register(&app, "sam", None)
        .await
        .assert_error(403, ErrorCode::EnrollmentCodeInvalid);
    register(&app, "sam", Some("WRNG-CODE-22"))
        .await
        .assert_error(403, ErrorCode::EnrollmentCodeInvalid);

    let admin = app.admin("agency").await;
    let code = app
        .post(
            "/api/v1/admin/enrollment-codes",
            admin.token(),
            json!({"maxUses": 2}),
        )
        .await;
    assert_eq!(code.status, 201, "{}", code.body);
    let code = code.body["code"].as_str().unwrap_or_default().to_owned();

    // Typed back in lower case with spaces instead of dashes: still the same code.
    let typed = code.to_lowercase().replace('-', " ");
    assert_eq!(register(&app, "sam", Some(&typed)).await.status, 201);
    assert_eq!(register(&app, "lee", Some(&code)).await.status, 201);
    register(&app, "kim", Some(&code))
        .await
        .assert_error(403, ErrorCode::EnrollmentCodeInvalid);
    // A taken username does not use up a code.
    let second = app
        .post("/api/v1/admin/enrollment-codes", admin.token(), json!({}))
        .await;
    let second = second.body["code"].as_str().unwrap_or_default().to_owned();
    register(&app, "sam", Some(&second))
        .await
        .assert_error(409, ErrorCode::UsernameTaken);
    assert_eq!(register(&app, "kim", Some(&second)).await.status, 201);
}

#[tokio::test]
async fn login_refuses_wrong_passwords_and_unknown_accounts_alike() {
    let app = TestApp::spawn().await;
    app.register("maria").await;
    let wrong = app.login_answer("maria", "not the password").await;
    wrong.assert_error(401, ErrorCode::InvalidCredentials);
    let unknown = app.login_answer("nobody", PASSWORD).await;
    unknown.assert_error(401, ErrorCode::InvalidCredentials);
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );
    let ok = app.login_answer("MARIA", PASSWORD).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_account() {
    let app = TestApp::spawn_with(|s| s.login_attempts_per_account_and_address_per_hour = 3).await;
    app.register("maria").await;
    for _ in 0..3 {
        app.login_answer("maria", "guess guess")
            .await
            .assert_error(401, ErrorCode::InvalidCredentials);
    }
    let limited = app.login_answer("maria", PASSWORD).await;
    limited.assert_error(429, ErrorCode::RateLimited);
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!(retry >= 1, "Retry-After says when to come back");
    // Another account is not affected.
    app.register("sam").await;
    assert_eq!(app.login_answer("sam", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(|s| s.login_attempts_per_address_per_minute = 4).await;
    for name in ["a-one", "a-two", "a-three", "a-four"] {
        app.login_answer(name, "guess guess")
            .await
            .assert_error(401, ErrorCode::InvalidCredentials);
    }
    app.login_answer("a-five", "guess guess")
        .await
        .assert_error(429, ErrorCode::RateLimited);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let first = maria.tokens.refresh_token.clone();

    let refreshed = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": first})),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let second = refreshed.body["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let new_access = refreshed.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(first, second, "the refresh token rotates");
    assert_eq!(
        refreshed.body["sessionId"],
        maria.tokens.session_id.to_string()
    );
    assert_eq!(app.get("/api/v1/me", &new_access).await.status, 200);

    // The first token again: somebody copied it. The whole device session ends.
    let reused = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": first})),
        )
        .await;
    reused.assert_error(401, ErrorCode::RefreshTokenReused);
    let after = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": second})),
        )
        .await;
    after.assert_error(401, ErrorCode::InvalidRefreshToken);
    app.get("/api/v1/me", &new_access)
        .await
        .assert_error(401, ErrorCode::InvalidToken);

    let junk = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": "junk"})),
        )
        .await;
    junk.assert_error(401, ErrorCode::InvalidRefreshToken);
}

#[tokio::test]
async fn device_sessions_can_be_listed_and_ended() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;

    let sessions = app.get("/api/v1/me/sessions", phone.token()).await;
    assert_eq!(sessions.status, 200);
    let list = sessions.body.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], phone.tokens.session_id.to_string());
    assert_eq!(current[0]["deviceName"], "test phone");

    // End the laptop's session from the phone: the laptop is signed out at once.
    let ended = app
        .delete(
            &format!("/api/v1/me/sessions/{}", laptop.tokens.session_id),
            phone.token(),
        )
        .await;
    assert_eq!(ended.status, 204);
    app.get("/api/v1/me", laptop.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    let refresh = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": laptop.tokens.refresh_token})),
        )
        .await;
    refresh.assert_error(401, ErrorCode::InvalidRefreshToken);
    assert_eq!(app.get("/api/v1/me", phone.token()).await.status, 200);

    // Someone else's session id is not found, not ended.
    let sam = app.register("sam").await;
    app.delete(
        &format!("/api/v1/me/sessions/{}", phone.tokens.session_id),
        sam.token(),
    )
    .await
    .assert_error(404, ErrorCode::SessionNotFound);
    assert_eq!(app.get("/api/v1/me", phone.token()).await.status, 200);
}

#[tokio::test]
async fn logout_ends_the_current_session_only() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;
    let out = app
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            Some(phone.token()),
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    app.get("/api/v1/me", phone.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    let refresh = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": phone.tokens.refresh_token})),
        )
        .await;
    refresh.assert_error(401, ErrorCode::InvalidRefreshToken);
    assert_eq!(app.get("/api/v1/me", laptop.token()).await.status, 200);
}

#[tokio::test]
async fn passwords_are_stored_only_as_argon2id_hashes() {
    let app = TestApp::spawn().await;
    app.register("maria").await;
    let user = app
        .store
        .user_by_username("maria")
        .await
        .expect("query")
        .expect("stored");
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "an argon2id PHC string, not {:.12}…",
        user.password_hash
    );
    assert!(!user.password_hash.contains(cairn_tests::PASSWORD));
}

#[tokio::test]
async fn a_device_session_can_be_renamed_by_its_own_account_only() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;
    let path = format!("/api/v1/me/sessions/{}", laptop.tokens.session_id);
    let rename = |token: &str, path: &str, name: serde_json::Value| {
        let (token, path) = (token.to_owned(), path.to_owned());
        let app = &app;
        async move {
            app.request(
                Method::PATCH,
                &path,
                Some(&token),
                Some(&json!({ "deviceName": name })),
            )
            .await
        }
    };

    let renamed = rename(phone.token(), &path, json!("  María's laptop  ")).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["deviceName"], "María's laptop");
    assert_eq!(renamed.body["current"], false);
    let sessions = app.get("/api/v1/me/sessions", laptop.token()).await;
    let names: Vec<(&str, bool)> = sessions
        .body
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| {
            (
                s["deviceName"].as_str().unwrap_or_default(),
                s["current"] == true,
            )
        })
        .collect();
    assert!(names.contains(&("María's laptop", true)), "{names:?}");
    assert!(names.contains(&("test phone", false)), "{names:?}");

    let too_long = "x".repeat(65);
    for bad in [json!("   "), json!("tab\there"), json!(too_long)] {
        rename(phone.token(), &path, bad)
            .await
            .assert_error(422, ErrorCode::ValidationFailed);
    }
    assert_eq!(
        rename(phone.token(), &path, json!("x".repeat(64)))
            .await
            .status,
        200
    );

    // Someone else's session, an unknown id and an ended session are not found, not renamed.
    let sam = app.register("sam").await;
    rename(sam.token(), &path, json!("mine now"))
        .await
        .assert_error(404, ErrorCode::SessionNotFound);
    let unknown = format!("/api/v1/me/sessions/{}", uuid::Uuid::new_v4());
    rename(phone.token(), &unknown, json!("lost"))
        .await
        .assert_error(404, ErrorCode::SessionNotFound);
    assert_eq!(app.delete(&path, phone.token()).await.status, 204);
    rename(phone.token(), &path, json!("gone"))
        .await
        .assert_error(404, ErrorCode::SessionNotFound);
}
