//! Attacks on the sync server's memory from one member's socket, and on who presence says it is
//! from: over-long ids, big or many presence sessions, a reader that never reads, a flood of
//! unknown document ids. Each asserts the answer the attacker gets (an `error` and a close of
//! that connection only), that what the server holds stays bounded (observed in `/metrics` and
//! the hub), that the stored plan is exactly as before, and that its members are still served.
//! The README's attack table lists these with their answers.

use std::time::{Duration, Instant};

use automerge::AutoCommit;
use cairn_shared::PlanId;
use cairn_shared::plan::{Strength, write};
use cairn_tests::sync_client::{Event, SyncClient, WAIT};
use cairn_tests::{Session, TestApp, on_postgres};
use ciborium::Value;
use serde_json::Value as Json;

/// A running Cairn with one real plan: Maria owns it and wrote in it, Sam supports her, Eve is
/// a member of nothing.
struct Target {
    app: TestApp,
    maria: Session,
    sam: Session,
    eve: Session,
    plan: String,
    document: String,
    before: Json,
}

impl Target {
    async fn with(configure: impl FnOnce(&mut cairn_server::Settings)) -> Self {
        let app = TestApp::spawn_with(configure).await;
        let maria = app.register("maria").await;
        let sam = app.register("sam").await;
        let eve = app.register("eve").await;
        let (plan, document) = app.plan_with_document(&maria, "Back to singing").await;
        app.add_supporter(&maria, &plan, &sam).await;
        let mut client = app.sync_client(&maria).await;
        client.track(&document, AutoCommit::new());
        client.sync_doc(&document, true).await;
        let tracked = client.docs.get_mut(&document).expect("tracked");
        let strength = Strength {
            id: uuid::Uuid::new_v4().to_string(),
            text: "I sing on Sundays".into(),
            added_by: Some(maria.user_id().to_string()),
        };
        write::add_strength(&mut tracked.doc, &strength).expect("write");
        tracked.doc.commit();
        client.sync_doc(&document, false).await;
        let mut target = Self {
            app,
            maria,
            sam,
            eve,
            plan,
            document,
            before: Json::Null,
        };
        target.before = target.stored().await;
        target
    }

    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// The plan's document, history and members as its owner reads them.
    async fn stored(&self) -> Json {
        let owner = self.maria.token();
        let mut stored = Vec::new();
        for path in ["", "/history", "/members"] {
            let answer = self
                .app
                .get(&format!("/api/v1/plans/{}{path}", self.plan), owner)
                .await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            stored.push(if path.is_empty() {
                answer.body["document"].clone()
            } else {
                answer.body
            });
        }
        Json::Array(stored)
    }

    /// A member's client that has synced the plan.
    async fn joined(&self, who: &Session) -> SyncClient {
        let mut client = self.app.sync_client(who).await;
        client.track(&self.document, AutoCommit::new());
        client.sync_doc(&self.document, true).await;
        assert!(!client.refused(&self.document), "{:?}", client.events);
        client
    }

    /// The plan is exactly as before the attack, and the server still serves its members: the
    /// supporter syncs it, and presence between members still flows.
    async fn assert_unchanged(&self) {
        assert_eq!(self.stored().await, self.before, "the stored plan changed");
        let mut sam = self.joined(&self.sam).await;
        let text =
            serde_json::to_string(&automerge::AutoSerde::from(&sam.docs[&self.document].doc))
                .unwrap_or_default();
        assert!(text.contains("I sing on Sundays"), "{text}");
        let mut maria = self.joined(&self.maria).await;
        maria
            .send_presence(&self.document, "after", 1, field("goals"))
            .await;
        let from = maria.peer.0.clone();
        assert!(
            sam.wait_until(WAIT, |c| presence_from(c, &from).is_some())
                .await,
            "presence still reaches the other member: {:?}",
            sam.events
        );
    }
}

/// Presence as the PWA broadcasts it: `{field}`, CBOR-encoded.
fn field(name: &str) -> Vec<u8> {
    cbor(&Value::Map(vec![(
        Value::Text("field".into()),
        Value::Text(name.into()),
    )]))
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("encode");
    bytes
}

