//! Usernames in any script, compared as people read them: normalised, not case-sensitive, and
//! never two that look alike.

use cairn_shared::ErrorCode;
use cairn_tests::{PASSWORD, TestApp};
use reqwest::Method;
use serde_json::json;

async fn register(app: &TestApp, username: &str) -> cairn_tests::Answer {
    app.request(
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(&json!({"username": username, "displayName": "Someone", "password": PASSWORD})),
    )
    .await
}

#[tokio::test]
async fn a_username_in_any_script_registers_and_logs_in_however_it_is_typed() {
    let app = TestApp::spawn().await;
    let maria = app.register("maría").await;
    assert_eq!(maria.tokens.account.username, "maría");
    // Capitalised, and typed as "i" + a combining accent (NFD) as some keyboards send it.
    for typed in ["María", "MARI\u{301}A"] {
        let answer = app.login_answer(typed, PASSWORD).await;
        assert_eq!(answer.status, 200, "{typed:?}: {}", answer.body);
        assert_eq!(answer.body["account"]["id"], maria.user_id().to_string());
    }
    register(&app, "MARÍA")
        .await
        .assert_error(409, ErrorCode::UsernameTaken);
    for name in ["дмитрий", "山田太郎", "हिन्दी", "ελένη"] {
        assert_eq!(register(&app, name).await.status, 201, "{name}");
        assert_eq!(app.login_answer(name, PASSWORD).await.status, 200, "{name}");
    }
}

#[tokio::test]
async fn usernames_that_look_alike_cannot_both_be_registered() {
    let app = TestApp::spawn().await;
    app.register("maria").await;
    app.register("paypal").await;
    app.register("cope").await;
    app.register("user1").await;
    // A Cyrillic "а" among Latin letters: refused outright.
    for mixed in ["m\u{430}ria", "p\u{430}ypal"] {
        register(&app, mixed)
            .await
            .assert_error(422, ErrorCode::ValidationFailed);
    }
    // Whole-script look-alikes (Cyrillic "соре") and "l" for "1": taken.
    for look_alike in ["\u{441}\u{43e}\u{440}\u{435}", "userl"] {
        register(&app, look_alike)
            .await
            .assert_error(409, ErrorCode::UsernameTaken);
    }
}

#[tokio::test]
async fn bad_usernames_are_refused_with_a_clear_validation_error() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let too_long = "a".repeat(33);
    for bad in [
        "ma\u{7}ria",
        "ma\u{200d}ria",
        "maria\u{1f600}",
        too_long.as_str(),
    ] {
        let answer = register(&app, bad).await;
        answer.assert_error(422, ErrorCode::ValidationFailed);
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("username"), "{message}");
        // The admin's create-account path uses the same rules.
        app.post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": bad, "displayName": "Someone", "password": PASSWORD}),
        )
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    }
    // 32 characters is fine, however many bytes they take.
    assert_eq!(register(&app, &"é".repeat(32)).await.status, 201);
    let created = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": "Jürgen", "displayName": "Jürgen", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["username"], "jürgen");
}

#[tokio::test]
async fn accounts_stored_before_look_alike_keys_keep_working() {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::{ConnectionTrait, Database};

    let app = TestApp::spawn().await;
    app.register("userl").await;
    app.register("maria").await;
    // The accounts as an older Cairn stored them: no key, and two that look alike.
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    let backend = db.get_database_backend();
    let clear = Query::update()
        .table(Alias::new("users"))
        .value(Alias::new("username_key"), Option::<String>::None)
        .to_owned();
    db.execute_raw(backend.build(&clear)).await.expect("clear");
    let copy = Query::update()
        .table(Alias::new("users"))
        .value(Alias::new("username"), "user1")
        .and_where(Expr::col(Alias::new("username")).eq("userl"))
        .to_owned();
    db.execute_raw(backend.build(&copy)).await.expect("rename");
    app.register("userl").await;
    let clear_again = Query::update()
        .table(Alias::new("users"))
        .value(Alias::new("username_key"), Option::<String>::None)
        .to_owned();
    db.execute_raw(backend.build(&clear_again))
        .await
        .expect("clear");

    // What the server does at start-up.
    let keyed = cairn_server::services::accounts::key_stored_usernames(&app.store)
        .await
        .expect("key stored usernames");
    assert_eq!(keyed, 3);
    for name in ["user1", "userl", "Maria"] {
        assert_eq!(app.login_answer(name, PASSWORD).await.status, 200, "{name}");
    }
    register(&app, "maria")
        .await
        .assert_error(409, ErrorCode::UsernameTaken);
    register(&app, "\u{43c}\u{430}ria")
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
}
