//! A minimal automerge-repo peer for tests: speaks the v1 protocol over a real WebSocket to
//! Cairn's `/sync`, keeps Automerge documents and sync states, and reports what the server said.

use std::collections::HashMap;
use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for the server before giving up.
pub const WAIT: Duration = Duration::from_secs(10);

/// What the server sent that is not a sync message for a tracked document.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `doc-unavailable` for this document id.
    Unavailable(String),
    /// An `error` message.
    Error(String),
    /// A relayed `ephemeral` message: sender peer id and data.
    Ephemeral(String, Vec<u8>),
    /// The socket closed.
    Closed,
}

/// One document the client syncs.
pub struct Tracked {
    /// The client's copy.
    pub doc: AutoCommit,
    /// Sync state with the server.
    pub state: sync::State,
    /// The server's heads as of its last sync message.
    pub server_heads: Vec<ChangeHash>,
}

/// A connected test peer.
pub struct SyncClient {
    socket: Socket,
    /// This client's peer id.
    pub peer: PeerId,
    /// The server's peer id from the handshake.
    pub server: PeerId,
    /// The storage id the server announced.
    pub server_storage_id: Option<String>,
    /// Documents by automerge-repo document id.
    pub docs: HashMap<String, Tracked>,
    /// Everything else the server said, in order.
    pub events: Vec<Event>,
    /// The document of the last sync message received, until it is answered.
    unanswered: Option<String>,
}

/// Connect to `ws_url` (…/sync?token=…) without doing the handshake; the HTTP status if refused.
pub async fn open(ws_url: &str) -> Result<Socket, u16> {
    match tokio_tungstenite::connect_async(ws_url).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("could not reach {ws_url}: {other}"),
    }
}

impl SyncClient {
    /// Connect and complete the `join`/`peer` handshake.
    pub async fn connect(ws_url: &str, peer: &str) -> Self {
        let socket = match open(ws_url).await {
            Ok(socket) => socket,
            Err(status) => panic!("sync upgrade refused with HTTP {status}"),
        };
        let mut client = Self {
            socket,
            peer: PeerId(peer.to_owned()),
            server: PeerId(String::new()),
            server_storage_id: None,
            docs: HashMap::new(),
            events: Vec::new(),
            unanswered: None,
        };
        client
            .send(&Message::Join {
                sender_id: client.peer.clone(),
                peer_metadata: PeerMetadata {
                    storage_id: None,
                    is_ephemeral: true,
                },
                supported_protocol_versions: vec!["1".into()],
            })
            .await;
        match client.next_message(WAIT).await {
            Some(Message::Peer {
                sender_id,
                peer_metadata,
                selected_protocol_version,
                target_id,
            }) => {
                assert_eq!(selected_protocol_version, "1");
                assert_eq!(target_id, client.peer);
                client.server = sender_id;
                client.server_storage_id = peer_metadata.storage_id;
            }
            other => panic!("expected a peer message, got {other:?}"),
        }
        client
    }

    /// Connect and send `join` as `peer`, without waiting for the answer (the server may refuse
    /// the join: see [`SyncClient::events`] after [`SyncClient::wait_until`]).
    pub async fn connect_unanswered(ws_url: &str, peer: &str) -> Self {
        let socket = match open(ws_url).await {
            Ok(socket) => socket,
            Err(status) => panic!("sync upgrade refused with HTTP {status}"),
        };
        let mut client = Self {
            socket,
            peer: PeerId(peer.to_owned()),
            server: PeerId(String::new()),
            server_storage_id: None,
            docs: HashMap::new(),
            events: Vec::new(),
            unanswered: None,
        };
        client
            .send(&Message::Join {
                sender_id: client.peer.clone(),
                peer_metadata: PeerMetadata {
                    storage_id: None,
                    is_ephemeral: true,
                },
                supported_protocol_versions: vec!["1".into()],
            })
            .await;
        client
    }

    /// Send presence for `document_id`, as automerge-repo's `handle.broadcast` does.
    pub async fn send_presence(
        &mut self,
        document_id: &str,
        session_id: &str,
        count: u64,
        data: Vec<u8>,
    ) {
        let message = Message::Ephemeral {
            sender_id: self.peer.clone(),
            target_id: self.server.clone(),
            document_id: document_id.to_owned(),
            count,
            session_id: session_id.to_owned(),
            data,
        };
        self.send(&message).await;
    }

    /// Send one protocol message.
    pub async fn send(&mut self, message: &Message) {
        self.send_raw(protocol::encode(message)).await;
    }

