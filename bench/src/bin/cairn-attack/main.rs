//! `cairn-attack`: what one member can cost a running Cairn's memory. Runs the memory attacks of
//! issue 23 against a server on loopback (one after another, each bounded in count and time) and
//! prints the server's peak resident memory after each, with how many plans it holds and whether
//! the attacking socket was cut off. `scripts/bench-attacks` starts a release build and runs it;
//! the README's Security section states the bound these figures are held against.
//!
//! ```text
//! cairn-attack --address http://127.0.0.1:8080 --pid <server pid>
//! ```

// A benchmark tool: a broken set-up may stop it with a message.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use cairn_tests::sync_client::{Socket, open};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message as Frame;

#[derive(Debug, Parser)]
struct Args {
    /// The server's base address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    address: String,
    /// The server's process id (its memory is read from /proc).
    #[arg(long)]
    pid: u32,
    /// Long plans to create and read.
    #[arg(long, default_value_t = 4)]
    plans: usize,
    /// Characters of each long plan.
    #[arg(long, default_value_t = 1_500_000)]
    characters: usize,
    /// Characters of each long plan when the server refuses `characters` (its operation
    /// limit): the longest plans it accepts, read in the same way.
    #[arg(long, default_value_t = 240_000)]
    fallback_characters: usize,
    /// Seconds the server keeps a plan nobody uses (its CAIRN_SYNC_IDLE_EVICT_SECS).
    #[arg(long, default_value_t = 5)]
    idle_evict_secs: u64,
    /// The server's CAIRN_MAX_DOCUMENT_OPS, for the bound.
    #[arg(long, default_value_t = 250_000)]
    max_document_ops: u64,
    /// Memory per Automerge operation of a loaded plan, as the README states it (0.55 KiB).
    #[arg(long, default_value_t = 563)]
    bytes_per_op: u64,
    /// Memory per sync socket, as the README states it: one incoming message
    /// (CAIRN_MAX_FRAME_BYTES) and what may wait to go out (CAIRN_MAX_OUTBOX_BYTES), in MiB.
    #[arg(long, default_value_t = 32)]
    socket_mib: u64,
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Bench {
    args: Args,
    http: reqwest::Client,
    token: String,
    ws: String,
}

impl Bench {
    async fn metric(&self, name: &str) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.args.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    async fn report(&self, scenario: &str, started: Instant, cut_off: &str) {
        let peak = status_kib(self.args.pid, "VmHWM:");
        let now = status_kib(self.args.pid, "VmRSS:");
        let loaded = self.metric("cairn_plans_in_memory").await;
        let alive = self
            .http
            .get(format!("{}/healthz", self.args.address))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        println!(
            "{scenario:<44} peak RSS: {:>8.1} MiB  RSS now: {:>8.1} MiB  plans in memory: {loaded:>5}  {cut_off}  ({:.1} s{})",
            mib(peak),
            mib(now),
            started.elapsed().as_secs_f64(),
            if alive { "" } else { "; SERVER DOWN" }
        );
    }

    async fn join(&self, peer: &str) -> Option<Socket> {
        let mut socket = open(&self.ws).await.ok()?;
        let join = Message::Join {
            sender_id: PeerId(peer.to_owned()),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            },
            supported_protocol_versions: vec!["1".into()],
        };
        socket
            .send(Frame::Binary(protocol::encode(&join).into()))
            .await
            .ok()?;
        // The `peer` answer (or an error and a close).
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Frame::Binary(bytes)))) => match protocol::decode(&bytes) {
                Ok(Message::Peer { .. }) => Some(socket),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Send frames until the server closes the socket or `frames` are sent; whether it closed.
async fn send_until_closed(socket: &mut Socket, frames: impl Iterator<Item = Vec<u8>>) -> bool {
    for frame in frames {
        if socket.send(Frame::Binary(frame.into())).await.is_err() {
            return true;
        }
        // Read whatever came back without waiting: a close ends the attack.
        while let Ok(Some(incoming)) =
            tokio::time::timeout(Duration::from_millis(1), socket.next()).await
        {
            match incoming {
                Ok(Frame::Close(_)) | Err(_) => return true,
                _ => {}
            }
        }
    }
    // The server may close a moment after the last frame.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(incoming)) = tokio::time::timeout_at(deadline, socket.next()).await {
        if matches!(incoming, Ok(Frame::Close(_)) | Err(_)) {
            return true;
        }
    }
    false
}

