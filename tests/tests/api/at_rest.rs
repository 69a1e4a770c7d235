//! Encryption at rest: plan text never reaches the database files in the clear (SQLite and
//! Postgres, read byte by byte), and deleting a plan shreds its data key before its rows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use cairn_tests::{TestApp, on_postgres};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

/// Every byte the database keeps on disk for this test's database: the SQLite file with its WAL,
/// or (on Postgres, after a checkpoint) this database's folder and the server's WAL.
async fn database_files(app: &TestApp) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths = Vec::new();
    if on_postgres() {
        let data_dir = std::env::var("TEST_POSTGRES_DATA_DIR")
            .expect("scripts/with-postgres exports TEST_POSTGRES_DATA_DIR");
        let db = Database::connect(app.database_url.as_str())
            .await
            .expect("connect");
        db.execute_unprepared("CHECKPOINT")
            .await
            .expect("checkpoint");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()",
            ))
            .await
            .expect("query")
            .expect("row");
        let oid: String = row.try_get("", "oid").expect("oid");
        collect_files(&Path::new(&data_dir).join("base").join(oid), &mut paths);
        collect_files(&Path::new(&data_dir).join("pg_wal"), &mut paths);
    } else {
        for name in ["cairn.db", "cairn.db-wal", "cairn.db-shm"] {
            paths.push(app.data_dir().join(name));
        }
    }
    paths
        .into_iter()
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}

fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, into);
        } else {
            into.push(path);
        }
    }
}

fn found_in(files: &[(PathBuf, Vec<u8>)], needle: &str) -> Option<PathBuf> {
    files
        .iter()
        .find(|(_, bytes)| memchr::memmem::find(bytes, needle.as_bytes()).is_some())
        .map(|(path, _)| path.clone())
}

#[tokio::test]
async fn plan_text_never_reaches_the_database_files_in_the_clear() {
    let app = TestApp::spawn_with(|s| s.compact_after_changes = 3).await;
    let maria = app.register("maria-at-rest").await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let title = format!("Back to singing {marker}");
    let (plan, document) = app.plan_with_document(&maria, &title).await;

    // Edits over sync, enough for the plan to be folded into a snapshot.
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    for n in 0..6 {
        let tracked = client.docs.get_mut(&document).expect("tracked");
        tracked
            .doc
            .put(
                ROOT,
                format!("note{n}"),
                format!("In my own words {n} {marker}"),
            )
            .expect("put");
        tracked.doc.commit();
        client.sync_doc(&document, false).await;
    }
    drop(client);
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (snapshot, _) = app.store.plan_document(id).await.expect("stored");
        if snapshot.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the plan was never compacted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The members read every word back.
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["document"]["title"], title.as_str());
    assert_eq!(
        detail.body["document"]["note5"],
        format!("In my own words 5 {marker}").as_str()
    );

    let files = database_files(&app).await;
    assert!(
        found_in(&files, "maria-at-rest").is_some(),
        "the scan reads the live database (the username is stored in the clear)"
    );
    assert_eq!(
        found_in(&files, &marker),
        None,
        "plan text must never be stored in the clear"
    );
}

#[tokio::test]
async fn deleting_a_plan_shreds_its_key_first_and_a_crash_after_that_loses_the_rest() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let created = app
        .post(
            "/api/v1/plans",
            maria.token(),
            json!({ "title": "Gone for good" }),
        )
        .await;
    let plan = created.body["id"].as_str().unwrap_or_default().to_owned();
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let (_, changes) = app.store.plan_document(id).await.expect("stored");
    assert_eq!(changes.len(), 1);

    // The server stops right after the key is destroyed (the first step of a delete).
    assert!(
        app.store
            .shred_plan(id, chrono::Utc::now())
            .await
            .expect("shred")
    );
    assert!(
        app.store.plan_document(id).await.is_err(),
        "without its key the plan's bytes cannot be read: an error, never an empty plan"
    );
    let gone = app
        .get(
            &format!("/api/v1/plans/{plan}/export?format=json"),
            maria.token(),
        )
        .await;
    assert_ne!(gone.status, 200, "nothing of the plan can be exported");

    // The next start finishes the deletion: no row of the plan is left.
    app.store.prepare_plans_at_rest().await.expect("start-up");
    let (snapshot, changes) = app.store.plan_document(id).await.expect("nothing stored");
    assert!(snapshot.is_none() && changes.is_empty());
    assert_eq!(app.store.count_plans().await.expect("count"), 0);
    let listed = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(listed.body, json!([]));
    // And the id stays tombstoned.
    assert!(app.store.is_tombstoned(id).await.expect("tombstone"));
}

