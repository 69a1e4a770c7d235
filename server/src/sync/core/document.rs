//! The sans-IO core of one plan's sync: messages from connected peers go in; messages to send,
//! changes to store and plans to create come out. No sockets, no database, no clock: the
//! document worker does the I/O, and tests drive this directly, in memory.
//!
//! Rules enforced here:
//! - only members of the plan take part; anyone else gets `doc-unavailable`;
//! - each Automerge actor belongs to the account that first uploaded a change with it; a message
//!   carrying a change by an actor bound to another account is refused whole, before anything in
//!   it is applied;
//! - an unknown document that a client syncs with changes becomes a new plan owned by that
//!   client's account (offline creation);
//! - presence (`ephemeral`) is relayed to the other members' connections, deduplicated, never kept;
//! - when an account's last connection to the plan goes (closed, or no longer a member), the
//!   other connections are told in an `ephemeral` message of the server's own,
//!   `{userId, gone: true}` (see [`cairn_shared::protocol::presence_gone`]).

use std::collections::{HashMap, HashSet};

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, AutomergeError, Change, ChangeHash, ReadDoc};
use cairn_shared::protocol::{Message, PeerId};
use cairn_shared::{PlanId, UserId};

use super::changes::{
    Carried, FastMap, FastSet, changes_in, documents_within, fresh_changes, lacking,
    nothing_queued, ops_in, sane_blooms, surely_quiet,
};
use super::shortcut::{self, Received, Recent};
use crate::domain::ChangeBatch;
use crate::domain::StoredChange;

/// Identifies one WebSocket connection (or one HTTP sync call) within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who sent a message: the connection, the client's peer id on it, and the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The connection.
    pub conn: ConnId,
    /// The automerge-repo peer id the client announced in `join`.
    pub peer: PeerId,
    /// The authenticated account.
    pub user: UserId,
}

/// Something for a document to react to.
#[derive(Debug)]
pub enum Input {
    /// A `sync` (the peer has the document) or `request` (the peer lacks it) message.
    Sync {
        /// Who sent it.
        from: Origin,
        /// The Automerge sync message bytes.
        data: Vec<u8>,
        /// Whether it was a `request`.
        is_request: bool,
    },
    /// Presence to relay.
    Ephemeral {
        /// Who sent it.
        from: Origin,
        /// Sender's counter.
        count: u64,
        /// Sender's session.
        session_id: String,
        /// Opaque payload.
        data: Vec<u8>,
    },
    /// Presence a member sent to another instance, relayed here (already checked there).
    RelayedEphemeral {
        /// The sender's peer id.
        sender: PeerId,
        /// Sender's counter.
        count: u64,
        /// Sender's session.
        session_id: String,
        /// Opaque payload.
        data: Vec<u8>,
    },
    /// The connection closed or left.
    Disconnected(ConnId),
    /// The account stopped being a member: its connections lose the plan at once.
    MemberRemoved(UserId),
    /// The account became a member.
    MemberAdded(UserId),
    /// The account's last connection to the plan on another instance went: tell the
    /// connections here it is gone, unless it still has one here.
    GoneElsewhere(UserId),
    /// The plan was deleted: every connection loses it.
    PlanDeleted,
}

/// What a document asks its worker to do, in order: store `batch`, then send `outgoing`, then
/// close `close`.
#[derive(Debug, Default)]
pub struct Effects {
    /// Changes (and possibly the plan itself) to commit before anything below is sent.
    pub batch: ChangeBatch,
    /// Messages for connections.
    pub outgoing: Vec<(ConnId, Message)>,
    /// Connections to close with an `error` message saying why.
    pub close: Vec<(ConnId, String)>,
    /// Accounts whose last connection here to the plan went (for the other instances).
    pub gone: Vec<UserId>,
}

impl Effects {
    /// Whether a message should be sent to `conn` saying `reason`, then the socket closed.
    fn refuse(&mut self, conn: ConnId, reason: impl Into<String>) {
        self.close.push((conn, reason.into()));
    }
}

struct PeerState {
    peer: PeerId,
    user: UserId,
    sync: sync::State,
}

