//! `/sync` over a real WebSocket, with a Rust automerge-repo peer (`cairn_tests::sync_client`).

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use cairn_shared::ErrorCode;
use cairn_shared::plan::read_title;
use cairn_shared::protocol::{Message, PeerId, PeerMetadata};
use cairn_tests::TestApp;
use cairn_tests::sync_client::{Event, SyncClient, WAIT, open};
use reqwest::Method;
use serde_json::json;

use crate::{note, put};

#[tokio::test]
async fn handshake_announces_a_stable_peer_and_storage_id() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let first = app.sync_client(&maria).await;
    let second = app.sync_client(&maria).await;
    assert!(first.server.0.starts_with("cairn-"));
    assert_eq!(first.server, second.server);
    assert!(first.server_storage_id.is_some());
    assert_eq!(first.server_storage_id, second.server_storage_id);
}

#[tokio::test]
async fn a_member_finds_a_rest_created_plan() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Found by URL").await;
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    let doc = &client.docs[&document].doc;
    assert_eq!(read_title(doc), "Found by URL");
    assert!(!client.refused(&document));
}

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let base = app.ws_url("x");
    let base = base.trim_end_matches("?token=x");
    assert_eq!(open(base).await.err(), Some(401));
    assert_eq!(
        open(&format!("{base}?token=not-a-token")).await.err(),
        Some(401)
    );
    let logged_out = app.login("maria").await;
    app.request(
        Method::POST,
        "/api/v1/auth/logout",
        Some(logged_out.token()),
        None,
    )
    .await;
    assert_eq!(open(&app.ws_url(logged_out.token())).await.err(), Some(401));
    assert!(open(&app.ws_url(maria.token())).await.is_ok());
}

#[tokio::test]
async fn non_members_learn_nothing_and_are_answered_quickly() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let stranger = app.register("stranger").await;
    let (_, document) = app.plan_with_document(&maria, "Private words").await;
    let mut client = app.sync_client(&stranger).await;
    client.track(&document, AutoCommit::new());
    let started = Instant::now();
    client.sync_doc(&document, true).await;
    assert!(client.refused(&document));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        client
            .docs
            .get_mut(&document)
            .expect("tracked")
            .doc
            .get_heads()
            .is_empty(),
        "no content was sent"
    );

    // A `sync` (not a request) for an existing plan is refused the same way, and so is presence.
    let mut again = app.sync_client(&stranger).await;
    let mut forged = AutoCommit::new();
    forged.put(ROOT, "title", "overwrite").expect("put");
    forged.commit();
    again.track(&document, forged);
    again.sync_doc(&document, false).await;
    assert!(again.refused(&document));
    let plan = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(plan.body[0]["title"], "Private words");
}

#[tokio::test]
async fn two_members_converge_live() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Together").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut phone = app.sync_client(&maria).await;
    let mut laptop = app.sync_client(&sam).await;
    phone.track(&document, AutoCommit::new());
    laptop.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    laptop.sync_doc(&document, true).await;

    put(&mut phone, &document, "fromMaria", "I want to cook again");
    phone.sync_doc(&document, false).await;
    assert!(
        laptop
            .wait_until(WAIT, |c| note(&c.docs[&document].doc, "fromMaria")
                .is_some())
            .await,
        "the supporter sees the owner's edit live"
    );
    put(
        &mut laptop,
        &document,
        "fromSam",
        "I'll find the housing office hours",
    );
    laptop.sync_doc(&document, false).await;
    assert!(
        phone
            .wait_until(WAIT, |c| note(&c.docs[&document].doc, "fromSam").is_some())
            .await
    );
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), sam.token())
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    let authors: Vec<&str> = history
        .body
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["authorName"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        authors,
        ["Maria", "Maria", "Sam"],
        "skeleton, Maria's edit, Sam's edit"
    );
}

#[tokio::test]
async fn an_edit_is_acknowledged_when_no_other_message_follows() {
    // A phone editing a plan nobody else has open still learns that its edit is stored: the
    // server answers with heads that hold it (what an app's "saved" mark goes by).
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Alone").await;
    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    put(
        &mut phone,
        &document,
        "fromMaria",
        "call my sister on Sunday",
    );
    let mine = phone
        .docs
        .get_mut(&document)
        .expect("tracked")
        .doc
        .get_heads();
    assert!(phone.push(&document, false).await, "the edit is sent");
    assert!(
        phone
            .wait_until(WAIT, |c| c.docs[&document].server_heads == mine)
            .await,
        "the server acknowledges the edit: its heads are the phone's"
    );
}

