//! The sans-IO protocol state of one WebSocket connection: the handshake, checks on every frame
//! (well-formed, from the peer that joined, not too many, within the [`Limits`]), and where each
//! message goes. Presence is stamped here with the sender's account before it goes anywhere. The
//! actix shell feeds frames in and carries the resulting actions out.

use std::collections::HashSet;
use std::num::NonZeroU32;

use cairn_shared::PlanId;
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::document::{ConnId, Input, Origin};
use crate::domain::Caller;

/// The protocol version Cairn speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// What the shell must do with a frame.
#[derive(Debug)]
pub enum Action {
    /// Send this message back on the same connection.
    Reply(Message),
    /// Hand this input to the plan's document.
    Route(PlanId, Input),
    /// Send an `error` message saying this, then close the connection.
    Fail(String),
    /// The client said goodbye: close quietly.
    Leave,
    /// Nothing to do (messages the protocol says to ignore).
    Ignore,
}

/// What one connection may send and hold: each a bound on memory the server keeps for it,
/// whatever the peer sends. A breach fails the connection (an `error`, then a close).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Messages a second (with bursts of twice that).
    pub per_second: NonZeroU32,
    /// Longest peer id (`senderId` in `join`), in bytes: it is kept for the connection's life
    /// and echoed in every message to it.
    pub max_peer_id_bytes: usize,
    /// Longest presence `sessionId`, in bytes (plans remember them to drop duplicates).
    pub max_session_id_bytes: usize,
    /// Largest presence `data`, in bytes (it is copied to every other member's connection).
    pub max_presence_bytes: usize,
    /// Distinct presence `sessionId`s one connection may use (an automerge-repo client uses one).
    pub max_presence_sessions: usize,
    /// Distinct documents one connection may name (sync, request or presence).
    pub max_documents: usize,
}

impl Limits {
    /// `per_second` messages a second and otherwise generous limits (for tests).
    pub fn with_rate(per_second: NonZeroU32) -> Self {
        Self {
            per_second,
            max_peer_id_bytes: 128,
            max_session_id_bytes: 128,
            max_presence_bytes: 4096,
            max_presence_sessions: 8,
            max_documents: 100,
        }
    }
}

/// One connection's protocol state.
pub struct Connection {
    conn: ConnId,
    caller: Caller,
    server: PeerId,
    storage_id: String,
    peer: Option<PeerId>,
    limiter: DefaultDirectRateLimiter,
    limits: Limits,
    /// The sender's account id as relayed presence names it.
    account: String,
    /// The presence sessions this connection used (at most [`Limits::max_presence_sessions`]).
    sessions: Vec<String>,
    /// The documents this connection named (at most [`Limits::max_documents`]).
    documents: HashSet<PlanId>,
    /// The document id this connection named last, read: a client syncs one plan (or a few)
    /// over and over, and reading an id checks its checksum (two SHA-256 rounds).
    last_document: Option<(String, PlanId)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("conn", &self.conn)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A fresh connection of an authenticated caller, within `limits`.
    pub fn new(
        conn: ConnId,
        caller: Caller,
        server: PeerId,
        storage_id: String,
        limits: Limits,
    ) -> Self {
        let per_second = limits.per_second;
        let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        let account = caller.user.id.to_string();
        Self {
            conn,
            caller,
            server,
            storage_id,
            peer: None,
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            limits,
            account,
            sessions: Vec::new(),
            documents: HashSet::new(),
            last_document: None,
        }
    }

    /// The connection id.
    pub fn id(&self) -> ConnId {
        self.conn
    }