/// Presence sessions relayed from other instances that a plan remembers unless told otherwise.
const DEFAULT_RELAYED_PRESENCE: usize = 1024;
/// Presence sessions the core remembers per connection at most (the connection's own limit is
/// lower; see [`super::connection::Limits`]).
const MAX_SESSIONS_PER_CONNECTION: usize = 64;

/// Whether the plan is stored, or only a candidate for offline creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existence {
    /// The plan is stored; only its members may sync.
    Stored,
    /// No such plan is stored: the first member account to sync changes creates it.
    Unclaimed,
    /// The plan was deleted while loaded.
    Deleted,
}

/// One plan's document and everyone syncing it.
pub struct DocumentCore {
    plan: PlanId,
    document_id: String,
    server: PeerId,
    doc: Automerge,
    existence: Existence,
    members: FastSet<UserId>,
    actors: FastMap<ActorId, UserId>,
    peers: FastMap<ConnId, PeerState>,
    /// The highest presence counter seen per session, to drop duplicates: from this instance's
    /// connections (forgotten when the connection goes; each connection uses few sessions, see
    /// [`super::connection::Limits`])...
    local_presence: FastMap<ConnId, Vec<(String, u64)>>,
    /// ...and relayed from other instances, by sender and session, at most
    /// `max_relayed_presence` (then forgotten: at worst one duplicate is relayed again).
    relayed_presence: HashMap<(PeerId, String), u64>,
    max_relayed_presence: usize,
    /// Changes received from their author but held back by automerge until their dependencies
    /// arrive. automerge's "send everything" replies include them, so another member's device
    /// may later hand one back: that is a relay of a verified change, not a forgery.
    held_back: FastMap<ChangeHash, UserId>,
    /// About how many bytes the plan takes in storage: what was loaded plus every change
    /// accepted since (compaction makes the stored form smaller, never larger).
    stored_bytes: usize,
    /// The most a plan may take; a message or upload that would pass it is refused whole.
    max_bytes: usize,
    /// Automerge operations in the document: what it costs in memory (about half a KiB each
    /// with automerge 0.6), whatever it takes in storage (text compresses very well there).
    ops: u64,
    /// The most operations a plan may hold; a message or upload that would pass it is refused
    /// whole, so a plan loaded in memory never takes more than about this many.
    max_ops: u64,
    /// The last changes with the heads after each, for the everyday exchange (see
    /// [`super::shortcut`]).
    recent: Recent,
    /// Sync steps done by the shortcut and by automerge since last asked (for the metrics).
    steps: (u64, u64),
    /// The presence session the server's own `gone` messages are sent in (fresh for each
    /// loaded document, so a client never drops one as a repeat of a message from before) and
    /// the last counter used in it.
    gone_session: String,
    gone_count: u64,
}