#[tokio::test]
async fn plans_stored_before_encryption_at_rest_are_sealed_at_start_up() {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let plan = app
        .create_plan(&maria, &format!("Old words {marker}"))
        .await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let (_, changes) = app.store.plan_document(id).await.expect("stored");

    // Put the plan back the way an older Cairn stored it: its change in the clear under its
    // plain hash, no data key.
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    store_changes_the_old_way(&app, &db, id).await;
    let builder = db.get_database_backend();
    for change in &changes {
        let clear = Query::update()
            .table(Alias::new("plan_changes"))
            .value(Alias::new("data"), change.data.clone())
            .and_where(Expr::col(Alias::new("hash")).eq(change.hash.clone()))
            .to_owned();
        db.execute_raw(builder.build(&clear)).await.expect("update");
    }
    let no_key = Query::delete()
        .from_table(Alias::new("plan_keys"))
        .to_owned();
    db.execute_raw(builder.build(&no_key))
        .await
        .expect("delete");
    let files = database_files(&app).await;
    assert!(
        found_in(&files, &marker).is_some(),
        "the old plan is in the clear"
    );

    // What the server does at start-up.
    assert_eq!(
        app.store.prepare_plans_at_rest().await.expect("start-up"),
        1
    );
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["title"], format!("Old words {marker}").as_str());
    if !on_postgres() {
        // SQLite rewrites the page in place once the WAL is folded back; Postgres keeps the old
        // row version until a vacuum, which the at-rest test above covers for new plans.
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        db.execute_unprepared("VACUUM").await.expect("vacuum");
        assert_eq!(found_in(&database_files(&app).await, &marker), None);
    }
    assert_eq!(app.store.prepare_plans_at_rest().await.expect("again"), 0);
}

#[tokio::test]
async fn deleting_again_finishes_a_deletion_a_crash_interrupted() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Half gone").await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    // The server stopped right after the key was destroyed; the owner deletes the plan again.
    assert!(
        app.store
            .shred_plan(id, chrono::Utc::now())
            .await
            .expect("shred")
    );
    assert!(
        app.store
            .delete_plan(id, chrono::Utc::now())
            .await
            .expect("delete")
    );
    assert_eq!(app.store.count_plans().await.expect("count"), 0);
    let (snapshot, changes) = app.store.plan_document(id).await.expect("nothing stored");
    assert!(snapshot.is_none() && changes.is_empty());
    assert!(
        !app.store
            .delete_plan(id, chrono::Utc::now())
            .await
            .expect("gone")
    );
}

