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

    // Put the plan back the way an older Cairn stored it: its change in the clear, no data key.
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
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
