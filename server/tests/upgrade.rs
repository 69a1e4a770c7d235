//! The real `cairn` binary refuses a database a newer Cairn wrote (its migrations table lists a
//! migration this binary does not know): a clear message naming it, a non-zero exit, and the
//! database left exactly as it was. On SQLite, or on Postgres when `TEST_DATABASE_URL` is set.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");
const FROM_THE_FUTURE: &str = "m20991231_000099_from_a_newer_cairn";

/// What the database holds, in a form two reads can be compared with.
async fn contents(url: &str) -> Vec<String> {
    let db = Database::connect(url).await.expect("connect");
    let mut seen = Vec::new();
    for query in [
        "SELECT version FROM seaql_migrations ORDER BY version",
        "SELECT username FROM users ORDER BY username",
    ] {
        let statement = sea_orm::Statement::from_string(db.get_database_backend(), query);
        for row in db.query_all_raw(statement).await.expect(query) {
            seen.push(row.try_get_by_index::<String>(0).expect("text"));
        }
    }
    db.close().await.expect("close");
    seen
}

#[tokio::test]
async fn cairn_refuses_a_database_from_a_newer_version_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let cairn = || {
        let mut command = Command::new(CAIRN);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CAIRN_DATA_DIR", dir.path())
            .env("CAIRN_DATABASE_URL", &url)
            .env("CAIRN_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    };

    // A database this binary made, then "upgraded" by a newer Cairn's migration.
    let mut create = cairn()
        .args([
            "admin",
            "create",
            "--username",
            "agency",
            "--password-stdin",
        ])
        .spawn()
        .expect("spawn");
    let mut stdin = create.stdin.take().expect("stdin");
    stdin
        .write_all(b"operator-chosen password 42\n")
        .await
        .expect("password");
    drop(stdin);
    let created = create.wait_with_output().await.expect("admin create");
    assert!(created.status.success(), "{created:?}");
    let db = Database::connect(url.as_str()).await.expect("connect");
    db.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{FROM_THE_FUTURE}', 0)"
    ))
    .await
    .expect("a newer migration");
    db.close().await.expect("close");
    let before = contents(&url).await;
    let sqlite_file = dir.path().join("cairn.db");
    let bytes_before = std::fs::read(&sqlite_file).ok();

    let refused = tokio::time::timeout(
        Duration::from_secs(60),
        cairn()
            .arg("serve")
            .spawn()
            .expect("spawn")
            .wait_with_output(),
    )
    .await
    .expect("cairn exits instead of serving")
    .expect("output");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr.contains("this database was written by a newer Cairn")
            && stderr.contains(FROM_THE_FUTURE)
            && stderr.contains("Nothing was changed"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("listening"));

    assert_eq!(contents(&url).await, before, "the database is as it was");
    if !cairn_tests::on_postgres() {
        assert_eq!(std::fs::read(&sqlite_file).ok(), bytes_before);
        assert!(!dir.path().join("backups").exists(), "no copy either");
    }
}
