//! The automerge-repo network protocol, version 1: its messages and their CBOR codec.
//!
//! Every WebSocket binary frame carries one CBOR map whose `type` field names the message. The
//! JavaScript peers (automerge-repo 2.x) encode with cbor-x (`useRecords: false`), which writes
//! every map with a 16-bit length header, writes `undefined` (simple value 23) for fields that
//! are present but unset, and writes integers that do not fit in 32 bits as float64. [`decode`]
//! accepts all of that: `null` and `undefined` count as absent, unknown keys are ignored and an
//! unknown `type` becomes [`Message::Unknown`] so that newer peers do not break the connection.
//! `data` may be a plain byte string or a byte string inside CBOR tag 64 (cbor-x's tag for a
//! `Uint8Array`, used when `tagUint8Array` is on).
//!
//! [`encode`] writes definite-length maps with only the fields that are present (never `null`),
//! `data` as a plain byte string and integers below 2^32 as CBOR unsigned integers. Integers
//! from 2^32 to 2^53 go out as floats, as cbor-x itself writes them: cbor-x would decode a
//! 64-bit CBOR integer to a JavaScript `BigInt`, which automerge-repo does not expect.
//!
//! Decoding is bounded before any value is built: a frame nested deeper than [`MAX_DEPTH`], with
//! more than [`MAX_TOP_LEVEL_ENTRIES`] entries in its top-level map or more than [`MAX_ITEMS`]
//! CBOR items in all is rejected, so the work and memory spent on a frame stay proportional to
//! its size whatever the peer sends.

use std::collections::BTreeMap;
use std::fmt;

use ciborium::Value;
use ciborium_ll::{Decoder, Encoder, Header, simple};

/// How deeply items may nest: the top-level map is level 1, its values level 2, and so on.
pub const MAX_DEPTH: usize = 16;
/// How many entries the top-level map of a frame may have.
pub const MAX_TOP_LEVEL_ENTRIES: usize = 64;
/// How many CBOR items (maps, arrays, strings, numbers, ...) one frame may hold in all.
pub const MAX_ITEMS: usize = 4096;

/// CBOR tag that cbor-x puts on a `Uint8Array` when it tags typed arrays (RFC 8746).
const TAG_UINT8_ARRAY: u64 = 64;
/// CBOR tag for a `Uint8ClampedArray` (RFC 8746); its content is plain bytes too.
const TAG_UINT8_CLAMPED_ARRAY: u64 = 68;
/// 2^64 as a float: the first integral float that does not fit in a `u64`.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
/// JavaScript's `Number.MAX_SAFE_INTEGER`, 2^53 - 1.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

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

/// Why a frame is not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not well-formed CBOR (or uses CBOR this protocol never does).
    #[error("not valid CBOR: {0}")]
    InvalidCbor(String),
    /// The frame holds more bytes after its one CBOR item.
    #[error("{0} trailing bytes after the CBOR message")]
    TrailingBytes(usize),
    /// The frame is CBOR, but not a map.
    #[error("the message is not a CBOR map")]
    NotAMap,
    /// The frame nests items deeper than [`MAX_DEPTH`].
    #[error("the message nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The frame's top-level map has more than [`MAX_TOP_LEVEL_ENTRIES`] entries.
    #[error("the message has more than {MAX_TOP_LEVEL_ENTRIES} fields")]
    TooManyEntries,
    /// The frame holds more than [`MAX_ITEMS`] CBOR items.
    #[error("the message holds more than {MAX_ITEMS} CBOR items")]
    TooManyItems,
    /// The map has no `type` field.
    #[error("the message has no `type` field")]
    MissingType,
    /// The `type` field is not a text string.
    #[error("the message's `type` field is not text")]
    TypeNotText,
    /// A field the message type requires is absent (or `null`/`undefined`).
    #[error("required field `{field}` is missing for type `{message_type}`")]
    MissingField {
        /// The message type.
        message_type: &'static str,
        /// The wire name of the field.
        field: &'static str,
    },
    /// A field has the wrong CBOR type or an out-of-range value.
    #[error("field `{field}` of type `{message_type}` must be {expected}")]
    InvalidField {
        /// The message type.
        message_type: &'static str,
        /// The wire name of the field.
        field: &'static str,
        /// What the field must be.
        expected: &'static str,
    },
}

/// Decodes one frame into a message. See the module documentation for what is accepted.
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    match plain_sync(frame) {
        Some(message) => Ok(message),
        None => decode_any(frame),
    }
}

/// [`decode`] for every frame, through a CBOR value tree.
fn decode_any(frame: &[u8]) -> Result<Message, DecodeError> {
    check_structure(frame)?;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(frame, MAX_DEPTH + 1)
        .map_err(|error| DecodeError::InvalidCbor(error.to_string()))?;
    let Value::Map(entries) = value else {
        return Err(DecodeError::NotAMap);
    };
    let mut fields = Fields {
        message_type: "",
        entries,
    };
    let message_type = match fields.take("type") {
        Some(Value::Text(message_type)) => message_type,
        Some(_) => return Err(DecodeError::TypeNotText),
        None => return Err(DecodeError::MissingType),
    };
    fields.message_type = match known_type(&message_type) {
        Some(known) => known,
        None => return Ok(Message::Unknown { message_type }),
    };
    fields.message()
}

/// Encodes a message as one frame.
///
/// [`Message::Unknown`] encodes as a map holding only its `type`.
pub fn encode(message: &Message) -> Vec<u8> {
    // Room for the keys and ids of an everyday message, and its payload: one allocation.
    let payload = match message {
        Message::Sync { data, .. }
        | Message::Request { data, .. }
        | Message::Ephemeral { data, .. } => data.len(),
        _ => 0,
    };
    let mut frame = Vec::with_capacity(256 + payload);
    let mut out = Out(Encoder::from(&mut frame));
    let fields = match message {
        Message::Sync { .. } | Message::Request { .. } | Message::Peer { .. } => 4,
        Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. } => 4,
        Message::Join { .. } | Message::DocUnavailable { .. } => 3,
        Message::Ephemeral { .. } => 6,
        Message::Leave { .. } | Message::Error { .. } => 1,
        Message::Unknown { .. } => 0,
    };
    out.map(fields + 1);
    out.entry("type", message.type_name());
    match message {
        Message::Join {
            sender_id,
            peer_metadata,
            supported_protocol_versions,
        } => {
            out.entry("senderId", &sender_id.0);
            out.peer_metadata(peer_metadata);
            out.text("supportedProtocolVersions");
            out.texts(supported_protocol_versions);
        }
        Message::Peer {
            sender_id,
            peer_metadata,
            selected_protocol_version,
            target_id,
        } => {
            out.entry("senderId", &sender_id.0);
            out.peer_metadata(peer_metadata);
            out.entry("selectedProtocolVersion", selected_protocol_version);
            out.entry("targetId", &target_id.0);
        }
        Message::Leave { sender_id } => out.entry("senderId", &sender_id.0),
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        }
        | Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        } => {
            out.addressed(sender_id, target_id, document_id);
            out.text("data");
            out.bytes(data);
        }
        Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        } => out.addressed(sender_id, target_id, document_id),
        Message::Ephemeral {
            sender_id,
            target_id,
            document_id,
            count,
            session_id,
            data,
        } => {
            out.addressed(sender_id, target_id, document_id);
            out.text("count");
            out.unsigned(*count);
            out.entry("sessionId", session_id);
            out.text("data");
            out.bytes(data);
        }
        Message::Error { message } => out.entry("message", message),
        Message::RemoteSubscriptionChange {
            sender_id,
            target_id,
            add,
            remove,
        } => {
            out.entry("senderId", &sender_id.0);
            out.entry("targetId", &target_id.0);
            out.text("add");
            out.texts(add);
            out.text("remove");
            out.texts(remove);
        }
        Message::RemoteHeadsChanged {
            sender_id,
            target_id,
            document_id,
            new_heads,
        } => {
            out.addressed(sender_id, target_id, document_id);
            out.text("newHeads");
            out.map(new_heads.len());
            for (storage_id, remote) in new_heads {
                out.text(storage_id);
                out.map(2);
                out.text("heads");
                out.texts(&remote.heads);
                out.text("timestamp");
                out.number(remote.timestamp);
            }
        }
        Message::Unknown { .. } => {}
    }
    frame
}

/// A frame being written: definite-length items straight into a byte vector.
struct Out<'a>(Encoder<&'a mut Vec<u8>>);