#[tokio::test]
async fn the_server_sends_each_message_at_once() {
    // With Nagle's algorithm a small write waits while an earlier one is unacknowledged, and a
    // phone delays its acknowledgements (40 ms on Linux, up to 200 ms elsewhere): the second of
    // two messages close together (an acknowledgement, then the partner's change) would wait for
    // that. Browsers and the reference server send WebSocket frames at once (`TCP_NODELAY`); so
    // does Cairn, on every connection it accepts, for the API as for `/sync`. Measured at 100
    // editing pairs: edit-to-partner p99 61 ms with Nagle, 34 ms without.
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Sent at once").await;
    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    assert_eq!(read_title(&phone.docs[&document].doc), "Sent at once");

    let accepted = crate::accepted_connections(app.port);
    assert!(
        !accepted.is_empty(),
        "the server's end of the phone's connection is found"
    );
    for (peer, nodelay) in accepted {
        assert!(
            nodelay,
            "the connection from {peer} holds small writes back"
        );
    }
}

#[tokio::test]
async fn a_plan_created_offline_is_accepted_and_listed_for_its_owner() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let document = cairn_shared::PlanId::new_random().document_id().to_string();
    let mut client = app.sync_client(&maria).await;
    let doc = cairn_shared::plan::new_plan_document(ActorId::random(), "Written on the bus")
        .expect("doc");
    client.track(&document, doc);
    client.sync_doc(&document, false).await;
    assert!(!client.refused(&document), "{:?}", client.events);
    let server_heads = client.docs[&document].server_heads.clone();
    assert_eq!(
        server_heads,
        client
            .docs
            .get_mut(&document)
            .expect("tracked")
            .doc
            .get_heads()
    );

    let plans = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(plans.body[0]["documentId"], document.as_str());
    assert_eq!(plans.body[0]["title"], "Written on the bus");
    assert_eq!(plans.body[0]["role"], "owner");

    // Another account cannot claim or read it afterwards.
    let sam = app.register("sam").await;
    let mut other = app.sync_client(&sam).await;
    other.track(&document, AutoCommit::new());
    other.sync_doc(&document, true).await;
    assert!(other.refused(&document));
}

#[tokio::test]
async fn a_removed_supporter_stops_syncing_while_still_connected() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Boundaries").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut owner = app.sync_client(&maria).await;
    let mut supporter = app.sync_client(&sam).await;
    owner.track(&document, AutoCommit::new());
    supporter.track(&document, AutoCommit::new());
    owner.sync_doc(&document, true).await;
    supporter.sync_doc(&document, true).await;

    let removed = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204);
    assert!(
        supporter.wait_until(WAIT, |c| c.refused(&document)).await,
        "told at once: {:?}",
        supporter.events
    );

    put(&mut owner, &document, "afterRemoval", "just mine now");
    owner.sync_doc(&document, false).await;
    put(&mut supporter, &document, "sneaky", "still here?");
    supporter.sync_doc(&document, false).await;
    supporter.receive_one(Duration::from_millis(300)).await;
    assert_eq!(note(&supporter.docs[&document].doc, "afterRemoval"), None);
    owner.receive_one(Duration::from_millis(300)).await;
    assert_eq!(note(&owner.docs[&document].doc, "sneaky"), None);
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert!(
        detail.body["document"].get("sneaky").is_none(),
        "nothing stored from the removed supporter"
    );
}

#[tokio::test]
async fn a_disabled_accounts_sockets_are_closed() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let mut client = app.sync_client(&maria).await;
    let disabled = app
        .post(
            &format!("/api/v1/admin/accounts/{}/disable", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status, 200);
    assert!(client.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        client.error().is_some_and(|e| e.contains("disabled")),
        "{:?}",
        client.events
    );
}

