//! Property tests of the sans-IO sync core:
//!
//! 1. random and mangled frames into [`Connection::on_frame`] always give a sensible [`Action`]
//!    ([`frames`]);
//! 2. random and mangled sync data into [`DocumentCore::handle`] never panics, never moves the
//!    document without handing the applied changes to the store, and a refusal closes only the
//!    sender's connection ([`sync_data`]);
//! 3. random edit / sync / offline / reconnect schedules of two member clients converge, and the
//!    stored plan (skeleton plus every stored change, in order) equals the server's document
//!    ([`convergence`], driving the two devices and the server of [`world`]).
//!
//! Everything random comes from proptest's RNG: actor ids are fixed and every change is committed
//! at time zero, so a failure replays from its seed (`PROPTEST_RNG_SEED`) and shrinks to a short
//! schedule.
//!
//! [`regressions`] holds plain tests for core bugs these properties found (a member's device
//! refused as a forger for relaying a held-back change, and hostile Bloom filters that made
//! automerge divide by zero or allocate without bound); properties 2 and 3 also replay their
//! saved cases in `proptest-regressions/sync/core/proptests/`.
//!
//! This module holds what several of them share: the stored plan and its people, byte
//! mutations, and the checks on what the server stores and advertises.

mod convergence;
mod frames;
mod regressions;
mod sync_data;
mod world;

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use automerge::sync;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, AutoSerde, Automerge, Change, ChangeHash, ObjType, ROOT, ReadDoc,
};
use cairn_shared::plan::{LIST_KEYS, SCHEMA_VERSION};
use cairn_shared::protocol::{Message, PeerId};
use cairn_shared::{PlanId, UserId};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::document::{ConnId, DocumentCore, Existence, Origin};
use crate::domain::StoredChange;

const SERVER: &str = "cairn-test-server";
const STORAGE: &str = "test-storage-id";
const OWNER: UserId = UserId(Uuid::from_u128(0x0001));
const SUPPORTER: UserId = UserId(Uuid::from_u128(0x0002));
const STRANGER: UserId = UserId(Uuid::from_u128(0x0003));
const PLAN: PlanId = PlanId(Uuid::from_u128(0x00c0_ffee));
/// The actor that wrote the stored skeleton (bound to the owner).
const SKELETON_ACTOR: u8 = 0x5e;

fn actor(tag: u8) -> ActorId {
    ActorId::from([tag; 16])
}

/// Commit at time zero, so equal edits give equal change hashes on every run.
fn commit(doc: &mut AutoCommit) {
    doc.commit_with(CommitOptions::default().with_time(0));
}

/// A v1 plan skeleton, as `cairn_shared::plan::new_plan_document` writes it but deterministic.
fn skeleton_bytes() -> &'static [u8] {
    static SKELETON: OnceLock<Vec<u8>> = OnceLock::new();
    SKELETON.get_or_init(|| {
        let mut doc = AutoCommit::new().with_actor(actor(SKELETON_ACTOR));
        doc.put(ROOT, "schemaVersion", SCHEMA_VERSION).unwrap();
        let title = doc.put_object(ROOT, "title", ObjType::Text).unwrap();
        doc.splice_text(&title, 0, 0, "Plan").unwrap();
        doc.put_object(ROOT, "whatMatters", ObjType::Text).unwrap();
        for key in LIST_KEYS {
            doc.put_object(ROOT, key, ObjType::List).unwrap();
        }
        commit(&mut doc);
        doc.save()
    })
}

fn fork(tag: u8) -> AutoCommit {
    AutoCommit::load(skeleton_bytes())
        .unwrap()
        .with_actor(actor(tag))
}

/// The stored plan as the worker loads it: skeleton, owner and supporter as members.
fn stored_core() -> DocumentCore {
    DocumentCore::new(
        PLAN,
        PeerId::from(SERVER),
        Automerge::load(skeleton_bytes()).unwrap(),
        Existence::Stored,
        HashSet::from([OWNER, SUPPORTER]),
        HashMap::from([(actor(SKELETON_ACTOR), OWNER)]),
    )
}