impl Out<'_> {
    fn push(&mut self, header: Header) {
        // Writing into a Vec cannot fail.
        let _ = self.0.push(header);
    }

    fn map(&mut self, entries: usize) {
        self.push(Header::Map(Some(entries)));
    }

    fn text(&mut self, value: &str) {
        // Writing into a Vec cannot fail.
        let _ = self.0.text(value, None);
    }

    fn bytes(&mut self, value: &[u8]) {
        // Writing into a Vec cannot fail.
        let _ = self.0.bytes(value, None);
    }

    fn entry(&mut self, key: &str, value: &str) {
        self.text(key);
        self.text(value);
    }

    /// `senderId`, `targetId` and `documentId`.
    fn addressed(&mut self, sender_id: &PeerId, target_id: &PeerId, document_id: &str) {
        self.entry("senderId", &sender_id.0);
        self.entry("targetId", &target_id.0);
        self.entry("documentId", document_id);
    }

    fn texts(&mut self, values: &[String]) {
        self.push(Header::Array(Some(values.len())));
        for value in values {
            self.text(value);
        }
    }

    fn peer_metadata(&mut self, metadata: &PeerMetadata) {
        self.text("peerMetadata");
        self.map(1 + usize::from(metadata.storage_id.is_some()));
        if let Some(storage_id) = &metadata.storage_id {
            self.entry("storageId", storage_id);
        }
        self.text("isEphemeral");
        self.push(Header::Simple(if metadata.is_ephemeral {
            simple::TRUE
        } else {
            simple::FALSE
        }));
    }

    /// An unsigned integer the way cbor-x writes a JavaScript number: below 2^32 as a CBOR
    /// integer, up to 2^53 as a float (cbor-x decodes every 64-bit CBOR integer to a `BigInt`,
    /// which automerge-repo does not expect). Beyond 2^53 no JavaScript number is exact, so the
    /// value stays a CBOR integer for the peers that can read it.
    fn unsigned(&mut self, number: u64) {
        if (1 << 32..=MAX_SAFE_INTEGER).contains(&number) {
            // Exact: every integer up to 2^53 is a float.
            self.push(Header::Float(number as f64));
        } else {
            self.push(Header::Positive(number));
        }
    }

    /// A JavaScript number: a CBOR integer when it is a small unsigned integer, a float
    /// otherwise (the shortest float that holds it exactly).
    fn number(&mut self, number: f64) {
        if number.fract() == 0.0 && (0.0..4_294_967_296.0).contains(&number) {
            // Exact: the value is integral and within range.
            self.push(Header::Positive(number as u64));
        } else {
            self.push(Header::Float(number));
        }
    }
}

/// The `&'static` name of a known message type.
fn known_type(message_type: &str) -> Option<&'static str> {
    const KNOWN: [&str; 10] = [
        "join",
        "peer",
        "leave",
        "sync",
        "request",
        "doc-unavailable",
        "ephemeral",
        "error",
        "remote-subscription-change",
        "remote-heads-changed",
    ];
    KNOWN.into_iter().find(|known| *known == message_type)
}

/// The top-level map of a frame, its fields taken out one by one.
struct Fields {
    message_type: &'static str,
    entries: Vec<(Value, Value)>,
}

impl Fields {
    fn message(mut self) -> Result<Message, DecodeError> {
        Ok(match self.message_type {
            "join" => Message::Join {
                sender_id: self.peer_id("senderId")?,
                peer_metadata: self.peer_metadata()?,
                supported_protocol_versions: self.texts("supportedProtocolVersions")?,
            },
            "peer" => Message::Peer {
                sender_id: self.peer_id("senderId")?,
                peer_metadata: self.peer_metadata()?,
                selected_protocol_version: self.text("selectedProtocolVersion")?,
                target_id: self.peer_id("targetId")?,
            },
            "leave" => Message::Leave {
                sender_id: self.peer_id("senderId")?,
            },
            "sync" => Message::Sync {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                document_id: self.text("documentId")?,
                data: self.bytes("data")?,
            },
            "request" => Message::Request {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                document_id: self.text("documentId")?,
                data: self.bytes("data")?,
            },
            "doc-unavailable" => Message::DocUnavailable {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                document_id: self.text("documentId")?,
            },
            "ephemeral" => Message::Ephemeral {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                document_id: self.text("documentId")?,
                count: self.count("count")?,
                session_id: self.text("sessionId")?,
                data: self.bytes("data")?,
            },
            "error" => Message::Error {
                message: self.text("message")?,
            },
            "remote-subscription-change" => Message::RemoteSubscriptionChange {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                add: self.optional_texts("add")?,
                remove: self.optional_texts("remove")?,
            },
            "remote-heads-changed" => Message::RemoteHeadsChanged {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                document_id: self.text("documentId")?,
                new_heads: self.new_heads()?,
            },
            other => Message::Unknown {
                message_type: other.to_owned(),
            },
        })
    }

    /// Takes the value of `key` out of the map: the last one if the key repeats (as a
    /// JavaScript object would keep it), `None` if absent, `null` or `undefined`.
    fn take(&mut self, key: &str) -> Option<Value> {
        let (_, value) = self
            .entries
            .iter_mut()
            .rev()
            .find(|(name, _)| matches!(name, Value::Text(name) if name == key))?;
        match std::mem::replace(value, Value::Null) {
            Value::Null => None,
            value => Some(value),
        }
    }

    fn missing(&self, field: &'static str) -> DecodeError {
        DecodeError::MissingField {
            message_type: self.message_type,
            field,
        }
    }

    fn invalid(&self, field: &'static str, expected: &'static str) -> DecodeError {
        DecodeError::InvalidField {
            message_type: self.message_type,
            field,
            expected,
        }
    }

    fn required(&mut self, field: &'static str) -> Result<Value, DecodeError> {
        self.take(field).ok_or_else(|| self.missing(field))
    }

    fn text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        match self.required(field)? {
            Value::Text(text) => Ok(text),
            _ => Err(self.invalid(field, "a text string")),
        }
    }

    fn peer_id(&mut self, field: &'static str) -> Result<PeerId, DecodeError> {
        self.text(field).map(PeerId)
    }

    fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self.required(field)? {
            Value::Bytes(bytes) => Ok(bytes),
            Value::Tag(TAG_UINT8_ARRAY | TAG_UINT8_CLAMPED_ARRAY, inner) => match *inner {
                Value::Bytes(bytes) => Ok(bytes),
                _ => Err(self.invalid(field, "a byte string")),
            },
            _ => Err(self.invalid(field, "a byte string")),
        }
    }

    fn count(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let value = self.required(field)?;
        unsigned(&value).ok_or_else(|| self.invalid(field, "a non-negative integer"))
    }

    fn texts(&mut self, field: &'static str) -> Result<Vec<String>, DecodeError> {
        let value = self.required(field)?;
        text_array(value).ok_or_else(|| self.invalid(field, "an array of text strings"))
    }

    fn optional_texts(&mut self, field: &'static str) -> Result<Vec<String>, DecodeError> {
        match self.take(field) {
            None => Ok(Vec::new()),
            Some(value) => {
                text_array(value).ok_or_else(|| self.invalid(field, "an array of text strings"))
            }
        }
    }

    /// `peerMetadata` (or `metadata`, the name the protocol's README uses), defaulting when
    /// absent; inside it `storageId` is optional and `isEphemeral` defaults to false.
    fn peer_metadata(&mut self) -> Result<PeerMetadata, DecodeError> {
        const FIELD: &str = "peerMetadata";
        let Some(value) = self.take(FIELD).or_else(|| self.take("metadata")) else {
            return Ok(PeerMetadata::default());
        };
        let Value::Map(entries) = value else {
            return Err(self.invalid(FIELD, "a map"));
        };
        let mut inner = Fields {
            message_type: self.message_type,
            entries,
        };
        let storage_id = match inner.take("storageId") {
            None => None,
            Some(Value::Text(storage_id)) => Some(storage_id),
            Some(_) => return Err(self.invalid("peerMetadata.storageId", "a text string")),
        };
        let is_ephemeral = match inner.take("isEphemeral") {
            None => false,
            Some(Value::Bool(is_ephemeral)) => is_ephemeral,
            Some(_) => return Err(self.invalid("peerMetadata.isEphemeral", "a boolean")),
        };
        Ok(PeerMetadata {
            storage_id,
            is_ephemeral,
        })
    }

    fn new_heads(&mut self) -> Result<BTreeMap<String, RemoteHeads>, DecodeError> {
        const FIELD: &str = "newHeads";
        const EXPECTED: &str = "a map of storage ids to {heads: [text], timestamp: number}";
        let Value::Map(entries) = self.required(FIELD)? else {
            return Err(self.invalid(FIELD, EXPECTED));
        };
        let mut new_heads = BTreeMap::new();
        for (storage_id, entry) in entries {
            let (Value::Text(storage_id), Value::Map(entry)) = (storage_id, entry) else {
                return Err(self.invalid(FIELD, EXPECTED));
            };
            let mut entry = Fields {
                message_type: self.message_type,
                entries: entry,
            };
            let heads = entry.take("heads").and_then(text_array);
            let timestamp = entry.take("timestamp").as_ref().and_then(number);
            let (Some(heads), Some(timestamp)) = (heads, timestamp) else {
                return Err(self.invalid(FIELD, EXPECTED));
            };
            new_heads.insert(storage_id, RemoteHeads { heads, timestamp });
        }
        Ok(new_heads)
    }
}

