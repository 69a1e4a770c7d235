//! The everyday exchange without automerge's general sync machinery.
//!
//! Almost every sync message is one of two kinds: a member's device sends a fresh change, or a
//! few each on the one before (on top of heads the server holds), or it acknowledges what the
//! server sent. For those, automerge's `receive_sync_message` parses and hashes the change again
//! (it loads each as a chunk of its own) and walks the change graph, and
//! `generate_sync_message` works out "which changes came after these heads" from vector clocks.
//!
//! [`Recent`] remembers the last changes applied one at a time, each with the document's heads
//! after it (a checkpoint) and its ancestry among them (bit masks, worked out once). The
//! changes after a checkpoint are exactly those applied since (every change applied by then is
//! an ancestor of the heads at that moment, and none applied later is). Other heads (a peer
//! that edited at the same moment as another, say) are placed by their ancestry, when it is sure
//! to include every change from before the record: the changes after them are then the
//! remembered ones outside it. [`receive`] and [`generate`] do what automerge would do, step by
//! step, with the same results and the same sync state afterwards; in any case they cannot
//! place, they decline before changing anything and the caller asks automerge. The property
//! tests below hold them to that: the same messages, byte for byte, and the same sync states as
//! automerge alone, over random schedules of several peers; and the record's answers equal
//! automerge's over concurrent histories. (automerge decides "after" by each actor's sequence
//! numbers. For changes written by automerge that is the same as ancestry; a hand-made change
//! could make them differ, and then the shortcut counts more changes as "after", so it
//! advertises or sends more, never less.)
//!
//! Changes are still applied to the document one message at a time, by automerge, which checks
//! them: only the bookkeeping around them is done here.

use std::collections::VecDeque;

use automerge::sync::{self, BloomFilter, Capability, Have, MessageVersion};
use automerge::{Automerge, AutomergeError, Change, ChangeHash, ReadDoc};

use super::changes::{Carried, FastSet, lacking, lacks_any, nothing_queued};

/// How many recent changes are remembered (a peer more than this far behind is served by
/// automerge).
#[cfg(not(test))]
const KEEP: usize = 32;
/// Few in tests, so that they often forget the oldest.
#[cfg(test)]
const KEEP: usize = 4;

struct Entry {
    change: Change,
    /// The document's heads once it was applied.
    heads: Vec<ChangeHash>,
    /// The remembered changes among it and its ancestors (bit `i` for the `i`th).
    ancestors: u64,
    /// The heads the record started from that are among its ancestors (bit `j` for the `j`th).
    reaches: u64,
}

/// The document's last changes, each with the heads after it (see the module documentation).
pub struct Recent {
    /// The heads before the first remembered change.
    start: Vec<ChangeHash>,
    entries: VecDeque<Entry>,
    /// How many changes the document held after the last one: a document changed any other way
    /// no longer matches, and the record starts over from its heads.
    num_changes: u64,
}

impl Recent {
    /// A record starting at the document as it is.
    pub fn new(doc: &Automerge) -> Self {
        Self {
            start: doc.get_heads(),
            entries: VecDeque::new(),
            num_changes: doc.stats().num_changes,
        }
    }

    /// Start over if the document changed other than through [`receive`].
    fn keep_up(&mut self, doc: &Automerge) {
        if doc.stats().num_changes != self.num_changes {
            *self = Self::new(doc);
        }
    }

    /// The document's heads.
    fn heads(&self) -> &[ChangeHash] {
        self.entries
            .back()
            .map_or(&self.start, |entry| &entry.heads)
    }

    /// Where `heads` stand among the remembered changes: after the first `n` of them (the heads
    /// are a checkpoint), if they are.
    fn checkpoint(&self, heads: &[ChangeHash]) -> Option<usize> {
        if self.heads() == heads {
            Some(self.entries.len())
        } else if let Some(at) = self.entries.iter().rposition(|entry| entry.heads == heads) {
            Some(at + 1)
        } else {
            (self.start == heads).then_some(0)
        }
    }

