//! Deleting a plan leaves a tombstone: a stale offline replica that syncs the deleted document id
//! again gets `doc-unavailable` and never re-creates the plan (across eviction, restarts and
//! instances), while members connected at the time of the delete lose it at once.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use cairn_server::domain::StoredChange;
use cairn_server::store::StoreError;
use cairn_shared::PlanId;
use cairn_tests::sync_client::{SyncClient, WAIT};
use cairn_tests::{Session, TestApp};
use serde_json::json;

/// A change by a fresh device of `author`, as the sync worker hands it to the store.
fn one_change(note: &str, author: &Session) -> StoredChange {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "note", note).expect("put");
    let change = doc.get_last_local_change().expect("a change").clone();
    StoredChange {
        hash: change.hash().to_string(),
        actor: change.actor_id().to_hex_string(),
        author_id: author.user_id(),
        data: change.raw_bytes().to_vec(),
    }
}

/// A copy of what the client holds for the document: the whole stale replica.
fn replica(client: &mut SyncClient, document: &str) -> AutoCommit {
    let tracked = client.docs.get_mut(document).expect("tracked document");
    let mut copy = AutoCommit::load(&tracked.doc.save()).expect("reload");
    assert!(!copy.get_heads().is_empty(), "the replica holds the plan");
    copy
}

/// The stale replica syncs the deleted id again, as a `sync` (it has the document) on a new
/// connection, with an edit made offline: the server must refuse it.
async fn stale_sync_is_refused(app: &TestApp, owner: &Session, document: &str, stale: AutoCommit) {
    let mut stale = stale;
    stale
        .put(ROOT, "offlineEdit", "written after the delete")
        .expect("put");
    stale.commit();
    let mut phone = app.sync_client(owner).await;
    phone.track(document, stale);
    phone.sync_doc(document, false).await;
    assert!(
        phone.refused(document),
        "a deleted plan is unavailable: {:?}",
        phone.events
    );
    assert!(!phone.closed(), "refused, not an error: {:?}", phone.events);
    // Keep pushing as a stale client would: still nothing comes back but `doc-unavailable`.
    phone.push(document, false).await;
    phone.receive_one(Duration::from_millis(300)).await;
    assert!(
        phone.docs[document].server_heads.is_empty(),
        "the server never advertised heads for it"
    );
}

async fn assert_no_plans(app: &TestApp, owner: &Session, admin: &Session) {
    let mine = app.get("/api/v1/plans", owner.token()).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body, json!([]), "the deleted plan did not come back");
    let counts = app.get("/api/v1/admin/counts", admin.token()).await;
    assert_eq!(counts.status, 200, "{}", counts.body);
    assert_eq!(counts.body["plans"], 0, "{}", counts.body);
}

#[tokio::test]
async fn connected_members_lose_a_deleted_plan_and_a_stale_replica_cannot_bring_it_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Short-lived").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    assert!(!phone.refused(&document));
    let stale = replica(&mut phone, &document);
    let mut supporter = app.sync_client(&sam).await;
    supporter.track(&document, AutoCommit::new());
    supporter.sync_doc(&document, true).await;
    assert!(!supporter.refused(&document));

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(
        supporter.wait_until(WAIT, |c| c.refused(&document)).await,
        "the connected supporter is told at once: {:?}",
        supporter.events
    );
    assert!(
        phone.wait_until(WAIT, |c| c.refused(&document)).await,
        "so is the owner's connected phone: {:?}",
        phone.events
    );
    assert!(
        app.store
            .is_tombstoned(PlanId(plan.parse().expect("uuid")))
            .await
            .expect("store")
    );

    stale_sync_is_refused(&app, &maria, &document, stale).await;
    // The supporter's stale copy cannot claim the id either.
    let supporter_copy = replica(&mut supporter, &document);
    stale_sync_is_refused(&app, &sam, &document, supporter_copy).await;
    assert_no_plans(&app, &maria, &admin).await;
    assert_eq!(app.get("/api/v1/plans", sam.token()).await.body, json!([]));
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), maria.token())
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_deleted_plan_stays_deleted_after_eviction_and_restart() {
    let app = TestApp::spawn_with(|s| s.sync_idle_evict_secs = 1).await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let (plan, document) = app
        .plan_with_document(&maria, "Evicted, then deleted")
        .await;
    let stale = {
        let mut phone = app.sync_client(&maria).await;
        phone.track(&document, AutoCommit::new());
        phone.sync_doc(&document, true).await;
        assert!(!phone.refused(&document));
        replica(&mut phone, &document)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.loaded_documents() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.hub.loaded_documents(), 0, "the plan left memory");

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    stale_sync_is_refused(&app, &maria, &document, stale.clone()).await;
    assert_no_plans(&app, &maria, &admin).await;

    // A second server on the same database (a restart, or another instance) refuses it too.
    let database_url = app.database_url.clone();
    let restarted = TestApp::spawn_with(move |s| {
        s.database_url = Some(secrecy::SecretString::from(database_url));
    })
    .await;
    let maria_again = restarted.login("maria").await;
    stale_sync_is_refused(&restarted, &maria_again, &document, stale).await;
    // Another admin: the first one's second factor needs a session through it on this server.
    let auditor = restarted.admin("auditor").await;
    assert_no_plans(&restarted, &maria_again, &auditor).await;
}