/// An unsigned integer, also from an integral non-negative float (cbor-x sends integers of
/// 2^32 and above as float64).
fn unsigned(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(integer) => u64::try_from(*integer).ok(),
        Value::Float(float) if float.fract() == 0.0 && (0.0..TWO_POW_64).contains(float) => {
            // Exact: the value is integral and within range.
            Some(*float as u64)
        }
        _ => None,
    }
}

/// Any number, as JavaScript sees it.
fn number(value: &Value) -> Option<f64> {
    match value {
        // Rounds to the nearest float, as JavaScript would.
        Value::Integer(integer) => Some(i128::from(*integer) as f64),
        Value::Float(float) => Some(*float),
        _ => None,
    }
}

fn text_array(value: Value) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Text(text) => Some(text),
            _ => None,
        })
        .collect()
}

type LowDecoder<'a> = Decoder<&'a [u8]>;

/// The message nearly every frame carries, `sync` or `request`, read straight from the frame when
/// it comes in the plain shape automerge-repo clients write: one definite-length map, each of
/// `type`, `senderId`, `targetId`, `documentId` and `data` exactly once with a value of its type
/// (`data` bytes, or bytes in tag 64 or 68), other keys only with a scalar value (ignored, as
/// [`decode`] ignores them). `None` for anything else, which [`decode`] then reads the general
/// way; whatever this returns, the general way returns too. It skips building a CBOR value tree
/// and walking the frame twice: about half the decoding work of a sync frame.
fn plain_sync(frame: &[u8]) -> Option<Message> {
    let mut cursor = Cursor { frame, at: 0 };
    let Header::Map(Some(entries)) = cursor.header()? else {
        return None;
    };
    if entries > MAX_TOP_LEVEL_ENTRIES {
        return None;
    }
    let (mut request, mut sender, mut target, mut document, mut data) =
        (None, None, None, None, None);
    for _ in 0..entries {
        let Header::Text(Some(len)) = cursor.header()? else {
            return None;
        };
        let key = cursor.take(len)?;
        let slot = match key {
            b"type" => {
                let is_request = match cursor.text()? {
                    "sync" => false,
                    "request" => true,
                    _ => return None,
                };
                request.replace(is_request).map_or(Some(()), |_| None)?;
                continue;
            }
            b"data" => {
                let bytes = match cursor.header()? {
                    Header::Tag(TAG_UINT8_ARRAY | TAG_UINT8_CLAMPED_ARRAY) => cursor.bytes()?,
                    Header::Bytes(Some(len)) => cursor.take(len)?,
                    _ => return None,
                };
                data.replace(bytes).map_or(Some(()), |_| None)?;
                continue;
            }
            b"senderId" => &mut sender,
            b"targetId" => &mut target,
            b"documentId" => &mut document,
            _ => {
                // Another key (well-formed text, as the general way insists): fine with a
                // scalar value (undefined, a number, a short text...).
                std::str::from_utf8(key).ok()?;
                match cursor.header()? {
                    Header::Positive(_) | Header::Negative(_) | Header::Float(_) => {}
                    Header::Simple(
                        simple::FALSE | simple::TRUE | simple::NULL | simple::UNDEFINED,
                    ) => {}
                    Header::Text(Some(len)) => {
                        std::str::from_utf8(cursor.take(len)?).ok()?;
                    }
                    Header::Bytes(Some(len)) => {
                        cursor.take(len)?;
                    }
                    _ => return None,
                }
                continue;
            }
        };
        let text = cursor.text()?;
        slot.replace(text).map_or(Some(()), |_| None)?;
    }
    if cursor.at != frame.len() {
        return None;
    }
    let (sender_id, target_id) = (PeerId(sender?.to_owned()), PeerId(target?.to_owned()));
    let (document_id, data) = (document?.to_owned(), data?.to_vec());
    Some(if request? {
        Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        }
    } else {
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        }
    })
}

/// A read position in a frame, for [`plain_sync`].
struct Cursor<'a> {
    frame: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next item's header.
    fn header(&mut self) -> Option<Header> {
        let mut decoder = Decoder::from(self.frame.get(self.at..)?);
        let header = decoder.pull().ok()?;
        self.at += decoder.offset();
        Some(header)
    }

    /// The next `len` bytes (a string's content).
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let bytes = self.frame.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(bytes)
    }

    /// The next item, a definite-length text string.
    fn text(&mut self) -> Option<&'a str> {
        let Header::Text(Some(len)) = self.header()? else {
            return None;
        };
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// The next item, a definite-length byte string.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let Header::Bytes(Some(len)) = self.header()? else {
            return None;
        };
        self.take(len)
    }
}

/// Walks the frame's CBOR structure without building anything, enforcing the limits, that the
/// frame is one map and that nothing follows it.
fn check_structure(frame: &[u8]) -> Result<(), DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::InvalidCbor("empty frame".into()));
    }
    let mut decoder = Decoder::from(frame);
    let mut walk = Walk {
        items: 0,
        frame,
        base: 0,
    };
    match pull(&mut decoder)? {
        Header::Map(Some(len)) if len > MAX_TOP_LEVEL_ENTRIES => {
            return Err(DecodeError::TooManyEntries);
        }
        header @ Header::Map(_) => walk.item(&mut decoder, header, 1)?,
        Header::Break => return Err(DecodeError::InvalidCbor("unexpected break".into())),
        _ => return Err(DecodeError::NotAMap),
    }
    // Nothing is pushed back at this point, so the offset is what the walk consumed.
    match frame.len().saturating_sub(walk.base + decoder.offset()) {
        0 => Ok(()),
        trailing => Err(DecodeError::TrailingBytes(trailing)),
    }
}

/// The key under which relayed presence names the account that sent it.
pub const PRESENCE_ACCOUNT_KEY: &str = "userId";
/// The key under which presence that was not a map is relayed, beside
/// [`PRESENCE_ACCOUNT_KEY`].
pub const PRESENCE_MESSAGE_KEY: &str = "message";
/// The key under which the server says an account has left a plan (see [`presence_gone`]).
pub const PRESENCE_GONE_KEY: &str = "gone";
/// Keys a client may not set in presence: who sent it, and whether they are gone, is the
/// server's to say.
const PRESENCE_IDENTITY_KEYS: [&str; 3] = [PRESENCE_ACCOUNT_KEY, "name", PRESENCE_GONE_KEY];

/// The `data` of the `ephemeral` message the server sends a plan's other connections when an
/// account has left the plan: its last connection syncing the plan closed (signed out, network
/// lost, socket timed out, account disabled) or it stopped being a member (removed, left).
/// `{userId: <account>, gone: true}`, cbor-encoded as automerge-repo clients decode presence.
/// Clients cannot send `gone` themselves: it is removed from the presence they send.
pub fn presence_gone(account: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(account.len() + 16);
    let mut out = Out(Encoder::from(&mut data));
    out.map(2);
    out.entry(PRESENCE_ACCOUNT_KEY, account);
    out.text(PRESENCE_GONE_KEY);
    out.push(Header::Simple(simple::TRUE));
    data
}