    /// The remembered changes among `hashes` and their ancestors, and the heads the record
    /// started from that are (bits as in [`Entry`]); `extra` are changes about to be recorded,
    /// with their bits worked out the same way.
    fn reach(&self, hashes: &[ChangeHash], extra: &[(ChangeHash, u64, u64)]) -> (u64, u64) {
        let (mut ancestors, mut reaches) = (0u64, 0u64);
        for hash in hashes {
            if let Some(entry) = self
                .entries
                .iter()
                .rev()
                .find(|entry| entry.change.hash() == *hash)
            {
                ancestors |= entry.ancestors;
                reaches |= entry.reaches;
            } else if let Some((_, more, reached)) = extra.iter().find(|(seen, ..)| seen == hash) {
                ancestors |= more;
                reaches |= reached;
            } else if let Some(at) = self.start.iter().position(|head| head == hash)
                && at < 64
            {
                reaches |= 1 << at;
            }
        }
        (ancestors, reaches)
    }

    /// Whether every head the record started from is in `reaches`.
    fn reaches_start(&self, reaches: u64) -> bool {
        reaches.count_ones() as usize == self.start.len()
    }

    /// Which remembered changes are among `heads` and their ancestors (bits as in [`Entry`]),
    /// with `extra` about to be recorded after them, when every change before the record is an
    /// ancestor too (each head the record started from is reached); `None` when that is not sure.
    fn ancestors(&self, heads: &[ChangeHash], extra: &[&Change]) -> Option<u64> {
        if self.entries.len() + extra.len() > 64 || self.start.len() > 64 {
            return None;
        }
        let mut marked: Vec<(ChangeHash, u64, u64)> = Vec::with_capacity(extra.len());
        for (at, change) in extra.iter().enumerate() {
            let (ancestors, reaches) = self.reach(change.deps(), &marked);
            let bit = 1u64 << (self.entries.len() + at);
            marked.push((change.hash(), ancestors | bit, reaches));
        }
        let (ancestors, reaches) = self.reach(heads, &marked);
        self.reaches_start(reaches).then_some(ancestors)
    }

    /// The remembered changes that are not among `heads` or their ancestors, oldest first:
    /// automerge's "changes since `heads`". `None` when the record cannot tell.
    fn since(&self, heads: &[ChangeHash]) -> Option<Vec<&Entry>> {
        if let Some(from) = self.checkpoint(heads) {
            return Some(self.entries.range(from..).collect());
        }
        let ancestors = self.ancestors(heads, &[])?;
        Some(
            self.entries
                .iter()
                .enumerate()
                .filter(|(at, _)| ancestors & (1 << at) == 0)
                .map(|(_, entry)| entry)
                .collect(),
        )
    }

    fn record(&mut self, change: Change, heads: Vec<ChangeHash>) {
        if self.entries.len() == KEEP {
            self.forget_oldest();
        }
        let (ancestors, reaches) = self.reach(change.deps(), &[]);
        let ancestors = ancestors | 1 << self.entries.len();
        self.entries.push_back(Entry {
            change,
            heads,
            ancestors,
            reaches,
        });
        self.num_changes += 1;
    }

    /// Drop the oldest remembered change: the record now starts from the heads after it, and
    /// every bit moves down one place.
    fn forget_oldest(&mut self) {
        let Some(oldest) = self.entries.pop_front() else {
            return;
        };
        let new_start = oldest.heads;
        let hash = oldest.change.hash();
        for entry in &mut self.entries {
            let mut reaches = 0u64;
            for (at, head) in new_start.iter().enumerate().take(64) {
                let reached = if *head == hash {
                    entry.ancestors & 1 != 0
                } else {
                    self.start
                        .iter()
                        .position(|old| old == head)
                        .is_some_and(|old| entry.reaches & (1 << old) != 0)
                };
                if reached {
                    reaches |= 1 << at;
                }
            }
            entry.reaches = reaches;
            entry.ancestors >>= 1;
        }
        self.start = new_start;
    }
}

fn supports_v2(state: &sync::State) -> bool {
    state
        .their_capabilities
        .as_ref()
        .is_some_and(|caps| caps.contains(&Capability::MessageV2))
}