impl std::fmt::Debug for DocumentCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCore")
            .field("plan", &self.plan)
            .field("existence", &self.existence)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl DocumentCore {
    /// A loaded plan: its document, members and actor bindings.
    pub fn new(
        plan: PlanId,
        server: PeerId,
        doc: Automerge,
        existence: Existence,
        members: HashSet<UserId>,
        actors: HashMap<ActorId, UserId>,
    ) -> Self {
        Self {
            plan,
            document_id: plan.document_id().to_string(),
            server,
            existence,
            members: members.into_iter().collect(),
            actors: actors.into_iter().collect(),
            peers: FastMap::default(),
            local_presence: FastMap::default(),
            relayed_presence: HashMap::new(),
            max_relayed_presence: DEFAULT_RELAYED_PRESENCE,
            held_back: FastMap::default(),
            stored_bytes: 0,
            max_bytes: usize::MAX,
            ops: doc.stats().num_ops,
            max_ops: u64::MAX,
            recent: Recent::new(&doc),
            doc,
            steps: (0, 0),
            gone_session: uuid::Uuid::new_v4().to_string(),
            gone_count: 0,
        }
    }

    /// Limit the plan's size: it takes `stored_bytes` now and may grow to `max_bytes`.
    pub fn with_size_limit(mut self, stored_bytes: usize, max_bytes: usize) -> Self {
        self.stored_bytes = stored_bytes;
        self.max_bytes = max_bytes;
        self
    }

    /// Limit how many Automerge operations the plan may hold (what it costs in memory).
    pub fn with_op_limit(mut self, max_ops: u64) -> Self {
        self.max_ops = max_ops;
        self
    }

    /// Whether `incoming` more operations would take the plan past its operation limit.
    fn would_outgrow_ops(&self, incoming: u64) -> bool {
        self.ops.saturating_add(incoming) > self.max_ops
    }

    fn too_many_ops_message(&self) -> String {
        format!(
            "refused: the plan would grow past its limit of {} operations",
            self.max_ops
        )
    }

    /// Remember at most `max` presence sessions relayed from other instances.
    pub fn set_presence_limit(&mut self, max: usize) {
        self.max_relayed_presence = max.max(1);
    }

    /// How many presence sessions the plan remembers now (from connections here and relayed).
    pub fn presence_sessions(&self) -> usize {
        self.local_presence.values().map(Vec::len).sum::<usize>() + self.relayed_presence.len()
    }

    /// The plan takes `bytes` in storage now (after a compaction, say).
    pub fn set_stored_bytes(&mut self, bytes: usize) {
        self.stored_bytes = bytes;
    }

    /// Whether `incoming` more bytes would take the plan past its size limit.
    fn would_outgrow(&self, incoming: usize) -> bool {
        self.stored_bytes.saturating_add(incoming) > self.max_bytes
    }

    fn too_large_message(&self) -> String {
        format!(
            "refused: the plan would grow past its size limit of {} bytes",
            self.max_bytes
        )
    }

    /// The document as it is now (including changes not yet committed by the worker).
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// How many sync steps the shortcut and automerge's general code each did since the last
    /// call (see [`super::shortcut`]).
    pub fn take_steps(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.steps)
    }

    /// Whether any connection is syncing this document.
    pub fn has_peers(&self) -> bool {
        !self.peers.is_empty()
    }

    /// Whether `user` may read the stored plan.
    pub fn is_member(&self, user: UserId) -> bool {
        self.existence == Existence::Stored && self.members.contains(&user)
    }

    /// Whether the plan is stored, unclaimed or deleted.
    pub fn existence(&self) -> Existence {
        self.existence
    }

    /// The connections syncing this document.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.peers.keys().copied()
    }

    fn unavailable(&self, to: &PeerId) -> Message {
        Message::DocUnavailable {
            sender_id: self.server.clone(),
            target_id: to.clone(),
            document_id: self.document_id.clone(),
        }
    }

    fn may_sync(&self, user: UserId) -> bool {
        match self.existence {
            Existence::Stored => self.members.contains(&user),
            Existence::Unclaimed => true,
            Existence::Deleted => false,
        }
    }

    /// React to one input, adding what must happen to `effects`.
    pub fn handle(&mut self, input: Input, effects: &mut Effects) {
        match input {
            Input::Sync {
                from,
                data,
                is_request,
            } => self.receive_sync(from, &data, is_request, effects),
            Input::Ephemeral {
                from,
                count,
                session_id,
                data,
            } => self.relay_ephemeral(from, count, session_id, data, effects),
            Input::RelayedEphemeral {
                sender,
                count,
                session_id,
                data,
            } => {
                if self.existence == Existence::Stored {
                    self.relay_to_peers(&sender, None, count, session_id, data, effects);
                }
            }
            Input::Disconnected(conn) => {
                self.local_presence.remove(&conn);
                if let Some(state) = self.peers.remove(&conn) {
                    self.tell_gone(state.user, true, effects);
                }
            }
            Input::MemberRemoved(user) => {
                self.members.remove(&user);
                self.drop_peers(|state| state.user == user, effects);
                // Every instance with the plan loaded reads the removal itself.
                self.tell_gone(user, false, effects);
            }
            Input::MemberAdded(user) => {
                self.members.insert(user);
            }
            Input::GoneElsewhere(user) => self.tell_gone(user, false, effects),
            Input::PlanDeleted => {
                self.existence = Existence::Deleted;
                self.members.clear();
                self.drop_peers(|_| true, effects);
            }
        }
    }

    /// Unless `user` still has a connection syncing the plan here, tell every connection that
    /// does that the account is gone (and, when `here`, the other instances too).
    fn tell_gone(&mut self, user: UserId, here: bool, effects: &mut Effects) {
        if self.existence != Existence::Stored || self.peers.values().any(|s| s.user == user) {
            return;
        }
        if here {
            effects.gone.push(user);
        }
        if self.peers.is_empty() {
            return;
        }
        self.gone_count += 1;
        let data = cairn_shared::protocol::presence_gone(&user.to_string());
        for (conn, state) in &self.peers {
            effects.outgoing.push((
                *conn,
                Message::Ephemeral {
                    sender_id: self.server.clone(),
                    target_id: state.peer.clone(),
                    document_id: self.document_id.clone(),
                    count: self.gone_count,
                    session_id: self.gone_session.clone(),
                    data: data.clone(),
                },
            ));
        }
    }

    fn drop_peers(&mut self, which: impl Fn(&PeerState) -> bool, effects: &mut Effects) {
        let gone: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(_, state)| which(state))
            .map(|(conn, _)| *conn)
            .collect();
        for conn in gone {
            if let Some(state) = self.peers.remove(&conn) {
                effects.outgoing.push((conn, self.unavailable(&state.peer)));
            }
        }
    }

    fn receive_sync(&mut self, from: Origin, data: &[u8], is_request: bool, effects: &mut Effects) {
        let unclaimed_request = self.existence == Existence::Unclaimed && is_request;
        if !self.may_sync(from.user) || unclaimed_request {
            self.peers.remove(&from.conn);
            effects
                .outgoing
                .push((from.conn, self.unavailable(&from.peer)));
            return;
        }
        let message = match sync::Message::decode(data) {
            Ok(message) if sane_blooms(&message) => message,
            _ => {
                effects.refuse(
                    from.conn,
                    "the sync message is not a valid Automerge sync message",
                );
                return;
            }
        };
        match documents_within(message.changes.iter(), self.max_ops) {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(plan.id = %self.plan, "refused a whole document past the plan operation limit");
                effects.refuse(from.conn, self.too_many_ops_message());
                return;
            }
            Err(err) => {
                effects.refuse(from.conn, err.to_string());
                return;
            }
        }
        let carried = match changes_in(&message) {
            Ok(carried) => carried,
            Err(err) => {
                effects.refuse(from.conn, err.to_string());
                return;
            }
        };
        let hashes: Vec<ChangeHash> = carried.iter().map(|carried| carried.hash).collect();
        let absent = lacking(&self.doc, &hashes);
        // Authorship, checked before anything is applied: an actor already bound to another
        // account refuses the whole message. (A change automerge holds queued was checked when
        // it first came.)
        let mut new_actors = Vec::new();
        for Carried { hash, actor, .. } in &carried {
            if !absent.contains(hash) {
                continue;
            }
            match self.actors.get(actor) {
                Some(owner) if *owner != from.user && self.held_back.get(hash) != Some(owner) => {
                    tracing::warn!(
                        plan.id = %self.plan,
                        user.id = %from.user,
                        "refused a change by an actor bound to another account"
                    );
                    effects.refuse(
                        from.conn,
                        "refused: the message holds a change whose author is another account",
                    );
                    return;
                }
                Some(_) => {}
                None => {
                    if !new_actors.contains(actor) {
                        new_actors.push(actor.clone());
                    }
                }
            }
        }

        let incoming: usize = if carried.iter().any(|carried| absent.contains(&carried.hash)) {
            message.changes.iter().map(<[u8]>::len).sum()
        } else {
            0
        };
        if self.would_outgrow(incoming) {
            tracing::info!(plan.id = %self.plan, "refused changes past the plan size limit");
            effects.refuse(from.conn, self.too_large_message());
            return;
        }
        let incoming_ops: u64 = carried
            .iter()
            .filter(|carried| absent.contains(&carried.hash))
            .map(|carried| carried.ops)
            .sum();
        if self.would_outgrow_ops(incoming_ops) {
            tracing::info!(plan.id = %self.plan, "refused changes past the plan operation limit");
            effects.refuse(from.conn, self.too_many_ops_message());
            return;
        }

        let state = self.peers.entry(from.conn).or_insert_with(|| PeerState {
            peer: from.peer.clone(),
            user: from.user,
            sync: sync::State::new(),
        });
        // The everyday message first (one fresh change, or an acknowledgement), then automerge.
        // The shortcut's changes are the message's own; automerge's are held here.
        let by_automerge: Vec<Change>;
        let applied: Result<Vec<&Change>, _> = match shortcut::receive(
            &mut self.doc,
            &mut self.recent,
            &mut state.sync,
            message,
            &carried,
            &absent,
        ) {
            Ok(Received::Applied(changes)) => {
                self.steps.0 += 1;
                Ok(changes)
            }
            Ok(Received::Failed(err)) => Err(err),
            Err(message) => {
                self.steps.1 += 1;
                let before = self.doc.get_heads();
                // Which changes the message applies: worked out from the message itself when
                // it can be, rather than by asking automerge (`get_changes` compares clocks).
                let fresh = fresh_changes(&self.doc, &carried, &absent);
                let held_before = self.doc.stats().num_changes;
                match self.doc.receive_sync_message(&mut state.sync, *message) {
                    Ok(()) => {
                        by_automerge =
                            self.applied_by_automerge(&before, &carried, fresh, held_before);
                        Ok(by_automerge.iter().collect())
                    }
                    Err(err) => Err(err),
                }
            }
        };
        let applied = match applied {
            Ok(applied) => applied,
            Err(err) => {
                tracing::info!(plan.id = %self.plan, error = %err, "sync message could not be applied");
                self.peers.remove(&from.conn);
                effects.refuse(
                    from.conn,
                    "the sync message could not be applied to the plan",
                );
                return;
            }
        };
        let changed = !applied.is_empty();
        for change in &applied {
            self.held_back.remove(&change.hash());
        }
        if changed {
            self.ops = self.doc.stats().num_ops;
        }
        self.store_accepted(from.user, &new_actors, applied, effects);
        if changed && self.existence == Existence::Unclaimed {
            // The first changes to an unknown document: it becomes this account's plan.
            self.existence = Existence::Stored;
            self.members.insert(from.user);
            effects.batch.create_owner = Some(from.user);
            // Other connections that were probing the same unknown id are not members.
            let owner = from.user;
            self.drop_peers(|state| state.user != owner, effects);
        }
        if changed {
            let conns: Vec<ConnId> = self.peers.keys().copied().collect();
            for conn in conns {
                self.generate_for(conn, effects);
            }
        } else {
            self.generate_for(from.conn, effects);
        }
    }

    /// The changes automerge's own receive applied: the message's fresh changes when that is
    /// sure (nothing queued before or after, and exactly as many more changes as it brought),
    /// else asked of automerge; changes it holds back are remembered with their authors.
    fn applied_by_automerge(
        &mut self,
        before: &[ChangeHash],
        carried: &[Carried],
        fresh: Option<Vec<Change>>,
        held_before: u64,
    ) -> Vec<Change> {
        match fresh {
            Some(fresh)
                if nothing_queued(&self.doc)
                    && self.doc.stats().num_changes == held_before + fresh.len() as u64 =>
            {
                fresh
            }
            _ => {
                let applied: Vec<Change> =
                    self.doc.get_changes(before).into_iter().cloned().collect();
                for Carried { hash, actor, .. } in carried {
                    if self.doc.get_change_by_hash(hash).is_none()
                        && let Some(author) = self.actors.get(actor)
                    {
                        self.held_back.entry(*hash).or_insert(*author);
                    }
                }
                applied
            }
        }
    }

    fn generate_for(&mut self, conn: ConnId, effects: &mut Effects) {
        let Some(state) = self.peers.get_mut(&conn) else {
            return;
        };
        if surely_quiet(&self.doc, &state.sync) {
            self.steps.0 += 1;
            return;
        }
        let message = match shortcut::generate(&self.doc, &mut self.recent, &mut state.sync) {
            Some(message) => {
                self.steps.0 += 1;
                message
            }
            None => {
                self.steps.1 += 1;
                self.doc.generate_sync_message(&mut state.sync)
            }
        };
        if let Some(message) = message {
            effects.outgoing.push((
                conn,
                Message::Sync {
                    sender_id: self.server.clone(),
                    target_id: state.peer.clone(),
                    document_id: self.document_id.clone(),
                    data: message.encode(),
                },
            ));
        }
    }

    /// Changes accepted by the worker outside the sync protocol (HTTP sync): tell every peer.
    pub fn announce_changes(&mut self, effects: &mut Effects) {
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for conn in conns {
            self.generate_for(conn, effects);
        }
    }

    /// Apply raw changes uploaded over HTTP by `user`, with the same authorship rules as sync.
    /// Returns the document's heads afterwards.
    pub fn apply_uploaded(
        &mut self,
        user: UserId,
        bytes: &[u8],
        effects: &mut Effects,
    ) -> Result<Vec<ChangeHash>, UploadError> {
        if !self.may_sync(user) || self.existence != Existence::Stored {
            return Err(UploadError::NotAMember);
        }
        if self.would_outgrow(bytes.len()) {
            return Err(UploadError::TooLarge);
        }
        // Counted from the changes themselves, before anything is built from them in memory.
        if !documents_within([bytes], self.max_ops).map_err(|_| UploadError::Unreadable)?
            || self.would_outgrow_ops(ops_in(bytes).map_err(|_| UploadError::Unreadable)?)
        {
            return Err(UploadError::TooManyOperations(self.max_ops));
        }
        // The whole body must be well-formed chunks; changes depending on ones we hold are fine.
        if !super::upload::well_formed(bytes) {
            return Err(UploadError::Unreadable);
        }
        // Read the upload on a scratch copy first: nothing is applied unless all of it is allowed.
        let before = self.doc.get_heads();
        let mut scratch = self.doc.clone();
        scratch
            .load_incremental(bytes)
            .map_err(|_| UploadError::Unreadable)?;
        // A whole document among the chunks is only counted once read.
        if scratch.stats().num_ops > self.max_ops {
            return Err(UploadError::TooManyOperations(self.max_ops));
        }
        let uploaded: Vec<Change> = scratch.get_changes(&before).into_iter().cloned().collect();
        let mut new_actors = Vec::new();
        for change in &uploaded {
            match self.actors.get(change.actor_id()) {
                Some(owner) if *owner != user => return Err(UploadError::NotYourActor),
                Some(_) => {}
                None if !new_actors.contains(change.actor_id()) => {
                    new_actors.push(change.actor_id().clone())
                }
                None => {}
            }
        }
        self.doc = scratch;
        self.ops = self.doc.stats().num_ops;
        self.store_accepted(user, &new_actors, &uploaded, effects);
        if !effects.batch.changes.is_empty() {
            self.announce_changes(effects);
        }
        Ok(self.doc.get_heads())
    }

    /// Bind `new_actors` to `user`, then hand `changes` (applied to the document) to the store,
    /// each with the account its actor is bound to.
    fn store_accepted<'c>(
        &mut self,
        user: UserId,
        new_actors: &[ActorId],
        changes: impl IntoIterator<Item = &'c Change>,
        effects: &mut Effects,
    ) {
        for actor in new_actors {
            self.actors.insert(actor.clone(), user);
            effects
                .batch
                .new_bindings
                .push((actor.to_hex_string(), user));
        }
        for change in changes {
            self.stored_bytes = self.stored_bytes.saturating_add(change.raw_bytes().len());
            let author = self.actors.get(change.actor_id()).copied().unwrap_or(user);
            effects.batch.changes.push(StoredChange::of(change, author));
        }
    }

    fn relay_ephemeral(
        &mut self,
        from: Origin,
        count: u64,
        session_id: String,
        data: Vec<u8>,
        effects: &mut Effects,
    ) {
        if !self.may_sync(from.user) || self.existence != Existence::Stored {
            effects
                .outgoing
                .push((from.conn, self.unavailable(&from.peer)));
            return;
        }
        self.relay_to_peers(
            &from.peer,
            Some(from.conn),
            count,
            session_id,
            data,
            effects,
        );
    }

    /// Relay presence from `sender` to every connection but `except`, once per counter value.
    fn relay_to_peers(
        &mut self,
        sender: &PeerId,
        except: Option<ConnId>,
        count: u64,
        session_id: String,
        data: Vec<u8>,
        effects: &mut Effects,
    ) {
        let fresh = match except {
            Some(conn) => {
                let sessions = self.local_presence.entry(conn).or_default();
                match sessions
                    .iter_mut()
                    .find(|(session, _)| *session == session_id)
                {
                    Some((_, seen)) if *seen >= count => false,
                    Some((_, seen)) => {
                        *seen = count;
                        true
                    }
                    None => {
                        // The connection caps its sessions; this only guards the core alone.
                        if sessions.len() >= MAX_SESSIONS_PER_CONNECTION {
                            sessions.remove(0);
                        }
                        sessions.push((session_id.clone(), count));
                        true
                    }
                }
            }
            None => {
                let key = (sender.clone(), session_id.clone());
                match self.relayed_presence.get_mut(&key) {
                    Some(seen) if *seen >= count => false,
                    Some(seen) => {
                        *seen = count;
                        true
                    }
                    None => {
                        if self.relayed_presence.len() >= self.max_relayed_presence {
                            self.relayed_presence.clear();
                        }
                        self.relayed_presence.insert(key, count);
                        true
                    }
                }
            }
        };
        if !fresh {
            return;
        }
        for (conn, state) in &self.peers {
            if Some(*conn) == except {
                continue;
            }
            effects.outgoing.push((
                *conn,
                Message::Ephemeral {
                    sender_id: sender.clone(),
                    target_id: state.peer.clone(),
                    document_id: self.document_id.clone(),
                    count,
                    session_id: session_id.clone(),
                    data: data.clone(),
                },
            ));
        }
    }
}

