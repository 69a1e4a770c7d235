//! One plan's worker: a task that owns the plan's [`DocumentCore`] and does its I/O. It applies a
//! batch of commands, commits every accepted change in one transaction (group commit), and only
//! then sends anything whose heads include them. It catches up with what other instances stored,
//! records first syncs in the plan's access log (off the sync path), checks the plan against the
//! schema when it is quiet, records its title for the plan list, compacts its stored changes,
//! and leaves memory when nobody has been connected for the idle time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use automerge::ChangeHash;
use cairn_shared::protocol::PeerId;
use cairn_shared::{PlanId, SessionId, UserId};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::core::document::{ConnId, DocumentCore, Effects, Existence, Input, StoredElsewhere};
use super::fanout::Fanout;
use super::loading::{StorageMarks, actor_map, load_core, truncate_title};
use super::mailbox::{ChangesReply, Command, HubError, Reader, UploadReply, fail_command};
use super::outbox::Outbox;
use super::registry::Registry;
use super::{SyncConfig, gauge_value};
use crate::domain::{AccessEvent, AccessRecord, PlanTitle};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// What every plan's worker works with, shared by the workers and the hub that starts them.
pub(super) struct Handles {
    pub(super) store: Store,
    pub(super) metrics: Metrics,
    pub(super) config: SyncConfig,
    /// The server's peer id in the protocol.
    pub(super) server: PeerId,
    pub(super) registry: Arc<Registry>,
    pub(super) fanout: Fanout,
    /// Plans being read from storage now: each load holds a permit, so however many requests
    /// and sockets ask at once, at most this many documents are being built.
    pub(super) loads: Arc<Semaphore>,
    /// Where workers and their side tasks are tracked (drained on shutdown).
    pub(super) tracker: TaskTracker,
    pub(super) shutdown: CancellationToken,
}

/// One plan's worker task: owns its [`DocumentCore`] and does its I/O.
pub(super) struct Worker {
    handles: Arc<Handles>,
    plan: PlanId,
    core: DocumentCore,
    outboxes: HashMap<ConnId, Outbox>,
    /// Connections already checked for the access log, so the registry is asked once per
    /// connection.
    synced: HashSet<ConnId>,
    /// Changes stored outside the snapshot.
    uncompacted: usize,
    /// Since when the document has changed without being checked against the schema (`None`:
    /// checked since its last change).
    unvalidated_since: Option<tokio::time::Instant>,
    /// When it last changed: it is checked once it has been quiet for [`VALIDATE_WHEN_QUIET`].
    last_changed: tokio::time::Instant,
    /// The schema issue last recorded for the plan.
    schema_issue: Option<String>,
    /// The title last recorded beside the plan row (for the plan list).
    title: PlanTitle,
    /// Whether the plan was last recorded as having fields to settle (for `/metrics`).
    open_conflicts: bool,
    /// How far the document includes what is stored (see [`crate::store::PlanCatchUp`]).
    marks: StorageMarks,
    /// When storage was last read because an account this document does not know as a member
    /// sent something: at most once per [`STRANGER_RECHECK`] each, so a stranger's messages
    /// never turn into a stream of database reads.
    stranger_checks: HashMap<UserId, tokio::time::Instant>,
    /// The presence sessions the document remembered when last counted in the metrics.
    presence_counted: usize,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.handles
            .metrics
            .presence_sessions
            .sub(gauge_value(self.presence_counted));
    }
}

/// How often a message from an account that is not (yet) a member here makes the worker look in
/// storage for a membership granted on another instance.
const STRANGER_RECHECK: Duration = Duration::from_secs(5);

/// A plan is checked against the schema once it has had no change for this long (a person
/// typing a goal sends a change every keystroke or so; the check reads the whole document)...
const VALIDATE_WHEN_QUIET: Duration = Duration::from_secs(2);
/// ...or, while it keeps changing, this long after the first change not checked yet.
const VALIDATE_AT_MOST_AFTER: Duration = Duration::from_secs(30);

/// How many queued commands a worker applies before one group commit.
const BATCH: usize = 64;