#[tokio::test]
async fn a_plan_created_offline_and_deleted_cannot_be_created_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let plan = PlanId::new_random();
    let document = plan.document_id().to_string();
    let mut phone = app.sync_client(&maria).await;
    let doc = cairn_shared::plan::new_plan_document(ActorId::random(), "Written on the bus")
        .expect("doc");
    phone.track(&document, doc);
    phone.sync_doc(&document, false).await;
    assert!(!phone.refused(&document), "{:?}", phone.events);
    let listed = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(listed.body[0]["documentId"], document.as_str());
    let stale = replica(&mut phone, &document);
    drop(phone);

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    stale_sync_is_refused(&app, &maria, &document, stale).await;
    assert_no_plans(&app, &maria, &admin).await;

    // The store refuses the id on its own too, inside the creating transaction.
    let mut fresh = AutoCommit::new();
    fresh.put(ROOT, "title", "again").expect("put");
    fresh.commit();
    let change = fresh.get_last_local_change().expect("change");
    let first = StoredChange {
        hash: change.hash().to_string(),
        actor: change.actor_id().to_hex_string(),
        author_id: maria.user_id(),
        data: change.raw_bytes().to_vec(),
    };
    let refused = app
        .store
        .insert_plan(plan, maria.user_id(), &first, chrono::Utc::now())
        .await;
    assert!(
        matches!(refused, Err(StoreError::PlanDeleted)),
        "{refused:?}"
    );
    let batch = cairn_server::domain::ChangeBatch {
        create_owner: Some(maria.user_id()),
        new_bindings: vec![(first.actor.clone(), maria.user_id())],
        changes: vec![first],
    };
    let refused = app
        .store
        .append_changes(plan, batch, chrono::Utc::now())
        .await;
    assert!(
        matches!(refused, Err(StoreError::PlanDeleted)),
        "{refused:?}"
    );
    assert_eq!(app.store.count_plans().await.expect("count"), 0);
    let (snapshot, changes) = app.store.plan_document(plan).await.expect("document");
    assert!(snapshot.is_none() && changes.is_empty(), "nothing stored");
}

