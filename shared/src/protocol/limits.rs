//! How much a frame may hold, and the structural walk that enforces it before any value is
//! built: nesting depth, top-level entries and CBOR items in all, that the frame is one item
//! and that nothing follows it. Presence relaying walks its data the same way.

use ciborium_ll::{Decoder, Header};

use super::DecodeError;

/// How deeply items may nest: the top-level map is level 1, its values level 2, and so on.
pub const MAX_DEPTH: usize = 16;
/// How many entries the top-level map of a frame may have.
pub const MAX_TOP_LEVEL_ENTRIES: usize = 64;
/// How many CBOR items (maps, arrays, strings, numbers, ...) one frame may hold in all.
pub const MAX_ITEMS: usize = 4096;

pub(super) type LowDecoder<'a> = Decoder<&'a [u8]>;

/// Walks the frame's CBOR structure without building anything, enforcing the limits, that the
/// frame is one map and that nothing follows it.
pub(super) fn check_structure(frame: &[u8]) -> Result<(), DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::InvalidCbor("empty frame".into()));
    }
    let mut decoder = Decoder::from(frame);
    let mut walk = Walk::new(frame);
    match pull(&mut decoder)? {
        Header::Map(Some(len)) if len > MAX_TOP_LEVEL_ENTRIES => {
            return Err(DecodeError::TooManyEntries);
        }
        header @ Header::Map(_) => walk.item(&mut decoder, header, 1)?,
        Header::Break => return Err(DecodeError::InvalidCbor("unexpected break".into())),
        _ => return Err(DecodeError::NotAMap),
    }
    walk.finish(&mut decoder)
}

pub(super) fn pull(decoder: &mut LowDecoder<'_>) -> Result<Header, DecodeError> {
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
pub(super) struct Walk<'a> {
    items: usize,
    frame: &'a [u8],
    base: usize,
}

impl<'a> Walk<'a> {
    /// A walk from the start of `frame`, which the decoder it goes with reads.
    pub(super) fn new(frame: &'a [u8]) -> Self {
        Self {
            items: 0,
            frame,
            base: 0,
        }
    }

    /// Where in the frame `decoder` is.
    pub(super) fn at(&self, decoder: &mut LowDecoder<'a>) -> usize {
        self.base + decoder.offset()
    }

    /// Ends the walk of a frame's one item: an error if anything follows it.
    pub(super) fn finish(&self, decoder: &mut LowDecoder<'a>) -> Result<(), DecodeError> {
        // Nothing is pushed back at this point, so the offset is what the walk consumed.
        match self.frame.len().saturating_sub(self.at(decoder)) {
            0 => Ok(()),
            trailing => Err(DecodeError::TrailingBytes(trailing)),
        }
    }

    /// Consumes the item that starts with `header`, at nesting level `depth`.
    pub(super) fn item(
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
            // Byte and text segments are different types whose shared trait ciborium-ll keeps
            // private, so no one function can drain both: each kind has its own arm.
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
        let start = self.at(decoder);
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