#[tokio::test]
async fn ending_a_device_session_or_reusing_its_refresh_token_closes_its_sockets() {
    let app = TestApp::spawn().await;
    let phone = app.register("maria").await;
    let laptop = app.login("maria").await;
    let mut on_laptop = app.sync_client(&laptop).await;
    let mut on_phone = app.sync_client(&phone).await;

    // The phone ends the laptop's session (it was left at the library).
    let sessions = app.get("/api/v1/me/sessions", phone.token()).await;
    let laptop_session = sessions
        .body
        .as_array()
        .and_then(|all| all.iter().find(|s| s["current"] == false))
        .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
        .expect("the laptop's session is listed");
    let ended = app
        .delete(
            &format!("/api/v1/me/sessions/{laptop_session}"),
            phone.token(),
        )
        .await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    assert!(on_laptop.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        on_laptop.error().is_some_and(|e| e.contains("session")),
        "{:?}",
        on_laptop.events
    );

    // A stolen refresh token used after its owner refreshed ends that session and its sockets.
    let stolen = phone.tokens.refresh_token.clone();
    let refreshed = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({ "refreshToken": stolen })),
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let reused = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({ "refreshToken": stolen })),
        )
        .await;
    reused.assert_error(401, ErrorCode::RefreshTokenReused);
    assert!(on_phone.wait_until(WAIT, SyncClient::closed).await);
}

#[tokio::test]
async fn a_change_claiming_another_accounts_actor_is_refused() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Authorship").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let mut owner = app.sync_client(&maria).await;
    owner.track(&document, AutoCommit::new());
    owner.sync_doc(&document, true).await;
    put(&mut owner, &document, "words", "Maria's words");
    owner.sync_doc(&document, false).await;
    let owner_actor = owner.docs[&document].doc.get_actor().clone();
    let saved = owner.docs[&document].doc.clone().save();

    let mut forger = app.sync_client(&sam).await;
    let mut forged = AutoCommit::load(&saved)
        .expect("load")
        .with_actor(owner_actor);
    forged
        .put(ROOT, "words", "words put in Maria's mouth")
        .expect("put");
    forged.commit();
    forger.track(&document, forged);
    forger.sync_doc(&document, false).await;
    assert!(forger.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        forger
            .error()
            .is_some_and(|e| e.contains("another account")),
        "{:?}",
        forger.events
    );

    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["document"]["words"], "Maria's words");
    // The server keeps serving the others.
    let mut fresh = app.sync_client(&sam).await;
    fresh.track(&document, AutoCommit::new());
    fresh.sync_doc(&document, true).await;
    assert_eq!(
        note(&fresh.docs[&document].doc, "words").as_deref(),
        Some("Maria's words")
    );
}

#[tokio::test]
async fn presence_reaches_the_other_member_and_is_not_stored() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Presence").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut owner = app.sync_client(&maria).await;
    let mut supporter = app.sync_client(&sam).await;
    owner.track(&document, AutoCommit::new());
    supporter.track(&document, AutoCommit::new());
    owner.sync_doc(&document, true).await;
    supporter.sync_doc(&document, true).await;
    let before = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await;

    let presence = Message::Ephemeral {
        sender_id: owner.peer.clone(),
        target_id: owner.server.clone(),
        document_id: document.clone(),
        count: 1,
        session_id: "session-a".into(),
        data: b"cursor at goal 2".to_vec(),
    };
    owner.send(&presence).await;
    let sender = owner.peer.0.clone();
    assert!(
        supporter
            .wait_until(WAIT, |c| c.events.contains(&Event::Ephemeral(
                sender.clone(),
                // Relayed naming Maria's account.
                cairn_shared::protocol::presence_with_account(
                    b"cursor at goal 2",
                    &maria.user_id().to_string()
                )
            )))
            .await,
        "{:?}",
        supporter.events
    );
    let after = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await;
    assert_eq!(before.body, after.body, "presence is never stored");
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (plan, document) = app.plan_with_document(&maria, "Sturdy").await;
    let before = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;

    let mut garbage = app.sync_client(&maria).await;
    garbage.send_raw(vec![0xff, 0x00, 0x13, 0x37]).await;
    assert!(garbage.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        garbage.error().is_some_and(|e| e.contains("malformed")),
        "{:?}",
        garbage.events
    );

    let mut text = app.sync_client(&maria).await;
    text.send_text("hello").await;
    assert!(text.wait_until(WAIT, SyncClient::closed).await);

    let mut spoofer = app.sync_client(&maria).await;
    spoofer
        .send(&Message::Request {
            sender_id: PeerId("someone-else".into()),
            target_id: spoofer.server.clone(),
            document_id: document.clone(),
            data: vec![],
        })
        .await;
    assert!(spoofer.wait_until(WAIT, SyncClient::closed).await);
    assert!(spoofer.error().is_some_and(|e| e.contains("senderId")));

    let mut bad_id = app.sync_client(&maria).await;
    bad_id
        .send(&Message::Request {
            sender_id: bad_id.peer.clone(),
            target_id: bad_id.server.clone(),
            document_id: "../../etc/passwd".into(),
            data: vec![],
        })
        .await;
    assert!(bad_id.wait_until(WAIT, SyncClient::closed).await);
    assert!(bad_id.error().is_some_and(|e| e.contains("documentId")));

    let mut corrupt = app.sync_client(&maria).await;
    corrupt
        .send(&Message::Sync {
            sender_id: corrupt.peer.clone(),
            target_id: corrupt.server.clone(),
            document_id: document.clone(),
            data: vec![0x42, 0x01, 0x02],
        })
        .await;
    assert!(corrupt.wait_until(WAIT, SyncClient::closed).await);

    let mut unknown = app.sync_client(&maria).await;
    let mut frame = Vec::new();
    // {"type": "from-the-future", "senderId": <peer>}: ignored, the connection stays up.
    frame.extend_from_slice(&[0xa2, 0x64]);
    frame.extend_from_slice(b"type");
    frame.push(0x6f);
    frame.extend_from_slice(b"from-the-future");
    frame.push(0x68);
    frame.extend_from_slice(b"senderId");
    let peer = unknown.peer.0.clone();
    frame.extend_from_slice(&[0x78, peer.len() as u8]);
    frame.extend_from_slice(peer.as_bytes());
    unknown.send_raw(frame).await;
    unknown.track(&document, AutoCommit::new());
    unknown.sync_doc(&document, true).await;
    assert_eq!(
        read_title(&unknown.docs[&document].doc),
        "Sturdy",
        "still served after an unknown type"
    );

    let after = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(before.body, after.body);
}