/// Whether automerge's general code is needed for this peer whatever the message (an empty
/// document, for one, takes its first changes by loading them, with checks of its own).
fn unusual(doc: &Automerge) -> bool {
    doc.is_empty() || !nothing_queued(doc)
}

/// What [`receive`] did.
pub enum Received<'a> {
    /// The message was taken in, applying these of its changes (if any), in this order.
    Applied(Vec<&'a Change>),
    /// Applying the message's changes failed, as automerge's own receive would have.
    Failed(AutomergeError),
}

/// The heads once `change` is applied on top of `heads` (which hold its dependencies).
fn heads_after(heads: &[ChangeHash], change: &Change) -> Vec<ChangeHash> {
    let mut after: Vec<ChangeHash> = heads
        .iter()
        .filter(|head| !change.deps().contains(head))
        .copied()
        .chain([change.hash()])
        .collect();
    after.sort();
    after
}

/// automerge's `receive_sync_message` for a message whose changes the document lacks (if any)
/// form one line, each on top of the one before and the first on top of changes held (so
/// that automerge can only apply them in this order), from a peer whose heads the record can
/// then place. `carried` and `absent` describe the message's changes (see
/// [`super::changes::changes_in`]). Any other message is handed back untouched.
pub fn receive<'a>(
    doc: &mut Automerge,
    recent: &mut Recent,
    state: &mut sync::State,
    message: sync::Message,
    carried: &'a [Carried],
    absent: &FastSet<ChangeHash>,
) -> Result<Received<'a>, Box<sync::Message>> {
    recent.keep_up(doc);
    if unusual(doc) || message.heads.is_empty() {
        return Err(Box::new(message));
    }
    // The fresh changes, each of which must have come alone.
    let mut fresh: Vec<&'a Change> = Vec::new();
    for carried in carried {
        let Some(change) = &carried.change else {
            return Err(Box::new(message));
        };
        if absent.contains(&carried.hash) && !fresh.iter().any(|seen| seen.hash() == carried.hash) {
            fresh.push(change);
        }
    }
    // One line: each depends on the one before, and otherwise only on changes held.
    for (at, change) in fresh.iter().enumerate() {
        let earlier = &fresh[..at];
        if at > 0 && !change.deps().contains(&fresh[at - 1].hash()) {
            return Err(Box::new(message));
        }
        let others: Vec<ChangeHash> = change
            .deps()
            .iter()
            .filter(|dep| !earlier.iter().any(|seen| seen.hash() == **dep))
            .copied()
            .collect();
        if lacks_any(doc, &others) {
            return Err(Box::new(message));
        }
    }
    // The heads after each, and which of the peer's heads will then be known.
    let before = recent.heads().to_vec();
    let mut steps: Vec<Vec<ChangeHash>> = Vec::with_capacity(fresh.len());
    for change in &fresh {
        let heads = heads_after(steps.last().unwrap_or(&before), change);
        steps.push(heads);
    }
    let after = steps.last().unwrap_or(&before).clone();
    let unknown = lacking(doc, &message.heads);
    let known: Vec<ChangeHash> = message
        .heads
        .iter()
        .filter(|head| {
            !unknown.contains(head) || fresh.iter().any(|change| change.hash() == **head)
        })
        .copied()
        .collect();
    // What the peer's heads show it has, worked out now (the record may forget its oldest
    // change once the fresh ones are in): every change the record holds or is about to that is
    // not among them. No known heads: automerge forgets nothing it sent.
    let later: Option<Vec<ChangeHash>> = if known.is_empty() {
        None
    } else {
        let Some(ancestors) = recent.ancestors(&known, &fresh) else {
            return Err(Box::new(message));
        };
        let hashes = recent
            .entries
            .iter()
            .map(|entry| entry.change.hash())
            .chain(fresh.iter().map(|change| change.hash()));
        Some(
            hashes
                .enumerate()
                .filter(|(at, _)| ancestors & (1 << at) == 0)
                .map(|(_, hash)| hash)
                .collect(),
        )
    };

    // From here on, automerge's steps in its order.
    state.in_flight = false;
    if let Some(caps) = message.supported_capabilities {
        state.their_capabilities = Some(caps);
    }
    let changes_is_empty = message.changes.is_empty();
    if !changes_is_empty {
        if !fresh.is_empty() {
            if let Err(err) = doc.apply_changes(fresh.iter().map(|change| (*change).clone())) {
                return Ok(Received::Failed(err));
            }
            if doc.stats().num_changes == recent.num_changes + fresh.len() as u64
                && nothing_queued(doc)
            {
                for (change, heads) in fresh.iter().zip(steps) {
                    recent.record((*change).clone(), heads);
                }
            } else {
                // Not as expected (cannot happen: their dependencies were held). Start over,
                // and forget what was sent rather than hold anything back.
                *recent = Recent::new(doc);
                state.sent_hashes.clear();
            }
        }
        state.shared_heads = advance_heads(&before, &after, &state.shared_heads);
    }
    // What the peer's heads include, it has: keep only what was sent after them.
    if let Some(later) = later {
        state.sent_hashes.retain(|hash| later.contains(hash));
    }
    if changes_is_empty && message.heads == before {
        state.last_sent_heads.clone_from(&message.heads);
    }
    if known.len() == message.heads.len() {
        state.shared_heads.clone_from(&message.heads);
    } else {
        let mut shared: Vec<ChangeHash> =
            state.shared_heads.iter().chain(&known).copied().collect();
        shared.sort();
        shared.dedup();
        state.shared_heads = shared;
    }
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
    Ok(Received::Applied(fresh))
}

