//! What a sync message or a document carries: the storage chunks in a message's change list
//! (single changes, or a whole document) and the changes in them, read without applying any;
//! how many operations they hold; which of them a document lacks; and whether automerge would
//! have anything to tell a peer. [`super::document`] and `super::shortcut` both read changes
//! this way.

use std::collections::{HashMap, HashSet};

use automerge::sync;
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};

/// Maps and sets looked up several times for every message (members, actor bindings, peers,
/// change hashes): hashed with foldhash, seeded at random per process, rather than SipHash,
/// which cost about 2 % of the server's instructions per edit here.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
pub(super) type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// Why a sync message's changes cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the sync message holds changes that cannot be read")]
pub struct UnreadableChanges;

/// Automerge storage chunks start with these magic bytes, then a 4-byte checksum, a type byte
/// and the LEB128 length of the body (the Automerge binary format, "Chunk container").
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a whole document.
pub(super) const CHUNK_TYPE_DOCUMENT: u8 = 0;

/// How many operations the changes in `bytes` (concatenated change chunks) hold; a whole
/// document among them counts as none here (automerge takes its changes one by one after).
pub(super) fn ops_in(bytes: &[u8]) -> Result<u64, UnreadableChanges> {
    let mut ops = 0u64;
    for (chunk_type, chunk) in split_chunks(bytes)? {
        if chunk_type != CHUNK_TYPE_DOCUMENT {
            let change = Change::from_bytes(chunk.to_vec()).map_err(|_| UnreadableChanges)?;
            ops = ops.saturating_add(change.len() as u64);
        }
    }
    Ok(ops)
}

