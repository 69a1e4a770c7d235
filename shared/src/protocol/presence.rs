//! Presence: the `ephemeral` data the server relays between a plan's connections, rewritten so
//! that it names the account that sent it, and the "gone" notice the server itself sends when an
//! account has left a plan.

use ciborium_ll::{Decoder, Header, simple};

use super::DecodeError;
use super::encode::Out;
use super::limits::{Walk, pull};

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
    let mut out = Out::new(&mut data);
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
///
/// [`decode`]: fn@super::decode
pub fn presence_with_account(data: &[u8], account: &str) -> Vec<u8> {
    let kept = presence_entries(data);
    let mut relayed = Vec::with_capacity(data.len() + account.len() + 24);
    let mut out = Out::new(&mut relayed);
    // Every relayed presence is a map that first names the account.
    out.map(match &kept {
        Ok(Some(entries)) => entries.len() + 1,
        Ok(None) | Err(_) => 2,
    });
    out.entry(PRESENCE_ACCOUNT_KEY, account);
    match kept {
        Ok(Some(entries)) => {
            for (start, end) in entries {
                relayed.extend_from_slice(&data[start..end]);
            }
        }
        Ok(None) => {
            out.text(PRESENCE_MESSAGE_KEY);
            relayed.extend_from_slice(data);
        }
        Err(_) => {
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
    let mut walk = Walk::new(data);
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
                let start = walk.at(&mut decoder);
                let key = pull(&mut decoder)?;
                if len.is_none() && key == Header::Break {
                    break;
                }
                entries += 1;
                let identity = match key {
                    Header::Text(Some(length)) => {
                        let at = walk.at(&mut decoder);
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
                    entries_kept.push((start, walk.at(&mut decoder)));
                }
            }
            kept = Some(entries_kept);
        }
        Header::Break => return Err(DecodeError::InvalidCbor("unexpected break".into())),
        header => walk.item(&mut decoder, header, 1)?,
    }
    walk.finish(&mut decoder)?;
    Ok(kept)
}
