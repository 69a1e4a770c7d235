//! Writing a [`Message`] as one CBOR frame the way cbor-x would, and `Out`, the small CBOR
//! writer that presence relaying uses too.

use ciborium_ll::{Encoder, Header, simple};

use super::{Message, PeerId, PeerMetadata};

/// JavaScript's `Number.MAX_SAFE_INTEGER`, 2^53 - 1.
pub(super) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

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
    let mut out = Out::new(&mut frame);
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
pub(super) struct Out<'a>(Encoder<&'a mut Vec<u8>>);

impl<'a> Out<'a> {
    /// A writer that appends to `frame`.
    pub(super) fn new(frame: &'a mut Vec<u8>) -> Self {
        Self(Encoder::from(frame))
    }

    pub(super) fn push(&mut self, header: Header) {
        // Writing into a Vec cannot fail.
        let _ = self.0.push(header);
    }

    pub(super) fn map(&mut self, entries: usize) {
        self.push(Header::Map(Some(entries)));
    }

    pub(super) fn text(&mut self, value: &str) {
        // Writing into a Vec cannot fail.
        let _ = self.0.text(value, None);
    }

    pub(super) fn bytes(&mut self, value: &[u8]) {
        // Writing into a Vec cannot fail.
        let _ = self.0.bytes(value, None);
    }

    pub(super) fn entry(&mut self, key: &str, value: &str) {
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
    pub(super) fn number(&mut self, number: f64) {
        if number.fract() == 0.0 && (0.0..4_294_967_296.0).contains(&number) {
            // Exact: the value is integral and within range.
            self.push(Header::Positive(number as u64));
        } else {
            self.push(Header::Float(number));
        }
    }
}
