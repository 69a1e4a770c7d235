//! Several Cairn instances on one Postgres, with no sticky routing: a change accepted on one
//! reaches members connected to another, and removals, deletions, disabled accounts and ended
//! sessions take effect on every instance. Instances talk through Postgres `LISTEN/NOTIFY`, so
//! these tests need the Postgres run (`scripts/with-postgres`); on SQLite, where Cairn is a
//! single process, they say so and stop. Killing an instance mid-stream is in
//! `server/tests/durability.rs` (it needs real processes).

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use cairn_shared::protocol::Message;
use cairn_tests::sync_client::{Event, SyncClient, WAIT};
use cairn_tests::{TestApp, on_postgres};
use serde_json::json;

use crate::{note, put};

/// Two instances on one fresh Postgres database, or `None` (with a note) on SQLite.
async fn two_instances(configure: fn(&mut cairn_server::Settings)) -> Option<(TestApp, TestApp)> {
    if !on_postgres() {
        eprintln!("skipped: several instances share a Postgres database (run scripts/test)");
        return None;
    }
    let first = TestApp::spawn_with(configure).await;
    let second = TestApp::spawn_beside_with(&first, configure).await;
    Some((first, second))
}

async fn joined(app: &TestApp, session: &cairn_tests::Session, document: &str) -> SyncClient {
    let mut client = app.sync_client(session).await;
    client.track(document, AutoCommit::new());
    client.sync_doc(document, true).await;
    assert!(!client.refused(document), "{:?}", client.events);
    client
}