#[tokio::test]
async fn an_unclaimed_document_loaded_before_the_delete_is_not_created_by_it() {
    // Instance B loads an unknown id as unclaimed (a first sync without changes); meanwhile the
    // plan is created and deleted through instance A. B's creation is refused by the store.
    let a = TestApp::spawn().await;
    let database_url = a.database_url.clone();
    let b = TestApp::spawn_with(move |s| {
        s.database_url = Some(secrecy::SecretString::from(database_url));
    })
    .await;
    let admin = a.admin("agency").await;
    let maria = a.register("maria").await;
    let plan = PlanId::new_random();
    let document = plan.document_id().to_string();
    let doc = cairn_shared::plan::new_plan_document(ActorId::random(), "Two phones").expect("doc");
    let copy = AutoCommit::load(&doc.clone().save()).expect("copy");

    let maria_b = b.login("maria").await;
    let mut late = b.sync_client(&maria_b).await;
    late.track(&document, copy);
    assert!(late.push(&document, false).await, "first sync message");
    assert!(late.receive_one(WAIT).await, "B answers the unknown id");
    assert!(!late.refused(&document));
    assert_eq!(b.hub.loaded_documents(), 1, "loaded as unclaimed on B");

    let mut phone = a.sync_client(&maria).await;
    phone.track(&document, doc);
    phone.sync_doc(&document, false).await;
    assert!(!phone.refused(&document), "{:?}", phone.events);
    let deleted = a
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    late.sync_doc(&document, false).await;
    assert!(
        late.refused(&document),
        "the late creation is refused: {:?}",
        late.events
    );
    assert!(late.docs[&document].server_heads.is_empty());
    assert_no_plans(&a, &maria, &admin).await;
}

#[tokio::test]
async fn http_sync_to_a_deleted_plan_is_not_found() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (plan, _) = app.plan_with_document(&maria, "Background sync").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/plans/{plan}/changes", app.address);
    let all = client
        .get(&url)
        .bearer_auth(maria.token())
        .send()
        .await
        .expect("get");
    assert_eq!(all.status(), 200);
    let mut doc = AutoCommit::load(&all.bytes().await.expect("body")).expect("load");
    let since = doc.get_heads();
    doc.put(ROOT, "offlineNote", "queued before the delete")
        .expect("put");
    doc.commit();
    let queued: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let whole = doc.save();

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    for body in [queued, whole] {
        let posted = client
            .post(&url)
            .bearer_auth(maria.token())
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(posted.status(), 404);
    }
    let read = client
        .get(&url)
        .bearer_auth(maria.token())
        .send()
        .await
        .expect("get");
    assert_eq!(read.status(), 404);
    assert_eq!(app.store.count_plans().await.expect("count"), 0);
}

#[tokio::test]
async fn batches_committed_together_are_kept_or_refused_one_by_one() {
    use cairn_server::domain::ChangeBatch;
    // On SQLite the batches of plans that arrive together share one commit; a refused one (the
    // offline re-creation of a deleted plan's id) must not take the others down with it.
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let deleted: PlanId = app.create_plan(&maria, "Gone").await.parse().expect("id");
    assert_eq!(
        app.delete(&format!("/api/v1/plans/{deleted}"), maria.token())
            .await
            .status,
        204
    );
    let mut plans = Vec::new();
    for n in 0..8 {
        let id: PlanId = app
            .create_plan(&maria, &format!("Kept {n}"))
            .await
            .parse()
            .expect("id");
        plans.push(id);
    }
    let edit = |note: &str| one_change(note, &maria);
    let now = chrono::Utc::now();
    let refused = ChangeBatch {
        create_owner: Some(maria.user_id()),
        new_bindings: Vec::new(),
        changes: vec![edit("back from the dead")],
    };
    let kept: Vec<(PlanId, ChangeBatch)> = plans
        .iter()
        .map(|plan| {
            let change = edit(&format!("kept in {plan}"));
            let batch = ChangeBatch {
                create_owner: None,
                new_bindings: vec![(change.actor.clone(), maria.user_id())],
                changes: vec![change],
            };
            (*plan, batch)
        })
        .collect();
    let store = &app.store;
    let (refusal, results) = tokio::join!(
        store.append_changes(deleted, refused.clone(), now),
        futures_util::future::join_all(kept.iter().map(|(plan, batch)| store.append_changes(
            *plan,
            batch.clone(),
            now
        )))
    );
    assert!(
        matches!(refusal, Err(StoreError::PlanDeleted)),
        "{refusal:?}"
    );
    for (result, (plan, batch)) in results.iter().zip(&kept) {
        assert!(result.is_ok(), "{plan}: {result:?}");
        let (_, changes) = store.plan_document(*plan).await.expect("stored");
        assert!(
            changes.iter().any(|c| c.hash == batch.changes[0].hash),
            "{plan}: its change is stored"
        );
    }
    assert!(
        store.is_tombstoned(deleted).await.expect("read"),
        "the deleted plan stays deleted"
    );
    assert!(store.plan(deleted).await.expect("read").is_none());
}