/// automerge's `advance_heads`: the new heads, and the old shared heads still heads.
fn advance_heads(
    old_heads: &[ChangeHash],
    new_heads: &[ChangeHash],
    old_shared: &[ChangeHash],
) -> Vec<ChangeHash> {
    let mut advanced: Vec<ChangeHash> = new_heads
        .iter()
        .filter(|head| !old_heads.contains(head))
        .chain(old_shared.iter().filter(|head| new_heads.contains(head)))
        .copied()
        .collect();
    advanced.sort();
    advanced.dedup();
    advanced
}

/// automerge's `generate_sync_message` for a peer whose shared heads and last sync point are
/// checkpoints and who asks for nothing in particular: `Some` of what automerge would return
/// (with the sync state updated the same way), or `None` to leave it to automerge.
pub fn generate(
    doc: &Automerge,
    recent: &mut Recent,
    state: &mut sync::State,
) -> Option<Option<sync::Message>> {
    recent.keep_up(doc);
    if unusual(doc) || !state.have_responded {
        return None;
    }
    let our_heads = recent.heads().to_vec();
    let their_heads: &[ChangeHash] = state.their_heads.as_deref().unwrap_or(&[]);
    let our_need: Vec<ChangeHash> = if recent.checkpoint(their_heads).is_some() {
        Vec::new()
    } else {
        let mut need: Vec<ChangeHash> = lacking(doc, their_heads).into_iter().collect();
        need.sort();
        need
    };
    let our_have = if our_need.iter().all(|hash| their_heads.contains(hash)) {
        let since = recent.since(&state.shared_heads)?;
        vec![Have {
            last_sync: state.shared_heads.clone(),
            bloom: BloomFilter::from_hashes(since.iter().map(|entry| entry.change.hash())),
        }]
    } else {
        Vec::new()
    };
    if let Some(first) = state.their_have.as_ref().and_then(|have| have.first())
        && lacks_any(doc, &first.last_sync)
    {
        // automerge answers with a reset: rare, left to it.
        return None;
    }

    let mut to_send: Vec<&Change> = Vec::new();
    if let (Some(their_have), Some(their_need)) = (&state.their_have, &state.their_need) {
        if (state.their_heads.as_deref() == Some(&[]) && supports_v2(state))
            || !their_need.is_empty()
            || their_have.len() > 1
        {
            return None;
        }
        if let Some(have) = their_have.first() {
            let mut last_sync = have.last_sync.clone();
            last_sync.sort();
            last_sync.dedup();
            let since = recent.since(&last_sync)?;
            to_send = changes_to_send(&since, &have.bloom);
        }
        to_send.retain(|change| !state.sent_hashes.contains(&change.hash()));
    }

    let heads_unchanged = state.last_sent_heads == our_heads;
    let heads_equal = state.their_heads.as_ref() == Some(&our_heads);
    if heads_unchanged {
        if heads_equal && to_send.is_empty() {
            return Some(None);
        }
        if state.in_flight {
            return Some(None);
        }
    }
    state.have_responded = true;
    state.last_sent_heads.clone_from(&our_heads);
    state
        .sent_hashes
        .extend(to_send.iter().map(|change| change.hash()));
    let (changes, version) = if supports_v2(state) {
        let changes = if to_send.is_empty() {
            Vec::new()
        } else {
            vec![
                to_send
                    .iter()
                    .flat_map(|change| change.raw_bytes())
                    .copied()
                    .collect(),
            ]
        };
        (changes, MessageVersion::V2)
    } else {
        let changes = to_send
            .iter()
            .map(|change| change.raw_bytes().to_vec())
            .collect();
        (changes, MessageVersion::V1)
    };
    state.in_flight = true;
    Some(Some(sync::Message {
        heads: our_heads,
        need: our_need,
        have: our_have,
        changes: changes.into(),
        // automerge names its capabilities in its first answer only, which is left to it.
        supported_capabilities: None,
        version,
    }))
}

