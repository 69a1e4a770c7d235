//! Two member devices and the server's core, in memory: edits, sync messages, dropped and new
//! connections and restarts, with what the server stored and anything it did wrong. Property 3
//! and the regression tests drive it.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use cairn_shared::UserId;
use cairn_shared::protocol::{Message, PeerId};
use proptest::prelude::*;
use proptest::sample::Index;

use super::{
    OWNER, OWNER_DEVICE, PLAN, SERVER, SKELETON_ACTOR, SUPPORTER, SUPPORTER_DEVICE, actor,
    advertises_undurable, carried_by, commit, fork, stored_core, stored_plan,
};
use crate::domain::StoredChange;
use crate::sync::core::document::{ConnId, DocumentCore, Effects, Existence, Input, Origin};

/// Client 0 is the owner's device, client 1 the supporter's.
pub(super) const CLIENTS: usize = 2;
const ROOT_KEYS: [&str; 3] = ["whatMattersNote", "supporterNote", "nextStep"];

#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Put a string into a root key.
    Put {
        client: usize,
        key: usize,
        value: u8,
    },
    /// Push a goal `{id, title}` to the end of `goals`.
    PushGoal { client: usize, title: u8 },
    /// Change the title of a goal.
    RetitleGoal {
        client: usize,
        goal: Index,
        title: u8,
    },
    /// Delete a goal.
    DeleteGoal { client: usize, goal: Index },
    /// Type a letter into `whatMatters`.
    Type {
        client: usize,
        at: Index,
        letter: u8,
    },
    /// The client sends its next sync message; the server's answers queue at the clients.
    Sync { client: usize },
    /// The client reads the oldest queued server message.
    Deliver { client: usize },
    /// The connection drops; `noticed` says whether the server hears of it.
    Offline { client: usize, noticed: bool },
    /// A new connection with a fresh sync state (the client keeps its document).
    Reconnect { client: usize },
    /// The server restarts (or evicts the plan and loads it again): every connection drops and
    /// the document is loaded from the store, as the worker loads it.
    Restart,
}

pub(super) fn arb_op() -> impl Strategy<Value = Op> {
    let client = || 0..CLIENTS;
    prop_oneof![
        3 => (client(), 0..ROOT_KEYS.len(), 0..4u8)
            .prop_map(|(client, key, value)| Op::Put { client, key, value }),
        2 => (client(), 0..4u8).prop_map(|(client, title)| Op::PushGoal { client, title }),
        1 => (client(), any::<Index>(), 0..4u8)
            .prop_map(|(client, goal, title)| Op::RetitleGoal { client, goal, title }),
        1 => (client(), any::<Index>()).prop_map(|(client, goal)| Op::DeleteGoal { client, goal }),
        1 => (client(), any::<Index>(), 0..4u8)
            .prop_map(|(client, at, letter)| Op::Type { client, at, letter }),
        5 => client().prop_map(|client| Op::Sync { client }),
        5 => client().prop_map(|client| Op::Deliver { client }),
        1 => (client(), any::<bool>()).prop_map(|(client, noticed)| Op::Offline { client, noticed }),
        2 => client().prop_map(|client| Op::Reconnect { client }),
        1 => Just(Op::Restart),
    ]
}

pub(super) struct Device {
    pub(super) user: UserId,
    pub(super) peer: PeerId,
    pub(super) doc: AutoCommit,
    /// `None` while offline.
    pub(super) conn: Option<ConnId>,
    pub(super) state: sync::State,
    /// Server sync messages queued on the current connection, oldest first.
    pub(super) inbox: VecDeque<Vec<u8>>,
    pub(super) goals_made: u32,
}

impl Device {
    fn list(&self, key: &str) -> Option<ObjId> {
        match self.doc.get(ROOT, key).ok().flatten() {
            Some((Value::Object(ObjType::List), id)) => Some(id),
            _ => None,
        }
    }

