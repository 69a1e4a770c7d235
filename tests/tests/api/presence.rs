//! Presence tells the truth: when an account's last connection to a plan goes (closed, timed
//! out, disabled) or it stops being a member, the plan's other connections hear it is gone, in
//! an ordinary automerge-repo `ephemeral` message of the server's own.

use std::time::Duration;

use automerge::AutoCommit;
use cairn_shared::UserId;
use cairn_shared::protocol::Message;
use cairn_tests::sync_client::{SyncClient, WAIT};
use cairn_tests::{Session, TestApp};
use ciborium::Value;
use serde_json::json;

/// An `ephemeral` message as the client received it, its data decoded.
#[derive(Debug)]
struct Heard {
    sender: String,
    target: String,
    document: String,
    session: String,
    count: u64,
    data: Value,
}

impl Heard {
    /// The account named by the data's `userId`, if it says `gone: true`.
    fn gone(&self) -> Option<String> {
        let Value::Map(entries) = &self.data else {
            return None;
        };
        let field = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| *k == Value::Text(key.into()))
                .map(|(_, v)| v.clone())
        };
        match (field("userId"), field("gone")) {
            (Some(Value::Text(user)), Some(Value::Bool(true))) => Some(user),
            _ => None,
        }
    }
}

/// The next `ephemeral` message `client` receives (other messages are skipped), within `WAIT`.
async fn next_ephemeral(client: &mut SyncClient) -> Heard {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_message(left).await {
            Some(Message::Ephemeral {
                sender_id,
                target_id,
                document_id,
                count,
                session_id,
                data,
            }) => {
                return Heard {
                    sender: sender_id.0,
                    target: target_id.0,
                    document: document_id,
                    session: session_id,
                    count,
                    data: ciborium::from_reader(data.as_slice()).expect("data is one CBOR item"),
                };
            }
            Some(_) => {}
            None => panic!("no ephemeral message within {WAIT:?}: {:?}", client.events),
        }
    }
}

async fn syncing(app: &TestApp, who: &Session, document: &str) -> SyncClient {
    let mut client = app.sync_client(who).await;
    client.track(document, AutoCommit::new());
    client.sync_doc(document, true).await;
    client
}

fn id(user: UserId) -> String {
    user.to_string()
}

#[tokio::test]
async fn the_other_members_hear_when_an_account_is_gone_from_the_plan() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let lee = app.register("lee").await;
    let (plan, document) = app.plan_with_document(&maria, "Together").await;
    app.add_supporter(&maria, &plan, &sam).await;
    app.add_supporter(&maria, &plan, &lee).await;
    let mut owner = syncing(&app, &maria, &document).await;
    let mut phone = syncing(&app, &sam, &document).await;
    let laptop = syncing(&app, &sam, &document).await;

    // Sam closes his laptop; his phone still has the plan open: he is not gone. (His phone's
    // presence, sent after, is the next thing Maria hears.)
    drop(laptop);
    let deadline = std::time::Instant::now() + WAIT;
    while app.hub.connections_of(sam.user_id()) > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    phone.send_presence(&document, "phone", 1, vec![0xa0]).await;
    let first = next_ephemeral(&mut owner).await;
    assert_eq!(first.gone(), None, "{first:?}");
    assert_eq!(first.sender, phone.peer.0);

    // Then his phone: now he is gone, and Maria hears it from the server.
    drop(phone);
    let gone = next_ephemeral(&mut owner).await;
    assert_eq!(gone.gone(), Some(id(sam.user_id())), "{gone:?}");
    assert_eq!(gone.sender, owner.server.0, "the server's own message");
    assert_eq!(gone.target, owner.peer.0);
    assert_eq!(gone.document, document);
    assert!(!gone.session.is_empty());

    // Maria removes Sam while he syncs: she hears at once that he is gone, his socket stays
    // open and loses the plan.
    let mut phone = syncing(&app, &sam, &document).await;
    let removed = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let gone_again = next_ephemeral(&mut owner).await;
    assert_eq!(gone_again.gone(), Some(id(sam.user_id())), "{gone_again:?}");
    assert!(
        gone_again.count > gone.count || gone_again.session != gone.session,
        "a client does not drop it as a repeat: {gone:?} then {gone_again:?}"
    );
    assert!(phone.wait_until(WAIT, |c| c.refused(&document)).await);
    assert!(!phone.closed());

    // An admin disables Lee's account: his sockets close and Maria hears he is gone.
    let _lee_phone = syncing(&app, &lee, &document).await;
    let disabled = app
        .post(
            &format!("/api/v1/admin/accounts/{}/disable", lee.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let lee_gone = next_ephemeral(&mut owner).await;
    assert_eq!(lee_gone.gone(), Some(id(lee.user_id())), "{lee_gone:?}");
}

#[tokio::test]
async fn a_socket_that_times_out_is_gone_too() {
    let app = TestApp::spawn_with(|s| {
        s.ping_interval_secs = 1;
        s.socket_timeout_secs = 2;
    })
    .await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Quiet phone").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut owner = syncing(&app, &maria, &document).await;
    // Sam's phone loses its network: it stops answering (it never reads again).
    let _silent = syncing(&app, &sam, &document).await;
    let gone = tokio::time::timeout(Duration::from_secs(15), next_ephemeral(&mut owner))
        .await
        .expect("the timed-out socket is noticed");
    assert_eq!(gone.gone(), Some(id(sam.user_id())), "{gone:?}");
    assert!(
        !owner.closed(),
        "the owner, who answers pings, stays connected"
    );
}
