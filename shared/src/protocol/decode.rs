//! Reading a frame into a [`Message`]: [`decode`], its [`DecodeError`]s, and the general way
//! through a CBOR value tree (`Fields`) for every frame the plain way of `plain_sync` declines.
//! Everything cbor-x writes is accepted; see the `protocol` module documentation.

use std::collections::BTreeMap;

use ciborium::Value;

use super::limits::check_structure;
use super::plain_sync::{TAG_UINT8_ARRAY, TAG_UINT8_CLAMPED_ARRAY, plain_sync};
use super::{
    MAX_DEPTH, MAX_ITEMS, MAX_TOP_LEVEL_ENTRIES, Message, PeerId, PeerMetadata, RemoteHeads,
};

/// 2^64 as a float: the first integral float that does not fit in a `u64`.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

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
pub(super) fn decode_any(frame: &[u8]) -> Result<Message, DecodeError> {
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
            "sync" | "request" => {
                let (sender_id, target_id, document_id) = self.addressed()?;
                let data = self.bytes("data")?;
                let is_request = self.message_type == "request";
                Message::sync_or_request(is_request, sender_id, target_id, document_id, data)
            }
            "doc-unavailable" => {
                let (sender_id, target_id, document_id) = self.addressed()?;
                Message::DocUnavailable {
                    sender_id,
                    target_id,
                    document_id,
                }
            }
            "ephemeral" => {
                let (sender_id, target_id, document_id) = self.addressed()?;
                Message::Ephemeral {
                    sender_id,
                    target_id,
                    document_id,
                    count: self.count("count")?,
                    session_id: self.text("sessionId")?,
                    data: self.bytes("data")?,
                }
            }
            "error" => Message::Error {
                message: self.text("message")?,
            },
            "remote-subscription-change" => Message::RemoteSubscriptionChange {
                sender_id: self.peer_id("senderId")?,
                target_id: self.peer_id("targetId")?,
                add: self.optional_texts("add")?,
                remove: self.optional_texts("remove")?,
            },
            "remote-heads-changed" => {
                let (sender_id, target_id, document_id) = self.addressed()?;
                Message::RemoteHeadsChanged {
                    sender_id,
                    target_id,
                    document_id,
                    new_heads: self.new_heads()?,
                }
            }
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

    /// `senderId`, `targetId` and `documentId`, in that order.
    fn addressed(&mut self) -> Result<(PeerId, PeerId, String), DecodeError> {
        Ok((
            self.peer_id("senderId")?,
            self.peer_id("targetId")?,
            self.text("documentId")?,
        ))
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