#[tokio::test]
async fn messages_before_join_and_oversized_frames_are_refused() {
    let app = TestApp::spawn_with(|s| s.max_frame_bytes = 64 * 1024).await;
    let maria = app.register("maria").await;
    let mut socket_only = open(&app.ws_url(maria.token())).await.expect("upgrade");
    use futures_util::{SinkExt, StreamExt};
    let early = cairn_shared::protocol::encode(&Message::Leave {
        sender_id: PeerId("x".into()),
    });
    socket_only
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            early.into(),
        ))
        .await
        .expect("send");
    // The server pings as a connection opens; the answer is the first data frame.
    let reply = tokio::time::timeout(WAIT, async {
        loop {
            match socket_only.next().await {
                Some(Ok(
                    tokio_tungstenite::tungstenite::Message::Ping(_)
                    | tokio_tungstenite::tungstenite::Message::Pong(_),
                )) => continue,
                other => break other,
            }
        }
    })
    .await
    .expect("answer");
    let Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(bytes))) = reply else {
        panic!("expected an error frame, got {reply:?}");
    };
    assert!(
        matches!(cairn_shared::protocol::decode(&bytes), Ok(Message::Error { message }) if message.contains("join"))
    );

    let mut big = app.sync_client(&maria).await;
    big.send(&Message::Ephemeral {
        sender_id: big.peer.clone(),
        target_id: big.server.clone(),
        document_id: cairn_shared::PlanId::new_random().document_id().to_string(),
        count: 1,
        session_id: "s".into(),
        data: vec![7u8; 200 * 1024],
    })
    .await;
    assert!(big.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        big.error().is_some_and(|e| e.contains("too large")),
        "{:?}",
        big.events
    );
    assert_eq!(
        app.request(Method::GET, "/healthz", None, None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_websocket_upgrade_elsewhere_is_refused_and_sync_goes_on() {
    // Every WebSocket handshake reaches the server's upgrade handling, whatever its path: only
    // `/sync` gets a socket; elsewhere the app's own answer is written, and the server goes on.
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Still here").await;
    let elsewhere = app
        .ws_url(maria.token())
        .replacen("/sync?", "/api/v1/sync?", 1);
    assert_eq!(open(&elsewhere).await.err(), Some(404));
    let health = app.ws_url(maria.token()).replacen("/sync?", "/healthz?", 1);
    // A handshake to a plain endpoint gets that endpoint's answer, not a socket.
    assert_eq!(open(&health).await.err(), Some(200));
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    assert_eq!(read_title(&client.docs[&document].doc), "Still here");
}

#[tokio::test]
async fn a_flood_of_messages_is_cut_off_without_harming_others() {
    let app = TestApp::spawn_with(|s| s.max_messages_per_second = 20).await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Calm").await;
    let mut flood = app.sync_client(&maria).await;
    for count in 0..500u64 {
        flood
            .send(&Message::Ephemeral {
                sender_id: flood.peer.clone(),
                target_id: flood.server.clone(),
                document_id: document.clone(),
                count,
                session_id: "flood".into(),
                data: vec![1],
            })
            .await;
    }
    assert!(flood.wait_until(WAIT, SyncClient::closed).await);
    assert!(
        flood.error().is_some_and(|e| e.contains("too many")),
        "{:?}",
        flood.events
    );
    let mut calm = app.sync_client(&maria).await;
    calm.track(&document, AutoCommit::new());
    calm.sync_doc(&document, true).await;
    assert_eq!(read_title(&calm.docs[&document].doc), "Calm");
}

#[tokio::test]
async fn idle_documents_leave_memory() {
    let app = TestApp::spawn_with(|s| s.sync_idle_evict_secs = 1).await;
    let maria = app.register("maria").await;
    let mut documents = Vec::new();
    for i in 0..12 {
        documents.push(app.plan_with_document(&maria, &format!("Plan {i}")).await.1);
    }
    {
        let mut client = app.sync_client(&maria).await;
        for document in &documents {
            client.track(document, AutoCommit::new());
            client.sync_doc(document, true).await;
        }
        assert_eq!(
            app.hub.loaded_documents(),
            documents.len(),
            "every touched plan is loaded"
        );
    }
    // The client went away: after the idle time the documents leave memory.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.loaded_documents() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.hub.loaded_documents(), 0);
    // And come back on demand, intact.
    let mut client = app.sync_client(&maria).await;
    client.track(&documents[3], AutoCommit::new());
    client.sync_doc(&documents[3], true).await;
    assert_eq!(read_title(&client.docs[&documents[3]].doc), "Plan 3");
}

#[tokio::test]
async fn changes_uploaded_over_http_reach_members_syncing_live() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Both ways").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut live = app.sync_client(&maria).await;
    live.track(&document, AutoCommit::new());
    live.sync_doc(&document, true).await;

    // Sam's service worker uploads a change made offline on his phone.
    let base = app.plan_changes(sam.token(), &plan).await;
    let mut doc = AutoCommit::load(&base).expect("load");
    let since = doc.get_heads();
    doc.put(ROOT, "fromSam", "uploaded in the background")
        .expect("put");
    doc.commit();
    let change: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let posted = app.upload_changes(sam.token(), &plan, change).await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    // Maria, syncing live over the socket, gets it without asking.
    assert!(
        live.wait_until(WAIT, |c| note(&c.docs[&document].doc, "fromSam").is_some())
            .await,
        "{:?}",
        live.events
    );
    assert_eq!(
        note(&live.docs[&document].doc, "fromSam").as_deref(),
        Some("uploaded in the background")
    );
}

#[tokio::test]
async fn http_sync_reads_and_writes_with_the_same_rules() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Background sync").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/plans/{plan}/changes", app.address);

    let all = client
        .get(&url)
        .bearer_auth(maria.token())
        .send()
        .await
        .expect("get");
    assert_eq!(all.status(), 200);
    let heads = all.headers()["x-automerge-heads"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let bytes = all.bytes().await.expect("body");
    let mut doc = AutoCommit::load(&bytes).expect("changes load");
    assert_eq!(read_title(&doc), "Background sync");
    assert_eq!(
        doc.get_heads()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        heads
    );

    let since = doc.get_heads();
    doc.put(ROOT, "offlineNote", "written in the service worker")
        .expect("put");
    doc.commit();
    let new_changes: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let posted = client
        .post(&url)
        .bearer_auth(maria.token())
        .body(new_changes.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200);
    let body: serde_json::Value = posted.json().await.expect("json");
    assert_eq!(body["heads"][0], doc.get_heads()[0].to_string());
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(
        detail.body["document"]["offlineNote"],
        "written in the service worker"
    );

    let since_query = format!("{url}?since={}", heads);
    let delta = client
        .get(&since_query)
        .bearer_auth(maria.token())
        .send()
        .await
        .expect("get");
    assert_eq!(
        delta.bytes().await.expect("body").to_vec(),
        new_changes,
        "only what the caller lacks"
    );

    // A non-member gets 404; a forged author 403; garbage 400; nothing changes.
    let stranger = client
        .get(&url)
        .bearer_auth(sam.token())
        .send()
        .await
        .expect("get");
    assert_eq!(stranger.status(), 404);
    let refused = client
        .post(&url)
        .bearer_auth(sam.token())
        .body(new_changes)
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 404);
    app.add_supporter(&maria, &plan, &sam).await;
    let mut forged = AutoCommit::load(&doc.save())
        .expect("load")
        .with_actor(doc.get_actor().clone());
    let before = forged.get_heads();
    forged.put(ROOT, "offlineNote", "forged").expect("put");
    forged.commit();
    let forged: Vec<u8> = forged
        .get_changes(&before)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let foreign = app
        .send_raw(
            Method::POST,
            &format!("/api/v1/plans/{plan}/changes"),
            Some(sam.token()),
            "application/octet-stream",
            forged,
        )
        .await;
    foreign.assert_error(403, ErrorCode::ForeignAuthor);
    let garbage = app
        .send_raw(
            Method::POST,
            &format!("/api/v1/plans/{plan}/changes"),
            Some(sam.token()),
            "application/octet-stream",
            vec![1, 2, 3],
        )
        .await;
    garbage.assert_error(400, ErrorCode::BadRequest);
    let bad_since = app
        .get(
            &format!("/api/v1/plans/{plan}/changes?since=zz"),
            maria.token(),
        )
        .await;
    bad_since.assert_error(400, ErrorCode::BadRequest);
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(
        detail.body["document"]["offlineNote"],
        "written in the service worker"
    );
    let _ = document;
}

