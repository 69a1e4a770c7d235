//! One editor of a plan under load: its own connection and copy of the plan, the edits it makes
//! at a steady rate, and the latencies of its partner's edits as they arrive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
use cairn_bench::client::{self, Socket};
use cairn_shared::protocol::{self, Message, PeerId};
use futures_util::StreamExt;
use futures_util::stream::SplitSink;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as Frame;

type Sink = SplitSink<Socket, Frame>;

/// One editor's connection and copy of the plan.
pub struct Editor {
    pub label: String,
    partner: String,
    document_id: String,
    peer: PeerId,
    server: PeerId,
    pub doc: Mutex<(AutoCommit, sync::State)>,
    pub sink: Mutex<Sink>,
    /// Latencies (ms) of the partner's edits as they arrived here.
    pub latencies: Mutex<Vec<f64>>,
    /// How many of the partner's edits have arrived.
    pub seen: Mutex<usize>,
}

/// Connect `label` (whose partner is `partner`) to the server at `url`, with its copy of the
/// plan, and start reading what the server sends it.
pub async fn connect(
    url: &str,
    label: &str,
    partner: &str,
    document_id: &str,
    doc: AutoCommit,
) -> anyhow::Result<Arc<Editor>> {
    let peer = PeerId(format!("load-{label}-{}", uuid::Uuid::new_v4().simple()));
    // A phone whose connection drops before the handshake dials again; so does this, twice.
    let mut attempt = 1;
    let (socket, server) = loop {
        match handshake(url, &peer).await {
            Ok(connected) => break connected,
            Err(err) if attempt < 3 => {
                eprintln!("{label}: connection attempt {attempt} failed ({err:#}); dialling again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => return Err(err),
        }
    };
    let (sink, mut stream) = socket.split();
    let editor = Arc::new(Editor {
        label: label.to_owned(),
        partner: partner.to_owned(),
        document_id: document_id.to_owned(),
        peer,
        server,
        doc: Mutex::new((doc, sync::State::new())),
        sink: Mutex::new(sink),
        latencies: Mutex::new(Vec::new()),
        seen: Mutex::new(0),
    });
    let reader = editor.clone();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Frame::Binary(bytes) = frame
                && let Ok(Message::Sync { data, .. }) = protocol::decode(&bytes)
            {
                let _ = reader.receive(&data).await;
            }
        }
    });
    Ok(editor)
}

/// Open a socket and exchange `join` and `peer`: the socket and the server's peer id.
async fn handshake(url: &str, peer: &PeerId) -> anyhow::Result<(Socket, PeerId)> {
    let mut socket = client::open(url).await?;
    let server = client::handshake(&mut socket, peer, Duration::from_secs(10)).await?;
    Ok((socket, server))
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

impl Editor {
    /// Apply a sync message from the server, note the partner's new edits, and answer.
    async fn receive(&self, data: &[u8]) -> anyhow::Result<()> {
        let message = sync::Message::decode(data)?;
        let arrived = now_ms();
        let reply = {
            let mut guard = self.doc.lock().await;
            let (doc, state) = &mut *guard;
            doc.sync().receive_sync_message(state, message)?;
            let mut seen = self.seen.lock().await;
            let mut latencies = self.latencies.lock().await;
            while let Ok(Some((Value::Scalar(value), _))) =
                doc.get(ROOT, format!("{}-{}", self.partner, *seen))
            {
                if let ScalarValue::F64(sent) = value.as_ref() {
                    latencies.push(arrived - sent);
                }
                *seen += 1;
            }
            doc.sync().generate_sync_message(state)
        };
        if let Some(reply) = reply {
            self.send_sync(reply.encode(), false).await?;
        }
        Ok(())
    }

    async fn send_sync(&self, data: Vec<u8>, as_request: bool) -> anyhow::Result<()> {
        let message = client::sync_message(
            &self.peer,
            &self.server,
            &self.document_id,
            data,
            as_request,
        );
        client::send(&mut *self.sink.lock().await, &message).await
    }

    /// Push whatever this editor has that the server lacks.
    pub async fn push(&self, as_request: bool) -> anyhow::Result<bool> {
        let message = {
            let mut guard = self.doc.lock().await;
            let (doc, state) = &mut *guard;
            doc.sync().generate_sync_message(state)
        };
        let Some(message) = message else {
            return Ok(false);
        };
        self.send_sync(message.encode(), as_request).await?;
        Ok(true)
    }
}

/// Sync the plan once before the clock starts, until the server has nothing more to say.
pub async fn sync_until_quiet(editor: &Editor, as_request: bool) -> anyhow::Result<()> {
    editor.push(as_request).await?;
    let mut last = HashMap::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut guard = editor.doc.lock().await;
        let heads = guard.0.get_heads();
        let theirs = guard.1.their_heads.clone().unwrap_or_default();
        if !heads.is_empty() && heads == theirs {
            return Ok(());
        }
        last.insert(editor.label.clone(), (heads.len(), theirs.len()));
    }
    bail!("{} never synced its plan: {last:?}", editor.label)
}

/// Make `edits` edits, one every `interval`, each sent at once.
pub async fn edit(
    editor: Arc<Editor>,
    edits: usize,
    interval: Duration,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(interval);
    for n in 0..edits {
        tick.tick().await;
        if Instant::now() > deadline {
            break;
        }
        {
            let mut guard = editor.doc.lock().await;
            guard
                .0
                .put(ROOT, format!("{}-{n}", editor.label), now_ms())?;
            guard.0.commit();
        }
        editor.push(false).await?;
    }
    Ok(())
}