fn ephemeral(peer: &str, document: &str, count: u64, session: String, data: Vec<u8>) -> Vec<u8> {
    protocol::encode(&Message::Ephemeral {
        sender_id: PeerId(peer.to_owned()),
        target_id: PeerId("server".into()),
        document_id: document.to_owned(),
        count,
        session_id: session,
        data,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let name = format!("attacker{}", std::process::id());
    let registered: Json = http
        .post(format!("{}/api/v1/auth/register", args.address))
        .json(&json!({"username": name, "displayName": "Attacker", "password": "a long pass phrase for the bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = registered["accessToken"]
        .as_str()
        .context("registration gave no token (run the server with CAIRN_REGISTRATION=open)")?
        .to_owned();
    let ws = format!(
        "{}/sync?token={token}",
        args.address.replacen("http", "ws", 1)
    );
    let bench = Bench {
        args,
        http,
        token,
        ws,
    };
    let idle_kib = status_kib(bench.args.pid, "VmHWM:");
    println!(
        "{:<44} peak RSS: {:>8.1} MiB",
        "idle server, one account",
        mib(idle_kib)
    );

    // 1. Long plans: each filled with one upload of a long text, then left to leave memory.
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

    // 2. Reads at once: six plan lists and six reads of each plan, all at the same moment.
    let started = Instant::now();
    let mut reads = Vec::new();
    for _ in 0..6 {
        reads.push(format!("{}/api/v1/plans", bench.args.address));
        for (id, _) in &plans {
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

    let (_, document) = plans.first().cloned().context("no plan")?;

    // 3. Presence with 1 MB session ids, 300 of them, on one socket.
    let started = Instant::now();
    let mut cut = "not cut off";
    if let Some(mut socket) = bench.join("presence-ids").await {
        let frames = (0..300u64).map(|i| {
            let session = format!("{i:08}{}", "s".repeat(1 << 20));
            ephemeral("presence-ids", &document, 1, session, vec![0xa0])
        });
        if send_until_closed(&mut socket, frames).await {
            cut = "cut off";
        }
    } else {
        cut = "refused";
    }
    bench
        .report("300 presence messages, 1 MB session ids", started, cut)
        .await;

    // 3b. Presence under 1,000 rotating short session ids on one socket.
    let started = Instant::now();
    let mut cut = "not cut off";
    if let Some(mut socket) = bench.join("rotating-sessions").await {
        let frames = (0..1000u64).map(|i| {
            ephemeral(
                "rotating-sessions",
                &document,
                1,
                format!("session-{i}"),
                vec![0xa0],
            )
        });
        if send_until_closed(&mut socket, frames).await {
            cut = "cut off";
        }
    }
    bench
        .report("1,000 rotating presence session ids", started, cut)
        .await;

    // 4. A member whose socket never reads while big presence is relayed to it.
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
        let request = protocol::encode(&Message::Request {
            sender_id: PeerId("never-reads".into()),
            target_id: PeerId("server".into()),
            document_id: document.clone(),
            data,
        });
        let _ = reader.send(Frame::Binary(request.into())).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(mut sender) = bench.join("big-presence").await {
            let frames = (0..300u64).map(|i| {
                ephemeral(
                    "big-presence",
                    &document,
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
            let document = document.clone();
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

    // 5. Unknown document ids: 20 sockets naming 300 each.
    let started = Instant::now();
    let mut cut_off = 0;
    let mut sockets = Vec::new();
    for s in 0..20 {
        let peer = format!("unknown-ids-{s}");
        let Some(mut socket) = bench.join(&peer).await else {
            continue;
        };
        let frames = (0..300).map(|_| {
            protocol::encode(&Message::Request {
                sender_id: PeerId(peer.clone()),
                target_id: PeerId("server".into()),
                document_id: cairn_shared::PlanId::new_random().document_id().to_string(),
                data: Vec::new(),
            })
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

    // 5b. A whole document of 1.5 million operations (a few KB) in one sync message, as a plan
    // made offline: counted from its bytes and refused before anything is built.
    let started = Instant::now();
    let mut cut = "not cut off";
    if let Some(mut socket) = bench.join("whole-document").await {
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
        let frame = protocol::encode(&Message::Sync {
            sender_id: PeerId("whole-document".into()),
            target_id: PeerId("server".into()),
            document_id: cairn_shared::PlanId::new_random().document_id().to_string(),
            data: message.encode(),
        });
        if send_until_closed(&mut socket, std::iter::once(frame)).await {
            cut = "cut off";
        }
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
    }

    // 6. A 2 MB peer id in `join`.
    let started = Instant::now();
    let answered = bench.join(&"p".repeat(2 << 20)).await.is_some();
    bench
        .report(
            "join with a 2 MB senderId",
            started,
            if answered { "accepted" } else { "refused" },
        )
        .await;

    // The bound the README states, for what this run held at most at once: its long plans
    // (plus one more for the second copy an upload holds while it is checked) and its sockets.
    let per_plan = bench.args.max_document_ops * bench.args.bytes_per_op;
    let plans_held = plans.len() as u64 + 1;
    let bound_kib = idle_kib
        + plans_held * per_plan / 1024
        + sockets_at_once.max(2) * bench.args.socket_mib * 1024;
    let peak_kib = status_kib(bench.args.pid, "VmHWM:");
    println!(
        "peak RSS over the run: {:.1} MiB; documented bound for it: {:.1} MiB (idle {:.1} + {plans_held} plans × {:.1} MiB + {} sockets × {} MiB){}",
        mib(peak_kib),
        mib(bound_kib),
        mib(idle_kib),
        mib(per_plan / 1024),
        sockets_at_once.max(2),
        bench.args.socket_mib,
        if peak_kib <= bound_kib {
            ""
        } else {
            "  OVER THE BOUND"
        }
    );
    Ok(())
}
