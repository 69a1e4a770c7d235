//! The attacks, one after another, each bounded in count and time and ending in its line of the
//! report: long plans and reads of them at once, presence with huge or rotating session ids, big
//! presence relayed to a socket that never reads, unknown document ids, a whole document in one
//! message, and a huge peer id.

use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use cairn_bench::client;
use cairn_shared::PlanId;
use cairn_shared::protocol::{self, PeerId};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::harness::{Bench, ephemeral, send_until_closed, server};

/// Long plans: each filled with one upload of a long text, then left to leave memory.
pub async fn long_plans(bench: &Bench) -> anyhow::Result<Vec<(String, String)>> {
    let started = Instant::now();
    let mut plans = Vec::new();
    let mut longest = 0;
    for i in 0..bench.args.plans {
        let created: Json = bench
            .http
            .post(format!("{}/api/v1/plans", bench.args.address))
            .bearer_auth(&bench.token)
            .json(&json!({"title": format!("Long plan {i}")}))
            .send()
            .await?
            .json()
            .await?;
        let id = created["id"].as_str().context("no plan id")?.to_owned();
        let document_id = created["documentId"].as_str().context("no document id")?;
        let stored = bench
            .http
            .get(format!("{}/api/v1/plans/{id}/changes", bench.args.address))
            .bearer_auth(&bench.token)
            .send()
            .await?
            .bytes()
            .await?;
        let mut accepted = None;
        for characters in [bench.args.characters, bench.args.fallback_characters] {
            let mut doc = AutoCommit::load(&stored)?;
            let text = match doc.get(ROOT, "whatMatters")? {
                Some((automerge::Value::Object(ObjType::Text), text)) => text,
                _ => doc.put_object(ROOT, "whatMatters", ObjType::Text)?,
            };
            let words = "the day after court I will call my sister and ask about the job. ";
            let long: String = words.chars().cycle().take(characters).collect();
            doc.splice_text(&text, 0, 0, &long)?;
            doc.commit();
            let change = doc
                .get_last_local_change()
                .context("no change")?
                .raw_bytes()
                .to_vec();
            let answer = bench
                .http
                .post(format!("{}/api/v1/plans/{id}/changes", bench.args.address))
                .bearer_auth(&bench.token)
                .body(change)
                .send()
                .await?;
            if answer.status().is_success() {
                accepted = Some(characters);
                break;
            }
            println!(
                "  a plan of {characters} characters: refused ({}: {})",
                answer.status(),
                answer.text().await.unwrap_or_default()
            );
        }
        let characters = accepted.context("no long plan was accepted")?;
        longest = longest.max(characters);
        plans.push((id, document_id.to_owned()));
    }
    bench
        .report(
            &format!("{} plans of {longest} characters stored", plans.len()),
            started,
            "",
        )
        .await;
    tokio::time::sleep(Duration::from_secs(bench.args.idle_evict_secs + 3)).await;
    Ok(plans)
}

/// Reads at once: six plan lists and six reads of each plan, all at the same moment.
pub async fn reads_at_once(bench: &Bench, plans: &[(String, String)]) {
    let started = Instant::now();
    let mut reads = Vec::new();
    for _ in 0..6 {
        reads.push(format!("{}/api/v1/plans", bench.args.address));
        for (id, _) in plans {
            reads.push(format!("{}/api/v1/plans/{id}", bench.args.address));
        }
    }
    let answers = futures_util::future::join_all(
        reads
            .iter()
            .map(|url| bench.http.get(url).bearer_auth(&bench.token).send()),
    )
    .await;
    let ok = answers
        .iter()
        .filter(|a| a.as_ref().is_ok_and(|a| a.status().is_success()))
        .count();
    bench
        .report(
            &format!("{} reads at once ({ok} answered 200)", reads.len()),
            started,
            "",
        )
        .await;
}

/// Presence with 1 MB session ids, 300 of them, on one socket.
pub async fn presence_with_huge_session_ids(bench: &Bench, document: &str) {
    let started = Instant::now();
    let frames = (0..300u64).map(|i| {
        let session = format!("{i:08}{}", "s".repeat(1 << 20));
        ephemeral("presence-ids", document, 1, session, vec![0xa0])
    });
    let cut = bench.flood("presence-ids", frames).await;
    bench
        .report("300 presence messages, 1 MB session ids", started, cut)
        .await;
}

/// Presence under 1,000 rotating short session ids on one socket.
pub async fn rotating_presence_sessions(bench: &Bench, document: &str) {
    let started = Instant::now();
    let frames = (0..1000u64).map(|i| {
        ephemeral(
            "rotating-sessions",
            document,
            1,
            format!("session-{i}"),
            vec![0xa0],
        )
    });
    let cut = bench.flood("rotating-sessions", frames).await;
    bench
        .report("1,000 rotating presence session ids", started, cut)
        .await;
}