/// The plan's `schemaIssue` once it has become something other than `previous`.
async fn wait_for_new_issue(
    app: &TestApp,
    session: &cairn_tests::Session,
    previous: &serde_json::Value,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let issue = app.get("/api/v1/plans", session.token()).await.body[0]["schemaIssue"].clone();
        if issue != *previous {
            return issue;
        }
        assert!(
            Instant::now() < deadline,
            "the schema check never recorded a new issue (still {issue})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_plan_that_does_not_fit_leaves_none_of_its_words_in_the_database_files() {
    use cairn_shared::plan::CheckIn;
    use cairn_shared::plan::write::add_check_in;

    let app = TestApp::spawn().await;
    let maria = app.register("maria-does-not-fit").await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let (plan, document) = app.plan_with_document(&maria, "Court week").await;
    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;

    // A check-in whose date is words: the schema wants a date there.
    let date_words = format!("the day after court {marker}");
    {
        let doc = &mut phone.docs.get_mut(&document).expect("tracked").doc;
        let check_in = CheckIn {
            id: "c1".into(),
            date: date_words.clone(),
            by: maria.user_id().to_string(),
            how_it_went: String::new(),
            what_we_learned: String::new(),
        };
        add_check_in(doc, &check_in).expect("check-in");
        doc.commit();
    }
    phone.sync_doc(&document, false).await;
    let issue = wait_for_new_issue(&app, &maria, &serde_json::Value::Null).await;
    assert!(
        issue
            .as_str()
            .is_some_and(|issue| issue.starts_with("checkIns[0].date:") && issue.contains("date")),
        "the issue says where and what kind: {issue}"
    );

    // Then a field the schema does not have, whose name is the member's words (it sorts first,
    // so it becomes the issue).
    let key_words = format!("a note about my sister {marker}");
    {
        let doc = &mut phone.docs.get_mut(&document).expect("tracked").doc;
        doc.put(ROOT, key_words.as_str(), "private").expect("put");
        doc.commit();
    }
    phone.sync_doc(&document, false).await;
    let unknown_field = wait_for_new_issue(&app, &maria, &issue).await;
    let files = database_files(&app).await;
    assert!(
        found_in(&files, "maria-does-not-fit").is_some(),
        "the scan reads the live database"
    );
    assert_eq!(
        found_in(&files, &marker),
        None,
        "none of a plan's words are stored in the clear, even when it does not fit the schema"
    );

    assert!(
        unknown_field
            .as_str()
            .is_some_and(|issue| issue.contains("<unknown field>")),
        "{unknown_field}"
    );
    for issue in [&issue, &unknown_field] {
        let text = issue.as_str().unwrap_or_default();
        assert!(
            !text.contains(&marker) && !text.contains("court") && !text.contains("sister"),
            "a schema issue holds none of the plan's words: {text}"
        );
    }
    // Members are still served the whole plan, words included.
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.status, 200);
    assert_eq!(
        detail.body["document"]["checkIns"][0]["date"],
        date_words.as_str()
    );
    drop(phone);

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        found_in(&database_files(&app).await, &marker),
        None,
        "nor after the plan is deleted"
    );
}

/// The stored change rows of `plan`: (row id, stored hash column, sealed bytes, keyed flag).
async fn change_rows(
    db: &sea_orm::DatabaseConnection,
    plan: cairn_shared::PlanId,
) -> Vec<(i64, String, Vec<u8>, bool)> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let select = Query::select()
        .columns([
            Alias::new("id"),
            Alias::new("hash"),
            Alias::new("data"),
            Alias::new("hash_keyed"),
        ])
        .from(Alias::new("plan_changes"))
        .and_where(Expr::col(Alias::new("plan_id")).eq(plan.0))
        .order_by(Alias::new("id"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    db.query_all_raw(db.get_database_backend().build(&select))
        .await
        .expect("select")
        .into_iter()
        .map(|row| {
            (
                row.try_get("", "id").expect("id"),
                row.try_get("", "hash").expect("hash"),
                row.try_get("", "data").expect("data"),
                row.try_get("", "hash_keyed").expect("hash_keyed"),
            )
        })
        .collect()
}

/// The plan's data key, unwrapped as the server does.
async fn data_key(
    app: &TestApp,
    db: &sea_orm::DatabaseConnection,
    plan: cairn_shared::PlanId,
) -> cairn_server::crypto::DataKey {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let select = Query::select()
        .columns([Alias::new("master_key_id"), Alias::new("wrapped_key")])
        .from(Alias::new("plan_keys"))
        .and_where(Expr::col(Alias::new("plan_id")).eq(plan.0))
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&select))
        .await
        .expect("select")
        .expect("the plan has a data key");
    let master: String = row.try_get("", "master_key_id").expect("master key id");
    let wrapped: Vec<u8> = row.try_get("", "wrapped_key").expect("wrapped key");
    app.store
        .keyring()
        .unwrap(plan, &master, &wrapped)
        .expect("unwrap")
}

