//! Property 2: random and mangled sync data into [`DocumentCore::handle`], from members and a
//! non-member.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ROOT, ReadDoc, Value};
use cairn_shared::protocol::{Message, PeerId};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::{
    Mutation, OWNER, OWNER_DEVICE, SKELETON_ACTOR, STRANGER, SUPPORTER_DEVICE, actor,
    advertises_undurable, arb_mutation, carried_by, commit, fork, mutate, parsed,
    prop_assert_stored_plan_is_the_merge, sender_origin, skeleton_bytes, stored_core,
};
use crate::domain::StoredChange;
use crate::sync::core::document::{ConnId, Effects, Input, Origin};

fn v1_with_changes(heads: Vec<ChangeHash>, changes: Vec<Vec<u8>>) -> Vec<u8> {
    sync::Message {
        heads,
        need: vec![],
        have: vec![],
        changes: changes.into(),
        supported_capabilities: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

/// Real sync messages a client could send the server about the stored plan, computed once.
fn real_messages() -> &'static [Vec<u8>] {
    static REAL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    REAL.get_or_init(|| {
        let skeleton_heads = Automerge::load(skeleton_bytes()).unwrap().get_heads();
        let mut messages = Vec::new();

        // A client that lacks the document asks for it.
        let empty = Automerge::new();
        messages.push(
            empty
                .generate_sync_message(&mut sync::State::new())
                .unwrap()
                .encode(),
        );

        // The owner's device with two offline edits: its opening message.
        let mut owner = fork(OWNER_DEVICE);
        owner.put(ROOT, "whatMattersNote", "family").unwrap();
        commit(&mut owner);
        let goals = match owner.get(ROOT, "goals").unwrap() {
            Some((Value::Object(ObjType::List), id)) => id,
            other => panic!("no goals list: {other:?}"),
        };
        let goal = owner.insert_object(&goals, 0, ObjType::Map).unwrap();
        owner.put(&goal, "id", "goal-1").unwrap();
        commit(&mut owner);
        let mut owner_state = sync::State::new();
        let opening = owner
            .sync()
            .generate_sync_message(&mut owner_state)
            .unwrap();
        messages.push(opening.clone().encode());

        // Its follow-up after hearing the server: the changes, as automerge sends them.
        let mut core = stored_core();
        let mut effects = Effects::default();
        core.handle(
            Input::Sync {
                from: Origin {
                    conn: ConnId(1),
                    peer: PeerId::from("owner-device"),
                    user: OWNER,
                },
                data: opening.encode(),
                is_request: false,
            },
            &mut effects,
        );
        for (_, reply) in effects.outgoing {
            if let Message::Sync { data, .. } = reply {
                let reply = sync::Message::decode(&data).unwrap();
                owner
                    .sync()
                    .receive_sync_message(&mut owner_state, reply)
                    .unwrap();
            }
        }
        messages.push(
            owner
                .sync()
                .generate_sync_message(&mut owner_state)
                .unwrap()
                .encode(),
        );

        // The same changes as a v1 message; only the second one (its dependency missing); and
        // the whole document as one v2 chunk.
        let changes: Vec<Vec<u8>> = owner
            .get_changes(&skeleton_heads)
            .iter()
            .map(|change| change.raw_bytes().to_vec())
            .collect();
        let heads = owner.get_heads();
        messages.push(v1_with_changes(heads.clone(), changes.clone()));
        messages.push(v1_with_changes(heads.clone(), changes[1..].to_vec()));
        messages.push(
            sync::Message {
                heads,
                need: vec![],
                have: vec![],
                changes: vec![owner.save()].into(),
                supported_capabilities: None,
                version: sync::MessageVersion::V2,
            }
            .encode(),
        );

        // The supporter's device with one edit.
        let mut supporter = fork(SUPPORTER_DEVICE);
        supporter
            .put(ROOT, "supporterNote", "office hours")
            .unwrap();
        commit(&mut supporter);
        let change = supporter.get_changes(&skeleton_heads)[0]
            .raw_bytes()
            .to_vec();
        messages.push(v1_with_changes(supporter.get_heads(), vec![change]));

        // A peer that needs a change nobody has.
        let unknown = ChangeHash([0xab; 32]);
        messages.push(
            sync::Message {
                heads: vec![unknown],
                need: vec![unknown],
                have: vec![],
                changes: Vec::<Vec<u8>>::new().into(),
                supported_capabilities: None,
                version: sync::MessageVersion::V1,
            }
            .encode(),
        );
        messages
    })
}

#[derive(Debug, Clone)]
enum SyncData {
    Random(Vec<u8>),
    Real(Index, Vec<Mutation>),
}

impl SyncData {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Random(bytes) => bytes.clone(),
            Self::Real(which, mutations) => {
                let real = real_messages();
                let mut bytes = real[which.index(real.len())].clone();
                for mutation in mutations {
                    mutate(&mut bytes, mutation);
                }
                bytes
            }
        }
    }
}

fn arb_sync_data() -> impl Strategy<Value = SyncData> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..64).prop_map(SyncData::Random),
        1 => (any::<Index>(), Just(vec![])).prop_map(|(which, none)| SyncData::Real(which, none)),
        3 => (any::<Index>(), vec(arb_mutation(), 1..4))
            .prop_map(|(which, mutations)| SyncData::Real(which, mutations)),
    ]
}

