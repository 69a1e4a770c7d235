//! This process's registry: the open sync connections (whose account and device session, their
//! outboxes, which plans each has synced) and the loaded plans' workers (their mailboxes). Plain
//! maps under short locks, never held across an `.await`; the hub routes through them, the
//! fan-out closes connections through them, and a worker leaves them when it stops.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_shared::{PlanId, SessionId, UserId};
use tokio::sync::mpsc;

use super::core::document::ConnId;
use super::lock;
use super::mailbox::Command;
use super::outbox::Outbox;

/// One open connection.
pub(super) struct ConnEntry {
    pub(super) user: UserId,
    pub(super) session: SessionId,
    outbox: Outbox,
    /// Plans this connection has synced as a member (each in the access log once).
    synced: HashSet<PlanId>,
    /// Unknown document ids this connection loaded as candidate plans (offline creation).
    unclaimed: HashSet<PlanId>,
}

/// The connections and loaded plans of this process.
pub(super) struct Registry {
    workers: Mutex<HashMap<PlanId, mpsc::Sender<Command>>>,
    connections: Mutex<HashMap<ConnId, ConnEntry>>,
    next_conn: AtomicU64,
    /// Unknown document ids one connection may sync (each loads an empty candidate plan).
    max_unclaimed_per_connection: usize,
}

impl Registry {
    pub(super) fn new(max_unclaimed_per_connection: usize) -> Self {
        Self {
            workers: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            max_unclaimed_per_connection,
        }
    }

    /// How many plan documents are in memory now.
    pub(super) fn loaded_documents(&self) -> usize {
        lock(&self.workers).len()
    }

    /// How many sync connections `user` has open now.
    pub(super) fn connections_of(&self, user: UserId) -> usize {
        lock(&self.connections)
            .values()
            .filter(|entry| entry.user == user)
            .count()
    }

    /// How many sync connections are open now.
    pub(super) fn open_connections(&self) -> usize {
        lock(&self.connections).len()
    }

    /// Register a new connection of `user`'s device `session`, writing to `outbox`.
    pub(super) fn add_connection(
        &self,
        user: UserId,
        session: SessionId,
        outbox: Outbox,
    ) -> ConnId {
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        lock(&self.connections).insert(
            conn,
            ConnEntry {
                user,
                session,
                outbox,
                synced: HashSet::new(),
                unclaimed: HashSet::new(),
            },
        );
        conn
    }

    /// Forget a connection that closed.
    pub(super) fn forget_connection(&self, conn: ConnId) {
        lock(&self.connections).remove(&conn);
    }

    /// The connection's device session, the first time it syncs `plan` as a member; `None` on
    /// every later call (and for a connection that is gone), so each is recorded once.
    pub(super) fn first_sync(&self, conn: ConnId, plan: PlanId) -> Option<SessionId> {
        let mut connections = lock(&self.connections);
        let entry = connections.get_mut(&conn)?;
        entry.synced.insert(plan).then_some(entry.session)
    }

    /// Whether `conn` may load `plan` as a candidate for offline creation: each loads a document
    /// that lives while the connection syncs it, so one connection names only a few.
    pub(super) fn may_load_unclaimed(&self, conn: ConnId, plan: PlanId) -> bool {
        let mut connections = lock(&self.connections);
        let Some(entry) = connections.get_mut(&conn) else {
            return false;
        };
        if entry.unclaimed.contains(&plan) {
            return true;
        }
        if entry.unclaimed.len() >= self.max_unclaimed_per_connection {
            return false;
        }
        entry.unclaimed.insert(plan);
        true
    }

    /// Ask every connection `which` picks to close, saying `reason`.
    pub(super) fn close_where(&self, which: impl Fn(&ConnEntry) -> bool, reason: &str) {
        for entry in lock(&self.connections).values().filter(|e| which(e)) {
            entry.outbox.close(reason);
        }
    }

    /// Make sure a connection a worker gave up on (closed, or hopelessly slow) closes.
    pub(super) fn kill(&self, conn: ConnId) {
        if let Some(entry) = lock(&self.connections).get(&conn) {
            entry.outbox.closed().cancel();
        }
    }

    /// The mailbox of the plan's worker, if the plan is loaded.
    pub(super) fn worker(&self, plan: PlanId) -> Option<mpsc::Sender<Command>> {
        lock(&self.workers).get(&plan).cloned()
    }

    /// Every loaded plan.
    pub(super) fn loaded_plans(&self) -> Vec<PlanId> {
        lock(&self.workers).keys().copied().collect()
    }

    /// The plan's worker, or a new one made by `spawn` (under the lock, so a plan never has two).
    pub(super) fn worker_or_spawn(
        &self,
        plan: PlanId,
        spawn: impl FnOnce() -> mpsc::Sender<Command>,
    ) -> mpsc::Sender<Command> {
        let mut workers = lock(&self.workers);
        workers.entry(plan).or_insert_with(spawn).clone()
    }

    /// Forget the plan's worker if it is still `stale` (it stopped just now).
    pub(super) fn forget_worker(&self, plan: PlanId, stale: &mpsc::Sender<Command>) {
        let mut workers = lock(&self.workers);
        if workers
            .get(&plan)
            .is_some_and(|current| current.same_channel(stale))
        {
            workers.remove(&plan);
        }
    }

    /// A worker that stops leaves the registry.
    pub(super) fn remove_worker(&self, plan: PlanId) {
        lock(&self.workers).remove(&plan);
    }

    /// Remove the plan's worker if `may_leave` says so, decided under the lock so that no
    /// message is routed to a worker that is going away.
    pub(super) fn evict_if(&self, plan: PlanId, may_leave: impl FnOnce() -> bool) -> bool {
        let mut workers = lock(&self.workers);
        if !may_leave() {
            return false;
        }
        workers.remove(&plan);
        true
    }
}