/// Write every change row of `plan` back the way Cairn stored it before keyed change ids: the
/// plain change hash in `hash`, the blob sealed with it as associated data, not flagged keyed.
async fn store_changes_the_old_way(
    app: &TestApp,
    db: &sea_orm::DatabaseConnection,
    plan: cairn_shared::PlanId,
) {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let key = data_key(app, db, plan).await;
    let stored = app.store.stored_bytes(plan).await.expect("stored");
    let document = automerge::Automerge::load(&stored.bytes).expect("load");
    let plain: std::collections::HashMap<String, String> = document
        .get_changes(&[])
        .iter()
        .map(|change| {
            let hash = change.hash().to_string();
            (key.change_id(plan, &hash), hash)
        })
        .collect();
    for (row, id, data, keyed) in change_rows(db, plan).await {
        assert!(keyed, "rows are written keyed");
        let hash = plain
            .get(&id)
            .expect("every row is a change of the document");
        let data = if data.is_empty() {
            data
        } else {
            let opened = key.open_change(plan, &id, &data).expect("open");
            key.seal_change(plan, hash, &opened).expect("seal")
        };
        let old = Query::update()
            .table(Alias::new("plan_changes"))
            .value(Alias::new("hash"), hash.clone())
            .value(Alias::new("data"), data)
            .value(Alias::new("hash_keyed"), false)
            .and_where(Expr::col(Alias::new("id")).eq(row))
            .to_owned();
        db.execute_raw(db.get_database_backend().build(&old))
            .await
            .expect("update");
    }
}

/// Make `count` one-character edits over sync; the hashes of the changes made, as hex.
async fn one_character_edits(
    client: &mut cairn_tests::sync_client::SyncClient,
    document: &str,
    count: usize,
) -> Vec<String> {
    let mut hashes = Vec::new();
    for n in 0..count {
        let tracked = client.docs.get_mut(document).expect("tracked");
        let letter = char::from(b'a' + (n % 26) as u8).to_string();
        tracked.doc.put(ROOT, "k", letter).expect("put");
        tracked.doc.commit();
        let change = tracked.doc.get_last_local_change().expect("a change");
        hashes.push(change.hash().to_string());
        client.sync_doc(document, false).await;
    }
    hashes
}

/// Wait until the plan has a snapshot (it was compacted).
async fn wait_for_compaction(app: &TestApp, plan: cairn_shared::PlanId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (snapshot, _) = app.store.plan_document(plan).await.expect("stored");
        if snapshot.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "the plan was never compacted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The hashes of every change of the client's copy of `document`, sorted.
fn all_hashes(client: &mut cairn_tests::sync_client::SyncClient, document: &str) -> Vec<String> {
    let mut hashes: Vec<String> = client
        .docs
        .get_mut(document)
        .expect("tracked")
        .doc
        .get_changes(&[])
        .iter()
        .map(|change| change.hash().to_string())
        .collect();
    hashes.sort();
    hashes
}

/// The hashes the plan's history lists, oldest first.
async fn history_hashes(app: &TestApp, session: &cairn_tests::Session, plan: &str) -> Vec<String> {
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), session.token())
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    history
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|entry| entry["hash"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn stored_changes_are_named_by_keyed_ids_never_by_their_plain_hashes() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria-keyed-ids").await;
    let (plan, document) = app.plan_with_document(&maria, "Keystrokes").await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    // One keystroke a change: a character and a reference to the change before.
    let hashes = one_character_edits(&mut client, &document, 4).await;
    let (_, stored) = app.store.plan_document(id).await.expect("stored");
    for hash in &hashes {
        assert!(
            stored.iter().any(|change| change.hash == *hash),
            "the server stored {hash}"
        );
    }
    let all: Vec<String> = stored.iter().map(|change| change.hash.clone()).collect();

    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    let rows = change_rows(&db, id).await;
    assert_eq!(rows.len(), all.len());
    for (_, stored_id, _, keyed) in &rows {
        assert!(keyed, "every new row is keyed");
        assert_eq!(stored_id.len(), 64);
        assert!(!all.contains(stored_id), "a row stores a plain change hash");
    }
    let files = database_files(&app).await;
    assert!(
        found_in(&files, "maria-keyed-ids").is_some(),
        "the scan reads the live database"
    );
    for hash in &all {
        assert_eq!(
            found_in(&files, hash),
            None,
            "a plain change hash is in the database files"
        );
    }
}