#[tokio::test]
async fn changes_reach_members_connected_to_another_instance() {
    let Some((a, b)) = two_instances(|_| {}).await else {
        return;
    };
    let maria = a.register("maria").await;
    let sam = a.register("sam").await;
    let (plan, document) = a.plan_with_document(&maria, "Two instances").await;
    a.add_supporter(&maria, &plan, &sam).await;
    let mut phone = joined(&a, &maria, &document).await;
    let mut laptop = joined(&b, &sam, &document).await;

    put(&mut phone, &document, "fromMaria", "I want to cook again");
    phone.sync_doc(&document, false).await;
    assert!(
        laptop
            .wait_until(WAIT, |c| note(&c.docs[&document].doc, "fromMaria")
                .is_some())
            .await,
        "an edit accepted on instance A reaches a member on instance B: {:?}",
        laptop.events
    );
    put(&mut laptop, &document, "fromSam", "housing office hours");
    laptop.sync_doc(&document, false).await;
    assert!(
        phone
            .wait_until(WAIT, |c| note(&c.docs[&document].doc, "fromSam").is_some())
            .await,
        "and back: {:?}",
        phone.events
    );

    // Each account's edits stay bound to it across instances: Sam cannot write as Maria's actor
    // on B, and the history names the right author for each edit, read from either instance.
    for app in [&a, &b] {
        let history = app
            .get(&format!("/api/v1/plans/{plan}/history"), sam.token())
            .await;
        let authors: Vec<&str> = history
            .body
            .as_array()
            .map(|h| h.iter().filter_map(|e| e["authorName"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(authors, ["Maria", "Maria", "Sam"], "{}", history.body);
    }
}

#[tokio::test]
async fn presence_reaches_a_member_on_another_instance() {
    let Some((a, b)) = two_instances(|_| {}).await else {
        return;
    };
    let maria = a.register("maria").await;
    let sam = a.register("sam").await;
    let (plan, document) = a.plan_with_document(&maria, "Typing").await;
    a.add_supporter(&maria, &plan, &sam).await;
    let mut owner = joined(&a, &maria, &document).await;
    let mut supporter = joined(&b, &sam, &document).await;
    let sender = owner.peer.0.clone();
    for count in 1..=3 {
        let presence = Message::Ephemeral {
            sender_id: owner.peer.clone(),
            target_id: owner.server.clone(),
            document_id: document.clone(),
            count,
            session_id: "session-a".into(),
            data: format!("typing in goal {count}").into_bytes(),
        };
        owner.send(&presence).await;
        // Relayed naming Maria's account (what she sent was not a CBOR map: it is wrapped).
        let expected = Event::Ephemeral(
            sender.clone(),
            cairn_shared::protocol::presence_with_account(
                format!("typing in goal {count}").as_bytes(),
                &maria.user_id().to_string(),
            ),
        );
        assert!(
            supporter
                .wait_until(WAIT, |c| c.events.contains(&expected))
                .await,
            "presence sent to A reaches the supporter on B: {:?}",
            supporter.events
        );
    }
    // Maria closes the plan on A: the supporter on B hears from B that she is gone.
    drop(owner);
    let gone = Event::Ephemeral(
        supporter.server.0.clone(),
        cairn_shared::protocol::presence_gone(&maria.user_id().to_string()),
    );
    assert!(
        supporter
            .wait_until(WAIT, |c| c.events.contains(&gone))
            .await,
        "{:?}",
        supporter.events
    );
}

#[tokio::test]
async fn a_member_removed_on_one_instance_stops_syncing_on_all() {
    let Some((a, b)) = two_instances(|_| {}).await else {
        return;
    };
    let maria = a.register("maria").await;
    let sam = a.register("sam").await;
    let (plan, document) = a.plan_with_document(&maria, "Boundaries").await;
    a.add_supporter(&maria, &plan, &sam).await;
    let mut owner = joined(&b, &maria, &document).await;
    let mut supporter = joined(&b, &sam, &document).await;

    let removed = a
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(
        supporter.wait_until(WAIT, |c| c.refused(&document)).await,
        "removed on A, refused on B at once: {:?}",
        supporter.events
    );
    put(&mut owner, &document, "afterRemoval", "just mine now");
    owner.sync_doc(&document, false).await;
    put(&mut supporter, &document, "sneaky", "still here?");
    supporter.sync_doc(&document, false).await;
    supporter
        .receive_one(std::time::Duration::from_millis(300))
        .await;
    assert_eq!(note(&supporter.docs[&document].doc, "afterRemoval"), None);
    let detail = a.get(&format!("/api/v1/plans/{plan}"), maria.token()).await;
    assert_eq!(detail.body["document"]["afterRemoval"], "just mine now");
    assert!(
        detail.body["document"].get("sneaky").is_none(),
        "nothing stored from the removed supporter"
    );

    // Someone who joins on A syncs on B straight away (B had the plan loaded without them).
    let lee = a.register("lee").await;
    a.add_supporter(&maria, &plan, &lee).await;
    let newcomer = joined(&b, &lee, &document).await;
    assert_eq!(
        note(&newcomer.docs[&document].doc, "afterRemoval").as_deref(),
        Some("just mine now")
    );

    // Deleted on A: every connection on B loses the plan.
    let mut lees = newcomer;
    let deleted = a
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(owner.wait_until(WAIT, |c| c.refused(&document)).await);
    assert!(lees.wait_until(WAIT, |c| c.refused(&document)).await);
}

#[tokio::test]
async fn disabling_or_deleting_an_account_or_ending_a_session_closes_its_sockets_on_every_instance()
{
    let Some((a, b)) = two_instances(|_| {}).await else {
        return;
    };
    let admin = a.admin("agency").await;
    let maria = a.register("maria").await;
    let laptop = a.login("maria").await;
    let sam = a.register("sam").await;
    let mut on_laptop = b.sync_client(&laptop).await;
    let mut sams = b.sync_client(&sam).await;

    let signed_out = a
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(laptop.token()),
            None,
        )
        .await;
    assert_eq!(signed_out.status, 204, "{}", signed_out.body);
    assert!(
        on_laptop.wait_until(WAIT, SyncClient::closed).await,
        "signed out on A, the socket on B closes"
    );

    let disabled = a
        .post(
            &format!("/api/v1/admin/accounts/{}/disable", sam.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(sams.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        sams.error().is_some_and(|e| e.contains("disabled")),
        "{:?}",
        sams.events
    );
    // Maria's other device was not touched.
    let mut phone = b.sync_client(&maria).await;
    assert!(!phone.wait_until(WAIT / 10, SyncClient::closed).await);

    // Maria leaves Cairn on A: her phone's socket on B closes, told the account is deleted.
    let left = a
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(maria.token()),
            Some(&json!({ "password": cairn_tests::PASSWORD })),
        )
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    assert!(phone.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        phone.error().is_some_and(|e| e.contains("deleted")),
        "{:?}",
        phone.events
    );
}

#[tokio::test]
async fn http_sync_on_one_instance_sees_what_another_just_stored() {
    let Some((a, b)) = two_instances(|_| {}).await else {
        return;
    };
    let maria = a.register("maria").await;
    let sam = a.register("sam").await;
    let (plan, document) = a.plan_with_document(&maria, "Background sync").await;
    a.add_supporter(&maria, &plan, &sam).await;
    // B has the plan in memory: Maria syncs there live.
    let mut live = joined(&b, &maria, &document).await;
    let base = b.plan_changes(sam.token(), &plan).await;

    let mut doc = AutoCommit::load(&base).expect("load");
    for n in 0..5 {
        let since = doc.get_heads();
        doc.put(ROOT, format!("offline{n}"), "from the service worker")
            .expect("put");
        doc.commit();
        let change: Vec<u8> = doc
            .get_changes(&since)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let posted = a.upload_changes(sam.token(), &plan, change).await;
        assert_eq!(posted.status, 200, "{}", posted.body);
        // Read back from the other instance at once: it is there.
        let read = AutoCommit::load(&b.plan_changes(sam.token(), &plan).await).expect("load");
        assert_eq!(
            note(&read, &format!("offline{n}")).as_deref(),
            Some("from the service worker"),
            "uploaded to A, read from B straight after"
        );
    }
    assert!(
        live.wait_until(WAIT, |c| note(&c.docs[&document].doc, "offline4").is_some())
            .await,
        "the member syncing live on B got the uploads to A: {:?}",
        live.events
    );
}

#[tokio::test]
async fn instances_compacting_the_same_plan_lose_nothing() {
    let Some((a, b)) = two_instances(|s| s.compact_after_changes = 3).await else {
        return;
    };
    let maria = a.register("maria").await;
    let sam = a.register("sam").await;
    let (plan, document) = a.plan_with_document(&maria, "Both compact").await;
    a.add_supporter(&maria, &plan, &sam).await;
    let mut on_a = joined(&a, &maria, &document).await;
    let mut on_b = joined(&b, &sam, &document).await;
    for n in 0..15 {
        put(&mut on_a, &document, &format!("a{n}"), "kept");
        on_a.sync_doc(&document, false).await;
        put(&mut on_b, &document, &format!("b{n}"), "kept");
        on_b.sync_doc(&document, false).await;
    }
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let stored = a.store.stored_document(id).await.expect("stored");
    assert!(
        stored.snapshot_generation >= 2,
        "both compacted, one after the other: generation {}",
        stored.snapshot_generation
    );
    // What is stored, read afresh, holds every edit from both instances.
    let mut bytes = stored.snapshot.unwrap_or_default();
    for change in &stored.changes {
        bytes.extend_from_slice(&change.data);
    }
    let doc = AutoCommit::load(&bytes).expect("the stored plan loads");
    let missing: Vec<String> = (0..15)
        .flat_map(|n| [format!("a{n}"), format!("b{n}")])
        .filter(|key| note(&doc, key).is_none())
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
}

#[tokio::test]
async fn a_compaction_from_an_outdated_snapshot_is_refused_and_loses_nothing() {
    // Runs on SQLite too: this is the storage rule the instances rely on.
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Racing compactions").await;
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let mut doc = AutoCommit::load(&app.plan_changes(maria.token(), &plan).await).expect("load");
    let stale = doc.clone();
    let since = doc.get_heads();
    doc.put(ROOT, "later", "must survive").expect("put");
    doc.commit();
    let change: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(
        app.upload_changes(maria.token(), &plan, change)
            .await
            .status,
        200
    );
    let hashes = |doc: &mut AutoCommit| -> HashSet<String> {
        doc.get_changes(&[])
            .iter()
            .map(|c| c.hash().to_string())
            .collect()
    };
    let before = app.store.stored_document(id).await.expect("stored");
    let now = chrono::Utc::now();

    // One instance compacts everything it has (the current generation).
    let mut current = doc.clone();
    let folded = app
        .store
        .compact(
            id,
            current.save(),
            &hashes(&mut current),
            before.snapshot_generation,
            now,
        )
        .await
        .expect("compact");
    let (_, generation) = folded.expect("compaction from the current snapshot is accepted");
    assert_eq!(generation, before.snapshot_generation + 1);

    // Another that has not seen it (its document lacks "later") tries from the old generation.
    let mut behind = stale;
    let refused = app
        .store
        .compact(
            id,
            behind.save(),
            &hashes(&mut behind),
            before.snapshot_generation,
            now,
        )
        .await
        .expect("compact");
    assert!(refused.is_none(), "an outdated compaction is refused");

    let after = app.store.stored_document(id).await.expect("stored");
    assert_eq!(after.snapshot_generation, generation);
    let mut bytes = after.snapshot.unwrap_or_default();
    for change in &after.changes {
        bytes.extend_from_slice(&change.data);
    }
    let stored = AutoCommit::load(&bytes).expect("loads");
    assert_eq!(note(&stored, "later").as_deref(), Some("must survive"));
}