#[tokio::test]
async fn admins_cannot_sync_plans() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let (_, document) = app.plan_with_document(&maria, "Not for staff").await;
    let mut client = app.sync_client(&admin).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    assert!(client.refused(&document));
    let offline = cairn_shared::PlanId::new_random().document_id().to_string();
    client.track(
        &offline,
        cairn_shared::plan::new_plan_document(ActorId::random(), "x").expect("doc"),
    );
    client.sync_doc(&offline, false).await;
    assert!(client.refused(&offline));
    let counts = app.get("/api/v1/admin/counts", admin.token()).await;
    assert_eq!(counts.body["plans"], 1);
    let _ = PeerMetadata {
        storage_id: None,
        is_ephemeral: true,
    };
}

#[tokio::test]
async fn compaction_folds_changes_into_a_snapshot_and_keeps_history_and_content() {
    let app = TestApp::spawn_with(|s| {
        s.compact_after_changes = 5;
        s.sync_idle_evict_secs = 1;
    })
    .await;
    let maria = app.register("maria").await;
    let (plan, document) = app.plan_with_document(&maria, "Compact me").await;
    {
        let mut client = app.sync_client(&maria).await;
        client.track(&document, AutoCommit::new());
        client.sync_doc(&document, true).await;
        for n in 0..20 {
            put(&mut client, &document, &format!("note{n}"), "kept");
            client.sync_doc(&document, false).await;
        }
    }
    let id: cairn_shared::PlanId = plan.parse().expect("plan id");
    let (snapshot, loose) = app.store.plan_document(id).await.expect("stored");
    assert!(snapshot.is_some(), "a snapshot was written");
    assert!(
        loose.len() < 5,
        "covered changes were folded in ({} left outside)",
        loose.len()
    );

    // Wait until the plan leaves memory, so the next read really loads snapshot + changes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.loaded_documents() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    for n in 0..20 {
        assert_eq!(
            detail.body["document"][format!("note{n}")],
            "kept",
            "note{n} survived compaction"
        );
    }
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await;
    let entries = history.body.as_array().cloned().unwrap_or_default();
    assert_eq!(
        entries.len(),
        21,
        "the skeleton and every edit are still in the history"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["authorName"] == "Maria" && e["operations"].as_u64() >= Some(1))
    );
    let mut fresh = app.sync_client(&maria).await;
    fresh.track(&document, AutoCommit::new());
    fresh.sync_doc(&document, true).await;
    assert_eq!(
        note(&fresh.docs[&document].doc, "note19").as_deref(),
        Some("kept")
    );
}

