//! The fast path for the message nearly every frame carries: `sync` or `request` read straight
//! from the frame, without a CBOR value tree, when it comes in the plain shape automerge-repo
//! clients write. [`decode`] falls back to the general way for anything else.
//!
//! [`decode`]: fn@super::decode

use ciborium_ll::{Decoder, Header, simple};

use super::{MAX_TOP_LEVEL_ENTRIES, Message, PeerId};

/// CBOR tag that cbor-x puts on a `Uint8Array` when it tags typed arrays (RFC 8746).
pub(super) const TAG_UINT8_ARRAY: u64 = 64;
/// CBOR tag for a `Uint8ClampedArray` (RFC 8746); its content is plain bytes too.
pub(super) const TAG_UINT8_CLAMPED_ARRAY: u64 = 68;

/// The message nearly every frame carries, `sync` or `request`, read straight from the frame when
/// it comes in the plain shape automerge-repo clients write: one definite-length map, each of
/// `type`, `senderId`, `targetId`, `documentId` and `data` exactly once with a value of its type
/// (`data` bytes, or bytes in tag 64 or 68), other keys only with a scalar value (ignored, as
/// [`decode`] ignores them). `None` for anything else, which [`decode`] then reads the general
/// way; whatever this returns, the general way returns too. It skips building a CBOR value tree
/// and walking the frame twice: about half the decoding work of a sync frame.
///
/// [`decode`]: fn@super::decode
pub(super) fn plain_sync(frame: &[u8]) -> Option<Message> {
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
    Some(Message::sync_or_request(
        request?,
        sender_id,
        target_id,
        document_id,
        data,
    ))
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