#[tokio::test]
async fn plain_batches_committed_together_are_kept_or_refused_one_by_one() {
    use cairn_server::domain::ChangeBatch;
    // Batches that only add changes share one INSERT on SQLite. A plan deleted by another
    // instance (so this one still holds its data key) makes that statement fail: the other
    // batches must still be stored, and only the deleted plan's batch refused.
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_beside(&app).await;
    let maria = app.register("maria").await;
    let mut plans = Vec::new();
    for n in 0..5 {
        let id: PlanId = app
            .create_plan(&maria, &format!("Plan {n}"))
            .await
            .parse()
            .expect("id");
        plans.push(id);
    }
    let now = chrono::Utc::now();
    let plain = |note: &str| {
        let change = one_change(note, &maria);
        ChangeBatch {
            create_owner: None,
            new_bindings: vec![(change.actor.clone(), maria.user_id())],
            changes: vec![change],
        }
    };
    // A first change to each plan, so this instance holds every plan's data key.
    for plan in &plans {
        app.store
            .append_changes(*plan, plain(&format!("first in {plan}")), now)
            .await
            .expect("stored");
    }
    let deleted = plans[0];
    assert_eq!(
        other
            .delete(&format!("/api/v1/plans/{deleted}"), maria.token())
            .await
            .status,
        204
    );
    let batches: Vec<(PlanId, ChangeBatch)> = plans
        .iter()
        .map(|plan| {
            let mut batch = plain(&format!("second in {plan}"));
            batch.new_bindings.clear();
            (*plan, batch)
        })
        .collect();
    let store = &app.store;
    let results = futures_util::future::join_all(
        batches
            .iter()
            .map(|(plan, batch)| store.append_changes(*plan, batch.clone(), now)),
    )
    .await;
    assert!(results[0].is_err(), "the deleted plan's batch is refused");
    for (result, (plan, batch)) in results.iter().zip(&batches).skip(1) {
        assert!(result.is_ok(), "{plan}: {result:?}");
        let (_, changes) = store.plan_document(*plan).await.expect("stored");
        assert!(
            changes.iter().any(|c| c.hash == batch.changes[0].hash),
            "{plan}: its change is stored"
        );
    }
    assert!(store.plan(deleted).await.expect("read").is_none());
    assert!(store.is_tombstoned(deleted).await.expect("read"));
}

#[tokio::test]
async fn a_change_sent_again_is_stored_once_and_is_not_an_error() {
    // A phone whose instance died after storing its edit, but before saying so, sends the edit
    // again to another instance (and later perhaps to the first one): each resend must succeed
    // and store nothing more, on the plain one-statement path and in a transaction alike.
    use cairn_server::domain::ChangeBatch;
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_beside(&app).await;
    let maria = app.register("maria").await;
    let plan: PlanId = app.create_plan(&maria, "Plan").await.parse().expect("id");
    let change = one_change("walk to the park", &maria);
    let now = chrono::Utc::now();
    // Binding the device's actor makes this batch take the transaction path.
    let first = ChangeBatch {
        create_owner: None,
        new_bindings: vec![(change.actor.clone(), maria.user_id())],
        changes: vec![change.clone()],
    };
    app.store
        .append_changes(plan, first, now)
        .await
        .expect("stored");
    let again = ChangeBatch {
        create_owner: None,
        new_bindings: Vec::new(),
        changes: vec![change.clone()],
    };
    // The other instance does not hold the plan's data key yet: the transaction path.
    other
        .store
        .append_changes(plan, again.clone(), now)
        .await
        .expect("a resend to another instance is not an error");
    // This instance holds the key: the plain path on SQLite.
    app.store
        .append_changes(plan, again, now)
        .await
        .expect("a resend to the same instance is not an error");
    let (_, changes) = other.store.plan_document(plan).await.expect("read");
    assert_eq!(
        changes.iter().filter(|c| c.hash == change.hash).count(),
        1,
        "the change is stored once"
    );
}