/// The `data` of an `ephemeral` message as the server relays it, naming the sender's account.
///
/// automerge-repo's `handle.broadcast(value)` sends `value` encoded with cbor-x, and the
/// receiving client decodes it. A map (the everyday case: `{field: "goals"}`) is relayed with any
/// `userId` or `name` the client put in it removed and `userId: <account>` added first; every
/// other entry is copied byte for byte, so whatever cbor-x wrote (`undefined`, tags, floats)
/// reaches the other clients unchanged. Any other value is relayed as
/// `{userId: <account>, message: <value>}`, and data that is not exactly one well-formed CBOR
/// item (within the bounds of [`decode`]) as `{userId: <account>, message: <the bytes>}`: every
/// relayed presence names its account the same way, and every one is readable.
pub fn presence_with_account(data: &[u8], account: &str) -> Vec<u8> {
    let kept = presence_entries(data);
    let mut relayed = Vec::with_capacity(data.len() + account.len() + 24);
    let mut out = Out(Encoder::from(&mut relayed));
    match kept {
        Ok(Some(entries)) => {
            out.map(entries.len() + 1);
            out.entry(PRESENCE_ACCOUNT_KEY, account);
            for (start, end) in entries {
                relayed.extend_from_slice(&data[start..end]);
            }
        }
        Ok(None) => {
            out.map(2);
            out.entry(PRESENCE_ACCOUNT_KEY, account);
            out.text(PRESENCE_MESSAGE_KEY);
            relayed.extend_from_slice(data);
        }
        Err(_) => {
            out.map(2);
            out.entry(PRESENCE_ACCOUNT_KEY, account);
            out.text(PRESENCE_MESSAGE_KEY);
            out.bytes(data);
        }
    }
    relayed
}

/// The byte ranges of the entries of presence `data` that are kept, when it is a map; `None`
/// when it is one well-formed item of another kind.
fn presence_entries(data: &[u8]) -> Result<Option<Vec<(usize, usize)>>, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::InvalidCbor("empty presence data".into()));
    }
    let mut decoder = Decoder::from(data);
    let mut walk = Walk {
        items: 0,
        frame: data,
        base: 0,
    };
    // The byte ranges of the entries kept, when the value is a map.
    let mut kept: Option<Vec<(usize, usize)>> = None;
    match pull(&mut decoder)? {
        Header::Map(len) => {
            let mut entries_kept = Vec::new();
            let mut entries = 0usize;
            loop {
                if len.is_some_and(|len| entries == len) {
                    break;
                }
                let start = walk.base + decoder.offset();
                let key = pull(&mut decoder)?;
                if len.is_none() && key == Header::Break {
                    break;
                }
                entries += 1;
                let identity = match key {
                    Header::Text(Some(length)) => {
                        let at = walk.base + decoder.offset();
                        data.get(at..at.saturating_add(length)).is_some_and(|text| {
                            PRESENCE_IDENTITY_KEYS
                                .iter()
                                .any(|name| name.as_bytes() == text)
                        })
                    }
                    _ => false,
                };
                walk.item(&mut decoder, key, 2)?;
                let value = pull(&mut decoder)?;
                walk.item(&mut decoder, value, 2)?;
                if !identity {
                    entries_kept.push((start, walk.base + decoder.offset()));
                }
            }
            kept = Some(entries_kept);
        }
        Header::Break => return Err(DecodeError::InvalidCbor("unexpected break".into())),
        header => walk.item(&mut decoder, header, 1)?,
    }
    let end = walk.base + decoder.offset();
    if end != data.len() {
        return Err(DecodeError::TrailingBytes(data.len().saturating_sub(end)));
    }
    Ok(kept)
}

fn pull(decoder: &mut LowDecoder<'_>) -> Result<Header, DecodeError> {
    decoder.pull().map_err(low_level_error)
}

fn low_level_error(error: ciborium_ll::Error<std::io::Error>) -> DecodeError {
    DecodeError::InvalidCbor(match error {
        ciborium_ll::Error::Io(_) => "the frame ends inside a CBOR item".into(),
        ciborium_ll::Error::Syntax(offset) => format!("malformed item at byte {offset}"),
    })
}

/// The state of one structural walk: how many items it has seen, and where in the frame the
/// current decoder starts (a string of known length is skipped by starting a new decoder past
/// it, rather than read through).
struct Walk<'a> {
    items: usize,
    frame: &'a [u8],
    base: usize,
}