fn json<R: ReadDoc>(doc: &R) -> serde_json::Value {
    serde_json::to_value(AutoSerde::from(doc)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Byte mutations, shared by the frame and the sync-data properties.

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Keep only a prefix.
    Truncate(Index),
    Insert(Index, u8),
    Delete(Index),
    /// Overwrite a run of bytes.
    Overwrite(Index, Vec<u8>),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => (any::<Index>(), vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Insert(_, byte) = mutation {
            bytes.push(*byte);
        }
        return;
    }
    match mutation {
        Mutation::Flip(at, mask) => {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        Mutation::Insert(at, byte) => bytes.insert(at.index(bytes.len() + 1), *byte),
        Mutation::Delete(at) => {
            bytes.remove(at.index(bytes.len()));
        }
        Mutation::Overwrite(at, run) => {
            let start = at.index(bytes.len());
            for (slot, byte) in bytes[start..].iter_mut().zip(run) {
                *slot = *byte;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Members' devices and what the server stores and advertises, for properties 2 and 3.

/// The actor tag of the owner's device.
const OWNER_DEVICE: u8 = 0x01;
/// The actor tag of the supporter's device.
const SUPPORTER_DEVICE: u8 = 0x02;

/// Who sends sync data in property 2: 0 the owner, 1 the supporter, 2 a non-member.
fn sender_origin(sender: usize) -> Origin {
    let user = [OWNER, SUPPORTER, STRANGER][sender];
    Origin {
        conn: ConnId(sender as u64 + 1),
        peer: PeerId(format!("peer-{sender}")),
        user,
    }
}

fn parsed(change: &StoredChange) -> Change {
    Change::from_bytes(change.data.clone()).expect("a stored change is a readable change")
}

/// The plan as the worker loads it from the store: the snapshot (here the skeleton), then every
/// stored change in order, loaded as one byte string.
fn stored_plan(stored: &[StoredChange]) -> Automerge {
    let mut bytes = skeleton_bytes().to_vec();
    for change in stored {
        bytes.extend_from_slice(&change.data);
    }
    Automerge::load(&bytes).unwrap()
}

/// The stored plan is the server's document; the changes are stored in causal order, each once.
fn prop_assert_stored_plan_is_the_merge(
    doc: &Automerge,
    stored: &[StoredChange],
) -> Result<(), TestCaseError> {
    let skeleton = Automerge::load(skeleton_bytes()).unwrap();
    let mut known: HashSet<ChangeHash> = skeleton
        .get_changes(&[])
        .iter()
        .map(|change| change.hash())
        .collect();
    for change in stored {
        let real = parsed(change);
        for dep in real.deps() {
            prop_assert!(
                known.contains(dep),
                "change {} is stored before its dependency {dep}",
                change.hash
            );
        }
        prop_assert!(
            known.insert(real.hash()),
            "change {} is stored twice",
            change.hash
        );
    }
    let rebuilt = stored_plan(stored);
    prop_assert_eq!(rebuilt.get_heads(), doc.get_heads());
    prop_assert_eq!(json(&rebuilt), json(doc));
    let accepted: HashSet<ChangeHash> = doc
        .get_changes(&skeleton.get_heads())
        .iter()
        .map(|change| change.hash())
        .collect();
    let kept: HashSet<ChangeHash> = stored.iter().map(|change| parsed(change).hash()).collect();
    prop_assert_eq!(kept, accepted, "an accepted change was not stored");
    Ok(())
}

/// Durability before advertising: a sync message may name as heads only changes of the skeleton
/// or already handed to the store, and may carry only those or changes a client sent (automerge
/// also ships the changes it holds back for missing dependencies). Says what is wrong, if anything.
fn advertises_undurable(
    message: &Message,
    durable: &HashSet<String>,
    received: &HashSet<ChangeHash>,
) -> Option<String> {
    let Message::Sync { data, .. } = message else {
        return None;
    };
    let skeleton: HashSet<String> = Automerge::load(skeleton_bytes())
        .unwrap()
        .get_changes(&[])
        .iter()
        .map(|change| change.hash().to_string())
        .collect();
    let message = match sync::Message::decode(data) {
        Ok(message) => message,
        Err(err) => return Some(format!("an undecodable sync message: {err}")),
    };
    let carried = match super::changes::changes_in(&message) {
        Ok(carried) => carried,
        Err(err) => return Some(format!("a sync message with unreadable changes: {err}")),
    };
    let is_durable = |hash: &ChangeHash| {
        let hash = hash.to_string();
        skeleton.contains(&hash) || durable.contains(&hash)
    };
    if let Some(head) = message.heads.iter().find(|head| !is_durable(head)) {
        return Some(format!("advertised head {head} before storing it"));
    }
    carried
        .iter()
        .find(|carried| !is_durable(&carried.hash) && !received.contains(&carried.hash))
        .map(|carried| {
            let hash = carried.hash;
            format!("sent change {hash}, which it neither stored nor received")
        })
}

/// The changes a sync message carries, if it is readable.
fn carried_by(data: &[u8]) -> Vec<ChangeHash> {
    sync::Message::decode(data)
        .ok()
        .and_then(|message| super::changes::changes_in(&message).ok())
        .map(|carried| carried.into_iter().map(|carried| carried.hash).collect())
        .unwrap_or_default()
}