    fn edit(&mut self, client: usize, op: &Op) {
        match op {
            Op::Put { key, value, .. } => {
                self.doc
                    .put(ROOT, ROOT_KEYS[*key], format!("{client}:{value}"))
                    .unwrap();
            }
            Op::PushGoal { title, .. } => {
                // Only into the plan's own list: a client without the skeleton has none yet.
                let Some(goals) = self.list("goals") else {
                    return;
                };
                self.goals_made += 1;
                let end = self.doc.length(&goals);
                let goal = self.doc.insert_object(&goals, end, ObjType::Map).unwrap();
                let id = format!("goal-{client}-{}", self.goals_made);
                self.doc.put(&goal, "id", id).unwrap();
                self.doc.put(&goal, "title", format!("t{title}")).unwrap();
            }
            Op::RetitleGoal { goal, title, .. } => {
                let Some(goals) = self.list("goals") else {
                    return;
                };
                let len = self.doc.length(&goals);
                if len == 0 {
                    return;
                }
                if let Ok(Some((Value::Object(ObjType::Map), goal))) =
                    self.doc.get(&goals, goal.index(len))
                {
                    self.doc
                        .put(&goal, "title", format!("{client}:t{title}"))
                        .unwrap();
                }
            }
            Op::DeleteGoal { goal, .. } => {
                let Some(goals) = self.list("goals") else {
                    return;
                };
                let len = self.doc.length(&goals);
                if len > 0 {
                    self.doc.delete(&goals, goal.index(len)).unwrap();
                }
            }
            Op::Type { at, letter, .. } => {
                let Some((Value::Object(ObjType::Text), text)) =
                    self.doc.get(ROOT, "whatMatters").ok().flatten()
                else {
                    return;
                };
                let len = self.doc.length(&text);
                let letter = char::from(b'a' + letter);
                self.doc
                    .splice_text(&text, at.index(len + 1), 0, &letter.to_string())
                    .unwrap();
            }
            _ => unreachable!("not an edit"),
        }
        commit(&mut self.doc);
    }
}

pub(super) struct World {
    pub(super) core: DocumentCore,
    pub(super) devices: Vec<Device>,
    pub(super) stored: Vec<StoredChange>,
    pub(super) bindings: Vec<(String, UserId)>,
    /// Anything the server said besides sync messages, or connections it closed.
    pub(super) trouble: Vec<String>,
    /// Every change a client sent the server.
    pub(super) received: HashSet<ChangeHash>,
    pub(super) next_conn: u64,
}

impl World {
    pub(super) fn new(starts_with_plan: [bool; CLIENTS]) -> Self {
        let users = [OWNER, SUPPORTER];
        let tags = [OWNER_DEVICE, SUPPORTER_DEVICE];
        let devices = (0..CLIENTS)
            .map(|i| Device {
                user: users[i],
                peer: PeerId(format!("device-{i}")),
                doc: if starts_with_plan[i] {
                    fork(tags[i])
                } else {
                    AutoCommit::new().with_actor(actor(tags[i]))
                },
                conn: Some(ConnId(i as u64 + 1)),
                state: sync::State::new(),
                inbox: VecDeque::new(),
                goals_made: 0,
            })
            .collect();
        Self {
            core: stored_core(),
            devices,
            stored: Vec::new(),
            bindings: Vec::new(),
            trouble: Vec::new(),
            received: HashSet::new(),
            next_conn: CLIENTS as u64 + 1,
        }
    }

    pub(super) fn feed(&mut self, input: Input) {
        let mut effects = Effects::default();
        self.core.handle(input, &mut effects);
        if let Some(owner) = effects.batch.create_owner {
            self.trouble.push(format!("plan created again for {owner}"));
        }
        self.stored.extend(effects.batch.changes);
        self.bindings.extend(effects.batch.new_bindings);
        let durable: HashSet<String> = self.stored.iter().map(|c| c.hash.clone()).collect();
        for (conn, message) in &effects.outgoing {
            if let Some(problem) = advertises_undurable(message, &durable, &self.received) {
                self.trouble.push(format!("{conn:?}: {problem}"));
            }
        }
        for (conn, message) in effects.outgoing {
            let Some(device) = self.devices.iter_mut().find(|d| d.conn == Some(conn)) else {
                continue; // a connection that is gone
            };
            match message {
                Message::Sync {
                    data, target_id, ..
                } if target_id == device.peer => device.inbox.push_back(data),
                // The other device reconnected: the server says its account's last
                // connection went (when it was that account's only one).
                Message::Ephemeral {
                    sender_id,
                    target_id,
                    data,
                    ..
                } if target_id == device.peer
                    && sender_id.0 == SERVER
                    && [OWNER, SUPPORTER].iter().any(|member| {
                        data == cairn_shared::protocol::presence_gone(&member.to_string())
                    }) => {}
                other => self.trouble.push(format!("{conn:?} was sent {other:?}")),
            }
        }
        for (conn, reason) in effects.close {
            self.trouble.push(format!("{conn:?} was closed: {reason}"));
        }
    }