    /// Send raw bytes as one binary frame.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.socket.send(Frame::Binary(bytes.into())).await;
    }

    /// Send a text frame.
    pub async fn send_text(&mut self, text: &str) {
        let _ = self.socket.send(Frame::Text(text.to_owned().into())).await;
    }

    /// The next protocol message, or `None` on close or timeout. The server's pings do not
    /// extend `wait`.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match frame {
                Ok(Frame::Binary(bytes)) => return protocol::decode(&bytes).ok(),
                Ok(Frame::Close(_)) | Err(_) => {
                    self.events.push(Event::Closed);
                    return None;
                }
                Ok(_) => continue,
            }
        }
    }

    /// Start tracking a document (the client's own copy) under `document_id`.
    pub fn track(&mut self, document_id: &str, doc: AutoCommit) {
        self.docs.insert(
            document_id.to_owned(),
            Tracked {
                doc,
                state: sync::State::new(),
                server_heads: Vec::new(),
            },
        );
    }

    /// Send our next sync message for the document, as `request` (we lack it) or `sync`.
    pub async fn push(&mut self, document_id: &str, as_request: bool) -> bool {
        let Some(tracked) = self.docs.get_mut(document_id) else {
            return false;
        };
        let Some(message) = tracked.doc.sync().generate_sync_message(&mut tracked.state) else {
            return false;
        };
        let data = message.encode();
        let message = if as_request {
            Message::Request {
                sender_id: self.peer.clone(),
                target_id: self.server.clone(),
                document_id: document_id.to_owned(),
                data,
            }
        } else {
            Message::Sync {
                sender_id: self.peer.clone(),
                target_id: self.server.clone(),
                document_id: document_id.to_owned(),
                data,
            }
        };
        self.send(&message).await;
        true
    }

    /// Handle one incoming message: apply sync messages to tracked documents, record the rest.
    /// Returns false when the socket closed or nothing came within `wait`.
    pub async fn receive_one(&mut self, wait: Duration) -> bool {
        let Some(message) = self.next_message(wait).await else {
            return false;
        };
        match message {
            Message::Sync {
                document_id, data, ..
            } => {
                let tracked = self
                    .docs
                    .entry(document_id.clone())
                    .or_insert_with(|| Tracked {
                        doc: AutoCommit::new(),
                        state: sync::State::new(),
                        server_heads: Vec::new(),
                    });
                let decoded =
                    sync::Message::decode(&data).expect("server sent a valid sync message");
                tracked.server_heads = decoded.heads.clone();
                tracked
                    .doc
                    .sync()
                    .receive_sync_message(&mut tracked.state, decoded)
                    .expect("server's sync message applies");
                self.unanswered = Some(document_id);
            }
            Message::DocUnavailable { document_id, .. } => {
                self.events.push(Event::Unavailable(document_id))
            }
            Message::Error { message } => self.events.push(Event::Error(message)),
            Message::Ephemeral {
                sender_id, data, ..
            } => self.events.push(Event::Ephemeral(sender_id.0, data)),
            _ => {}
        }
        true
    }

    /// Sync one document until neither side has more to say (or the server refuses it).
    pub async fn sync_doc(&mut self, document_id: &str, as_request: bool) {
        let mut first = true;
        for _ in 0..50 {
            let sent = self.push(document_id, as_request && first).await;
            first = false;
            // After a message the server must answer, wait for it; after a mere acknowledgement
            // (the server already has our heads), only linger briefly for stragglers.
            let in_sync = self.docs.get_mut(document_id).is_some_and(|t| {
                let ours = t.doc.get_heads();
                t.state.their_heads.as_ref() == Some(&ours)
            });
            let wait = if sent && !in_sync {
                WAIT
            } else {
                Duration::from_millis(200)
            };
            let got = self.receive_one(wait).await;
            if !sent && !got {
                return;
            }
            if self.refused(document_id) || self.closed() {
                return;
            }
        }
    }

    /// Whether the server said the document is unavailable.
    pub fn refused(&self, document_id: &str) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Unavailable(d) if d == document_id))
    }

    /// Whether the socket was closed.
    pub fn closed(&self) -> bool {
        self.events.contains(&Event::Closed)
    }

    /// The first error message the server sent, if any.
    pub fn error(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::Error(message) => Some(message.as_str()),
            _ => None,
        })
    }

    /// Keep receiving until `done` holds or `wait` passes.
    pub async fn wait_until(&mut self, wait: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while !done(self) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            if !self.receive_one(left).await && self.closed() {
                return done(self);
            }
            // Answer as every automerge-repo client does. The server leaves out a change that
            // the client's last Bloom filter seems to hold (a false positive, about one change
            // in a hundred) and sends only its heads; the client's answer asks for it.
            if let Some(document_id) = self.unanswered.take() {
                self.push(&document_id, false).await;
            }
        }
        true
    }
}