/// One sync input: who sends it (0 owner, 1 supporter, 2 a non-member), what, and whether as a
/// `request`.
#[derive(Debug, Clone)]
struct Sent {
    sender: usize,
    data: SyncData,
    is_request: bool,
}

fn arb_sent() -> impl Strategy<Value = Sent> {
    (
        prop_oneof![3 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)],
        arb_sync_data(),
        any::<bool>(),
    )
        .prop_map(|(sender, data, is_request)| Sent {
            sender,
            data,
            is_request,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Random and mangled sync data from members and a non-member: no panic; the heads move only
    /// together with exactly the applied changes in the batch, each stored with the account its
    /// actor is bound to; a refusal stores nothing and closes only the sender; a non-member gets
    /// only `doc-unavailable`; and the stored plan stays the merge of what was stored.
    #[test]
    fn any_sync_data_is_applied_whole_or_refused_for_that_connection(
        inputs in vec(arb_sent(), 1..8),
    ) {
        let mut core = stored_core();
        let mut bindings = HashMap::from([(actor(SKELETON_ACTOR), OWNER)]);
        let mut stored: Vec<StoredChange> = Vec::new();
        let mut received = HashSet::new();
        for sent in &inputs {
            let from = sender_origin(sent.sender);
            let data = sent.data.bytes();
            received.extend(carried_by(&data));
            let before = core.doc().get_heads();
            let peers_before: HashSet<ConnId> = core.connections().collect();
            let mut effects = Effects::default();
            core.handle(
                Input::Sync { from: from.clone(), data: data.clone(), is_request: sent.is_request },
                &mut effects,
            );
            let after = core.doc().get_heads();
            let batch = &effects.batch;
            prop_assert!(batch.create_owner.is_none(), "a stored plan is never created again");

            // Refused: only the sender's connection closes, and nothing happened.
            for (conn, _) in &effects.close {
                prop_assert_eq!(*conn, from.conn, "a refusal closed another connection");
            }
            if !effects.close.is_empty() {
                prop_assert_eq!(&after, &before, "a refused message moved the heads");
                prop_assert!(batch.is_empty(), "a refused message stored something");
                prop_assert!(effects.outgoing.is_empty(), "a refused message answered");
            }
            let peers_after: HashSet<ConnId> = core.connections().collect();
            for conn in &peers_before {
                prop_assert!(
                    *conn == from.conn || peers_after.contains(conn),
                    "another connection was dropped"
                );
            }

            // A non-member learns nothing and changes nothing.
            if from.user == STRANGER {
                prop_assert!(batch.is_empty());
                prop_assert_eq!(&after, &before);
                prop_assert!(effects.close.is_empty());
                prop_assert_eq!(effects.outgoing.len(), 1);
                let answered_unavailable = matches!(
                    &effects.outgoing[0],
                    (conn, Message::DocUnavailable { .. }) if *conn == from.conn
                );
                prop_assert!(answered_unavailable, "a non-member got {:?}", effects.outgoing);
                prop_assert!(!peers_after.contains(&from.conn));
            }

            // Everything sent is a valid sync message for a connection syncing the plan.
            for (conn, message) in &effects.outgoing {
                match message {
                    Message::Sync { data, target_id, .. } => {
                        prop_assert!(peers_after.contains(conn));
                        prop_assert!(sync::Message::decode(data).is_ok());
                        if *conn == from.conn {
                            prop_assert_eq!(target_id, &from.peer);
                        }
                    }
                    Message::DocUnavailable { .. } => prop_assert_eq!(*conn, from.conn),
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            // New actors are bound to the sender, once.
            for (hex, user) in &batch.new_bindings {
                prop_assert_eq!(*user, from.user);
                let bound = ActorId::try_from(hex.as_str()).unwrap();
                prop_assert!(bindings.insert(bound, *user).is_none(), "an actor was bound twice");
            }
            // The heads moved exactly by the stored changes, each with its actor's account.
            let applied: HashSet<String> = core
                .doc()
                .get_changes(&before)
                .iter()
                .map(|change| change.hash().to_string())
                .collect();
            let in_batch: HashSet<String> = batch.changes.iter().map(|c| c.hash.clone()).collect();
            prop_assert_eq!(&in_batch, &applied);
            prop_assert_eq!(in_batch.len(), batch.changes.len(), "a change is in the batch twice");
            prop_assert_eq!(batch.changes.is_empty(), after == before);
            for change in &batch.changes {
                let real = parsed(change);
                prop_assert_eq!(&change.hash, &real.hash().to_string());
                prop_assert_eq!(&change.actor, &real.actor_id().to_hex_string());
                prop_assert_eq!(
                    Some(&change.author_id),
                    bindings.get(real.actor_id()),
                    "a change was stored with an author its actor is not bound to"
                );
            }
            stored.extend(effects.batch.changes);
            let durable: HashSet<String> = stored.iter().map(|c| c.hash.clone()).collect();
            for (_, message) in &effects.outgoing {
                let problem = advertises_undurable(message, &durable, &received);
                prop_assert!(problem.is_none(), "{:?}", problem);
            }
        }
        prop_assert_stored_plan_is_the_merge(core.doc(), &stored)?;
    }
}