/// Whether every whole-document chunk in `entries` holds at most `max_ops` operations, counted
/// from its bytes before anything is built from it: automerge builds a loaded document at about
/// half a KiB per operation, and a few KB of document can hold millions. A document chunk that
/// cannot be measured is unreadable.
pub(super) fn documents_within<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    max_ops: u64,
) -> Result<bool, UnreadableChanges> {
    for entry in entries {
        for (chunk_type, chunk) in split_chunks(entry)? {
            if chunk_type != CHUNK_TYPE_DOCUMENT {
                continue;
            }
            let mut body = chunk.get(9..).ok_or(UnreadableChanges)?;
            leb128::read::unsigned(&mut body).map_err(|_| UnreadableChanges)?;
            let ops = super::document_ops::ops_in_document(body, max_ops)
                .map_err(|_| UnreadableChanges)?;
            if ops > max_ops {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Split concatenated storage chunks into (type, whole chunk) pairs.
pub(super) fn split_chunks(mut bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, UnreadableChanges> {
    let mut chunks = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 9 || bytes[..4] != CHUNK_MAGIC {
            return Err(UnreadableChanges);
        }
        let chunk_type = bytes[8];
        let mut rest = &bytes[9..];
        let before = rest.len();
        let body = leb128::read::unsigned(&mut rest).map_err(|_| UnreadableChanges)?;
        let header = 9 + (before - rest.len());
        let total = usize::try_from(body)
            .ok()
            .and_then(|body| body.checked_add(header))
            .filter(|total| *total <= bytes.len())
            .ok_or(UnreadableChanges)?;
        chunks.push((chunk_type, &bytes[..total]));
        bytes = &bytes[total..];
    }
    Ok(chunks)
}

/// Largest Bloom filter parameters accepted in a peer's `have` (automerge itself uses 10 bits
/// per entry and 7 probes). automerge trusts these numbers: zero bits per entry divides by
/// zero and a huge probe count allocates without bound, so they are checked before use.
const MAX_BLOOM_PROBES: u64 = 32;
const MAX_BLOOM_BITS_PER_ENTRY: u64 = 64;

/// Whether every Bloom filter in the message has sane parameters.
pub fn sane_blooms(message: &sync::Message) -> bool {
    message.have.iter().all(|have| {
        let bytes = have.bloom.to_bytes();
        let mut input = bytes.as_slice();
        let (Ok(entries), Ok(bits), Ok(probes)) = (
            leb128::read::unsigned(&mut input),
            leb128::read::unsigned(&mut input),
            leb128::read::unsigned(&mut input),
        ) else {
            // An empty filter encodes as no bytes at all.
            return bytes.is_empty();
        };
        entries == 0
            || ((1..=MAX_BLOOM_BITS_PER_ENTRY).contains(&bits)
                && (1..=MAX_BLOOM_PROBES).contains(&probes)
                && entries
                    .checked_mul(bits)
                    .is_some_and(|total| total <= u64::from(u32::MAX)))
    })
}

/// One change carried in a sync message.
#[derive(Debug, Clone)]
pub struct Carried {
    /// Its hash.
    pub hash: ChangeHash,
    /// Its author's actor.
    pub actor: ActorId,
    /// The change as sent, when it came alone (not inside a whole document).
    pub change: Option<Change>,
    /// How many operations it holds.
    pub ops: u64,
}

/// Every change carried in a sync message, without applying any. Each entry of the message's
/// change list holds concatenated storage chunks: single changes (sync v1 and v2), or a whole
/// document (sync v2, "send everything").
pub fn changes_in(message: &sync::Message) -> Result<Vec<Carried>, UnreadableChanges> {
    let mut found = Vec::new();
    for entry in message.changes.iter() {
        for (chunk_type, chunk) in split_chunks(entry)? {
            if chunk_type == CHUNK_TYPE_DOCUMENT {
                let document = Automerge::load(chunk).map_err(|_| UnreadableChanges)?;
                found.extend(document.get_changes(&[]).into_iter().map(|change| Carried {
                    hash: change.hash(),
                    actor: change.actor_id().clone(),
                    change: None,
                    ops: change.len() as u64,
                }));
            } else {
                let change = Change::from_bytes(chunk.to_vec()).map_err(|_| UnreadableChanges)?;
                // The chunk's checksum (bytes 4..8) is the start of the change's hash. Parsing
                // a change alone does not check it (loading one does): a damaged change would
                // be accepted here and then stored where no load could ever read it.
                if chunk.get(4..8) != Some(&change.hash().0[..4]) {
                    return Err(UnreadableChanges);
                }
                found.push(Carried {
                    hash: change.hash(),
                    actor: change.actor_id().clone(),
                    ops: change.len() as u64,
                    change: Some(change),
                });
            }
        }
    }
    Ok(found)
}

/// Which of `hashes` the document neither holds nor keeps queued (automerge queues a change
/// until its dependencies arrive).
pub(super) fn lacking(doc: &Automerge, hashes: &[ChangeHash]) -> FastSet<ChangeHash> {
    if nothing_queued(doc) {
        // Nothing queued (the everyday case): what it lacks is what it does not hold, found
        // without the sets and sorting of `get_missing_deps`.
        hashes
            .iter()
            .filter(|hash| doc.get_change_by_hash(hash).is_none())
            .copied()
            .collect()
    } else {
        doc.get_missing_deps(hashes).into_iter().collect()
    }
}

/// Whether the document lacks any of `hashes`: [`lacking`] is not empty.
pub(super) fn lacks_any(doc: &Automerge, hashes: &[ChangeHash]) -> bool {
    if nothing_queued(doc) {
        hashes
            .iter()
            .any(|hash| doc.get_change_by_hash(hash).is_none())
    } else {
        !doc.get_missing_deps(hashes).is_empty()
    }
}

/// Whether automerge holds no change back waiting for its dependencies.
pub(super) fn nothing_queued(doc: &Automerge) -> bool {
    doc.get_missing_deps(&[]).is_empty()
}

/// Whether automerge's `generate_sync_message` would surely have nothing to send this peer: it
/// has heard our heads, and holds them too (or has not answered our last message yet). This
/// mirrors automerge's own early returns, which come only after it has built a Bloom
/// filter and worked out what to send: an acknowledgement from an up-to-date peer, the most
/// common message of all, then costs next to nothing.
pub(super) fn surely_quiet(doc: &Automerge, state: &sync::State) -> bool {
    let our_heads = doc.get_heads();
    if !state.have_responded || state.last_sent_heads != our_heads || !nothing_queued(doc) {
        return false;
    }
    // A peer whose last sync point this document lacks gets a reset.
    let synced_from_here = state
        .their_have
        .as_ref()
        .and_then(|have| have.first())
        .is_none_or(|have| !lacks_any(doc, &have.last_sync));
    let asks_nothing = state.their_need.as_ref().is_none_or(Vec::is_empty);
    synced_from_here
        && (state.in_flight || (state.their_heads.as_ref() == Some(&our_heads) && asks_nothing))
}

/// The changes a message brings that the document lacks, if applying the message can only
/// apply exactly those: nothing is queued (so nothing queued can be released), and each came
/// alone, not inside a whole document. `None` otherwise.
pub(super) fn fresh_changes(
    doc: &Automerge,
    carried: &[Carried],
    absent: &FastSet<ChangeHash>,
) -> Option<Vec<Change>> {
    if !nothing_queued(doc) {
        return None;
    }
    let mut fresh: Vec<Change> = Vec::new();
    for carried in carried {
        if absent.contains(&carried.hash)
            && !fresh.iter().any(|change| change.hash() == carried.hash)
        {
            fresh.push(carried.change.clone()?);
        }
    }
    Some(fresh)
}

#[cfg(test)]
mod tests {
    //! [`surely_quiet`] must never hold back a message automerge would send.

    use std::collections::VecDeque;

    use automerge::sync::SyncDoc;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{AutoCommit, ROOT};
    use proptest::prelude::*;

    use super::*;

    /// Whether automerge itself would send nothing (asked on a copy of the state).
    fn automerge_quiet(doc: &Automerge, state: &sync::State) -> bool {
        doc.generate_sync_message(&mut state.clone()).is_none()
    }

    fn edit(doc: &mut Automerge, actor: u8, n: usize) {
        let mut scratch = AutoCommit::load(&doc.save())
            .expect("reload")
            .with_actor(ActorId::from([actor; 16]));
        let before = scratch.get_heads();
        scratch
            .put(ROOT, format!("k{actor}-{n}"), n as i64)
            .expect("put");
        scratch.commit_with(CommitOptions::default().with_time(0));
        doc.apply_changes(scratch.get_changes(&before).into_iter().cloned())
            .expect("apply");
    }

    #[derive(Debug, Clone)]
    enum Step {
        EditServer,
        EditClient,
        ServerSends,
        ClientSends,
        DeliverToServer,
        DeliverToClient,
        LoseToServer,
        LoseToClient,
        Reconnect,
        /// The server starts over empty while the client keeps its sync state: the client then
        /// names a last sync point the server lacks.
        ServerStartsOver,
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => Just(Step::EditServer),
            2 => Just(Step::EditClient),
            3 => Just(Step::ServerSends),
            3 => Just(Step::ClientSends),
            3 => Just(Step::DeliverToServer),
            3 => Just(Step::DeliverToClient),
            1 => Just(Step::LoseToServer),
            1 => Just(Step::LoseToClient),
            1 => Just(Step::Reconnect),
            1 => Just(Step::ServerStartsOver),
        ]
    }

    /// The everyday exchange: the server sends a member a change (another member's edit), the
    /// member acknowledges it. The shortcut holds back the server's answer, and automerge agrees
    /// there is nothing to say.
    #[test]
    fn an_acknowledgement_from_an_up_to_date_peer_needs_no_answer() {
        let mut server = Automerge::new();
        let mut client = Automerge::new();
        let (mut on_server, mut on_client) = (sync::State::new(), sync::State::new());
        // Connected and in sync first.
        for _ in 0..3 {
            if let Some(message) = client.generate_sync_message(&mut on_client) {
                server
                    .receive_sync_message(&mut on_server, message)
                    .expect("receive");
            }
            if let Some(message) = server.generate_sync_message(&mut on_server) {
                client
                    .receive_sync_message(&mut on_client, message)
                    .expect("receive");
            }
        }
        edit(&mut server, 1, 0);
        assert!(
            !surely_quiet(&server, &on_server),
            "a new change must go out"
        );
        let change = server
            .generate_sync_message(&mut on_server)
            .expect("the change goes out");
        client
            .receive_sync_message(&mut on_client, change)
            .expect("receive");
        let ack = client
            .generate_sync_message(&mut on_client)
            .expect("the member acknowledges");
        server
            .receive_sync_message(&mut on_server, ack)
            .expect("receive");
        assert_eq!(server.get_heads(), client.get_heads());
        assert!(
            surely_quiet(&server, &on_server),
            "the acknowledgement got an answer"
        );
        assert!(automerge_quiet(&server, &on_server));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Edits on both sides, messages sent, delivered late, lost, reconnections and a server
        /// that starts over: whenever
        /// the shortcut says the server has nothing to send, automerge says so too.
        #[test]
        fn the_shortcut_never_holds_back_a_message(steps in proptest::collection::vec(arb_step(), 1..40)) {
            let mut server = Automerge::new();
            let mut client = Automerge::new();
            let (mut on_server, mut on_client) = (sync::State::new(), sync::State::new());
            let mut to_server: VecDeque<sync::Message> = VecDeque::new();
            let mut to_client: VecDeque<sync::Message> = VecDeque::new();
            // A server that starts over writes as a new actor (the client keeps the old one's).
            let mut server_actor = 1u8;
            for (n, step) in steps.iter().enumerate() {
                match step {
                    Step::EditServer => edit(&mut server, server_actor, n),
                    Step::EditClient => edit(&mut client, 2, n),
                    Step::ServerSends => {
                        if !surely_quiet(&server, &on_server) {
                            to_client.extend(server.generate_sync_message(&mut on_server));
                        }
                    }
                    Step::ClientSends => to_server.extend(client.generate_sync_message(&mut on_client)),
                    Step::DeliverToServer => {
                        if let Some(message) = to_server.pop_front() {
                            server.receive_sync_message(&mut on_server, message).expect("receive");
                        }
                    }
                    Step::DeliverToClient => {
                        if let Some(message) = to_client.pop_front() {
                            client.receive_sync_message(&mut on_client, message).expect("receive");
                        }
                    }
                    Step::LoseToServer => { to_server.pop_front(); }
                    Step::LoseToClient => { to_client.pop_front(); }
                    Step::Reconnect => {
                        on_server = sync::State::new();
                        on_client = sync::State::new();
                        to_server.clear();
                        to_client.clear();
                    }
                    Step::ServerStartsOver => {
                        // At most 40 steps: 10 and up stay clear of the client's 2 and of u8::MAX.
                        server_actor = server_actor.max(9) + 1;
                        server = Automerge::new();
                        on_server = sync::State::new();
                        to_client.clear();
                    }
                }
                prop_assert!(
                    !surely_quiet(&server, &on_server) || automerge_quiet(&server, &on_server),
                    "the shortcut held back a message after {:?}", &steps[..=n]
                );
            }
        }
    }
}
