//! The attacks' harness: the attacker's account and sockets, the frames it sends until the
//! server cuts it off, and the line printed after each attack (the server's memory, its plans in
//! memory, whether it is still up).

use std::time::{Duration, Instant};

use cairn_bench::client::{self, Socket};
use cairn_bench::process::Process;
use cairn_bench::stats::mib_from_kib;
use cairn_shared::protocol::{self, Message, PeerId};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::Args;

pub struct Bench {
    pub args: Args,
    pub http: reqwest::Client,
    pub token: String,
    pub ws: String,
}

impl Bench {
    pub async fn metric(&self, name: &str) -> u64 {
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

    pub async fn report(&self, scenario: &str, started: Instant, cut_off: &str) {
        let server = Process::Id(self.args.pid);
        let peak = server.peak_resident_kib().unwrap_or_default();
        let now = server.resident_kib().unwrap_or_default();
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
            mib_from_kib(peak),
            mib_from_kib(now),
            started.elapsed().as_secs_f64(),
            if alive { "" } else { "; SERVER DOWN" }
        );
    }

    /// Join as `peer` and send `frames` until the server closes the socket: whether it cut the
    /// socket off (or refused the join).
    pub async fn flood(&self, peer: &str, frames: impl Iterator<Item = Vec<u8>>) -> &'static str {
        let Some(mut socket) = self.join(peer).await else {
            return "refused";
        };
        if send_until_closed(&mut socket, frames).await {
            "cut off"
        } else {
            "not cut off"
        }
    }

    /// A socket that has joined as `peer`; `None` when the server refused it.
    pub async fn join(&self, peer: &str) -> Option<Socket> {
        let mut socket = client::open(&self.ws).await.ok()?;
        client::handshake(
            &mut socket,
            &PeerId(peer.to_owned()),
            Duration::from_secs(10),
        )
        .await
        .ok()?;
        Some(socket)
    }
}

/// Send frames until the server closes the socket or `frames` are sent; whether it closed.
pub async fn send_until_closed(socket: &mut Socket, frames: impl Iterator<Item = Vec<u8>>) -> bool {
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

pub fn ephemeral(
    peer: &str,
    document: &str,
    count: u64,
    session: String,
    data: Vec<u8>,
) -> Vec<u8> {
    protocol::encode(&Message::Ephemeral {
        sender_id: PeerId(peer.to_owned()),
        target_id: server(),
        document_id: document.to_owned(),
        count,
        session_id: session,
        data,
    })
}

/// The server's peer id as the attacks name it (Cairn takes any).
pub fn server() -> PeerId {
    PeerId("server".into())
}
