//! `GET /api/v1/plans/{id}/access-log`: who created, read, synced, invited, joined, removed or
//! left a plan, readable by every member and by nobody else, with no content and no codes in it.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use cairn_shared::api::{AccessKind, AccessLogEntry};
use cairn_shared::plan::read_title;
use cairn_shared::{DocumentId, ErrorCode, PlanId};
use cairn_tests::{Session, TestApp};
use serde_json::json;

const TITLE: &str = "Private words about housing";

async fn access_log(app: &TestApp, plan: &str, reader: &Session) -> Vec<AccessLogEntry> {
    let answer = app
        .get(&format!("/api/v1/plans/{plan}/access-log"), reader.token())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.headers["cache-control"], "no-store");
    answer.json()
}

fn kinds(entries: &[AccessLogEntry]) -> Vec<AccessKind> {
    entries.iter().map(|e| e.kind).collect()
}

/// Sync-opened entries are written off the sync path: wait (bounded) until `count` are there.
async fn wait_for_syncs(app: &TestApp, plan: &str, reader: &Session, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let entries = access_log(app, plan, reader).await;
        let syncs = entries
            .iter()
            .filter(|e| e.kind == AccessKind::SyncOpened)
            .count();
        if syncs >= count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sync-opened entry appeared: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stranger's sync of the document is refused.
async fn stranger_tries_to_sync(app: &TestApp, stranger: &Session, document: &str) {
    let mut client = app.sync_client(stranger).await;
    client.track(document, AutoCommit::new());
    client.sync_doc(document, true).await;
    assert!(client.refused(document), "{:?}", client.events);
}

#[tokio::test]
async fn both_members_see_who_accessed_the_plan_newest_first() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let stranger = app.register("stranger").await;
    let (plan, document) = app.plan_with_document(&maria, TITLE).await;

    let invitation = app
        .post(
            &format!("/api/v1/plans/{plan}/invitations"),
            maria.token(),
            json!({}),
        )
        .await;
    assert_eq!(invitation.status, 201, "{}", invitation.body);
    let code = invitation.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let accepted = app
        .post(
            &format!("/api/v1/invitations/{code}/accept"),
            sam.token(),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    // Refused before the plan is loaded (the hub's check) ...
    stranger_tries_to_sync(&app, &stranger, &document).await;

    let mut supporter = app.sync_client(&sam).await;
    supporter.track(&document, AutoCommit::new());
    supporter.sync_doc(&document, true).await;
    assert_eq!(read_title(&supporter.docs[&document].doc), TITLE);
    // More syncing on the same connection is the same sync session.
    {
        let tracked = supporter.docs.get_mut(&document).expect("tracked");
        tracked
            .doc
            .put(ROOT, "whatMatters", "Keeping my apartment")
            .expect("put");
        tracked.doc.commit();
    }
    supporter.sync_doc(&document, false).await;
    assert!(!supporter.refused(&document), "{:?}", supporter.events);
    wait_for_syncs(&app, &plan, &maria, 1).await;

    // ... and while it is loaded (the document's check).
    stranger_tries_to_sync(&app, &stranger, &document).await;

    // Transparency both ways: the supporter reads the same log.
    let seen_by_sam = access_log(&app, &plan, &sam).await;
    assert_eq!(
        kinds(&seen_by_sam),
        [
            AccessKind::SyncOpened,
            AccessKind::Joined,
            AccessKind::Invited,
            AccessKind::PlanCreated,
        ]
    );

    let read = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let removed = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);

    let log = access_log(&app, &plan, &maria).await;
    assert_eq!(
        kinds(&log),
        [
            AccessKind::Removed,
            AccessKind::PlanRead,
            AccessKind::SyncOpened,
            AccessKind::Joined,
            AccessKind::Invited,
            AccessKind::PlanCreated,
        ],
        "{log:?}"
    );
    let by = |entry: &AccessLogEntry| (entry.account_id, entry.account_name.clone());
    let as_maria = (maria.user_id(), "Maria".to_owned());
    let as_sam = (sam.user_id(), "Sam".to_owned());
    assert_eq!(by(&log[0]), as_maria);
    assert_eq!(log[0].member_id, Some(sam.user_id()), "who was removed");
    assert_eq!(log[0].member_name.as_deref(), Some("Sam"));
    assert_eq!(by(&log[1]), as_maria);
    assert_eq!(by(&log[2]), as_sam);
    assert_eq!(log[2].session_id, Some(sam.tokens.session_id));
    assert_eq!(by(&log[3]), as_sam);
    assert_eq!(by(&log[4]), as_maria);
    assert_eq!(by(&log[5]), as_maria);
    for entry in &log {
        let session = if entry.account_id == maria.user_id() {
            maria.tokens.session_id
        } else {
            sam.tokens.session_id
        };
        assert_eq!(entry.session_id, Some(session), "{entry:?}");
        assert!(entry.format.is_none());
        if entry.kind != AccessKind::Removed {
            assert!(entry.member_id.is_none() && entry.member_name.is_none());
        }
    }
    assert!(log.windows(2).all(|pair| pair[0].at >= pair[1].at));
    // The entries before removal are what the supporter saw.
    assert_eq!(&log[2..], seen_by_sam.as_slice());

    // The stranger's refused attempts left no trace, and the log carries no code or content.
    let raw = app
        .get(&format!("/api/v1/plans/{plan}/access-log"), maria.token())
        .await
        .body
        .to_string();
    assert!(!raw.contains(&stranger.user_id().to_string()), "{raw}");
    assert!(!raw.contains(&code), "the invitation code is not logged");
    assert!(!raw.contains(TITLE) && !raw.contains("Keeping my apartment"));

    // Nobody outside the plan reads it, the removed supporter included.
    for outsider in [&stranger, &sam] {
        app.get(
            &format!("/api/v1/plans/{plan}/access-log"),
            outsider.token(),
        )
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    }
}