#[tokio::test]
async fn the_server_pings_and_drops_silent_sockets() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;
    let app = TestApp::spawn_with(|s| {
        s.ping_interval_secs = 1;
        s.socket_timeout_secs = 2;
    })
    .await;
    let maria = app.register("maria").await;
    let mut socket = open(&app.ws_url(maria.token())).await.expect("upgrade");
    let join = cairn_shared::protocol::encode(&Message::Join {
        sender_id: PeerId("quiet".into()),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    });
    socket.send(Frame::Binary(join.into())).await.expect("join");
    // The server pings a client that says nothing.
    let mut pinged = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pinged && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
            Ok(Some(Ok(Frame::Ping(_)))) => pinged = true,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    assert!(pinged, "the server pings");
    // A client that stops reading (so never answers pings) is dropped after the timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(Frame::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(_))) => {}
            Err(_) => break,
        }
    }
    assert!(closed, "a silent socket is dropped");
    assert_eq!(app.hub.open_connections(), 0);
}

#[tokio::test]
async fn a_plan_that_compacts_is_measured_by_its_snapshot_against_the_size_limit() {
    // Many small edits add up to more bytes than the plan takes once compacted: the limit is on
    // what the plan takes in storage, so a plan kept in memory for a long session is not refused
    // for the sum of every change it ever received.
    let app = TestApp::spawn_with(|s| {
        s.compact_after_changes = 5;
        s.max_document_bytes = 12_000;
    })
    .await;
    let maria = app.register("maria").await;
    let (plan, document) = app.plan_with_document(&maria, "A long session").await;
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    let line = "Today I walked to the library and read for an hour. ".repeat(4);
    for n in 0..80 {
        put(&mut client, &document, "today", &format!("{line}{n}"));
        client.sync_doc(&document, false).await;
        assert!(
            client.error().is_none(),
            "edit {n} was refused: {:?}",
            client.events
        );
    }
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["document"]["today"], format!("{line}79"));
}