impl<'a> Walk<'a> {
    /// Consumes the item that starts with `header`, at nesting level `depth`.
    fn item(
        &mut self,
        decoder: &mut LowDecoder<'a>,
        header: Header,
        depth: usize,
    ) -> Result<(), DecodeError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(DecodeError::TooManyItems);
        }
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let top_level = depth == 1;
        match header {
            Header::Positive(_) | Header::Negative(_) | Header::Float(_) | Header::Simple(_) => {
                Ok(())
            }
            Header::Break => Err(DecodeError::InvalidCbor("unexpected break".into())),
            Header::Bytes(Some(len)) | Header::Text(Some(len)) => self.skip(decoder, len),
            Header::Bytes(None) => {
                let mut segments = decoder.bytes(None);
                let mut buffer = [0; 256];
                while let Some(mut segment) = segments.pull().map_err(low_level_error)? {
                    while segment
                        .pull(&mut buffer)
                        .map_err(low_level_error)?
                        .is_some()
                    {}
                }
                Ok(())
            }
            Header::Text(None) => {
                let mut segments = decoder.text(None);
                let mut buffer = [0; 256];
                while let Some(mut segment) = segments.pull().map_err(low_level_error)? {
                    while segment
                        .pull(&mut buffer)
                        .map_err(low_level_error)?
                        .is_some()
                    {}
                }
                Ok(())
            }
            Header::Tag(_) => {
                let inner = pull(decoder)?;
                self.item(decoder, inner, depth + 1)
            }
            Header::Array(len) => self.children(decoder, len, depth + 1, 1, None),
            Header::Map(len) => {
                let limit = top_level.then_some(MAX_TOP_LEVEL_ENTRIES);
                self.children(decoder, len, depth + 1, 2, limit)
            }
        }
    }

    /// Steps over the `len` bytes of a string whose header was just read, without reading them
    /// (the decoder reads from the frame itself, so its offset is a position in the frame).
    fn skip(&mut self, decoder: &mut LowDecoder<'a>, len: usize) -> Result<(), DecodeError> {
        let start = self.base + decoder.offset();
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.frame.len())
            .ok_or_else(|| DecodeError::InvalidCbor("the frame ends inside a CBOR item".into()))?;
        *decoder = Decoder::from(&self.frame[end..]);
        self.base = end;
        Ok(())
    }

    /// Consumes the `len` entries (of `per_entry` items each) of an array or map, or up to its
    /// break when the length is indefinite; more than `limit` entries is an error.
    fn children(
        &mut self,
        decoder: &mut LowDecoder<'a>,
        len: Option<usize>,
        depth: usize,
        per_entry: usize,
        limit: Option<usize>,
    ) -> Result<(), DecodeError> {
        let mut entries = 0usize;
        loop {
            if len.is_some_and(|len| entries == len) {
                return Ok(());
            }
            let first = pull(decoder)?;
            if len.is_none() && first == Header::Break {
                return Ok(());
            }
            entries += 1;
            if limit.is_some_and(|limit| entries > limit) {
                return Err(DecodeError::TooManyEntries);
            }
            self.item(decoder, first, depth)?;
            for _ in 1..per_entry {
                let next = pull(decoder)?;
                self.item(decoder, next, depth)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CBOR head (major type and argument), written with the given number of argument bytes
    /// (0 = in the initial byte) so tests can build non-minimal encodings on purpose.
    fn head_sized(major: u8, arg: u64, size: usize) -> Vec<u8> {
        let major = major << 5;
        match size {
            0 => vec![major | arg as u8],
            1 => vec![major | 24, arg as u8],
            2 => [vec![major | 25], (arg as u16).to_be_bytes().to_vec()].concat(),
            4 => [vec![major | 26], (arg as u32).to_be_bytes().to_vec()].concat(),
            _ => [vec![major | 27], arg.to_be_bytes().to_vec()].concat(),
        }
    }

    fn head(major: u8, arg: u64) -> Vec<u8> {
        let size = match arg {
            0..24 => 0,
            24..0x100 => 1,
            0x100..0x1_0000 => 2,
            0x1_0000..0x1_0000_0000 => 4,
            _ => 8,
        };
        head_sized(major, arg, size)
    }

    fn t(text: &str) -> Vec<u8> {
        [head(3, text.len() as u64), text.as_bytes().to_vec()].concat()
    }

    fn b(bytes: &[u8]) -> Vec<u8> {
        [head(2, bytes.len() as u64), bytes.to_vec()].concat()
    }

    fn uint(value: u64) -> Vec<u8> {
        head(0, value)
    }

    fn f64_(value: f64) -> Vec<u8> {
        [vec![0xfb], value.to_be_bytes().to_vec()].concat()
    }

    const UNDEFINED: [u8; 1] = [0xf7];
    const NULL: [u8; 1] = [0xf6];

    #[test]
    fn javascript_sync_frames_take_the_plain_way() {
        for frame in [
            include_bytes!("../tests/fixtures/sync.cbor").as_slice(),
            include_bytes!("../tests/fixtures/sync-tagged-data.cbor"),
            include_bytes!("../tests/fixtures/request.cbor"),
        ] {
            let plain = plain_sync(frame).expect("a cbor-x sync frame is read the plain way");
            assert_eq!(Ok(plain), decode_any(frame));
        }
        for message in every_variant() {
            let frame = encode(&message);
            let is_sync = matches!(message, Message::Sync { .. } | Message::Request { .. });
            assert_eq!(plain_sync(&frame).is_some(), is_sync, "{message:?}");
        }
    }

    /// One value of a frame's top-level map, of the kinds clients send and some they should not.
    fn any_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec!["sync", "request", "ephemeral", "peer-1", "", "é"])
                .prop_map(t),
            prop::collection::vec(any::<u8>(), 0..6).prop_map(|bytes| b(&bytes)),
            (
                prop::sample::select(vec![2u64, 64, 68]),
                prop::collection::vec(any::<u8>(), 0..4)
            )
                .prop_map(|(tag, bytes)| [head(6, tag), b(&bytes)].concat()),
            Just(NULL.to_vec()),
            Just(UNDEFINED.to_vec()),
            Just(vec![0xf5]),
            Just(vec![0xf0]),
            any::<u32>().prop_map(|n| uint(n.into())),
            Just(f64_(1.5)),
            Just([head(4, 1), t("x")].concat()),
            Just(head(5, 0)),
            Just(vec![0x7f, 0x61, b'a', 0xff]),
            Just(vec![0x62, 0xff, 0xfe]),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Whatever frame the plain way reads, the general way reads the same message from it.
        #[test]
        fn the_plain_way_agrees_with_the_general_one(
            entries in proptest::collection::vec(
                (
                    proptest::sample::select(
                        vec!["type", "senderId", "targetId", "documentId", "data", "count", "x"],
                    ),
                    any_value(),
                ),
                0..8,
            ),
            start_from_sync in proptest::bool::ANY,
            cut in proptest::option::of(0usize..64),
            flip in proptest::option::of((0usize..64, 0u8..8)),
        ) {
            let mut all = if start_from_sync { sync_entries() } else { Vec::new() };
            all.extend(entries.into_iter().map(|(key, value)| kv(key, value)));
            let mut frame = map16(&all);
            if let Some((at, bit)) = flip {
                let at = at % frame.len();
                frame[at] ^= 1 << bit;
            }
            if let Some(cut) = cut {
                frame.truncate(frame.len().saturating_sub(cut % 4));
            }
            if let Some(plain) = plain_sync(&frame) {
                proptest::prop_assert_eq!(Ok(plain), decode_any(&frame));
            }
        }
    }

    /// A map the way cbor-x writes one: always a 16-bit length header.
    fn map16(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = head_sized(5, entries.len() as u64, 2);
        for (key, value) in entries {
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
        out
    }

    fn kv(key: &str, value: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        (t(key), value)
    }

    fn sync_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
        vec![
            kv("type", t("sync")),
            kv("senderId", t("client")),
            kv("targetId", t("server")),
            kv("documentId", t("doc")),
            kv("data", b(&[1, 2, 3])),
        ]
    }

    fn peer(id: &str) -> PeerId {
        PeerId(id.into())
    }

    fn every_variant() -> Vec<Message> {
        let mut new_heads = BTreeMap::new();
        new_heads.insert(
            "storage-a".to_owned(),
            RemoteHeads {
                heads: vec!["aa".into(), "bb".into()],
                timestamp: 1_732_000_000_123.0,
            },
        );
        new_heads.insert(
            "storage-b".to_owned(),
            RemoteHeads {
                heads: vec![],
                timestamp: 1.5,
            },
        );
        vec![
            Message::Join {
                sender_id: peer("client"),
                peer_metadata: PeerMetadata {
                    storage_id: Some("s1".into()),
                    is_ephemeral: false,
                },
                supported_protocol_versions: vec!["1".into()],
            },
            Message::Join {
                sender_id: peer("client"),
                peer_metadata: PeerMetadata {
                    storage_id: None,
                    is_ephemeral: true,
                },
                supported_protocol_versions: vec![],
            },
            Message::Peer {
                sender_id: peer("server"),
                peer_metadata: PeerMetadata {
                    storage_id: Some("s2".into()),
                    is_ephemeral: false,
                },
                selected_protocol_version: "1".into(),
                target_id: peer("client"),
            },
            Message::Leave {
                sender_id: peer("client"),
            },
            Message::Sync {
                sender_id: peer("client"),
                target_id: peer("server"),
                document_id: "doc".into(),
                data: (0..=255).collect(),
            },
            Message::Request {
                sender_id: peer("client"),
                target_id: peer("server"),
                document_id: "doc".into(),
                data: vec![],
            },
            Message::DocUnavailable {
                sender_id: peer("server"),
                target_id: peer("client"),
                document_id: "doc".into(),
            },
            Message::Ephemeral {
                sender_id: peer("client"),
                target_id: peer("server"),
                document_id: "doc".into(),
                count: u64::MAX,
                session_id: "session".into(),
                data: vec![0xa1, 0x61, 0x78, 0x01],
            },
            Message::Error {
                message: "bad things".into(),
            },
            Message::RemoteSubscriptionChange {
                sender_id: peer("client"),
                target_id: peer("server"),
                add: vec!["s1".into(), "s2".into()],
                remove: vec![],
            },
            Message::RemoteHeadsChanged {
                sender_id: peer("client"),
                target_id: peer("server"),
                document_id: "doc".into(),
                new_heads,
            },
            Message::Unknown {
                message_type: "something-new".into(),
            },
        ]
    }

    #[test]
    fn every_variant_round_trips() {
        for message in every_variant() {
            let frame = encode(&message);
            assert_eq!(decode(&frame), Ok(message.clone()), "{frame:02x?}");
        }
    }

    #[test]
    fn encoding_is_plain_definite_cbor() {
        let frame = encode(&Message::Ephemeral {
            sender_id: peer("c"),
            target_id: peer("s"),
            document_id: "d".into(),
            count: 1 << 40,
            session_id: "x".into(),
            data: vec![9; 30],
        });
        // A definite map of 7 entries with the minimal header.
        assert_eq!(frame[0], 0xa7);
        // `data` as a plain byte string, untagged.
        let data = [t("data"), b(&[9; 30])].concat();
        assert!(frame.windows(data.len()).any(|w| w == data.as_slice()));
        // No null or undefined anywhere, and no indefinite lengths.
        let join = encode(&Message::Join {
            sender_id: peer("c"),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["1".into()],
        });
        let expected = [
            vec![0xa4],
            t("type"),
            t("join"),
            t("senderId"),
            t("c"),
            t("peerMetadata"),
            vec![0xa1],
            t("isEphemeral"),
            vec![0xf4],
            t("supportedProtocolVersions"),
            vec![0x81],
            t("1"),
        ]
        .concat();
        assert_eq!(join, expected);
    }

    #[test]
    fn numbers_are_encoded_as_javascript_reads_them() {
        let count_of = |count: u64| {
            let frame = encode(&Message::Ephemeral {
                sender_id: peer("c"),
                target_id: peer("s"),
                document_id: "d".into(),
                count,
                session_id: "x".into(),
                data: vec![1],
            });
            let value: Value = ciborium::from_reader(frame.as_slice()).unwrap();
            let Value::Map(entries) = value else {
                panic!("not a map")
            };
            entries
                .into_iter()
                .find(|(k, _)| k == &Value::Text("count".into()))
                .unwrap()
                .1
        };
        // Small counts are CBOR unsigned integers, with the minimal header.
        assert_eq!(count_of(0), Value::Integer(0u8.into()));
        assert_eq!(
            count_of(u64::from(u32::MAX)),
            Value::Integer(u32::MAX.into())
        );
        // From 2^32 to 2^53 - 1 a float, as cbor-x writes them: cbor-x would read a 64-bit
        // CBOR integer as a BigInt.
        assert_eq!(count_of(1 << 32), Value::Float(4_294_967_296.0));
        assert_eq!(
            count_of(MAX_SAFE_INTEGER),
            Value::Float(9_007_199_254_740_991.0)
        );
        // Past what a JavaScript number holds exactly: an integer, exact for other peers.
        assert_eq!(count_of(1 << 53), Value::Integer((1u64 << 53).into()));
        assert_eq!(count_of(u64::MAX), Value::Integer(u64::MAX.into()));
        for count in [
            0,
            23,
            24,
            255,
            256,
            65_535,
            1 << 32,
            MAX_SAFE_INTEGER,
            1 << 53,
            u64::MAX,
        ] {
            let message = Message::Ephemeral {
                sender_id: peer("c"),
                target_id: peer("s"),
                document_id: "d".into(),
                count,
                session_id: "x".into(),
                data: vec![1],
            };
            assert_eq!(decode(&encode(&message)), Ok(message));
        }
        let number = |number: f64| {
            let mut frame = Vec::new();
            Out(Encoder::from(&mut frame)).number(number);
            ciborium::from_reader::<Value, _>(frame.as_slice()).unwrap()
        };
        assert_eq!(
            number(1_732_000_000_123.0),
            Value::Float(1_732_000_000_123.0)
        );
        assert_eq!(number(7.0), Value::Integer(7u8.into()));
        assert_eq!(number(-1.0), Value::Float(-1.0));
        assert_eq!(number(0.5), Value::Float(0.5));
    }

    #[test]
    fn error_and_unknown_encode_without_sender() {
        let frame = encode(&Message::Error {
            message: "m".into(),
        });
        assert_eq!(
            frame,
            [vec![0xa2], t("type"), t("error"), t("message"), t("m")].concat()
        );
        let frame = encode(&Message::Unknown {
            message_type: "x".into(),
        });
        assert_eq!(frame, [vec![0xa1], t("type"), t("x")].concat());
    }

    #[test]
    fn accessors() {
        let sync = &every_variant()[4];
        assert_eq!(sync.sender_id(), Some(&peer("client")));
        assert_eq!(sync.document_id(), Some("doc"));
        assert_eq!(sync.type_name(), "sync");
        let error = Message::Error {
            message: "m".into(),
        };
        assert_eq!(
            (error.sender_id(), error.document_id(), error.type_name()),
            (None, None, "error")
        );
        let unknown = Message::Unknown {
            message_type: "later".into(),
        };
        assert_eq!((unknown.sender_id(), unknown.type_name()), (None, "later"));
        let join = &every_variant()[0];
        assert_eq!((join.document_id(), join.type_name()), (None, "join"));
        for message in every_variant() {
            let frame = encode(&message);
            assert!(
                frame
                    .windows(message.type_name().len())
                    .any(|w| w == message.type_name().as_bytes())
            );
        }
        assert_eq!(peer("p1").to_string(), "p1");
        assert_eq!(PeerId::from("p1").as_str(), "p1");
    }

    #[test]
    fn sixteen_bit_map_headers_and_unknown_keys() {
        let frame = map16(&[
            kv("type", t("leave")),
            kv("senderId", t("client")),
            kv("somethingNew", map16(&[kv("deep", t("x"))])),
            (uint(7), t("integer keys are ignored too")),
        ]);
        assert_eq!(&frame[..3], &[0xb9, 0x00, 0x04]);
        assert_eq!(
            decode(&frame),
            Ok(Message::Leave {
                sender_id: peer("client")
            })
        );
        // A 32-bit and a 64-bit length header for the same map.
        for size in [4, 8] {
            let mut frame = head_sized(5, 2, size);
            frame.extend([t("type"), t("leave"), t("senderId"), t("c")].concat());
            assert_eq!(
                decode(&frame),
                Ok(Message::Leave {
                    sender_id: peer("c")
                })
            );
        }
    }

    #[test]
    fn undefined_and_null_are_absent() {
        let frame = map16(&[
            kv("type", t("join")),
            kv("senderId", t("client")),
            kv(
                "peerMetadata",
                map16(&[
                    kv("storageId", UNDEFINED.to_vec()),
                    kv("isEphemeral", vec![0xf5]),
                ]),
            ),
            kv("supportedProtocolVersions", [head(4, 1), t("1")].concat()),
            kv("targetId", UNDEFINED.to_vec()),
        ]);
        assert_eq!(
            decode(&frame),
            Ok(Message::Join {
                sender_id: peer("client"),
                peer_metadata: PeerMetadata {
                    storage_id: None,
                    is_ephemeral: true
                },
                supported_protocol_versions: vec!["1".into()],
            })
        );
        // Metadata absent, undefined or null, or with isEphemeral absent: defaults.
        for metadata in [
            None,
            Some(UNDEFINED.to_vec()),
            Some(NULL.to_vec()),
            Some(map16(&[])),
        ] {
            let mut entries = vec![
                kv("type", t("join")),
                kv("senderId", t("client")),
                kv("supportedProtocolVersions", [head(4, 1), t("1")].concat()),
            ];
            entries.extend(metadata.map(|m| kv("peerMetadata", m)));
            let Ok(Message::Join { peer_metadata, .. }) = decode(&map16(&entries)) else {
                panic!("join did not decode");
            };
            assert_eq!(peer_metadata, PeerMetadata::default());
        }
        // A required field that is undefined or null is missing.
        for absent in [UNDEFINED, NULL] {
            let mut entries = sync_entries();
            entries[4].1 = absent.to_vec();
            assert_eq!(
                decode(&map16(&entries)),
                Err(DecodeError::MissingField {
                    message_type: "sync",
                    field: "data"
                })
            );
        }
        // An undefined `type` is no type.
        assert_eq!(
            decode(&map16(&[kv("type", UNDEFINED.to_vec())])),
            Err(DecodeError::MissingType)
        );
    }

    #[test]
    fn readme_name_metadata_is_accepted() {
        let frame = map16(&[
            kv("type", t("peer")),
            kv("senderId", t("server")),
            kv("selectedProtocolVersion", t("1")),
            kv("targetId", t("client")),
            kv(
                "metadata",
                map16(&[kv("storageId", t("s")), kv("isEphemeral", vec![0xf4])]),
            ),
        ]);
        let Ok(Message::Peer { peer_metadata, .. }) = decode(&frame) else {
            panic!("peer did not decode")
        };
        assert_eq!(peer_metadata.storage_id.as_deref(), Some("s"));
    }

    #[test]
    fn counts_sent_as_floats() {
        let ephemeral = |count: Vec<u8>| {
            decode(&map16(&[
                kv("type", t("ephemeral")),
                kv("senderId", t("c")),
                kv("targetId", t("s")),
                kv("documentId", t("d")),
                kv("count", count),
                kv("sessionId", t("x")),
                kv("data", b(&[1])),
            ]))
            .map(|message| match message {
                Message::Ephemeral { count, .. } => count,
                other => panic!("not ephemeral: {other:?}"),
            })
        };
        assert_eq!(ephemeral(f64_(4_294_967_296.0)), Ok(1 << 32));
        assert_eq!(
            ephemeral(f64_(9_007_199_254_740_991.0)),
            Ok(9_007_199_254_740_991)
        );
        assert_eq!(ephemeral(f64_(0.0)), Ok(0));
        assert_eq!(
            ephemeral(vec![0xf9, 0x3c, 0x00]),
            Ok(1),
            "half-precision 1.0"
        );
        assert_eq!(
            ephemeral(vec![0xfa, 0x4f, 0x80, 0x00, 0x00]),
            Ok(1 << 32),
            "single-precision 2^32"
        );
        assert_eq!(ephemeral(uint(5)), Ok(5));
        assert_eq!(ephemeral(head_sized(0, 5, 8)), Ok(5), "non-minimal integer");
        let not_a_count = Err(DecodeError::InvalidField {
            message_type: "ephemeral",
            field: "count",
            expected: "a non-negative integer",
        });
        for bad in [
            f64_(1.5),
            f64_(-1.0),
            f64_(f64::NAN),
            f64_(f64::INFINITY),
            f64_(1.8446744073709552e19),
            head(1, 0),
            t("1"),
        ] {
            assert_eq!(ephemeral(bad.clone()), not_a_count, "{bad:02x?}");
        }
    }

    #[test]
    fn data_in_tag_64_is_bytes() {
        let mut entries = sync_entries();
        entries[4].1 = [vec![0xd8, 0x40], b(&[1, 2, 3])].concat();
        assert!(
            matches!(decode(&map16(&entries)), Ok(Message::Sync { data, .. }) if data == [1, 2, 3])
        );
        for bad in [
            [vec![0xc2], b(&[1])].concat(),
            t("abc"),
            [vec![0xd8, 0x40], t("abc")].concat(),
        ] {
            entries[4].1 = bad;
            assert_eq!(
                decode(&map16(&entries)),
                Err(DecodeError::InvalidField {
                    message_type: "sync",
                    field: "data",
                    expected: "a byte string"
                })
            );
        }
    }

    #[test]
    fn indefinite_lengths_are_accepted() {
        let mut frame = vec![0xbf];
        frame.extend([t("type"), t("sync"), t("senderId")].concat());
        // Text in two chunks.
        frame.extend([vec![0x7f], t("cli"), t("ent"), vec![0xff]].concat());
        frame.extend(
            [
                t("targetId"),
                t("server"),
                t("documentId"),
                t("doc"),
                t("data"),
            ]
            .concat(),
        );
        // Bytes in two chunks.
        frame.extend([vec![0x5f], b(&[1]), b(&[2, 3]), vec![0xff]].concat());
        frame.push(0xff);
        assert_eq!(
            decode(&frame),
            Ok(Message::Sync {
                sender_id: peer("client"),
                target_id: peer("server"),
                document_id: "doc".into(),
                data: vec![1, 2, 3],
            })
        );
    }

    #[test]
    fn repeated_keys_keep_the_last() {
        let mut entries = sync_entries();
        entries.push(kv("documentId", t("second")));
        assert_eq!(
            decode(&map16(&entries)).map(|m| m.document_id().map(str::to_owned)),
            Ok(Some("second".into()))
        );
    }

    #[test]
    fn unknown_types_are_not_errors() {
        let frame = map16(&[kv("type", t("future-thing")), kv("payload", b(&[1, 2]))]);
        assert_eq!(
            decode(&frame),
            Ok(Message::Unknown {
                message_type: "future-thing".into()
            })
        );
        // Even without the fields known types need.
        assert_eq!(
            decode(&map16(&[kv("type", t("Sync"))])),
            Ok(Message::Unknown {
                message_type: "Sync".into()
            })
        );
    }

    #[test]
    fn missing_and_ill_typed_fields() {
        for (index, field) in ["senderId", "targetId", "documentId", "data"]
            .into_iter()
            .enumerate()
        {
            let mut entries = sync_entries();
            entries.remove(index + 1);
            assert_eq!(
                decode(&map16(&entries)),
                Err(DecodeError::MissingField {
                    message_type: "sync",
                    field
                })
            );
        }
        let mut entries = sync_entries();
        entries[1].1 = uint(1);
        let error = decode(&map16(&entries)).unwrap_err();
        assert_eq!(
            error,
            DecodeError::InvalidField {
                message_type: "sync",
                field: "senderId",
                expected: "a text string"
            }
        );
        assert_eq!(
            error.to_string(),
            "field `senderId` of type `sync` must be a text string"
        );
        assert_eq!(
            DecodeError::MissingField {
                message_type: "sync",
                field: "data"
            }
            .to_string(),
            "required field `data` is missing for type `sync`"
        );
        let join = |versions: Vec<u8>, metadata: Vec<u8>| {
            decode(&map16(&[
                kv("type", t("join")),
                kv("senderId", t("c")),
                kv("supportedProtocolVersions", versions),
                kv("peerMetadata", metadata),
            ]))
        };
        let ok_versions = [head(4, 1), t("1")].concat();
        assert!(matches!(
            join([head(4, 1), uint(1)].concat(), map16(&[])),
            Err(DecodeError::InvalidField {
                field: "supportedProtocolVersions",
                ..
            })
        ));
        assert!(matches!(
            join(t("1"), map16(&[])),
            Err(DecodeError::InvalidField {
                field: "supportedProtocolVersions",
                ..
            })
        ));
        assert!(matches!(
            join(ok_versions.clone(), t("m")),
            Err(DecodeError::InvalidField {
                field: "peerMetadata",
                ..
            })
        ));
        assert!(matches!(
            join(ok_versions.clone(), map16(&[kv("storageId", uint(1))])),
            Err(DecodeError::InvalidField {
                field: "peerMetadata.storageId",
                ..
            })
        ));
        assert!(matches!(
            join(ok_versions, map16(&[kv("isEphemeral", uint(1))])),
            Err(DecodeError::InvalidField {
                field: "peerMetadata.isEphemeral",
                ..
            })
        ));
        assert_eq!(
            decode(&map16(&[kv("type", t("error"))])),
            Err(DecodeError::MissingField {
                message_type: "error",
                field: "message"
            })
        );
        let heads = |new_heads: Vec<u8>| {
            decode(&map16(&[
                kv("type", t("remote-heads-changed")),
                kv("senderId", t("c")),
                kv("targetId", t("s")),
                kv("documentId", t("d")),
                kv("newHeads", new_heads),
            ]))
        };
        let entry = |timestamp: Vec<u8>| {
            map16(&[
                kv("heads", [head(4, 1), t("h")].concat()),
                kv("timestamp", timestamp),
            ])
        };
        assert!(heads(map16(&[kv("s1", entry(uint(5)))])).is_ok());
        assert!(heads(map16(&[kv("s1", entry(f64_(1_732_000_000_123.0)))])).is_ok());
        for bad in [
            t("x"),
            map16(&[kv("s1", entry(t("5")))]),
            map16(&[kv("s1", t("x"))]),
            map16(&[(uint(1), entry(uint(5)))]),
        ] {
            assert!(matches!(
                heads(bad),
                Err(DecodeError::InvalidField {
                    field: "newHeads",
                    ..
                })
            ));
        }
        assert!(matches!(
            heads(NULL.to_vec()),
            Err(DecodeError::MissingField {
                field: "newHeads",
                ..
            })
        ));
    }

    #[test]
    fn subscription_lists_are_optional() {
        let frame = map16(&[
            kv("type", t("remote-subscription-change")),
            kv("targetId", t("s")),
            kv("add", [head(4, 1), t("storage")].concat()),
            kv("remove", UNDEFINED.to_vec()),
            kv("senderId", t("c")),
        ]);
        assert_eq!(
            decode(&frame),
            Ok(Message::RemoteSubscriptionChange {
                sender_id: peer("c"),
                target_id: peer("s"),
                add: vec!["storage".into()],
                remove: vec![],
            })
        );
    }

    #[test]
    fn frames_that_are_not_messages() {
        let invalid = |frame: &[u8]| matches!(decode(frame), Err(DecodeError::InvalidCbor(_)));
        assert!(invalid(&[]));
        assert!(invalid(&[0xff]), "a lone break");
        assert!(invalid(&[0xbf]), "an unterminated indefinite map");
        assert!(invalid(&[0xb9, 0x00]), "a cut-off header");
        assert!(
            invalid(&[0xa1, 0x1c, 0x00]),
            "reserved additional information"
        );
        assert!(invalid(&[0xa1, 0x64, b't', b'y']), "a cut-off key");
        assert!(
            invalid(&[0xa1, 0x62, 0xff, 0xfe, 0x01]),
            "invalid UTF-8 in a key"
        );
        assert!(invalid(&[0xa1, 0x01, 0xe0]), "an unassigned simple value");
        assert!(
            invalid(&[0xa1, 0x01, 0x5f, 0x61, 0x61, 0xff]),
            "text inside an indefinite byte string"
        );
        // Text frames start with bytes that read as a CBOR integer or string header.
        assert_eq!(decode(b"GET / HTTP/1.1\r\n"), Err(DecodeError::NotAMap));
        assert_eq!(decode(br#"{"type":"sync"}"#), Err(DecodeError::NotAMap));
        assert_eq!(decode(&[0x80]), Err(DecodeError::NotAMap));
        assert_eq!(decode(&t("join")), Err(DecodeError::NotAMap));
        assert_eq!(decode(&[0xf6]), Err(DecodeError::NotAMap));
        assert_eq!(decode(&[0xa0]), Err(DecodeError::MissingType));
        assert_eq!(
            decode(&map16(&[kv("senderId", t("c"))])),
            Err(DecodeError::MissingType)
        );
        assert_eq!(
            decode(&map16(&[kv("type", uint(3))])),
            Err(DecodeError::TypeNotText)
        );
        assert_eq!(
            decode(&map16(&[kv("type", b(b"sync"))])),
            Err(DecodeError::TypeNotText)
        );
        let mut frame = encode(&Message::Leave {
            sender_id: peer("c"),
        });
        frame.extend([0x00, 0x00]);
        assert_eq!(decode(&frame), Err(DecodeError::TrailingBytes(2)));
        assert_eq!(
            DecodeError::TrailingBytes(2).to_string(),
            "2 trailing bytes after the CBOR message"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        // Arrays nested so that the innermost item sits at exactly MAX_DEPTH: accepted.
        let nested = |levels: usize| {
            let mut value = uint(1);
            for _ in 0..levels {
                value = [head(4, 1), value].concat();
            }
            map16(&[
                kv("type", t("leave")),
                kv("senderId", t("c")),
                kv("x", value),
            ])
        };
        assert!(decode(&nested(MAX_DEPTH - 2)).is_ok());
        assert_eq!(decode(&nested(MAX_DEPTH - 1)), Err(DecodeError::TooDeep));
        // Very deep input fails fast, without exhausting the stack.
        assert_eq!(decode(&nested(100_000)), Err(DecodeError::TooDeep));
        let mut tags = vec![0xa1, 0x01];
        tags.extend(std::iter::repeat_n(0xc6, 100_000));
        tags.push(0x00);
        assert_eq!(decode(&tags), Err(DecodeError::TooDeep));
        let mut maps = [0xa1, 0x01].repeat(100_000);
        maps.push(0x00);
        assert_eq!(decode(&maps), Err(DecodeError::TooDeep));
        let indefinite = [0x9f].repeat(100_000);
        assert_eq!(
            decode(&[vec![0xa1, 0x01], indefinite].concat()),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn size_is_bounded() {
        let entries: Vec<_> = (0..MAX_TOP_LEVEL_ENTRIES)
            .map(|i| {
                if i == 0 {
                    kv("type", t("x"))
                } else {
                    kv(&format!("k{i}"), uint(1))
                }
            })
            .collect();
        assert!(decode(&map16(&entries)).is_ok());
        let mut too_many = entries.clone();
        too_many.push(kv("one-more", uint(1)));
        assert_eq!(decode(&map16(&too_many)), Err(DecodeError::TooManyEntries));
        // Indefinite-length: counted as they come.
        let mut frame = vec![0xbf];
        for (key, value) in &too_many {
            frame.extend_from_slice(key);
            frame.extend_from_slice(value);
        }
        frame.push(0xff);
        assert_eq!(decode(&frame), Err(DecodeError::TooManyEntries));
        // A huge declared length is refused before anything else is read.
        assert_eq!(decode(&head(5, u64::MAX)), Err(DecodeError::TooManyEntries));
        // Nested containers may be long, but not past the item budget.
        let long = |n: u64| {
            let mut array = head(4, n);
            array.extend(std::iter::repeat_n(0x01, n as usize));
            map16(&[kv("type", t("x")), kv("list", array)])
        };
        assert!(decode(&long(MAX_ITEMS as u64 - 10)).is_ok());
        assert_eq!(
            decode(&long(MAX_ITEMS as u64)),
            Err(DecodeError::TooManyItems)
        );
        // Declared lengths far beyond the frame fail at its end, allocating nothing big.
        for bogus in [
            head(4, u64::MAX),
            head(5, u64::MAX),
            head(2, u64::MAX),
            head(3, u64::MAX),
            head(2, 1 << 40),
        ] {
            let frame = map16(&[kv("type", t("x")), kv("v", bogus)]);
            assert!(
                matches!(decode(&frame), Err(DecodeError::InvalidCbor(_))),
                "{frame:02x?}"
            );
        }
    }

    /// xorshift64*: a small deterministic generator, enough to shake the decoder.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Decoding anything must return, never panic; what decodes must survive a round trip.
    fn shake(frame: &[u8]) {
        if let Ok(message) = decode(frame)
            && !has_nan(&message)
        {
            assert_eq!(decode(&encode(&message)), Ok(message));
        }
    }

    /// Whether the message holds a NaN, which no round trip can compare equal.
    fn has_nan(message: &Message) -> bool {
        matches!(message, Message::RemoteHeadsChanged { new_heads, .. }
            if new_heads.values().any(|remote| remote.timestamp.is_nan()))
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..10_000 {
            let len = rng.below(96) as usize;
            let mut frame: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Start most frames with a map header so the decoder gets past the first byte.
            if let Some(first) = frame.first_mut()
                && rng.below(4) != 0
            {
                *first = 0xa0 | (*first & 0x1f);
            }
            shake(&frame);
        }
    }

    #[test]
    fn mutated_messages_never_panic() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let seeds: Vec<Vec<u8>> = every_variant().iter().map(encode).collect();
        let mut decoded = 0;
        for _ in 0..10_000 {
            let mut frame = seeds[rng.below(seeds.len() as u64) as usize].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(frame.len() as u64) as usize;
                match rng.below(4) {
                    0 => frame[at] = rng.next() as u8,
                    1 => frame[at] ^= 1 << rng.below(8),
                    2 => frame.truncate(at),
                    _ => frame.insert(at, rng.next() as u8),
                }
                if frame.is_empty() {
                    break;
                }
            }
            decoded += usize::from(decode(&frame).is_ok());
            shake(&frame);
        }
        // The mutations leave some frames valid, so the round-trip check did run.
        assert!(decoded > 100, "only {decoded} mutated frames decoded");
    }

    fn cbor(value: &Value) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(value, &mut bytes).unwrap();
        bytes
    }

    fn text(value: &str) -> Value {
        Value::Text(value.into())
    }

    #[test]
    fn relayed_presence_names_the_account_not_what_the_client_said() {
        let sent = cbor(&Value::Map(vec![
            (text("name"), text("Dr. Rivera (clinic)")),
            (text("field"), text("goals")),
            (text("userId"), text("someone-else")),
            (text("at"), Value::Float(1.5)),
        ]));
        let relayed = presence_with_account(&sent, "acct-1");
        let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                (text("userId"), text("acct-1")),
                (text("field"), text("goals")),
                (text("at"), Value::Float(1.5)),
            ])
        );
        // cbor-x's `undefined` and an indefinite-length map come through as they were.
        let mut indefinite = vec![0xbf];
        indefinite.extend(cbor(&text("field")));
        indefinite.push(0xf7);
        indefinite.push(0xff);
        let relayed = presence_with_account(&indefinite, "a");
        assert_eq!(relayed[0], 0xa2);
        assert!(relayed.ends_with(&[0x65, b'f', b'i', b'e', b'l', b'd', 0xf7]));
    }

    #[test]
    fn gone_is_the_servers_to_say() {
        let gone: Value = ciborium::from_reader(presence_gone("acct-1").as_slice()).unwrap();
        assert_eq!(
            gone,
            Value::Map(vec![
                (text("userId"), text("acct-1")),
                (text("gone"), Value::Bool(true)),
            ])
        );
        let sent = cbor(&Value::Map(vec![
            (text("gone"), Value::Bool(true)),
            (text("field"), text("goals")),
        ]));
        let relayed: Value =
            ciborium::from_reader(presence_with_account(&sent, "acct-1").as_slice()).unwrap();
        assert_eq!(
            relayed,
            Value::Map(vec![
                (text("userId"), text("acct-1")),
                (text("field"), text("goals")),
            ])
        );
    }

    #[test]
    fn presence_that_is_not_a_map_is_wrapped_whole() {
        let relayed = presence_with_account(&cbor(&text("typing")), "acct-1");
        let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                (text("userId"), text("acct-1")),
                (text("message"), text("typing")),
            ])
        );
        // Not one well-formed CBOR item: relayed as bytes, so receivers can still read it.
        let mut trailing = cbor(&text("x"));
        trailing.push(0);
        let mut deep = vec![0x81; MAX_DEPTH + 2];
        deep.push(0);
        for bad in [Vec::new(), vec![0xa1, 0x61], trailing, deep] {
            let relayed = presence_with_account(&bad, "a");
            let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
            assert_eq!(
                value,
                Value::Map(vec![
                    (text("userId"), text("a")),
                    (text("message"), Value::Bytes(bad)),
                ])
            );
        }
    }
}
