//! The messages of the protocol as Rust values: [`Message`], one variant per wire `type`, and
//! the peer ids, peer metadata and remote heads they carry. No CBOR here: see `encode` and
//! `decode` for how they travel.

use std::collections::BTreeMap;
use std::fmt;

/// An automerge-repo peer id: an opaque string chosen by the peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub String);

impl PeerId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for PeerId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for PeerId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// What a peer says about itself in `join` and `peer` (wire: `peerMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// The peer's storage id (wire: `storageId`), absent when it has no storage.
    pub storage_id: Option<String>,
    /// Whether the peer will not come back with this storage id (wire: `isEphemeral`).
    pub is_ephemeral: bool,
}

/// The heads one storage id has of a document, as gossiped in `remote-heads-changed`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteHeads {
    /// The document heads, as automerge-repo writes them (encoded change hashes).
    pub heads: Vec<String>,
    /// When the originating peer saw these heads, in milliseconds since the Unix epoch.
    pub timestamp: f64,
}

/// One message of the automerge-repo network protocol v1.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Client to server, first message on a connection (wire `type`: `join`).
    Join {
        /// The joining peer.
        sender_id: PeerId,
        /// What the joining peer says about itself (defaults when absent).
        peer_metadata: PeerMetadata,
        /// The protocol versions the peer speaks (automerge-repo sends `["1"]`).
        supported_protocol_versions: Vec<String>,
    },
    /// Server to client, the answer to `join` (wire `type`: `peer`).
    Peer {
        /// The server's peer id.
        sender_id: PeerId,
        /// What the server says about itself.
        peer_metadata: PeerMetadata,
        /// The protocol version chosen for this connection.
        selected_protocol_version: String,
        /// The peer that joined.
        target_id: PeerId,
    },
    /// An advisory goodbye (wire `type`: `leave`).
    Leave {
        /// The peer that leaves.
        sender_id: PeerId,
    },
    /// An Automerge sync message for one document (wire `type`: `sync`).
    Sync {
        /// The sending peer.
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// The document (bs58check of its 16 bytes).
        document_id: String,
        /// The Automerge sync message.
        data: Vec<u8>,
    },
    /// Like `sync`, from a peer that lacks the document (wire `type`: `request`).
    Request {
        /// The sending peer.
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// The document (bs58check of its 16 bytes).
        document_id: String,
        /// The Automerge sync message.
        data: Vec<u8>,
    },
    /// The sender does not have the document, or will not share it (wire `type`: `doc-unavailable`).
    DocUnavailable {
        /// The sending peer.
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// The document.
        document_id: String,
    },
    /// Application data relayed to a document's peers and never stored (wire `type`: `ephemeral`).
    Ephemeral {
        /// The peer that created the message (kept when relayed).
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// The document the data is about.
        document_id: String,
        /// Sequence number within the session, increasing.
        count: u64,
        /// The sender's session; with `sender_id` and `count` it identifies the message.
        session_id: String,
        /// The application's data (cbor-x encoded by automerge-repo, opaque here).
        data: Vec<u8>,
    },
    /// A protocol error; the sender closes the connection after it (wire `type`: `error`).
    Error {
        /// What went wrong, for people.
        message: String,
    },
    /// Changes the storage ids whose heads the sender wants to hear about
    /// (wire `type`: `remote-subscription-change`).
    RemoteSubscriptionChange {
        /// The sending peer.
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// Storage ids to add (empty when absent).
        add: Vec<String>,
        /// Storage ids to remove (empty when absent).
        remove: Vec<String>,
    },
    /// New heads of a document on other storage ids (wire `type`: `remote-heads-changed`).
    RemoteHeadsChanged {
        /// The sending peer.
        sender_id: PeerId,
        /// The receiving peer.
        target_id: PeerId,
        /// The document.
        document_id: String,
        /// Storage id to its heads of the document.
        new_heads: BTreeMap<String, RemoteHeads>,
    },
    /// A message of a type this crate does not know; callers ignore it.
    Unknown {
        /// The frame's `type` field.
        message_type: String,
    },
}

impl Message {
    /// The sending peer, for the message types that carry one.
    pub fn sender_id(&self) -> Option<&PeerId> {
        match self {
            Self::Join { sender_id, .. }
            | Self::Peer { sender_id, .. }
            | Self::Leave { sender_id }
            | Self::Sync { sender_id, .. }
            | Self::Request { sender_id, .. }
            | Self::DocUnavailable { sender_id, .. }
            | Self::Ephemeral { sender_id, .. }
            | Self::RemoteSubscriptionChange { sender_id, .. }
            | Self::RemoteHeadsChanged { sender_id, .. } => Some(sender_id),
            Self::Error { .. } | Self::Unknown { .. } => None,
        }
    }

    /// The document the message is about, for the message types that carry one.
    pub fn document_id(&self) -> Option<&str> {
        match self {
            Self::Sync { document_id, .. }
            | Self::Request { document_id, .. }
            | Self::DocUnavailable { document_id, .. }
            | Self::Ephemeral { document_id, .. }
            | Self::RemoteHeadsChanged { document_id, .. } => Some(document_id),
            Self::Join { .. }
            | Self::Peer { .. }
            | Self::Leave { .. }
            | Self::Error { .. }
            | Self::RemoteSubscriptionChange { .. }
            | Self::Unknown { .. } => None,
        }
    }

    /// A `sync` message, or a `request` when the sender lacks the document: the two differ only
    /// in their type.
    pub(super) fn sync_or_request(
        is_request: bool,
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
        data: Vec<u8>,
    ) -> Self {
        if is_request {
            Self::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
        } else {
            Self::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            }
        }
    }

    /// The wire `type` of the message (for [`Message::Unknown`], the type it arrived with).
    pub fn type_name(&self) -> &str {
        match self {
            Self::Join { .. } => "join",
            Self::Peer { .. } => "peer",
            Self::Leave { .. } => "leave",
            Self::Sync { .. } => "sync",
            Self::Request { .. } => "request",
            Self::DocUnavailable { .. } => "doc-unavailable",
            Self::Ephemeral { .. } => "ephemeral",
            Self::Error { .. } => "error",
            Self::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Self::RemoteHeadsChanged { .. } => "remote-heads-changed",
            Self::Unknown { message_type } => message_type,
        }
    }
}