    /// The client sends its next sync message, if it has one. True if it sent something.
    pub(super) fn sync(&mut self, client: usize) -> bool {
        let device = &mut self.devices[client];
        let Some(conn) = device.conn else {
            return false;
        };
        let Some(message) = device.doc.sync().generate_sync_message(&mut device.state) else {
            return false;
        };
        let data = message.encode();
        self.received.extend(carried_by(&data));
        let input = Input::Sync {
            from: Origin {
                conn,
                peer: device.peer.clone(),
                user: device.user,
            },
            data,
            // automerge-repo asks with `request` while it has nothing of the document.
            is_request: device.doc.get_heads().is_empty(),
        };
        self.feed(input);
        true
    }

    /// The client reads the oldest server message queued for it. True if there was one.
    pub(super) fn deliver(&mut self, client: usize) -> bool {
        let device = &mut self.devices[client];
        let Some(data) = device.inbox.pop_front() else {
            return false;
        };
        let message = match sync::Message::decode(&data) {
            Ok(message) => message,
            Err(err) => {
                self.trouble
                    .push(format!("client {client} got an undecodable message: {err}"));
                return true;
            }
        };
        if let Err(err) = device
            .doc
            .sync()
            .receive_sync_message(&mut device.state, message)
        {
            self.trouble
                .push(format!("client {client} could not apply a message: {err}"));
        }
        true
    }

    pub(super) fn offline(&mut self, client: usize, noticed: bool) {
        let device = &mut self.devices[client];
        device.inbox.clear();
        if let Some(conn) = device.conn.take()
            && noticed
        {
            self.feed(Input::Disconnected(conn));
        }
    }

    fn restart(&mut self) {
        for device in &mut self.devices {
            device.conn = None;
            device.inbox.clear();
        }
        let mut actors = HashMap::from([(actor(SKELETON_ACTOR), OWNER)]);
        for (hex, user) in &self.bindings {
            actors.insert(ActorId::try_from(hex.as_str()).unwrap(), *user);
        }
        self.core = DocumentCore::new(
            PLAN,
            PeerId::from(SERVER),
            stored_plan(&self.stored),
            Existence::Stored,
            HashSet::from([OWNER, SUPPORTER]),
            actors,
        );
    }

    fn reconnect(&mut self, client: usize) {
        self.offline(client, true);
        let device = &mut self.devices[client];
        device.conn = Some(ConnId(self.next_conn));
        device.state = sync::State::new();
        self.next_conn += 1;
    }

    pub(super) fn run(&mut self, op: &Op) {
        match *op {
            Op::Put { client, .. }
            | Op::PushGoal { client, .. }
            | Op::RetitleGoal { client, .. }
            | Op::DeleteGoal { client, .. }
            | Op::Type { client, .. } => self.devices[client].edit(client, op),
            Op::Sync { client } => {
                self.sync(client);
            }
            Op::Deliver { client } => {
                self.deliver(client);
            }
            Op::Offline { client, noticed } => self.offline(client, noticed),
            Op::Reconnect { client } => self.reconnect(client),
            Op::Restart => self.restart(),
        }
    }

    /// Everyone reconnects, then messages flow until nobody has anything to say. False if that
    /// never happens.
    pub(super) fn reconnect_all_and_settle(&mut self) -> bool {
        for client in 0..CLIENTS {
            self.reconnect(client);
        }
        for _ in 0..100 {
            let mut quiet = true;
            for client in 0..CLIENTS {
                quiet &= !self.sync(client);
            }
            for client in 0..CLIENTS {
                while self.deliver(client) {
                    quiet = false;
                }
            }
            if quiet {
                return true;
            }
        }
        false
    }
}
