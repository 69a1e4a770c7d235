use cairn_tests::TestApp;
use reqwest::Method;

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_is_migrated() {
    let app = TestApp::spawn().await;
    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
}

#[tokio::test]
async fn readyz_fails_when_a_migration_is_missing() {
    use cairn_migrations::MigratorTrait;
    let app = TestApp::spawn().await;
    // Roll back the newest migration behind the running server's back: it must notice.
    let db = sea_orm::Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    cairn_migrations::Migrator::down(&db, Some(1))
        .await
        .expect("down one");
    let ready = app.request(Method::GET, "/readyz", None, None).await;
    ready.assert_error(503, cairn_shared::ErrorCode::NotReady);
    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        health.status, 200,
        "liveness does not depend on the database"
    );
}