/// automerge's `get_hashes_to_send` for one `have` whose last sync point the record can
/// place: the changes since it that the peer's Bloom filter lacks, with every change since that
/// depends on one of them, in the order they were applied (a change comes after those it
/// depends on, so one pass finds them all).
fn changes_to_send<'a>(since: &[&'a Entry], bloom: &BloomFilter) -> Vec<&'a Change> {
    let mut sending: Vec<&'a Change> = Vec::new();
    for entry in since {
        let change = &entry.change;
        let depends_on_sent = change
            .deps()
            .iter()
            .any(|dep| sending.iter().any(|sent| sent.hash() == *dep));
        if depends_on_sent || !bloom.contains_hash(&change.hash()) {
            sending.push(change);
        }
    }
    sending
}

#[cfg(test)]
mod tests {
    //! The shortcut must be automerge, only faster: the same messages and the same sync states.

    use std::collections::VecDeque;

    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, ROOT, sync::SyncDoc};
    use proptest::prelude::*;

    use super::*;
    use crate::sync::core::changes::{changes_in, surely_quiet};

    const CLIENTS: usize = 3;

    fn edit(doc: &mut Automerge, key: &str, n: usize) {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, n as i64).expect("put");
        tx.commit_with(CommitOptions::default().with_time(0));
    }

    /// automerge alone, and the shortcut with automerge behind it, side by side.
    struct Servers {
        reference: Automerge,
        subject: Automerge,
        recent: Recent,
        on_reference: Vec<sync::State>,
        on_subject: Vec<sync::State>,
        /// Which clients have sent something since they connected (the server answers only them).
        connected: Vec<bool>,
        /// How many receives and generates the shortcut answered itself.
        quick: usize,
    }

    impl Servers {
        fn new(base: &Automerge) -> Self {
            let subject = base.clone();
            Self {
                reference: base.clone(),
                recent: Recent::new(&subject),
                subject,
                on_reference: vec![sync::State::new(); CLIENTS],
                on_subject: vec![sync::State::new(); CLIENTS],
                connected: vec![false; CLIENTS],
                quick: 0,
            }
        }

        /// Both receive `message` from client `from`, the subject the way the document core
        /// does; then both answer every client (after a change) or the sender.
        fn receive(&mut self, from: usize, message: sync::Message) -> Vec<Option<sync::Message>> {
            self.connected[from] = true;
            let before = self.reference.get_heads();
            let by_reference = self
                .reference
                .receive_sync_message(&mut self.on_reference[from], message.clone())
                .is_ok();
            let carried = changes_in(&message).expect("readable");
            let hashes: Vec<ChangeHash> = carried.iter().map(|carried| carried.hash).collect();
            let absent = lacking(&self.subject, &hashes);
            let state = &mut self.on_subject[from];
            let by_subject = match receive(
                &mut self.subject,
                &mut self.recent,
                state,
                message,
                &carried,
                &absent,
            ) {
                Ok(Received::Applied(_)) => {
                    self.quick += 1;
                    true
                }
                Ok(Received::Failed(_)) => false,
                Err(message) => self.subject.receive_sync_message(state, *message).is_ok(),
            };
            assert_eq!(by_reference, by_subject, "one refused the message");
            assert_eq!(self.reference.get_heads(), self.subject.get_heads());
            assert_eq!(self.on_reference[from], self.on_subject[from]);
            let changed = self.reference.get_heads() != before;
            (0..CLIENTS)
                .map(|to| {
                    let answer = (changed && self.connected[to]) || to == from;
                    answer.then(|| self.generate(to)).flatten()
                })
                .collect()
        }

        fn generate(&mut self, to: usize) -> Option<sync::Message> {
            let expected = self
                .reference
                .generate_sync_message(&mut self.on_reference[to]);
            let state = &mut self.on_subject[to];
            let got = if surely_quiet(&self.subject, state) {
                None
            } else {
                match generate(&self.subject, &mut self.recent, state) {
                    Some(message) => {
                        self.quick += 1;
                        message
                    }
                    None => self.subject.generate_sync_message(state),
                }
            };
            assert_eq!(expected, got, "different messages for client {to}");
            assert_eq!(
                self.on_reference[to], self.on_subject[to],
                "different sync states for client {to}"
            );
            expected
        }
    }

    /// The everyday exchange, two members on one plan: one edits, the server takes the change
    /// in and passes it on, the other acknowledges. The shortcut answers all of it itself.
    #[test]
    fn the_everyday_exchange_takes_the_shortcut() {
        // A plan of a few changes (with fewer, automerge sends whole documents).
        let mut base = Automerge::new().with_actor(ActorId::from([1; 16]));
        for n in 0..6 {
            edit(&mut base, "goal", n);
        }
        let mut clients: Vec<(Automerge, sync::State)> = (0..2u8)
            .map(|n| {
                (
                    base.clone().with_actor(ActorId::from([n + 2; 16])),
                    sync::State::new(),
                )
            })
            .collect();
        let mut servers = Servers::new(&base);
        // Connect both and settle.
        for _ in 0..3 {
            for (n, (doc, state)) in clients.iter_mut().enumerate() {
                if let Some(message) = doc.generate_sync_message(state) {
                    let answers = servers.receive(n, message);
                    if let Some(Some(answer)) = answers.into_iter().nth(n) {
                        doc.receive_sync_message(state, answer).expect("receive");
                    }
                }
            }
        }
        // The first change after connecting goes through automerge: the partner's last sync
        // point is still where its sync started, before the server's record begins.
        for round in 0..6 {
            let quick_before = servers.quick;
            let (doc, state) = &mut clients[0];
            edit(doc, "next step", round);
            let change = doc.generate_sync_message(state).expect("the edit goes out");
            let answers = servers.receive(0, change);
            // Taken in, acknowledged and passed on, all by the shortcut.
            let quick = if round == 0 { 2 } else { 3 };
            assert_eq!(servers.quick, quick_before + quick, "round {round}");
            let ack = answers[0].clone().expect("the editor hears back");
            let (doc, state) = &mut clients[0];
            doc.receive_sync_message(state, ack).expect("receive");
            let passed_on = answers[1].clone().expect("the partner gets the change");
            let (doc, state) = &mut clients[1];
            doc.receive_sync_message(state, passed_on).expect("receive");
            let ack = doc
                .generate_sync_message(state)
                .expect("the partner acknowledges");
            let answers = servers.receive(1, ack);
            assert!(answers[1].is_none(), "nothing more to say");
            assert_eq!(servers.quick, quick_before + quick + 1, "round {round}");
            assert_eq!(clients[1].0.get_heads(), servers.subject.get_heads());
        }

        // Both edit at the same moment: each change reaches the server before the other's
        // reaches its author. Still the shortcut, all of it.
        for round in 0..4 {
            let quick_before = servers.quick;
            let mut sent = Vec::new();
            for (n, (doc, state)) in clients.iter_mut().enumerate() {
                edit(doc, &format!("step {n}"), round);
                sent.push(doc.generate_sync_message(state).expect("the edit goes out"));
            }
            let mut answers: Vec<Vec<sync::Message>> = vec![Vec::new(); CLIENTS];
            for (n, message) in sent.into_iter().enumerate() {
                for (to, answer) in servers.receive(n, message).into_iter().enumerate() {
                    answers[to].extend(answer);
                }
            }
            // Two changes taken in, each acknowledged and passed on.
            assert_eq!(servers.quick, quick_before + 6, "concurrent round {round}");
            // Then each client takes in what it got and answers, until all is quiet.
            let mut quiet = false;
            while !quiet {
                quiet = true;
                for (n, (doc, state)) in clients.iter_mut().enumerate() {
                    for message in answers[n].drain(..) {
                        doc.receive_sync_message(state, message).expect("receive");
                    }
                    if let Some(message) = doc.generate_sync_message(state) {
                        quiet = false;
                        for (to, answer) in servers.receive(n, message).into_iter().enumerate() {
                            answers[to].extend(answer);
                        }
                    }
                }
            }
            for (doc, _) in &clients {
                assert_eq!(doc.get_heads(), servers.subject.get_heads());
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        Edit(usize),
        /// The client sends, and the server takes it in at once.
        Exchange(usize),
        /// Everything on the way to the client arrives, and it answers at once.
        CatchUp(usize),
        ClientSends(usize),
        DeliverToServer(usize),
        DeliverToClient(usize),
        LoseToServer(usize),
        LoseToClient(usize),
        Reconnect(usize),
        /// Another instance stored a change: both servers take it in (the subject without
        /// telling its record, as a catch-up does) and tell everyone.
        Elsewhere,
        /// The plan's worker was evicted and loaded again: the record starts over.
        Reload,
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        let client = 0..CLIENTS;
        prop_oneof![
            3 => client.clone().prop_map(Step::Edit),
            4 => client.clone().prop_map(Step::Exchange),
            4 => client.clone().prop_map(Step::CatchUp),
            4 => client.clone().prop_map(Step::ClientSends),
            5 => client.clone().prop_map(Step::DeliverToServer),
            5 => client.clone().prop_map(Step::DeliverToClient),
            1 => client.clone().prop_map(Step::LoseToServer),
            1 => client.clone().prop_map(Step::LoseToClient),
            1 => client.prop_map(Step::Reconnect),
            1 => Just(Step::Elsewhere),
            1 => Just(Step::Reload),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Whatever the record says came after some heads is what automerge says, for histories
        /// with concurrent edits, while it forgets its oldest changes (it keeps few in tests).
        #[test]
        fn the_record_knows_what_came_after(
            steps in proptest::collection::vec((0..3u8, 0..3u8, any::<bool>()), 1..40),
        ) {
            let mut writers: Vec<Automerge> = (0..3u8)
                .map(|n| Automerge::new().with_actor(ActorId::from([n + 2; 16])))
                .collect();
            let mut server = Automerge::new();
            let mut recent = Recent::new(&server);
            let mut seen: Vec<ChangeHash> = Vec::new();
            for (n, (writer, other, merge)) in steps.into_iter().enumerate() {
                let (writer, other) = (usize::from(writer), usize::from(other));
                if merge && writer != other {
                    let mut from = writers[other].clone();
                    writers[writer].merge(&mut from).expect("merge");
                    continue;
                }
                let before = writers[writer].get_heads();
                edit(&mut writers[writer], &format!("k{writer}"), n);
                let change = writers[writer].get_changes(&before).remove(0);
                recent.keep_up(&server);
                server.apply_changes([change.clone()]).expect("apply");
                let heads = server.get_heads();
                recent.record(change.clone(), heads.clone());
                seen.push(change.hash());
                // Every change so far, alone and with the one after it, and the heads.
                let mut asked: Vec<Vec<ChangeHash>> = seen.iter().map(|hash| vec![*hash]).collect();
                asked.extend(seen.windows(2).map(|pair| {
                    let mut pair = pair.to_vec();
                    pair.sort();
                    pair
                }));
                asked.push(heads);
                for heads in asked {
                    if let Some(since) = recent.since(&heads) {
                        let ours: Vec<ChangeHash> = since.iter().map(|entry| entry.change.hash()).collect();
                        let automerge: Vec<ChangeHash> =
                            server.get_changes(&heads).iter().map(|change| change.hash()).collect();
                        prop_assert_eq!(ours, automerge, "after {:?}", heads);
                    }
                }
            }
        }

        /// Several members editing, messages late, lost and crossing, reconnections, changes
        /// from another instance and reloads: the shortcut never differs from automerge.
        #[test]
        fn the_shortcut_is_automerge(
            empty in any::<bool>(),
            steps in proptest::collection::vec(arb_step(), 1..80),
        ) {
            let mut base = Automerge::new().with_actor(ActorId::from([1; 16]));
            if !empty {
                for n in 0..6 {
                    edit(&mut base, "goal", n);
                }
            }
            let mut servers = Servers::new(&base);
            let mut clients: Vec<(Automerge, sync::State)> = (0..CLIENTS as u8)
                .map(|n| (base.clone().with_actor(ActorId::from([n + 2; 16])), sync::State::new()))
                .collect();
            let mut to_server: Vec<VecDeque<sync::Message>> = vec![VecDeque::new(); CLIENTS];
            let mut to_client: Vec<VecDeque<sync::Message>> = vec![VecDeque::new(); CLIENTS];
            let mut elsewhere = base.clone().with_actor(ActorId::from([9; 16]));
            for (n, step) in steps.iter().enumerate() {
                match *step {
                    Step::Edit(c) => edit(&mut clients[c].0, &format!("k{c}"), n),
                    Step::ClientSends(c) => {
                        let (doc, state) = &mut clients[c];
                        to_server[c].extend(doc.generate_sync_message(state));
                    }
                    Step::Exchange(c) => {
                        let (doc, state) = &mut clients[c];
                        if let Some(message) = doc.generate_sync_message(state) {
                            for (to, answer) in servers.receive(c, message).into_iter().enumerate() {
                                to_client[to].extend(answer);
                            }
                        }
                    }
                    Step::CatchUp(c) => {
                        let (doc, state) = &mut clients[c];
                        while let Some(message) = to_client[c].pop_front() {
                            doc.receive_sync_message(state, message).expect("receive");
                        }
                        if let Some(message) = doc.generate_sync_message(state) {
                            for (to, answer) in servers.receive(c, message).into_iter().enumerate() {
                                to_client[to].extend(answer);
                            }
                        }
                    }
                    Step::DeliverToServer(c) => {
                        if let Some(message) = to_server[c].pop_front() {
                            for (to, answer) in servers.receive(c, message).into_iter().enumerate() {
                                to_client[to].extend(answer);
                            }
                        }
                    }
                    Step::DeliverToClient(c) => {
                        if let Some(message) = to_client[c].pop_front() {
                            let (doc, state) = &mut clients[c];
                            doc.receive_sync_message(state, message).expect("receive");
                        }
                    }
                    Step::LoseToServer(c) => { to_server[c].pop_front(); }
                    Step::LoseToClient(c) => { to_client[c].pop_front(); }
                    Step::Reconnect(c) => {
                        clients[c].1 = sync::State::new();
                        servers.on_reference[c] = sync::State::new();
                        servers.on_subject[c] = sync::State::new();
                        servers.connected[c] = false;
                        to_server[c].clear();
                        to_client[c].clear();
                    }
                    Step::Elsewhere => {
                        elsewhere.merge(&mut servers.reference.clone()).expect("merge");
                        let before = elsewhere.get_heads();
                        edit(&mut elsewhere, "elsewhere", n);
                        let changes: Vec<Change> = elsewhere.get_changes(&before).into_iter().cloned().collect();
                        servers.reference.apply_changes(changes.clone()).expect("apply");
                        servers.subject.apply_changes(changes).expect("apply");
                        for (to, queue) in to_client.iter_mut().enumerate() {
                            if servers.connected[to] {
                                queue.extend(servers.generate(to));
                            }
                        }
                    }
                    Step::Reload => servers.recent = Recent::new(&servers.subject),
                }
            }
        }
    }
}