#[tokio::test]
async fn history_lists_the_real_change_hashes_before_and_after_compaction() {
    let app = TestApp::spawn_with(|s| {
        s.compact_after_changes = 5;
        s.sync_idle_evict_secs = 1;
    })
    .await;
    let maria = app.register("maria").await;
    let (plan, document) = app.plan_with_document(&maria, "Named changes").await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    one_character_edits(&mut client, &document, 2).await;
    let mut listed = history_hashes(&app, &maria, &plan).await;
    listed.sort();
    assert_eq!(
        listed,
        all_hashes(&mut client, &document),
        "before compaction"
    );

    one_character_edits(&mut client, &document, 6).await;
    let expected = all_hashes(&mut client, &document);
    drop(client);
    wait_for_compaction(&app, id).await;
    let mut listed = history_hashes(&app, &maria, &plan).await;
    listed.sort();
    assert_eq!(listed, expected, "after compaction, from the loaded plan");

    // And from a plan loaded again from storage.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.loaded_documents() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut listed = history_hashes(&app, &maria, &plan).await;
    listed.sort();
    assert_eq!(listed, expected, "after compaction, loaded again");
}

#[tokio::test]
async fn changes_stored_under_plain_hashes_are_rekeyed_at_start_up() {
    let app = TestApp::spawn_with(|s| {
        s.compact_after_changes = 5;
        s.sync_idle_evict_secs = 1;
    })
    .await;
    let maria = app.register("maria-old-rows").await;
    let (plan, document) = app.plan_with_document(&maria, "Kept from before").await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    // Enough to be compacted, then some more left outside the snapshot.
    one_character_edits(&mut client, &document, 6).await;
    wait_for_compaction(&app, id).await;
    one_character_edits(&mut client, &document, 2).await;
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.loaded_documents() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(before.status, 200);
    let history = history_hashes(&app, &maria, &plan).await;

    // Rows as an older Cairn wrote them, some compacted and some not.
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    store_changes_the_old_way(&app, &db, id).await;
    let rows = change_rows(&db, id).await;
    assert!(rows.iter().any(|(_, _, data, _)| data.is_empty()));
    assert!(rows.iter().any(|(_, _, data, _)| !data.is_empty()));
    let mut plain: Vec<String> = rows.iter().map(|row| row.1.clone()).collect();
    plain.sort();
    let mut sorted_history = history.clone();
    sorted_history.sort();
    assert_eq!(plain, sorted_history, "the old rows hold the plain hashes");

    // What the server does at start-up, twice at once (two instances starting together); then
    // again (the next start): only rows still unkeyed are re-keyed, each once.
    let (started, other) = tokio::join!(
        app.store.prepare_plans_at_rest(),
        app.store.rekey_change_ids()
    );
    assert_eq!(started.expect("start-up"), 0, "no plan needed sealing");
    assert!(other.expect("the other instance") <= plain.len() as u64);
    assert_eq!(app.store.rekey_change_ids().await.expect("again"), 0);
    let rows = change_rows(&db, id).await;
    assert_eq!(rows.len(), plain.len());
    for (_, stored_id, _, keyed) in &rows {
        assert!(keyed, "every row is keyed");
        assert!(!plain.contains(stored_id), "a plain hash is left");
    }
    if !on_postgres() {
        // Postgres keeps old row versions until a vacuum.
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        db.execute_unprepared("VACUUM").await.expect("vacuum");
        let files = database_files(&app).await;
        for hash in &plain {
            assert_eq!(found_in(&files, hash), None, "{hash} is left in the files");
        }
    }

    // The plan reads back whole, from storage, with its history.
    let (_, loose) = app.store.plan_document(id).await.expect("stored");
    assert!(loose.iter().all(|change| plain.contains(&change.hash)));
    let after = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["document"], before.body["document"]);
    assert_eq!(history_hashes(&app, &maria, &plan).await, history);
}