/// A member whose socket never reads while big presence is relayed to it.
pub async fn presence_to_a_socket_that_never_reads(bench: &Bench, document: &str) {
    let started = Instant::now();
    let mut cut = "not cut off";
    let reader = bench.join("never-reads").await;
    if let Some(mut reader) = reader {
        // It opens the plan (so presence is relayed to it), then stops reading.
        let mut doc = AutoCommit::new();
        let mut state = automerge::sync::State::new();
        let data = doc
            .sync()
            .generate_sync_message(&mut state)
            .map(|m| m.encode())
            .unwrap_or_default();
        let request = protocol::encode(&client::sync_message(
            &PeerId("never-reads".into()),
            &server(),
            document,
            data,
            true,
        ));
        let _ = reader.send(Frame::Binary(request.into())).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(mut sender) = bench.join("big-presence").await {
            let frames = (0..300u64).map(|i| {
                ephemeral(
                    "big-presence",
                    document,
                    i + 1,
                    "s1".into(),
                    vec![7u8; 1 << 20],
                )
            });
            if send_until_closed(&mut sender, frames).await {
                cut = "sender cut off";
            }
        }
        bench
            .report(
                "300 × 1 MB presence to a socket that never reads",
                started,
                cut,
            )
            .await;

        // Presence as large as allowed (4,000 bytes), from ten sockets at 90 messages a second
        // each (under the per-socket rate limit) for five seconds: 18 MB for the reader.
        let started = Instant::now();
        let mut senders = Vec::new();
        for s in 0..10u64 {
            let Some(mut sender) = bench.join(&format!("presence-{s}")).await else {
                continue;
            };
            let document = document.to_owned();
            senders.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(11));
                for i in 0..450u64 {
                    tick.tick().await;
                    let frame = ephemeral(
                        &format!("presence-{s}"),
                        &document,
                        i + 1,
                        format!("session-{s}"),
                        vec![7u8; 4000],
                    );
                    if sender.send(Frame::Binary(frame.into())).await.is_err() {
                        return true;
                    }
                    // Drain what the server says to this sender (presence from the others).
                    while let Ok(Some(incoming)) =
                        tokio::time::timeout(Duration::from_millis(0), sender.next()).await
                    {
                        if matches!(incoming, Ok(Frame::Close(_)) | Err(_)) {
                            return true;
                        }
                    }
                }
                false
            }));
        }
        let mut senders_cut = 0;
        for sender in senders {
            if sender.await.unwrap_or(true) {
                senders_cut += 1;
            }
        }
        let waiting = bench.metric("cairn_sync_outbox_bytes").await;
        // Now read what reached the reader: does it end in a close?
        let mut dropped = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(incoming)) = tokio::time::timeout_at(deadline, reader.next()).await {
            if matches!(incoming, Ok(Frame::Close(_)) | Err(_)) {
                dropped = true;
                break;
            }
        }
        bench
            .report(
                "18 MB of 4 KB presence to a socket that never reads",
                started,
                &format!(
                    "reader {}; {senders_cut} of 10 senders cut off; {waiting} bytes waiting after",
                    if dropped { "dropped" } else { "kept" }
                ),
            )
            .await;
        drop(reader);
    }
}

/// Unknown document ids: 20 sockets naming 300 each.
pub async fn unknown_document_ids(bench: &Bench) -> u64 {
    let started = Instant::now();
    let mut cut_off = 0;
    let mut sockets = Vec::new();
    for s in 0..20 {
        let peer = format!("unknown-ids-{s}");
        let Some(mut socket) = bench.join(&peer).await else {
            continue;
        };
        let frames = (0..300).map(|_| {
            protocol::encode(&client::sync_message(
                &PeerId(peer.clone()),
                &server(),
                &PlanId::new_random().document_id().to_string(),
                Vec::new(),
                true,
            ))
        });
        if send_until_closed(&mut socket, frames).await {
            cut_off += 1;
        }
        sockets.push(socket);
    }
    bench
        .report(
            "6,000 unknown document ids from 20 sockets",
            started,
            &format!("{cut_off} of 20 cut off"),
        )
        .await;
    let sockets_at_once = sockets.len() as u64;
    drop(sockets);
    sockets_at_once
}

/// A whole document of 1.5 million operations (a few KB) in one sync message, as a plan made
/// offline: counted from its bytes and refused before anything is built.
pub async fn whole_document(bench: &Bench) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut doc = AutoCommit::new();
    let essay = doc.put_object(ROOT, "essay", ObjType::Text)?;
    let long: String = "the day after court "
        .chars()
        .cycle()
        .take(bench.args.characters)
        .collect();
    doc.splice_text(&essay, 0, 0, &long)?;
    doc.commit();
    let whole = doc.save();
    let message = automerge::sync::Message {
        heads: doc.get_heads(),
        need: vec![],
        have: vec![],
        changes: vec![whole.clone()].into(),
        supported_capabilities: None,
        version: automerge::sync::MessageVersion::V2,
    };
    let frame = protocol::encode(&client::sync_message(
        &PeerId("whole-document".into()),
        &server(),
        &PlanId::new_random().document_id().to_string(),
        message.encode(),
        false,
    ));
    let cut = bench.flood("whole-document", std::iter::once(frame)).await;
    bench
        .report(
            &format!(
                "a whole document of {} operations ({} KB)",
                bench.args.characters,
                whole.len() / 1024
            ),
            started,
            cut,
        )
        .await;
    Ok(())
}

/// A 2 MB peer id in `join`.
pub async fn huge_peer_id(bench: &Bench) {
    let started = Instant::now();
    let answered = bench.join(&"p".repeat(2 << 20)).await.is_some();
    bench
        .report(
            "join with a 2 MB senderId",
            started,
            if answered { "accepted" } else { "refused" },
        )
        .await;
}