    /// The caller behind the connection.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Decide what one binary frame means.
    pub fn on_frame(&mut self, frame: &[u8]) -> Action {
        if self.limiter.check().is_err() {
            return Action::Fail("too many messages: slow down and reconnect".into());
        }
        let message = match protocol::decode(frame) {
            Ok(message) => message,
            Err(err) => return Action::Fail(format!("malformed message: {err}")),
        };
        if let Message::Join {
            sender_id,
            supported_protocol_versions,
            ..
        } = &message
        {
            if !supported_protocol_versions
                .iter()
                .any(|v| v == PROTOCOL_VERSION)
            {
                return Action::Fail(format!(
                    "unsupported protocol versions; this server speaks version {PROTOCOL_VERSION}"
                ));
            }
            if self.peer.as_ref().is_some_and(|peer| peer != sender_id) {
                return Action::Fail("a connection can join only once".into());
            }
            if sender_id.0.len() > self.limits.max_peer_id_bytes {
                return Action::Fail(format!(
                    "senderId too long: the limit is {} bytes",
                    self.limits.max_peer_id_bytes
                ));
            }
            self.peer = Some(sender_id.clone());
            return Action::Reply(Message::Peer {
                sender_id: self.server.clone(),
                peer_metadata: PeerMetadata {
                    storage_id: Some(self.storage_id.clone()),
                    is_ephemeral: false,
                },
                selected_protocol_version: PROTOCOL_VERSION.into(),
                target_id: sender_id.clone(),
            });
        }
        let Some(peer) = self.peer.clone() else {
            return Action::Fail("send a join message first".into());
        };
        if let Message::Ephemeral { sender_id, .. } = &message
            && *sender_id != peer
        {
            // automerge-repo clients forward presence they received to all their peers, us
            // included, keeping the original sender: an echo, not a spoof. Drop it.
            return Action::Ignore;
        }
        if let Some(sender) = message.sender_id()
            && *sender != peer
        {
            return Action::Fail(
                "senderId does not match the peer that joined on this connection".into(),
            );
        }
        let from = Origin {
            conn: self.conn,
            peer: peer.clone(),
            user: self.caller.user.id,
        };
        let is_request = matches!(message, Message::Request { .. });
        match message {
            Message::Sync {
                document_id, data, ..
            }
            | Message::Request {
                document_id, data, ..
            } => self.route(
                document_id,
                Input::Sync {
                    from,
                    data,
                    is_request,
                },
            ),
            Message::Ephemeral {
                document_id,
                count,
                session_id,
                data,
                ..
            } => {
                let data = match self.check_presence(&session_id, &data) {
                    Ok(data) => data,
                    Err(reason) => return Action::Fail(reason),
                };
                self.route(
                    document_id,
                    Input::Ephemeral {
                        from,
                        count,
                        session_id,
                        data,
                    },
                )
            }
            Message::Leave { .. } => Action::Leave,
            // The client telling us it lacks a document, optional subscription and heads
            // gossip, errors and anything newer than we know: nothing to do.
            _ => Action::Ignore,
        }
    }

    /// Presence within the limits, as it is relayed (naming the sender's account).
    fn check_presence(&mut self, session_id: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        let limits = &self.limits;
        if session_id.len() > limits.max_session_id_bytes {
            return Err(format!(
                "presence sessionId too long: the limit is {} bytes",
                limits.max_session_id_bytes
            ));
        }
        if data.len() > limits.max_presence_bytes {
            return Err(format!(
                "presence too large: the limit is {} bytes",
                limits.max_presence_bytes
            ));
        }
        if !self.sessions.iter().any(|known| known == session_id) {
            if self.sessions.len() >= limits.max_presence_sessions {
                return Err(format!(
                    "too many presence sessions on one connection: the limit is {}",
                    limits.max_presence_sessions
                ));
            }
            self.sessions.push(session_id.to_owned());
        }
        Ok(protocol::presence_with_account(data, &self.account))
    }

    /// Send `input` to the plan `document_id` names, once the id is read and within the limits.
    fn route(&mut self, document_id: String, input: Input) -> Action {
        let plan = match &self.last_document {
            Some((last, plan)) if *last == document_id => *plan,
            _ => match document_id.parse::<cairn_shared::DocumentId>() {
                Ok(document) => {
                    let plan = PlanId(document.0);
                    if !self.documents.contains(&plan) {
                        if self.documents.len() >= self.limits.max_documents {
                            return Action::Fail(format!(
                                "too many documents on one connection: the limit is {}",
                                self.limits.max_documents
                            ));
                        }
                        self.documents.insert(plan);
                    }
                    self.last_document = Some((document_id, plan));
                    plan
                }
                Err(_) => {
                    return Action::Fail(format!(
                        "invalid documentId {:?}",
                        truncate(&document_id)
                    ));
                }
            },
        };
        Action::Route(plan, input)
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}
