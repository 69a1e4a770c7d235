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
//!
//! Where each part lives:
//! - `message`: [`Message`] and the peer ids, metadata and remote heads it carries.
//! - `encode`: [`encode`], a message as one frame the way cbor-x writes it.
//! - `decode`: [`decode`] and [`DecodeError`], the general way through a CBOR value tree.
//! - `plain_sync`: the fast path of [`decode`] for the plain `sync` and `request` frames.
//! - `limits`: [`MAX_DEPTH`] and the other bounds, and the structural walk that enforces them.
//! - `presence`: [`presence_with_account`] and [`presence_gone`], the `ephemeral` data the
//!   server relays and sends.
//! - `tests`: the unit tests, one file per part above, over shared CBOR builders.
//!
//! [`decode`]: fn@decode
//! [`encode`]: fn@encode

mod decode;
mod encode;
mod limits;
mod message;
mod plain_sync;
mod presence;
#[cfg(test)]
mod tests;

pub use decode::{DecodeError, decode};
pub use encode::encode;
pub use limits::{MAX_DEPTH, MAX_ITEMS, MAX_TOP_LEVEL_ENTRIES};
pub use message::{Message, PeerId, PeerMetadata, RemoteHeads};
pub use presence::{
    PRESENCE_ACCOUNT_KEY, PRESENCE_GONE_KEY, PRESENCE_MESSAGE_KEY, presence_gone,
    presence_with_account,
};