/// What another instance stored for a plan that is loaded here too (see
/// [`DocumentCore::catch_up`]).
#[derive(Debug, Default)]
pub struct StoredElsewhere {
    /// The plan's members now.
    pub members: HashSet<UserId>,
    /// Its actor bindings now.
    pub actors: HashMap<ActorId, UserId>,
    /// A snapshot and changes (storage chunks, concatenated) that the document may lack.
    pub bytes: Vec<u8>,
}

impl DocumentCore {
    /// Take in what another instance stored for this plan: changes it already checked and
    /// committed, and the members and actor bindings as they are now. Connections of accounts
    /// that are no longer members lose the plan; every other connection hears of new changes.
    /// Nothing taken in here is stored again. A plan loaded here as unclaimed becomes the stored
    /// plan it now is.
    pub fn catch_up(
        &mut self,
        stored: StoredElsewhere,
        effects: &mut Effects,
    ) -> Result<(), AutomergeError> {
        if self.existence == Existence::Deleted {
            return Ok(());
        }
        self.existence = Existence::Stored;
        self.members = stored.members.into_iter().collect();
        let members = &self.members;
        let gone: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(_, state)| !members.contains(&state.user))
            .map(|(conn, _)| *conn)
            .collect();
        let mut gone_users = Vec::new();
        for conn in gone {
            if let Some(state) = self.peers.remove(&conn) {
                effects.outgoing.push((conn, self.unavailable(&state.peer)));
                gone_users.push(state.user);
            }
        }
        gone_users.sort_unstable();
        gone_users.dedup();
        for user in gone_users {
            // Every instance with the plan loaded reads the removal itself.
            self.tell_gone(user, false, effects);
        }
        self.actors.extend(stored.actors);
        if stored.bytes.is_empty() {
            return Ok(());
        }
        let before = self.doc.get_heads();
        self.doc.load_incremental(&stored.bytes)?;
        self.ops = self.doc.stats().num_ops;
        let applied = self.doc.get_changes(&before);
        if applied.is_empty() {
            return Ok(());
        }
        for change in &applied {
            self.held_back.remove(&change.hash());
            self.stored_bytes = self.stored_bytes.saturating_add(change.raw_bytes().len());
        }
        self.announce_changes(effects);
        Ok(())
    }
}

/// Why an HTTP upload of changes was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// The caller is not a member (or the plan is gone).
    #[error("plan not found")]
    NotAMember,
    /// The body is not Automerge changes.
    #[error("the body is not a sequence of Automerge changes")]
    Unreadable,
    /// A change's actor is bound to another account.
    #[error("a change's author is another account")]
    NotYourActor,
    /// The changes would take the plan past its size limit.
    #[error("the plan would grow past its size limit")]
    TooLarge,
    /// The changes would take the plan past its limit of operations.
    #[error("the plan would grow past its limit of {0} operations")]
    TooManyOperations(u64),
}