impl Worker {
    pub(super) async fn run(
        handles: Arc<Handles>,
        plan: PlanId,
        existence: Existence,
        mut rx: mpsc::Receiver<Command>,
    ) {
        let (schema_issue, title, open_conflicts) = match handles.store.plan(plan).await {
            Ok(Some(stored)) => (stored.schema_issue, stored.title, stored.open_conflicts),
            _ => (None, PlanTitle::NotRecorded, false),
        };
        let loaded = {
            // Waiting here holds nothing but this task: messages for the plan queue in its
            // channel meanwhile (and their senders wait once it is full).
            let _permit = handles.loads.acquire().await;
            load_core(
                &handles.store,
                &handles.server,
                plan,
                existence,
                &handles.config,
            )
            .await
        };
        if existence == Existence::Stored && loaded.is_ok() {
            handles.metrics.plan_loads.inc();
        }
        let (core, uncompacted, marks) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(plan.id = %plan, error = %err, "sync: could not load the plan");
                handles.registry.remove_worker(plan);
                rx.close();
                while let Some(command) = rx.recv().await {
                    fail_command(command, "the plan could not be loaded; try again");
                }
                return;
            }
        };
        let mut worker = Worker {
            handles,
            plan,
            core,
            outboxes: HashMap::new(),
            synced: HashSet::new(),
            uncompacted,
            unvalidated_since: (existence == Existence::Stored).then(tokio::time::Instant::now),
            last_changed: tokio::time::Instant::now(),
            schema_issue,
            title,
            open_conflicts,
            marks,
            stranger_checks: HashMap::new(),
            presence_counted: 0,
        };
        let presence_limit = worker.handles.config.max_presence_ids_per_plan;
        worker.core.set_presence_limit(presence_limit);
        let idle = worker.handles.config.idle_evict;
        // One wait for shutdown for the worker's whole life, not a new one per message.
        let handles = worker.handles.clone();
        let shutdown = handles.shutdown.cancelled();
        tokio::pin!(shutdown);
        // One timer for the schema check, moved only to an earlier time: every change moves
        // the check later, and a timer reset at each message costs more than one that fires
        // early now and then and is set again.
        let validate_timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(validate_timer);
        let mut timer_at: Option<tokio::time::Instant> = None;
        loop {
            let validate_at = worker.unvalidated_since.map(|since| {
                (worker.last_changed + VALIDATE_WHEN_QUIET).min(since + VALIDATE_AT_MOST_AFTER)
            });
            if let Some(at) = validate_at
                && timer_at.is_none_or(|set| at < set)
            {
                validate_timer.as_mut().reset(at);
                timer_at = Some(at);
            }
            let first = tokio::select! {
                command = rx.recv() => command,
                () = &mut validate_timer, if timer_at.is_some() => {
                    timer_at = None;
                    if validate_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                        worker.validate().await;
                    }
                    continue;
                }
                () = tokio::time::sleep(idle), if !worker.core.has_peers() => {
                    if worker.unvalidated_since.is_some() {
                        worker.validate().await;
                    }
                    if worker.try_evict(&rx) { return; }
                    continue;
                }
                () = &mut shutdown => None,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            if !worker.apply(batch).await {
                break;
            }
            if worker.core.existence() == Existence::Deleted {
                break;
            }
        }
        worker.handles.registry.remove_worker(worker.plan);
        rx.close();
        while let Some(command) = rx.recv().await {
            fail_command(command, "the plan is no longer available here; reconnect");
        }
    }

    /// Leave memory if nobody is connected and nothing is queued; decided under the registry's
    /// lock so no message is routed to a worker that is going away.
    fn try_evict(&self, rx: &mpsc::Receiver<Command>) -> bool {
        let evicted = self
            .handles
            .registry
            .evict_if(self.plan, || !self.core.has_peers() && rx.is_empty());
        if evicted {
            tracing::debug!(plan.id = %self.plan, "plan evicted from memory");
        }
        evicted
    }

    /// Apply a batch, commit what it accepted, then send. False if the worker must stop.
    async fn apply(&mut self, batch: Vec<Command>) -> bool {
        let mut effects = Effects::default();
        if self.must_catch_up(&batch) {
            self.catch_up(&mut effects).await;
        }
        let Some(taken) = self.take_in(batch, &mut effects) else {
            return false;
        };
        let created_by = effects.batch.create_owner;
        let stored_count = effects.batch.changes.len();
        let stored = self
            .handles
            .store
            .append_changes(
                self.plan,
                std::mem::take(&mut effects.batch),
                chrono::Utc::now(),
            )
            .await;
        if let Err(err) = stored {
            self.not_stored(err, taken.uploads, effects);
            return false;
        }
        if created_by.is_some() {
            tracing::info!(plan.id = %self.plan, "plan created by offline sync");
            self.record_title().await;
        }
        self.record_accesses(created_by, taken.opened);
        self.answer(taken.uploads, taken.reads, taken.document_reads);
        self.count(stored_count, &effects);
        if stored_count > 0 {
            self.changed();
            // The plan list shows the recorded title: a new one is recorded with the change
            // that made it (reading the title is a map lookup; it is written only when it
            // changed), so a list fetched a moment later is not behind the plan.
            if self.core.existence() == Existence::Stored {
                self.record_title().await;
            }
        }
        self.deliver(effects);
        self.uncompacted += stored_count;
        if self.uncompacted >= self.handles.config.compact_after_changes {
            self.compact().await;
        }
        true
    }

    /// Hand each command of the batch to the document core (its effects gathered in `effects`)
    /// and keep what must wait for the commit: uploads' answers, reads, first syncs. `None` when
    /// a message made the core panic: the document may be half-changed, so it is dropped unsaved
    /// and unadvertised, and every connection is closed.
    fn take_in(&mut self, batch: Vec<Command>, effects: &mut Effects) -> Option<Taken> {
        let mut taken = Taken::default();
        for command in batch {
            match command {
                Command::Input(input, outbox) => {
                    if let (Some(outbox), Some(conn)) = (outbox, input_conn(&input)) {
                        self.outboxes.entry(conn).or_insert(outbox);
                    }
                    if let Input::Disconnected(conn) = &input {
                        self.outboxes.remove(conn);
                        self.synced.remove(conn);
                    }
                    let syncing = match &input {
                        Input::Sync { from, .. } => Some((from.conn, from.user)),
                        _ => None,
                    };
                    if let Input::Ephemeral { from, .. } = &input
                        && self.handles.fanout.is_shared()
                        && self.core.is_member(from.user)
                    {
                        self.handles.fanout.publish_presence(self.plan, &input);
                    }
                    let core = &mut self.core;
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        core.handle(input, effects)
                    }));
                    if handled.is_err() {
                        tracing::error!(plan.id = %self.plan, "sync: a message made the plan's worker fail");
                        self.fail_all(
                            effects,
                            "the server could not process a message; reconnect to try again",
                        );
                        return None;
                    }
                    if let Some((conn, user)) = syncing
                        && let Some(session) = self.first_sync(conn, user)
                    {
                        taken.opened.push((user, session));
                    }
                }
                Command::Upload { user, bytes, reply } => {
                    let result = self
                        .core
                        .apply_uploaded(user, &bytes, effects)
                        .map_err(HubError::from);
                    taken.uploads.push((reply, result));
                }
                Command::Changes { user, since, reply } => taken.reads.push((user, since, reply)),
                Command::Read { user, read } => taken.document_reads.push((user, read)),
                Command::CatchUp => {}
            }
        }
        Some(taken)
    }

    /// The batch could not be stored: nothing of it is advertised, and the worker stops.
    fn not_stored(&mut self, err: StoreError, uploads: Vec<Upload>, mut effects: Effects) {
        let reason = match err {
            StoreError::PlanDeleted => {
                // An offline creation of a deleted plan's id (a stale replica; the delete
                // happened after this document was loaded as unclaimed, on another instance
                // say): nothing was stored, and every connection here gets `doc-unavailable`,
                // as for a deleted plan.
                tracing::info!(plan.id = %self.plan, "sync refused: the plan was deleted");
                refuse_uploads(uploads, || HubError::NotFound);
                effects.outgoing.clear();
                self.core.handle(Input::PlanDeleted, &mut effects);
                self.deliver(effects);
                return;
            }
            StoreError::PlanLimitReached => {
                // An offline creation beyond the owner's limit: counted in the transaction that
                // would have created it (see `Store::append_changes`), so none slips past it.
                tracing::info!(plan.id = %self.plan, "sync refused: the owner has reached the plan limit");
                "refused: this account has reached its limit of plans"
            }
            err => {
                // Drop the in-memory document entirely.
                tracing::error!(plan.id = %self.plan, error = %err, "sync: could not store changes");
                "the server could not store your changes; reconnect to try again"
            }
        };
        refuse_uploads(uploads, || HubError::Unavailable);
        self.fail_all(&mut effects, reason);
    }

    /// Once the batch is stored: answer uploads, HTTP reads of changes and REST reads of the
    /// document (a non-member's reply is dropped: "not found").
    fn answer(
        &self,
        uploads: Vec<Upload>,
        reads: Vec<(UserId, Vec<ChangeHash>, ChangesReply)>,
        document_reads: Vec<(UserId, Reader)>,
    ) {
        for (reply, result) in uploads {
            let _ = reply.send(result);
        }
        for (user, since, reply) in reads {
            if self.core.is_member(user) {
                let doc = self.core.doc();
                let changes: Vec<u8> = doc
                    .get_changes(&since)
                    .into_iter()
                    .flat_map(|change| change.raw_bytes().to_vec())
                    .collect();
                let _ = reply.send((changes, doc.get_heads()));
            }
        }
        for (user, read) in document_reads {
            if self.core.is_member(user) {
                read(Ok(self.core.doc()));
            }
        }
    }

    /// Count the batch in the metrics.
    fn count(&mut self, stored: usize, effects: &Effects) {
        let metrics = &self.handles.metrics;
        metrics.changes_stored.inc_by(stored as u64);
        metrics.sync_refusals.inc_by(effects.close.len() as u64);
        let (shortcut, general) = self.core.take_steps();
        metrics.sync_shortcut_steps.inc_by(shortcut);
        metrics.sync_general_steps.inc_by(general);
    }

    /// Whether the batch needs what other instances stored first: they said so, or (with other
    /// instances on the database) an HTTP read, or a message from an account this document does
    /// not know as a member (it may have joined on another instance a moment ago).
    fn must_catch_up(&mut self, batch: &[Command]) -> bool {
        if !self.handles.store.is_shared() {
            return batch
                .iter()
                .any(|command| matches!(command, Command::CatchUp));
        }
        let mut strangers = Vec::new();
        let mut due = false;
        for command in batch {
            match command {
                Command::CatchUp | Command::Changes { .. } | Command::Read { .. } => due = true,
                Command::Upload { user, .. } if !self.core.is_member(*user) => {
                    strangers.push(*user);
                }
                Command::Input(Input::Sync { from, .. } | Input::Ephemeral { from, .. }, _)
                    if !self.core.is_member(from.user) =>
                {
                    strangers.push(from.user);
                }
                Command::Upload { .. } | Command::Input(..) => {}
            }
        }
        let now = tokio::time::Instant::now();
        if self.stranger_checks.len() > 1_000 {
            self.stranger_checks
                .retain(|_, at| now.duration_since(*at) < STRANGER_RECHECK);
        }
        for user in strangers {
            match self.stranger_checks.get(&user) {
                Some(at) if now.duration_since(*at) < STRANGER_RECHECK => {}
                _ => {
                    self.stranger_checks.insert(user, now);
                    due = true;
                }
            }
        }
        due
    }

    /// Read what other instances stored since this document was loaded or last caught up, and
    /// take it in. A failure is logged and leaves the document as it was (it is tried again at
    /// the next notice).
    async fn catch_up(&mut self, effects: &mut Effects) {
        if self.core.existence() == Existence::Deleted {
            return;
        }
        let read = self
            .handles
            .store
            .plan_catch_up(
                self.plan,
                self.marks.last_change_id,
                self.marks.snapshot_generation,
            )
            .await;
        let stored = match read {
            Ok(stored) => stored,
            Err(err) => {
                tracing::warn!(plan.id = %self.plan, error = %err, "sync: could not read what other instances stored");
                return;
            }
        };
        if !stored.exists {
            if self.core.existence() == Existence::Stored {
                self.core.handle(Input::PlanDeleted, effects);
            }
            return;
        }
        let mut bytes = Vec::new();
        let mut generation = self.marks.snapshot_generation;
        if let Some((snapshot_generation, snapshot)) = stored.snapshot {
            generation = snapshot_generation;
            bytes = snapshot;
        }
        let fresh_changes = stored.changes.len();
        let read_anything = !bytes.is_empty() || fresh_changes > 0;
        for change in stored.changes {
            bytes.extend_from_slice(&change);
        }
        let actors = actor_map(stored.bindings);
        let taken = self.core.catch_up(
            StoredElsewhere {
                members: stored.members,
                actors,
                bytes,
            },
            effects,
        );
        match taken {
            Ok(()) => {
                self.marks = StorageMarks {
                    snapshot_generation: generation,
                    last_change_id: stored.last_change_id,
                };
                self.uncompacted += fresh_changes;
                if read_anything {
                    self.changed();
                }
            }
            Err(err) => {
                tracing::error!(plan.id = %self.plan, error = %err, "sync: what another instance stored could not be read");
            }
        }
    }

    /// Check the document against the schema and record the outcome when it changes. A plan
    /// that does not fit is kept and synced as usual; it is only flagged.
    /// Note a change to the document, for the schema check.
    fn changed(&mut self) {
        let now = tokio::time::Instant::now();
        self.last_changed = now;
        self.unvalidated_since.get_or_insert(now);
    }

    async fn validate(&mut self) {
        self.unvalidated_since = None;
        if self.core.existence() != Existence::Stored {
            return;
        }
        self.record_title().await;
        self.record_open_conflicts().await;
        let issue = cairn_shared::plan::read_plan(self.core.doc())
            .err()
            .map(|issue| issue.to_string());
        if issue == self.schema_issue {
            return;
        }
        if issue.is_some() {
            self.handles.metrics.schema_mismatches.inc();
            tracing::warn!(plan.id = %self.plan, "plan document does not fit the schema (kept, flagged)");
        }
        match self
            .handles
            .store
            .set_schema_issue(self.plan, issue.clone())
            .await
        {
            Ok(()) => self.schema_issue = issue,
            Err(err) => {
                tracing::warn!(plan.id = %self.plan, error = %err, "could not record the schema check")
            }
        }
    }

    /// Record beside the plan row whether it has fields its members have not settled, when
    /// that changes (only that: never where or what).
    async fn record_open_conflicts(&mut self) {
        let open = !cairn_shared::conflicts::open_conflicts(self.core.doc()).is_empty();
        if open == self.open_conflicts {
            return;
        }
        match self.handles.store.set_open_conflicts(self.plan, open).await {
            Ok(()) => self.open_conflicts = open,
            Err(err) => {
                tracing::warn!(plan.id = %self.plan, error = %err, "could not record open conflicts");
            }
        }
    }

    /// Record the document's title beside the plan row when it differs from the one recorded,
    /// so the plan list shows it without loading the document.
    async fn record_title(&mut self) {
        let title = truncate_title(cairn_shared::plan::read_title(self.core.doc()));
        if matches!(&self.title, PlanTitle::Known(known) if *known == title) {
            return;
        }
        match self.handles.store.set_title(self.plan, &title).await {
            Ok(()) => self.title = PlanTitle::Known(title),
            Err(err) => {
                tracing::warn!(plan.id = %self.plan, error = %err, "could not record the plan's title");
            }
        }
    }

    /// Fold the stored changes into a snapshot. The document in memory is exactly what is
    /// committed at this point (every accepted change was stored before delivery).
    async fn compact(&mut self) {
        // Saving a large plan takes a while: a copy is saved off the thread that serves everyone
        // else's connections (this worker waits; nothing changes the document meanwhile).
        let doc = self.core.doc().clone();
        let saved = tokio::task::spawn_blocking(move || {
            let covered: HashSet<String> = doc
                .get_changes(&[])
                .iter()
                .map(|c| c.hash().to_string())
                .collect();
            // Only applied changes: held-back ones were never stored as accepted.
            let snapshot = doc.save_with_options(automerge::SaveOptions {
                deflate: true,
                retain_orphans: false,
            });
            (covered, snapshot)
        })
        .await;
        let Ok((covered, snapshot)) = saved else {
            // Nothing is lost: the changes stay stored and compaction is tried again later.
            tracing::warn!(plan.id = %self.plan, "compaction failed: the plan could not be saved");
            return;
        };
        let snapshot_bytes = snapshot.len();
        match self
            .handles
            .store
            .compact(
                self.plan,
                snapshot,
                &covered,
                self.marks.snapshot_generation,
                chrono::Utc::now(),
            )
            .await
        {
            Ok(Some((folded, generation))) => {
                tracing::debug!(plan.id = %self.plan, folded, "plan compacted");
                self.uncompacted = 0;
                self.marks.snapshot_generation = generation;
                // The plan now takes the snapshot's size in storage, not the sum of its changes.
                self.core.set_stored_bytes(snapshot_bytes);
            }
            Ok(None) => {
                // Another instance compacted first: take in its snapshot; compaction is tried
                // again after the next changes.
                tracing::debug!(plan.id = %self.plan, "compaction deferred: another instance compacted first");
                let mut effects = Effects::default();
                self.catch_up(&mut effects).await;
                self.deliver(effects);
            }
            // Nothing is lost: the changes stay stored and compaction is tried again later.
            Err(err) => tracing::warn!(plan.id = %self.plan, error = %err, "compaction failed"),
        }
    }

    /// Whether this is the first sync of `conn` (accepted: a member, now among the document's
    /// peers) for this plan; if so, its device session. Refused syncs never get here.
    fn first_sync(&mut self, conn: ConnId, user: UserId) -> Option<SessionId> {
        if self.synced.contains(&conn)
            || !self.core.is_member(user)
            || !self.core.connections().any(|c| c == conn)
        {
            return None;
        }
        self.synced.insert(conn);
        self.handles.registry.first_sync(conn, self.plan)
    }

    /// Record a plan created offline and connections that opened a sync of the plan, once the
    /// batch that made them members is committed. The insert runs in a tracked task so the sync
    /// path never waits for it; a failure is logged.
    fn record_accesses(&self, created_by: Option<UserId>, opened: Vec<(UserId, SessionId)>) {
        let now = chrono::Utc::now();
        let mut records: Vec<AccessRecord> = Vec::with_capacity(opened.len() + 1);
        if let Some(owner) = created_by {
            let session = opened
                .iter()
                .find(|(user, _)| *user == owner)
                .map(|(_, session)| *session);
            records.push(AccessEvent::PlanCreated.by(owner, session, now));
        }
        records.extend(
            opened
                .into_iter()
                .map(|(user, session)| AccessEvent::SyncOpened.by(user, Some(session), now)),
        );
        if records.is_empty() {
            return;
        }
        let store = self.handles.store.clone();
        let plan = self.plan;
        self.handles.tracker.spawn(async move {
            if let Err(err) = store.insert_accesses(plan, &records).await {
                tracing::warn!(plan.id = %plan, error = %err, "sync: could not record an access");
            }
        });
    }

    fn fail_all(&mut self, effects: &mut Effects, reason: &str) {
        effects.outgoing.clear();
        let conns: Vec<ConnId> = self
            .core
            .connections()
            .chain(effects.close.iter().map(|(c, _)| *c))
            .collect();
        for conn in conns {
            if let Some(outbox) = self.outboxes.get(&conn) {
                outbox.close(reason);
            }
        }
    }

    fn deliver(&mut self, mut effects: Effects) {
        loop {
            for user in effects.gone.drain(..) {
                self.handles.fanout.publish_gone(self.plan, user);
            }
            let mut dead = Vec::new();
            for (conn, message) in effects.outgoing {
                let Some(outbox) = self.outboxes.get(&conn) else {
                    continue;
                };
                if outbox.send(&message).is_err() {
                    dead.push(conn);
                }
            }
            for (conn, reason) in effects.close {
                if let Some(outbox) = self.outboxes.get(&conn) {
                    outbox.close(&reason);
                }
                dead.push(conn);
            }
            if dead.is_empty() {
                break;
            }
            // Closed or hopelessly slow connections: forget them here and make sure they close.
            // The others hear that their accounts are gone (each round has fewer connections).
            let mut after = Effects::default();
            for conn in dead {
                self.handles.registry.kill(conn);
                self.outboxes.remove(&conn);
                self.synced.remove(&conn);
                self.core.handle(Input::Disconnected(conn), &mut after);
            }
            effects = Effects {
                outgoing: after.outgoing,
                gone: after.gone,
                ..Effects::default()
            };
        }
        self.count_presence();
    }

    /// Bring the presence sessions the document remembers up to date in the metrics.
    fn count_presence(&mut self) {
        let presence = self.core.presence_sessions();
        if presence != self.presence_counted {
            let gauge = &self.handles.metrics.presence_sessions;
            gauge.add(gauge_value(presence));
            gauge.sub(gauge_value(self.presence_counted));
            self.presence_counted = presence;
        }
    }
}

/// An upload's reply, and its answer once the batch is stored.
type Upload = (UploadReply, Result<Vec<ChangeHash>, HubError>);

/// What a batch leaves to do once it is stored.
#[derive(Default)]
struct Taken {
    uploads: Vec<Upload>,
    /// HTTP reads of changes: (account, the heads it has, reply).
    reads: Vec<(UserId, Vec<ChangeHash>, ChangesReply)>,
    /// REST reads of the document.
    document_reads: Vec<(UserId, Reader)>,
    /// Connections syncing this plan as a member for the first time: (account, session).
    opened: Vec<(UserId, SessionId)>,
}

/// Answer every upload of a batch that was not stored with the error `error` makes.
fn refuse_uploads(uploads: Vec<Upload>, error: fn() -> HubError) {
    for (reply, _) in uploads {
        let _ = reply.send(Err(error()));
    }
}

fn input_conn(input: &Input) -> Option<ConnId> {
    match input {
        Input::Sync { from, .. } | Input::Ephemeral { from, .. } => Some(from.conn),
        _ => None,
    }
}
