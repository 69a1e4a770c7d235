//! `cairn backup`, `cairn backup --verify` and `cairn restore` as an operator runs them (the
//! binary; SQLite in a data folder, or Postgres when `TEST_DATABASE_URL` is set). What a restore
//! brings back, and clients syncing across it, are in tests/tests/api/backup.rs.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

fn cairn(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(CAIRN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", data_dir)
        .env("CAIRN_LISTEN", "127.0.0.1:0")
        .env("CAIRN_BACKUP_KEEP", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = database_url {
        command.env("CAIRN_DATABASE_URL", url);
    }
    command
}

async fn run(data_dir: &Path, db: Option<&str>, args: &[&str]) -> Output {
    run_with(data_dir, db, args, &[]).await
}

async fn run_with(
    data_dir: &Path,
    db: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut child = cairn(data_dir, db)
        .args(args)
        .envs(env.iter().copied())
        .spawn()
        .expect("spawn cairn");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"operator-chosen password 42\n")
            .await
            .expect("stdin");
    }
    child.wait_with_output().await.expect("cairn exits")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn database_for(dir: &Path) -> Option<String> {
    if cairn_tests::on_postgres() {
        Some(
            cairn_tests::fresh_database_url(dir)
                .await
                .expect("postgres database"),
        )
    } else {
        None
    }
}

/// A fresh data folder holding `from`'s master key (as an operator copies it to a new machine).
async fn new_machine(from: &Path) -> (tempfile::TempDir, Option<String>) {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::copy(from.join("master-key"), dir.path().join("master-key")).expect("copy key");
    let db = database_for(dir.path()).await;
    (dir, db)
}

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the backup folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn an_operator_backs_up_while_serving_verifies_and_restores_on_another_machine() {
    let data = tempfile::tempdir().expect("a folder");
    let db = database_for(data.path()).await;
    let db = db.as_deref();
    let created = run(
        data.path(),
        db,
        &[
            "admin",
            "create",
            "--username",
            "agency",
            "--password-stdin",
        ],
    )
    .await;
    assert!(created.status.success(), "{}", text(&created));

    // The server runs while backups are taken; three backups, the newest two are kept.
    let mut server = cairn(data.path(), db).arg("serve").spawn().expect("serve");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("Cairn listening on ") {
                return;
            }
        }
        panic!("cairn exited before listening");
    })
    .await
    .expect("cairn listens");
    for _ in 0..3 {
        let backup = run(data.path(), db, &["backup"]).await;
        assert!(backup.status.success(), "{}", text(&backup));
        assert!(
            text(&backup).contains("Backup written: "),
            "{}",
            text(&backup)
        );
    }
    server.kill().await.expect("stop the server");
    let kept = backups_in(&data.path().join("backups"));
    assert_eq!(kept.len(), 2, "CAIRN_BACKUP_KEEP=2: {kept:?}");
    let file = kept[1].clone();

    let verified = run(
        data.path(),
        db,
        &["backup", "--verify", file.to_str().unwrap()],
    )
    .await;
    let said = text(&verified);
    assert!(verified.status.success(), "{said}");
    for expected in ["format:      1", "taken at:", "users", "1 rows", "OK:"] {
        assert!(said.contains(expected), "{expected:?} in {said}");
    }
    let sum = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256:"))
        .expect("a checksum")
        .trim()
        .to_owned();
    assert_eq!(sum.len(), 64);

    // One flipped byte: `--verify` and `restore` refuse it, and nothing is written.
    let mut bytes = std::fs::read(&file).expect("the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    let tampered = data.path().join("tampered.backup");
    std::fs::write(&tampered, &bytes).expect("write");
    let refused = run(
        data.path(),
        db,
        &["backup", "--verify", tampered.to_str().unwrap()],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("damaged, cut short or altered"),
        "{}",
        text(&refused)
    );

    let (machine, machine_db) = new_machine(data.path()).await;
    let machine_db = machine_db.as_deref();
    let refused = run(
        machine.path(),
        machine_db,
        &["restore", tampered.to_str().unwrap()],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("nothing was restored"),
        "{}",
        text(&refused)
    );
    // ...so the same database is still empty and takes the good file without --force.
    let restored = run(
        machine.path(),
        machine_db,
        &["restore", file.to_str().unwrap()],
    )
    .await;
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(text(&restored).contains("Restored."), "{}", text(&restored));
    let again = run(
        machine.path(),
        machine_db,
        &["restore", file.to_str().unwrap()],
    )
    .await;
    assert!(!again.status.success());
    assert!(text(&again).contains("--force"), "{}", text(&again));
    let forced = run(
        machine.path(),
        machine_db,
        &["restore", "--force", file.to_str().unwrap()],
    )
    .await;
    assert!(forced.status.success(), "{}", text(&forced));

    // Without the master key the backup was sealed under, it does not open.
    let stranger = tempfile::tempdir().expect("a folder");
    let stranger_db = database_for(stranger.path()).await;
    let refused = run(
        stranger.path(),
        stranger_db.as_deref(),
        &["backup", "--verify", file.to_str().unwrap()],
    )
    .await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("master key"), "{}", text(&refused));

    // A backup sealed under a backup key of its own opens with that key alone (a restore also
    // needs the plans' master key: tests/tests/api/backup.rs).
    let backup_key = [(
        "CAIRN_BACKUP_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )];
    let own = data.path().join("own-key.backup");
    let taken = run_with(
        data.path(),
        db,
        &["backup", "--output", own.to_str().unwrap()],
        &backup_key,
    )
    .await;
    assert!(taken.status.success(), "{}", text(&taken));
    let own = own.to_str().unwrap();
    let checked = run_with(
        stranger.path(),
        stranger_db.as_deref(),
        &["backup", "--verify", own],
        &backup_key,
    )
    .await;
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains("sealed with: backup key"),
        "{}",
        text(&checked)
    );
}