#[tokio::test]
async fn a_supporter_leaving_is_logged_as_their_own_act() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, TITLE).await;
    app.add_supporter(&maria, &plan, &sam).await;
    let left = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            sam.token(),
        )
        .await;
    assert_eq!(left.status, 204, "{}", left.body);

    let log = access_log(&app, &plan, &maria).await;
    assert_eq!(log[0].kind, AccessKind::Left);
    assert_eq!(log[0].account_id, sam.user_id());
    assert_eq!(log[0].account_name, "Sam");
    assert_eq!(log[0].member_id, None);
}

#[tokio::test]
async fn each_connection_that_syncs_is_logged_once_and_offline_creation_too() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let document = PlanId::new_random().document_id().to_string();
    let plan = document
        .parse::<DocumentId>()
        .map(|d| d.0.to_string())
        .expect("document id");
    let mut phone = app.sync_client(&maria).await;
    let doc = cairn_shared::plan::new_plan_document(ActorId::random(), "Written on the bus")
        .expect("doc");
    phone.track(&document, doc);
    phone.sync_doc(&document, false).await;
    assert!(!phone.refused(&document), "{:?}", phone.events);
    wait_for_syncs(&app, &plan, &maria, 1).await;

    // A second device (another connection) is a second sync session.
    let laptop_session = app.login("maria").await;
    let mut laptop = app.sync_client(&laptop_session).await;
    laptop.track(&document, AutoCommit::new());
    laptop.sync_doc(&document, true).await;
    assert_eq!(
        read_title(&laptop.docs[&document].doc),
        "Written on the bus"
    );
    wait_for_syncs(&app, &plan, &maria, 2).await;

    let log = access_log(&app, &plan, &maria).await;
    assert_eq!(
        kinds(&log),
        [
            AccessKind::SyncOpened,
            AccessKind::SyncOpened,
            AccessKind::PlanCreated
        ],
        "{log:?}"
    );
    assert_eq!(log[0].session_id, Some(laptop_session.tokens.session_id));
    assert_eq!(log[1].session_id, Some(maria.tokens.session_id));
    assert_eq!(log[2].session_id, Some(maria.tokens.session_id));
    assert!(log.iter().all(|e| e.account_id == maria.user_id()));
}

#[tokio::test]
async fn http_sync_is_logged_as_a_sync_session_once_per_device() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, TITLE).await;
    app.add_supporter(&maria, &plan, &sam).await;
    let before = access_log(&app, &plan, &maria).await.len();

    // Sam's service worker reads the plan's changes over HTTP, twice, then uploads one.
    for _ in 0..2 {
        let read = app
            .get(&format!("/api/v1/plans/{plan}/changes"), sam.token())
            .await;
        assert_eq!(read.status, 200);
    }
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "fromTheServiceWorker", "yes").expect("put");
    let upload = app.upload_changes(sam.token(), &plan, doc.save()).await;
    assert_eq!(upload.status, 200, "{}", upload.body);

    // Maria sees that Sam's device synced the plan: one sync session, not one per request.
    let log = access_log(&app, &plan, &maria).await;
    assert_eq!(log.len(), before + 1, "{log:?}");
    assert_eq!(log[0].kind, AccessKind::SyncOpened);
    assert_eq!(log[0].account_id, sam.user_id());
    assert_eq!(log[0].session_id, Some(sam.tokens.session_id));
}

#[tokio::test]
async fn limit_keeps_the_newest_entries_and_bad_limits_are_refused() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let stranger = app.register("stranger").await;
    let plan = app.create_plan(&maria, TITLE).await;
    for _ in 0..3 {
        let read = app
            .get(&format!("/api/v1/plans/{plan}"), maria.token())
            .await;
        assert_eq!(read.status, 200, "{}", read.body);
    }

    assert_eq!(access_log(&app, &plan, &maria).await.len(), 4);
    let path = format!("/api/v1/plans/{plan}/access-log");
    let newest = app.get(&format!("{path}?limit=2"), maria.token()).await;
    assert_eq!(newest.status, 200, "{}", newest.body);
    let newest: Vec<AccessLogEntry> = newest.json();
    assert_eq!(kinds(&newest), [AccessKind::PlanRead, AccessKind::PlanRead]);
    let most = app.get(&format!("{path}?limit=500"), maria.token()).await;
    assert_eq!(most.json::<Vec<AccessLogEntry>>().len(), 4);

    for bad in ["0", "501", "-1", "many", ""] {
        app.get(&format!("{path}?limit={bad}"), maria.token())
            .await
            .assert_error(400, ErrorCode::BadRequest);
    }
    // A stranger learns nothing, whatever the limit.
    app.get(&format!("{path}?limit=2"), stranger.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.get("/api/v1/plans/not-a-plan/access-log", maria.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
}

#[tokio::test]
async fn deleting_a_plan_deletes_its_access_log() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, TITLE).await;
    let read = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(read.status, 200);
    let id: PlanId = plan.parse().expect("plan id");
    assert_eq!(app.store.access_log(id, 500).await.expect("log").len(), 2);

    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(app.store.access_log(id, 500).await.expect("log").is_empty());
    app.get(&format!("/api/v1/plans/{plan}/access-log"), maria.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
}
