//! Backup and restore (`cairn backup`, `cairn restore`; the binary itself in
//! server/tests/backup.rs): a backup taken while a member's phone keeps editing holds every
//! change acknowledged before it began; restored into a fresh database (SQLite → SQLite,
//! SQLite → Postgres, Postgres → SQLite) the clients reconnect and converge without a duplicate
//! change; a plan deleted and an account closed after the backup stay gone (the deletion
//! ledger); a tampered or cut-short file is refused whole, and a database with accounts is not
//! overwritten unless told.
//!
//! The cross-engine cases need both databases: they run when `TEST_DATABASE_URL` names a
//! Postgres server (`scripts/with-postgres`, as CI runs the suite) and pass trivially without it.
//! The same-engine case runs on whichever database the suite runs on.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use automerge::{AutoCommit, ReadDoc};
use cairn_server::Settings;
use cairn_server::services::backup::{self, BackupError};
use cairn_server::store::Store;
use cairn_server::store::backup::BackupStoreError;
use cairn_shared::PlanId;
use cairn_tests::sync_client::SyncClient;
use cairn_tests::{PASSWORD, TestApp, fresh_database_url, on_postgres};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

use crate::put;

/// Which database a side of the test uses.
#[derive(Clone, Copy, Debug)]
enum Engine {
    /// Whatever the suite runs on (Postgres under `TEST_DATABASE_URL`, else SQLite).
    Suite,
    /// An SQLite file, whatever the suite runs on.
    Sqlite,
}

async fn database_url(engine: Engine, dir: &Path) -> String {
    match engine {
        Engine::Suite => fresh_database_url(dir).await.expect("a fresh database"),
        Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("cairn.db").display()),
    }
}

/// The settings the command line would have on `app`'s machine (its data folder holds the
/// master key and the deletion ledger), on `database`.
pub(crate) fn settings_of(app: &TestApp, database: &str) -> Settings {
    Settings {
        data_dir: app.data_dir().to_owned(),
        database_url: Some(SecretString::from(database.to_owned())),
        ..Settings::default()
    }
}

/// A store as `cairn backup` / `cairn restore` opens one (its own connections).
pub(crate) async fn open(settings: &Settings) -> (Store, Arc<cairn_server::crypto::Keyring>) {
    let keyring = Arc::new(cairn_server::startup::load_keyring(settings).expect("the keyring"));
    let store = Store::connect(&settings.database_url(), 2, keyring.clone(), 10)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    (store, keyring)
}

fn keys(doc: &AutoCommit) -> Vec<String> {
    doc.keys(automerge::ROOT).collect()
}

