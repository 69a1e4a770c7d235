//! The admin console's routes: searching accounts, listing and revoking enrollment codes, the
//! server's health. Each refuses members, and nothing they answer holds a code or plan content.

use cairn_shared::ErrorCode;
use cairn_shared::api::RegistrationMode;
use cairn_tests::{PASSWORD, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn usernames(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["username"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_admin_searches_accounts_by_name_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    app.register("marisol").await;
    app.register("lee").await;
    // A plan whose title has the word searched for: titles are never searched nor answered.
    app.create_plan(&maria, "Mari plan about housing").await;

    let search = async |query: &str| {
        app.get(&format!("/api/v1/admin/accounts?{query}"), admin.token())
            .await
    };
    let found = search("q=MARI").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(usernames(&found.body), ["maria", "marisol"]);
    assert!(!found.body.to_string().contains("housing"));
    // Display names are searched too ("Lee" is Lee's display name in the tests).
    let by_name = search(&format!("q={}", cairn_tests::display_name("lee"))).await;
    assert_eq!(usernames(&by_name.body), ["lee"]);
    // A page at a time, by username.
    assert_eq!(usernames(&search("limit=2").await.body), ["agency", "lee"]);
    assert_eq!(
        usernames(&search("limit=2&offset=2").await.body),
        ["maria", "marisol"]
    );
    // Wildcards are taken as they are typed.
    assert_eq!(usernames(&search("q=%25").await.body), Vec::<String>::new());
    assert_eq!(usernames(&search("q=_").await.body), Vec::<String>::new());
    search("limit=0")
        .await
        .assert_error(400, ErrorCode::BadRequest);
    search("limit=abc")
        .await
        .assert_error(400, ErrorCode::BadRequest);
    app.get("/api/v1/admin/accounts?q=mari", maria.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
}

#[tokio::test]
async fn enrollment_codes_are_listed_without_the_code_and_revoked_once() {
    let app = TestApp::spawn_with(|s| s.registration = RegistrationMode::Enrollment).await;
    let admin = app.admin("agency").await;
    let created = app
        .post(
            "/api/v1/admin/enrollment-codes",
            admin.token(),
            json!({"maxUses": 3, "expiresInHours": 48, "label": "  Tuesday group  "}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["label"], "Tuesday group");
    let code = created.body["code"].as_str().unwrap_or_default().to_owned();
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let register = async |username: &str| {
        app.request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({
                "username": username, "displayName": "Someone", "password": PASSWORD,
                "enrollmentCode": code,
            })),
        )
        .await
    };
    assert_eq!(register("sam").await.status, 201);

    let listed = app
        .get("/api/v1/admin/enrollment-codes", admin.token())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let entry = &listed.body[0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["label"], "Tuesday group");
    assert_eq!(entry["state"], "active");
    assert_eq!(
        (entry["uses"].as_u64(), entry["maxUses"].as_u64()),
        (Some(1), Some(3))
    );
    assert!(entry["revokedAt"].is_null());
    let bare = code.replace('-', "");
    let text = listed.body.to_string();
    assert!(
        !text.contains(&code) && !text.contains(&bare),
        "the code is never listed"
    );

    // A member can neither list nor revoke; the code still works after their attempt.
    let sam = app.login("sam").await;
    app.get("/api/v1/admin/enrollment-codes", sam.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    let revoke = format!("/api/v1/admin/enrollment-codes/{id}");
    app.delete(&revoke, sam.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    assert_eq!(register("kim").await.status, 201);

    let revoked = app.delete(&revoke, admin.token()).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    register("lou")
        .await
        .assert_error(403, ErrorCode::EnrollmentCodeInvalid);
    app.delete(&revoke, admin.token())
        .await
        .assert_error(409, ErrorCode::EnrollmentCodeAlreadyRevoked);
    app.delete(
        "/api/v1/admin/enrollment-codes/00000000-0000-4000-8000-000000000000",
        admin.token(),
    )
    .await
    .assert_error(404, ErrorCode::EnrollmentCodeNotFound);
    app.delete("/api/v1/admin/enrollment-codes/not-an-id", admin.token())
        .await
        .assert_error(404, ErrorCode::EnrollmentCodeNotFound);

    let listed = app
        .get("/api/v1/admin/enrollment-codes", admin.token())
        .await;
    assert_eq!(listed.body[0]["state"], "revoked");
    assert_eq!(listed.body[0]["uses"], 2);
    assert!(listed.body[0]["revokedAt"].is_string());

    // The revocation is in the audit, once, with the label and never the code.
    let audit = app.get("/api/v1/admin/audit", admin.token()).await;
    let revocations: Vec<&Value> = audit.body["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["action"] == "enrollment-code-revoked")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(revocations.len(), 1, "{}", audit.body);
    assert_eq!(revocations[0]["detail"], "Tuesday group");
    assert_eq!(
        revocations[0]["adminName"],
        cairn_tests::display_name("agency")
    );
    assert!(!audit.body.to_string().contains(&code));

    // A label that is too long is refused, and no code is made.
    let long = app
        .post(
            "/api/v1/admin/enrollment-codes",
            admin.token(),
            json!({"label": "x".repeat(101)}),
        )
        .await;
    long.assert_error(422, ErrorCode::ValidationFailed);
    let listed = app
        .get("/api/v1/admin/enrollment-codes", admin.token())
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn health_tells_the_version_database_migrations_and_instances() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let health = app.get("/api/v1/admin/health", admin.token()).await;
    assert_eq!(health.status, 200, "{}", health.body);
    let body = &health.body;
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let kind = if cairn_tests::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], kind);
    assert_eq!(body["databaseReachable"], true);
    assert!(body["migrationsApplied"].as_u64().unwrap_or(0) >= 20);
    assert_eq!(body["migrationsApplied"], body["migrationsKnown"]);
    assert_eq!(body["instancesSeen"], 1);
    assert_eq!(body["instancesWindowMinutes"], 5);
    assert!(body["lastBackup"].is_null());

    // `cairn backup` (as the command line runs it) shows on the health page.
    let settings = crate::backup::settings_of(&app, &app.database_url);
    let (store, keyring) = crate::backup::open(&settings).await;
    let file = app.data_dir().join("console.backup");
    cairn_server::services::backup::take_backup(&store, &settings, &keyring, Some(&file))
        .await
        .expect("a backup");
    let health = app.get("/api/v1/admin/health", admin.token()).await;
    let last: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(health.body["lastBackup"].clone()).expect("a time");
    assert!(
        (chrono::Utc::now() - last).num_seconds() < 60,
        "{}",
        health.body
    );

    // A second instance on the same database is seen from either.
    let second = TestApp::spawn_beside(&app).await;
    let health = second.get("/api/v1/admin/health", admin.token()).await;
    assert_eq!(health.body["instancesSeen"], 2, "{}", health.body);

    let maria = app.register("maria").await;
    app.get("/api/v1/admin/health", maria.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
}