#[tokio::test]
async fn a_message_sent_in_fragments_is_read_whole_and_held_to_the_frame_limit() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let app = TestApp::spawn_with(|s| s.max_frame_bytes = 64 * 1024).await;
    let maria = app.register("maria").await;
    let mut socket = open(&app.ws_url(maria.token())).await.expect("upgrade");
    // Fragments: the first names the message's type, the rest continue it.
    async fn send_in_fragments(
        socket: &mut cairn_tests::sync_client::Socket,
        bytes: &[u8],
        parts: usize,
    ) {
        let size = bytes.len().div_ceil(parts);
        for (at, part) in bytes.chunks(size).enumerate() {
            let opcode = if at == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let last = (at + 1) * size >= bytes.len();
            socket
                .send(WsMessage::Frame(Frame::message(
                    part.to_vec(),
                    opcode,
                    last,
                )))
                .await
                .expect("send a fragment");
        }
    }
    async fn next_message(socket: &mut cairn_tests::sync_client::Socket) -> Option<Message> {
        tokio::time::timeout(WAIT, async {
            loop {
                match socket.next().await {
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        break cairn_shared::protocol::decode(&bytes).ok();
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    _ => break None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    let join = cairn_shared::protocol::encode(&Message::Join {
        sender_id: PeerId("fragmented-phone".into()),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    });
    send_in_fragments(&mut socket, &join, 3).await;
    let answer = next_message(&mut socket).await;
    assert!(
        matches!(&answer, Some(Message::Peer { target_id, .. }) if target_id.0 == "fragmented-phone"),
        "the join, sent in three fragments, is answered: {answer:?}"
    );

    // Three fragments of 40 KiB: each fits the 64 KiB limit, the message does not.
    let big = cairn_shared::protocol::encode(&Message::Ephemeral {
        sender_id: PeerId("fragmented-phone".into()),
        target_id: PeerId("server".into()),
        document_id: cairn_shared::PlanId::new_random().document_id().to_string(),
        count: 1,
        session_id: "s".into(),
        data: vec![7u8; 120 * 1024],
    });
    send_in_fragments(&mut socket, &big, 3).await;
    let refusal = next_message(&mut socket).await;
    assert!(
        matches!(&refusal, Some(Message::Error { message }) if message.contains("too large")),
        "{refusal:?}"
    );
    assert_eq!(
        app.request(Method::GET, "/healthz", None, None)
            .await
            .status,
        200
    );
}