async fn backup_and_restore(source: Engine, target: Engine) {
    let source_dir = tempfile::tempdir().expect("a folder");
    let source_url = database_url(source, source_dir.path()).await;
    let app =
        TestApp::spawn_with(|s| s.database_url = Some(SecretString::from(source_url.clone())))
            .await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let lee = app.register("lee").await;
    let (plan, document) = app.plan_with_document(&maria, "Staying housed").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let (doomed, _) = app
        .plan_with_document(&maria, "Deleted after the backup")
        .await;
    let (lees_plan, _) = app.plan_with_document(&lee, "Lee's, who leaves").await;
    let code = app
        .post(
            "/api/v1/admin/enrollment-codes",
            admin.token(),
            json!({"maxUses": 3}),
        )
        .await;
    assert_eq!(code.status, 201, "an audited admin act: {}", code.body);

    // Sam's laptop holds the plan as it was before any edit.
    let mut laptop = app.sync_client(&sam).await;
    laptop.track(&document, AutoCommit::new());
    laptop.sync_doc(&document, true).await;

    // Maria's phone edits without pause; `acknowledged` counts the edits the server has
    // confirmed holding (its heads include them).
    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let editor = {
        let (acknowledged, stop, document) = (acknowledged.clone(), stop.clone(), document.clone());
        tokio::spawn(async move {
            let mut edit = 0;
            while stop.load(Ordering::SeqCst) == 0 {
                edit += 1;
                put(
                    &mut phone,
                    &document,
                    &format!("edit-{edit}"),
                    "written on the bus",
                );
                phone.sync_doc(&document, false).await;
                // Acknowledged once the server's heads are ours: this edit and all before it.
                let tracked = &phone.docs[&document];
                if tracked.server_heads == tracked.doc.clone().get_heads() {
                    acknowledged.store(edit, Ordering::SeqCst);
                }
            }
            phone
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the phone's edits are acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let settings = settings_of(&app, &source_url);
    let (store, keyring) = open(&settings).await;
    let acknowledged_before = acknowledged.load(Ordering::SeqCst);
    let file = source_dir.path().join("nightly.backup");
    let report = backup::take_backup(&store, &settings, &keyring, Some(&file))
        .await
        .expect("a backup while the phone edits");
    stop.store(1, Ordering::SeqCst);
    let mut phone = editor.await.expect("the editor");
    assert!(
        store.last_backup().await.expect("last backup").is_some(),
        "the backup is recorded"
    );
    store.close().await.expect("close");

    // After the backup: a plan is deleted, Lee leaves Cairn, Maria edits once more.
    let deleted = app
        .delete(&format!("/api/v1/plans/{doomed}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let left = app
        .request(
            Method::DELETE,
            "/api/v1/me",
            Some(lee.token()),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    put(
        &mut phone,
        &document,
        "after-backup",
        "written after the backup",
    );
    phone.sync_doc(&document, false).await;
    let ledger = app.data_dir().join("deletion-ledger");
    let ledger_text = std::fs::read_to_string(&ledger).expect("the deletion ledger");
    assert!(
        ledger_text.contains(&format!("plan {doomed}")),
        "{ledger_text}"
    );
    assert!(
        ledger_text.contains(&format!("account {}", lee.user_id())),
        "{ledger_text}"
    );
    assert!(
        !ledger_text.contains("Deleted after"),
        "no titles in the ledger"
    );

    // The database is lost; a new, empty one takes its place.
    let target_dir = tempfile::tempdir().expect("a folder");
    let target_url = database_url(target, target_dir.path()).await;
    let mut target_settings = settings_of(&app, &target_url);
    target_settings.deletion_ledger = Some(ledger.clone());
    let (target_store, keyring) = open(&target_settings).await;

    // A flipped byte, or a file cut short, is refused whole: nothing is written (the real
    // restore below then finds the database still empty).
    let bytes = std::fs::read(&file).expect("the backup");
    let flipped = target_dir.path().join("flipped.backup");
    let mut altered = bytes.clone();
    altered[bytes.len() / 2] ^= 0x01;
    std::fs::write(&flipped, &altered).expect("write");
    let cut = target_dir.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).expect("write");
    for bad in [&flipped, &cut] {
        let refused = backup::restore(&target_store, &target_settings, &keyring, bad, false).await;
        assert!(
            matches!(refused, Err(BackupError::Damaged(_))),
            "{bad:?}: {refused:?}"
        );
    }

    let restored = backup::restore(&target_store, &target_settings, &keyring, &file, false)
        .await
        .expect("the restore");
    assert_eq!(restored.summary.checksum, report.checksum);
    assert_eq!(restored.summary.tables, report.tables);
    assert_eq!(
        restored.ledger.plans_shredded, 2,
        "the deleted plan and Lee's"
    );
    assert_eq!(restored.ledger.accounts_closed, 1, "Lee");
    // Once it holds accounts, a second restore is refused unless told.
    let again = backup::restore(&target_store, &target_settings, &keyring, &file, false).await;
    assert!(
        matches!(
            again,
            Err(BackupError::Store(BackupStoreError::NotEmpty(_)))
        ),
        "{again:?}"
    );
    target_store.close().await.expect("close");

    // Cairn on the restored database, with the same keys; the devices reconnect.
    let restored_app = TestApp::spawn_beside_with(&app, |s| {
        s.database_url = Some(SecretString::from(target_url.clone()));
        s.deletion_ledger = Some(ledger.clone());
    })
    .await;
    let mut phone = reconnect(&restored_app, &maria, phone, &document).await;
    let mut laptop = reconnect(&restored_app, &sam, laptop, &document).await;
    laptop.sync_doc(&document, false).await;
    phone.sync_doc(&document, false).await;
    let phone_doc = phone.docs[&document].doc.clone();
    let laptop_doc = laptop.docs[&document].doc.clone();
    assert_eq!(
        phone_doc.clone().get_heads(),
        laptop_doc.clone().get_heads(),
        "both devices converge"
    );
    let on_laptop = keys(&laptop_doc);
    for edit in 1..=acknowledged_before {
        assert!(
            on_laptop.contains(&format!("edit-{edit}")),
            "edit {edit}, acknowledged before the backup, is there"
        );
    }
    assert!(
        on_laptop.contains(&"after-backup".to_owned()),
        "the phone gave back its later edit"
    );
    let history = restored_app
        .get(&format!("/api/v1/plans/{plan}/history"), sam.token())
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    let listed = history.body.as_array().map_or(0, Vec::len);
    assert_eq!(
        listed,
        laptop_doc.clone().get_changes(&[]).len(),
        "every change stored once: no duplicates, none missing"
    );

    // Accounts, memberships, logs and the admin audit are back; what was deleted is not.
    let signed_in = restored_app.login_answer("maria", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let activity = restored_app.get("/api/v1/me/activity", maria.token()).await;
    assert_eq!(activity.status, 200, "{}", activity.body);
    assert!(
        !activity.body.as_array().is_none_or(Vec::is_empty),
        "her account activity is back: {}",
        activity.body
    );
    let mine = restored_app.get("/api/v1/plans", maria.token()).await;
    let titles: Vec<&str> = mine
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(titles, ["Staying housed"], "{}", mine.body);
    let members = restored_app
        .get(&format!("/api/v1/plans/{plan}/members"), maria.token())
        .await;
    assert_eq!(
        members.body.as_array().map_or(0, Vec::len),
        2,
        "{}",
        members.body
    );
    let access = restored_app
        .get(&format!("/api/v1/plans/{plan}/access-log"), maria.token())
        .await;
    assert_eq!(access.status, 200, "{}", access.body);
    assert!(
        !access.body.as_array().is_none_or(Vec::is_empty),
        "{}",
        access.body
    );
    let audit = restored_app.get("/api/v1/admin/audit", admin.token()).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(
        !audit.body["entries"].as_array().is_none_or(Vec::is_empty),
        "{}",
        audit.body
    );
    for gone in [&doomed, &lees_plan] {
        let id = PlanId(gone.parse().expect("uuid"));
        assert!(
            restored_app.store.is_tombstoned(id).await.expect("store"),
            "{gone}"
        );
    }
    assert_eq!(restored_app.login_answer("lee", PASSWORD).await.status, 401);
    // New rows get fresh ids after the restored ones (Postgres sequences moved on).
    put(&mut phone, &document, "after-restore", "one more");
    phone.sync_doc(&document, false).await;
    let tracked = &phone.docs[&document];
    assert_eq!(tracked.server_heads, tracked.doc.clone().get_heads());
}

/// The same device reconnects to `app` with the copy it kept.
async fn reconnect(
    app: &TestApp,
    session: &cairn_tests::Session,
    old: SyncClient,
    document: &str,
) -> SyncClient {
    let mut doc = old.docs[document].doc.clone();
    let mut client = app.sync_client(session).await;
    client.track(document, doc.fork());
    client.sync_doc(document, false).await;
    assert!(!client.refused(document), "{:?}", client.events);
    client
}

#[tokio::test]
async fn a_restore_without_the_plans_master_key_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    app.create_plan(&maria, "Sealed under this server's key")
        .await;
    let backup_key = cairn_server::crypto::MasterKey::generate()
        .to_base64()
        .clone();
    let mut settings = settings_of(&app, &app.database_url);
    settings.backup_key = Some(backup_key.clone());
    let (store, keyring) = open(&settings).await;
    let file = app.data_dir().join("own-key.backup");
    backup::take_backup(&store, &settings, &keyring, Some(&file))
        .await
        .expect("backup");
    store.close().await.expect("close");

    // Another machine with the backup key but a master key of its own.
    let elsewhere = tempfile::tempdir().expect("a folder");
    let target = Settings {
        data_dir: elsewhere.path().to_owned(),
        database_url: Some(SecretString::from(
            fresh_database_url(elsewhere.path()).await.expect("db"),
        )),
        backup_key: Some(backup_key),
        ..Settings::default()
    };
    let (target_store, other_keyring) = open(&target).await;
    let summary = backup::verify(&file, &target, &other_keyring).expect("the backup key opens it");
    assert_eq!(summary.rows("plans"), 1);
    let refused = backup::restore(&target_store, &target, &other_keyring, &file, false).await;
    assert!(
        matches!(&refused, Err(BackupError::MissingKey(why)) if why.contains("master key")),
        "{refused:?}"
    );
    // Nothing was written: with the right keyring it restores without --force.
    backup::restore(&target_store, &target, &keyring, &file, false)
        .await
        .expect("with the master key it restores");
    target_store.close().await.expect("close");
}

#[tokio::test]
async fn a_backup_restores_into_a_fresh_database_and_clients_converge() {
    backup_and_restore(Engine::Suite, Engine::Suite).await;
}

#[tokio::test]
async fn a_backup_of_sqlite_restores_into_postgres() {
    if on_postgres() {
        backup_and_restore(Engine::Sqlite, Engine::Suite).await;
    }
}

#[tokio::test]
async fn a_backup_of_postgres_restores_into_sqlite() {
    if on_postgres() {
        backup_and_restore(Engine::Suite, Engine::Sqlite).await;
    }
}