/// The data of the last presence `client` received from peer `sender`.
fn presence_from(client: &SyncClient, sender: &str) -> Option<Vec<u8>> {
    client.events.iter().rev().find_map(|event| match event {
        Event::Ephemeral(from, data) if from == sender => Some(data.clone()),
        _ => None,
    })
}

/// How many presence messages from members `client` received (not counting the server's own
/// saying that an account whose connections closed is gone).
fn received_presence(client: &SyncClient) -> usize {
    client
        .events
        .iter()
        .filter(|event| matches!(event, Event::Ephemeral(from, _) if *from != client.server.0))
        .count()
}

/// The text entries of a relayed presence map.
fn presence_entries(data: &[u8]) -> Vec<(String, Value)> {
    let value: Value = ciborium::from_reader(data).expect("relayed presence is CBOR");
    let Value::Map(entries) = value else {
        panic!("relayed presence is a map: {value:?}");
    };
    entries
        .into_iter()
        .map(|(key, value)| match key {
            Value::Text(key) => (key, value),
            other => panic!("a text key: {other:?}"),
        })
        .collect()
}

/// Wait until `holds` (polled), at most `within`.
async fn eventually(within: Duration, mut holds: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if holds().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn attack_a_huge_peer_id_in_join_is_refused() {
    let target = Target::new().await;
    let huge = "p".repeat(2 * 1024 * 1024);
    let mut client =
        SyncClient::connect_unanswered(&target.app.ws_url(target.eve.token()), &huge).await;
    assert!(client.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        client
            .error()
            .is_some_and(|e| e.contains("senderId too long")),
        "{:?}",
        client.events
    );
    assert!(
        !client
            .events
            .iter()
            .any(|e| matches!(e, Event::Ephemeral(..))),
        "nothing is echoed back"
    );
    // A member too: the limit is on the peer id, whoever sends it.
    let long = "m".repeat(129);
    let mut member =
        SyncClient::connect_unanswered(&target.app.ws_url(target.maria.token()), &long).await;
    assert!(member.wait_until(WAIT, SyncClient::closed).await);
    assert!(member.error().is_some_and(|e| e.contains("senderId")));
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_long_presence_sessions_and_big_presence_are_refused() {
    let target = Target::new().await;
    let mut watcher = target.joined(&target.sam).await;

    let mut long_session = target.joined(&target.maria).await;
    let session = "s".repeat(1024 * 1024);
    long_session
        .send_presence(&target.document, &session, 1, field("goals"))
        .await;
    assert!(long_session.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        long_session
            .error()
            .is_some_and(|e| e.contains("sessionId too long")),
        "{:?}",
        long_session.events
    );

    let mut big = target.joined(&target.maria).await;
    let data = cbor(&Value::Map(vec![(
        Value::Text("field".into()),
        Value::Text("g".repeat(1024 * 1024)),
    )]));
    big.send_presence(&target.document, "big", 1, data).await;
    assert!(big.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        big.error()
            .is_some_and(|e| e.contains("presence too large")),
        "{:?}",
        big.events
    );

    watcher
        .wait_until(Duration::from_millis(300), |_| false)
        .await;
    assert_eq!(received_presence(&watcher), 0, "{:?}", watcher.events);
    assert!(
        !watcher.closed(),
        "the other member's connection stays open"
    );
    assert_eq!(
        target.app.metric("cairn_sync_presence_sessions").await,
        Some(0.0),
        "nothing of the refused presence is remembered"
    );
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_many_presence_sessions_are_bounded() {
    let target = Target::new().await;
    let mut watcher = target.joined(&target.sam).await;
    let mut rotating = target.joined(&target.maria).await;
    // An automerge-repo client uses one session; eight are allowed on one connection.
    for session in 0..8 {
        rotating
            .send_presence(
                &target.document,
                &format!("session-{session}"),
                1,
                field("goals"),
            )
            .await;
    }
    assert!(
        watcher
            .wait_until(WAIT, |c| received_presence(c) == 8)
            .await,
        "{:?}",
        watcher.events
    );
    assert_eq!(
        target.app.metric("cairn_sync_presence_sessions").await,
        Some(8.0)
    );
    for session in 8..1000 {
        rotating
            .send_presence(
                &target.document,
                &format!("session-{session}"),
                1,
                field("goals"),
            )
            .await;
    }
    assert!(rotating.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        rotating
            .error()
            .is_some_and(|e| e.contains("too many presence sessions")),
        "{:?}",
        rotating.events
    );
    // What the plan remembered of the closed connection is forgotten with it.
    assert!(
        eventually(WAIT, async || target
            .app
            .metric("cairn_sync_presence_sessions")
            .await
            == Some(0.0))
        .await
    );
    assert_eq!(received_presence(&watcher), 8);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_a_reader_that_never_reads_is_dropped_and_its_queue_released() {
    const OUTBOX: usize = 256 * 1024;
    let mut target = Target::with(|s| {
        s.max_outbox_bytes = OUTBOX;
        s.max_messages_per_second = 2_000;
        // Without the bound, the stuck write would hold everything until this timeout.
        s.socket_timeout_secs = 300;
    })
    .await;
    // Lee, another supporter, reads as every client does, and is served throughout.
    let lee = target.app.register("lee").await;
    target
        .app
        .add_supporter(&target.maria, &target.plan, &lee)
        .await;
    target.before = target.stored().await;
    let mut reader = target.joined(&lee).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = tokio::spawn({
        let stop = stop.clone();
        async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                reader.receive_one(Duration::from_millis(100)).await;
            }
            reader
        }
    });
    let sam = target.sam.user_id();
    let slow = target.joined(&target.sam).await;
    let mut maria = target.joined(&target.maria).await;
    // Presence near the size limit, relayed to Sam, who reads nothing, at a pace a reader
    // keeps up with.
    let data = cbor(&Value::Map(vec![(
        Value::Text("field".into()),
        Value::Text("g".repeat(3_900)),
    )]));
    let started = Instant::now();
    let mut count = 0u64;
    let mut peak = 0.0f64;
    while target.app.hub.connections_of(sam) > 0 && started.elapsed() < Duration::from_secs(60) {
        for _ in 0..10 {
            count += 1;
            maria
                .send_presence(&target.document, "typing", count, data.clone())
                .await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let queued = target
            .app
            .metric("cairn_sync_outbox_bytes")
            .await
            .unwrap_or(0.0);
        peak = peak.max(queued);
    }
    eprintln!(
        "dropped after {count} messages of presence in {:?}; at most {peak} bytes seen waiting",
        started.elapsed()
    );
    assert_eq!(
        target.app.hub.connections_of(sam),
        0,
        "the reader that never reads was dropped (after {count} messages)"
    );
    // What waited for it is released at once, not when a write times out.
    assert!(
        eventually(Duration::from_secs(2), async || target
            .app
            .metric("cairn_sync_outbox_bytes")
            .await
            .is_some_and(|bytes| bytes < 64.0 * 1024.0))
        .await,
        "queued bytes released"
    );
    // Never much more than the bound waited, for everyone together.
    assert!(
        peak <= (2 * OUTBOX) as f64,
        "at most {OUTBOX} bytes wait for one connection, saw {peak}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reader = reading.await.expect("the reader's task");
    assert!(!reader.closed(), "the reading member stays connected");
    assert!(
        received_presence(&reader) as u64 >= count / 2,
        "the reading member got the presence ({} of {count})",
        received_presence(&reader)
    );
    assert!(!maria.closed(), "the sender's connection stays open");
    // The dropped reader finds its socket closed once it reads what reached it.
    let mut slow = slow;
    assert!(
        slow.wait_until(Duration::from_secs(30), SyncClient::closed)
            .await
    );
    maria
        .wait_until(Duration::from_millis(200), |_| false)
        .await;
    assert!(!maria.closed(), "{:?}", maria.events);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_many_unknown_document_ids_from_one_socket_are_cut_off() {
    let target = Target::with(|s| {
        s.sync_idle_evict_secs = 1;
        s.max_plans_per_connection = 50;
    })
    .await;
    let app = &target.app;
    // Offline creation loads each unknown id named with `sync`: sixteen per connection.
    let mut probe = app.sync_client(&target.eve).await;
    for _ in 0..40 {
        let document = PlanId::new_random().document_id().to_string();
        probe.track(&document, AutoCommit::new());
        probe.push(&document, false).await;
    }
    assert!(probe.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        probe
            .error()
            .is_some_and(|e| e.contains("too many unknown documents")),
        "{:?}",
        probe.events
    );
    let loaded = app.hub.loaded_documents();
    assert!(loaded <= 16 + 1, "{loaded} plans in memory");
    let in_memory = app.metric("cairn_plans_in_memory").await.unwrap_or(0.0);
    assert!(in_memory <= 17.0, "{in_memory} plans in memory");
    // They leave memory with the connection.
    assert!(
        eventually(Duration::from_secs(10), async || app.hub.loaded_documents()
            <= 1)
        .await,
        "{} plans still in memory",
        app.hub.loaded_documents()
    );

    // Asking for unknown ids (`request`) loads nothing and is answered unavailable...
    let mut asker = app.sync_client(&target.eve).await;
    let mut asked = Vec::new();
    for _ in 0..50 {
        let document = PlanId::new_random().document_id().to_string();
        asker.track(&document, AutoCommit::new());
        asker.push(&document, true).await;
        asked.push(document);
    }
    assert!(
        asker
            .wait_until(WAIT, |c| asked.iter().all(|d| c.refused(d)))
            .await,
        "{:?}",
        asker.events
    );
    assert!(app.hub.loaded_documents() <= 1);
    // ...up to the documents one connection may name.
    for _ in 0..5 {
        let document = PlanId::new_random().document_id().to_string();
        asker.track(&document, AutoCommit::new());
        asker.push(&document, true).await;
    }
    assert!(asker.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        asker
            .error()
            .is_some_and(|e| e.contains("too many documents")),
        "{:?}",
        asker.events
    );
    // Nothing was created.
    let plans = app.get("/api/v1/plans", target.eve.token()).await;
    assert_eq!(plans.status, 200);
    assert_eq!(
        plans.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        plans.body
    );
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_presence_names_the_senders_account_not_a_chosen_name() {
    let target = Target::new().await;
    let mut sam = target.joined(&target.sam).await;
    let mut maria = target.joined(&target.maria).await;
    // Maria's client claims to be a clinician, and to be Sam.
    let claimed = cbor(&Value::Map(vec![
        (
            Value::Text("name".into()),
            Value::Text("Dr. Rivera (clinic)".into()),
        ),
        (
            Value::Text("userId".into()),
            Value::Text(target.sam.user_id().to_string()),
        ),
        (Value::Text("field".into()), Value::Text("goals".into())),
    ]));
    maria
        .send_presence(&target.document, "tab", 1, claimed.clone())
        .await;
    let from = maria.peer.0.clone();
    assert!(
        sam.wait_until(WAIT, |c| presence_from(c, &from).is_some())
            .await
    );
    let relayed = presence_entries(&presence_from(&sam, &from).expect("presence"));
    let maria_id = target.maria.user_id().to_string();
    assert_eq!(
        relayed,
        vec![
            ("userId".to_owned(), Value::Text(maria_id.clone())),
            ("field".to_owned(), Value::Text("goals".into())),
        ]
    );
    // The account id names her in the member list.
    let members = target
        .app
        .get(
            &format!("/api/v1/plans/{}/members", target.plan),
            target.sam.token(),
        )
        .await;
    assert!(
        members.body.to_string().contains(&maria_id),
        "{}",
        members.body
    );

    // Across instances too (Postgres: a second instance on the same database).
    if on_postgres() {
        let beside = TestApp::spawn_beside(&target.app).await;
        let mut far = beside.sync_client(&target.sam).await;
        far.track(&target.document, AutoCommit::new());
        far.sync_doc(&target.document, true).await;
        assert!(!far.refused(&target.document));
        maria
            .send_presence(&target.document, "tab", 2, claimed)
            .await;
        assert!(
            far.wait_until(WAIT, |c| presence_from(c, &from).is_some())
                .await,
            "{:?}",
            far.events
        );
        let relayed = presence_entries(&presence_from(&far, &from).expect("presence"));
        assert_eq!(relayed[0], ("userId".to_owned(), Value::Text(maria_id)));
        assert!(relayed.iter().all(|(key, _)| key != "name"));
    }
    target.assert_unchanged().await;
}
