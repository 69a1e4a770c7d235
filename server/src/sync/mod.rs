//! Sync: the automerge-repo protocol on the `automerge` crate. Knows nothing of actix.
//!
//! - [`connection`]: one socket's protocol state (handshake, checks, routing), sans-IO.
//! - [`document`]: one plan's sync core (members, authorship, offline creation), sans-IO.
//! - this module: the hub that owns one worker task per loaded plan, routes messages to it
//!   (checking membership before a document is loaded), and tells workers and connections about
//!   membership changes, deletions and disabled accounts.
//!
//! A worker applies a batch of messages, commits every accepted change in one transaction, and
//! only then sends anything whose heads include them. A worker with no connections for the idle
//! time is evicted, so memory follows active plans, not stored plans. The first time a
//! connection syncs a plan as a member, the worker records `sync-opened` in the plan's access
//! log, in a tracked task off the sync path.

pub mod core;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use automerge::{ActorId, Automerge, ChangeHash};
use bytes::Bytes;
use cairn_shared::api::AccountKind;
use cairn_shared::protocol::{Message, PeerId};
use cairn_shared::{PlanId, SessionId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::PlanTitle;
use crate::services::access_log::{self, AccessEvent};
use crate::store::{AccessRecord, Heard, Notice, Store};
use crate::sync::core::document::{
    ConnId, DocumentCore, Effects, Existence, Input, StoredElsewhere, UploadError,
};

/// What goes out on one connection, in order. Workers put protocol messages here directly; the
/// connection's task writes the queue to the socket.
#[derive(Debug)]
pub enum Outgoing {
    /// A protocol message, CBOR-encoded.
    Message(Bytes),
    /// A ping (the connection's task checks the peer is still there).
    Ping,
    /// The answer to the peer's ping.
    Pong(Bytes),
    /// The last frame: close, with this reason (`None`: a normal close).
    Close(Option<String>),
}

/// The way to one connection: its outgoing queue, and the request to close it.
///
/// The queue is bounded twice: by messages ([`OUTBOX_CAPACITY`]) and by bytes. A message counts
/// from when it is queued until the connection's task has written it to the socket, so bytes
/// held in the task's write buffer count too. A connection past either bound is hopelessly slow:
/// it is dropped at once (an interrupted write included), and its queue with it.
#[derive(Debug, Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    closing: Arc<Closing>,
}

#[derive(Debug)]
struct Closing {
    /// Why the server closes the connection (the first reason given wins).
    reason: Mutex<Option<String>>,
    /// Cancelled when the connection must close.
    token: CancellationToken,
    /// Cancelled when the connection is dropped as too slow: its task stops writing at once.
    too_slow: CancellationToken,
    /// Bytes of messages queued or being written.
    queued: AtomicUsize,
    /// The most bytes that may wait (one message into an empty queue is always taken).
    limit: usize,
    /// Every connection's waiting bytes (a metric).
    total: prometheus::IntGauge,
}

/// A connection that is gone, or so far behind that it is dropped.
#[derive(Debug)]
pub struct Gone;

impl Outbox {
    /// A new connection's outbox, and the queue its socket sends from. `token` is cancelled
    /// when the connection must close; more than `limit` bytes waiting drops it as too slow;
    /// `total` counts the bytes waiting on every connection.
    pub fn new(
        token: CancellationToken,
        limit: usize,
        total: prometheus::IntGauge,
    ) -> (Self, mpsc::Receiver<Outgoing>) {
        let (frames, queue) = mpsc::channel(OUTBOX_CAPACITY);
        let closing = Arc::new(Closing {
            reason: Mutex::new(None),
            token,
            too_slow: CancellationToken::new(),
            queued: AtomicUsize::new(0),
            limit,
            total,
        });
        (Self { frames, closing }, queue)
    }

    /// Queue a protocol message; [`Gone`] when the connection closed or is too far behind (it
    /// is then dropped as too slow).
    pub fn send(&self, message: &Message) -> Result<(), Gone> {
        self.queue(cairn_shared::protocol::encode(message).into(), true)
    }

    /// Queue the `error` message that ends the connection, past the byte bound (it is small).
    pub fn send_last(&self, message: &Message) -> Result<(), Gone> {
        self.queue(cairn_shared::protocol::encode(message).into(), false)
    }

    fn queue(&self, frame: Bytes, bounded: bool) -> Result<(), Gone> {
        let closing = &self.closing;
        let len = frame.len();
        let before = closing.queued.fetch_add(len, Ordering::AcqRel);
        if bounded && before > 0 && before.saturating_add(len) > closing.limit {
            closing.queued.fetch_sub(len, Ordering::AcqRel);
            self.drop_too_slow(&format!(
                "this connection reads too slowly: more than {} bytes waited to be sent",
                closing.limit
            ));
            return Err(Gone);
        }
        closing.total.add(gauge_value(len));
        match self.frames.try_send(Outgoing::Message(frame)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.sent(len);
                if matches!(err, mpsc::error::TrySendError::Full(_)) && bounded {
                    self.drop_too_slow(&format!(
                        "this connection reads too slowly: more than {OUTBOX_CAPACITY} messages waited to be sent"
                    ));
                }
                Err(Gone)
            }
        }
    }

    fn drop_too_slow(&self, reason: &str) {
        self.close(reason);
        self.closing.too_slow.cancel();
    }

    /// The connection's task wrote (or threw away) `bytes` of queued messages.
    pub fn sent(&self, bytes: usize) {
        if bytes > 0 {
            self.closing.queued.fetch_sub(bytes, Ordering::AcqRel);
            self.closing.total.sub(gauge_value(bytes));
        }
    }

    /// Cancelled when the connection is dropped as too slow.
    pub fn too_slow(&self) -> &CancellationToken {
        &self.closing.too_slow
    }

    /// Queue a frame if there is room. Never waits: the connection's own task is the one that
    /// empties the queue, and no worker waits for one slow connection.
    pub fn try_send_frame(&self, frame: Outgoing) -> Result<(), Gone> {
        self.frames.try_send(frame).map_err(|_| Gone)
    }

    /// Ask the connection to send an `error` message with `reason` and close.
    pub fn close(&self, reason: &str) {
        lock(&self.closing.reason).get_or_insert_with(|| reason.to_owned());
        self.closing.token.cancel();
    }

    /// Cancelled when the connection must close.
    pub fn closed(&self) -> &CancellationToken {
        &self.closing.token
    }

    /// Why the server closes the connection, if it gave a reason.
    pub fn close_reason(&self) -> Option<String> {
        lock(&self.closing.reason).clone()
    }
}

fn gauge_value(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// HTTP syncs of one plan by one device session within this time count as one sync session.
pub const HTTP_SYNC_SESSION: Duration = Duration::from_secs(60 * 60);

/// How many messages may wait for a slow connection before it is dropped.
pub const OUTBOX_CAPACITY: usize = 512;

/// Sync settings.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// A document nobody is connected to is evicted after this long.
    pub idle_evict: Duration,
    /// Compact a plan once this many changes are stored outside its snapshot.
    pub compact_after_changes: usize,
    /// Largest a plan may grow (stored bytes); changes beyond it are refused.
    pub max_document_bytes: usize,
    /// How many plans may be loaded from storage at the same time (at least one).
    pub max_concurrent_loads: usize,
    /// The most Automerge operations a plan may hold; changes beyond it are refused.
    pub max_document_ops: u64,
    /// Bytes that may wait for one connection before it is dropped as too slow.
    pub max_outbox_bytes: usize,
    /// Unknown document ids one connection may sync (each loads an empty candidate plan).
    pub max_unclaimed_per_connection: usize,
    /// Presence sessions relayed from other instances that a plan remembers.
    pub max_presence_ids_per_plan: usize,
}

/// Why an HTTP sync call failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Not a member, or no such plan.
    #[error("plan not found")]
    NotFound,
    /// The upload was refused.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The plan could not be loaded or stored.
    #[error("the plan could not be loaded or stored")]
    Unavailable,
}

type UploadReply = oneshot::Sender<Result<Vec<ChangeHash>, HubError>>;
type ChangesReply = oneshot::Sender<(Vec<u8>, Vec<ChangeHash>)>;
/// A REST read of a plan, run by the plan's worker on the document it holds: called with the
/// document for a member, with an error when the plan could not be loaded, and dropped uncalled
/// for anyone else ("not found").
type Reader = Box<dyn FnOnce(Result<&Automerge, HubError>) + Send>;

enum Command {
    Input(Input, Option<Outbox>),
    Upload {
        user: UserId,
        bytes: Vec<u8>,
        reply: UploadReply,
    },
    Changes {
        user: UserId,
        since: Vec<ChangeHash>,
        reply: ChangesReply,
    },
    /// A REST read (the plan as JSON, an export, its history) of the document held here.
    Read {
        user: UserId,
        read: Reader,
    },
    /// Another instance stored something for the plan: read it.
    CatchUp,
}

struct ConnEntry {
    user: UserId,
    session: SessionId,
    outbox: Outbox,
    /// Plans this connection has synced as a member (each in the access log once).
    synced: HashSet<PlanId>,
    /// Unknown document ids this connection loaded as candidate plans (offline creation).
    unclaimed: HashSet<PlanId>,
}

struct HubInner {
    store: Store,
    metrics: crate::metrics::Metrics,
    config: SyncConfig,
    server: PeerId,
    storage_id: String,
    workers: Mutex<HashMap<PlanId, mpsc::Sender<Command>>>,
    connections: Mutex<HashMap<ConnId, ConnEntry>>,
    /// When each device session last synced each plan over HTTP (for the access log).
    http_syncs: Mutex<HashMap<(SessionId, PlanId), std::time::Instant>>,
    next_conn: AtomicU64,
    /// Plans being read from storage now: each load holds a permit, so however many requests
    /// and sockets ask at once, at most this many documents are being built.
    loads: tokio::sync::Semaphore,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// The document hub; cheap to clone.
#[derive(Clone)]
pub struct SyncHub(Arc<HubInner>);

impl std::fmt::Debug for SyncHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHub")
            .field("server", &self.0.server)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps in a usable state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SyncHub {
    /// A hub over `store`, announcing `storage_id`, with workers tracked by `tracker` and stopped
    /// by `shutdown`.
    pub fn new(
        store: Store,
        metrics: crate::metrics::Metrics,
        config: SyncConfig,
        storage_id: String,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let max_concurrent_loads = config.max_concurrent_loads.max(1);
        Self(Arc::new(HubInner {
            store,
            metrics,
            config,
            server: PeerId(format!("cairn-{storage_id}")),
            storage_id,
            workers: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            http_syncs: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            loads: tokio::sync::Semaphore::new(max_concurrent_loads),
            tracker,
            shutdown,
        }))
    }

    /// The server's stable peer id.
    pub fn server_peer(&self) -> PeerId {
        self.0.server.clone()
    }

    /// The storage id announced in the handshake.
    pub fn storage_id(&self) -> String {
        self.0.storage_id.clone()
    }

    /// How many plan documents are in memory now.
    pub fn loaded_documents(&self) -> usize {
        lock(&self.0.workers).len()
    }

    /// How many sync connections `user` has open now.
    pub fn connections_of(&self, user: UserId) -> usize {
        lock(&self.0.connections)
            .values()
            .filter(|entry| entry.user == user)
            .count()
    }

    /// How many sync connections are open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.0.connections).len()
    }

    /// Register a new connection: its id, its outbox (whose [`Outbox::closed`] is cancelled
    /// when it must close, at shutdown too), and the queue its socket sends from.
    pub fn connect(
        &self,
        user: UserId,
        session: SessionId,
    ) -> (ConnId, Outbox, mpsc::Receiver<Outgoing>) {
        let conn = ConnId(self.0.next_conn.fetch_add(1, Ordering::Relaxed));
        let (outbox, queue) = Outbox::new(
            self.0.shutdown.child_token(),
            self.0.config.max_outbox_bytes,
            self.0.metrics.outbox_bytes.clone(),
        );
        lock(&self.0.connections).insert(
            conn,
            ConnEntry {
                user,
                session,
                outbox: outbox.clone(),
                synced: HashSet::new(),
                unclaimed: HashSet::new(),
            },
        );
        (conn, outbox, queue)
    }

    /// The connection's device session, the first time it syncs `plan` as a member; `None` on
    /// every later call (and for a connection that is gone), so each is recorded once.
    fn first_sync(&self, conn: ConnId, plan: PlanId) -> Option<SessionId> {
        let mut connections = lock(&self.0.connections);
        let entry = connections.get_mut(&conn)?;
        entry.synced.insert(plan).then_some(entry.session)
    }

    /// Whether this HTTP sync by `session` of `plan` starts a new sync session for the access
    /// log: the first in [`HTTP_SYNC_SESSION`]. A service worker syncing every few minutes then
    /// shows up about once an hour, as a socket shows up once per connection.
    pub fn first_http_sync(&self, session: SessionId, plan: PlanId) -> bool {
        let now = std::time::Instant::now();
        let mut seen = lock(&self.0.http_syncs);
        if seen.len() >= 10_000 {
            seen.retain(|_, at| now.duration_since(*at) < HTTP_SYNC_SESSION);
        }
        match seen.get(&(session, plan)) {
            Some(at) if now.duration_since(*at) < HTTP_SYNC_SESSION => false,
            _ => {
                seen.insert((session, plan), now);
                true
            }
        }
    }

    /// Forget a connection that closed before it synced any plan.
    pub fn forget_connection(&self, conn: ConnId) {
        lock(&self.0.connections).remove(&conn);
    }

    /// Forget a closed connection and tell the documents it synced.
    pub async fn disconnect(&self, conn: ConnId, plans: &HashSet<PlanId>) {
        lock(&self.0.connections).remove(&conn);
        for plan in plans {
            let worker = lock(&self.0.workers).get(plan).cloned();
            if let Some(worker) = worker {
                let _ = worker
                    .send(Command::Input(Input::Disconnected(conn), None))
                    .await;
            }
        }
    }

    /// Hand a message from a connection to its plan's document, loading the document if the
    /// caller is a member (and never loading it for anyone else).
    pub async fn route(&self, plan: PlanId, input: Input, outbox: &Outbox, kind: AccountKind) {
        let (conn, conn_peer, user, is_sync_with_document) = match &input {
            Input::Sync {
                from, is_request, ..
            } => (from.conn, from.peer.clone(), from.user, !is_request),
            Input::Ephemeral { from, .. } => (from.conn, from.peer.clone(), from.user, false),
            _ => return,
        };
        // Built only for a refusal: encoding the document id is not free, and most messages
        // go straight to a running worker.
        let unavailable = || Message::DocUnavailable {
            sender_id: self.0.server.clone(),
            target_id: conn_peer.clone(),
            document_id: plan.document_id().to_string(),
        };
        if kind == AccountKind::Admin {
            tracing::info!(plan.id = %plan, user.id = %user, "sync refused: admins do not sync plans");
            let _ = outbox.send(&unavailable());
            return;
        }
        let mut command = Command::Input(input, Some(outbox.clone()));
        if let Some(worker) = self.worker(plan) {
            match worker.send(command).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(returned)) => {
                    // The worker stopped (evicted) just now: start a fresh one below.
                    self.forget_worker(plan, &worker);
                    command = returned;
                }
            }
        }
        let existence = match self.0.store.role_of(plan, user).await {
            Ok(Some(_)) => Existence::Stored,
            Ok(None) => match self.0.store.plan(plan).await {
                // A deleted plan's id stays taken (its tombstone): a stale replica syncing it
                // gets `doc-unavailable`, as for someone else's plan, and nothing is created.
                Ok(None) if is_sync_with_document => match self.0.store.is_tombstoned(plan).await {
                    Ok(false) => Existence::Unclaimed,
                    Ok(true) => {
                        tracing::info!(plan.id = %plan, user.id = %user, "sync refused: the plan was deleted");
                        let _ = outbox.send(&unavailable());
                        return;
                    }
                    Err(err) => return self.storage_failed(outbox, &err),
                },
                Ok(_) => {
                    tracing::info!(plan.id = %plan, user.id = %user, "sync refused: not a member");
                    let _ = outbox.send(&unavailable());
                    return;
                }
                Err(err) => return self.storage_failed(outbox, &err),
            },
            Err(err) => return self.storage_failed(outbox, &err),
        };
        if existence == Existence::Unclaimed && !self.may_load_unclaimed(conn, plan) {
            let limit = self.0.config.max_unclaimed_per_connection;
            tracing::info!(user.id = %user, "sync refused: too many unknown documents on one connection");
            outbox.close(&format!(
                "too many unknown documents on one connection: the limit is {limit}"
            ));
            return;
        }
        let worker = self.worker_or_spawn(plan, existence);
        if worker.send(command).await.is_err() {
            outbox.close("the plan could not be loaded; try again");
        }
    }

    /// Whether `conn` may load `plan` as a candidate for offline creation: each loads a document
    /// that lives while the connection syncs it, so one connection names only a few.
    fn may_load_unclaimed(&self, conn: ConnId, plan: PlanId) -> bool {
        let mut connections = lock(&self.0.connections);
        let Some(entry) = connections.get_mut(&conn) else {
            return false;
        };
        if entry.unclaimed.contains(&plan) {
            return true;
        }
        if entry.unclaimed.len() >= self.0.config.max_unclaimed_per_connection {
            return false;
        }
        entry.unclaimed.insert(plan);
        true
    }

    fn storage_failed(&self, outbox: &Outbox, err: &dyn std::error::Error) {
        tracing::error!(error = %err, "sync: storage unavailable");
        outbox.close("the server cannot reach its storage; try again");
    }

    fn worker(&self, plan: PlanId) -> Option<mpsc::Sender<Command>> {
        lock(&self.0.workers).get(&plan).cloned()
    }

    fn forget_worker(&self, plan: PlanId, stale: &mpsc::Sender<Command>) {
        let mut workers = lock(&self.0.workers);
        if workers
            .get(&plan)
            .is_some_and(|current| current.same_channel(stale))
        {
            workers.remove(&plan);
        }
    }

    fn worker_or_spawn(&self, plan: PlanId, existence: Existence) -> mpsc::Sender<Command> {
        let mut workers = lock(&self.0.workers);
        if let Some(existing) = workers.get(&plan) {
            return existing.clone();
        }
        let (tx, rx) = mpsc::channel(256);
        workers.insert(plan, tx.clone());
        let hub = self.clone();
        self.0.tracker.spawn(async move {
            Worker::run(hub, plan, existence, rx).await;
        });
        tx
    }

    /// The account is no longer a member: its live sync of the plan stops at once, on every
    /// instance.
    pub async fn member_removed(&self, plan: PlanId, user: UserId) {
        self.tell(plan, Input::MemberRemoved(user)).await;
        self.publish(Notice::Plan { plan });
    }

    /// The account became a member.
    pub async fn member_added(&self, plan: PlanId, user: UserId) {
        self.tell(plan, Input::MemberAdded(user)).await;
        self.publish(Notice::Plan { plan });
    }

    /// The plan was deleted: every connection loses it and the document leaves memory, on every
    /// instance.
    pub async fn plan_deleted(&self, plan: PlanId) {
        self.tell(plan, Input::PlanDeleted).await;
        self.publish(Notice::Plan { plan });
    }

    /// Tell the other instances on the database, off the caller's path; a failure is logged
    /// (they still learn of it when their listener reconnects and re-reads every loaded plan).
    fn publish(&self, notice: Notice) {
        if !self.0.store.is_shared() {
            return;
        }
        let store = self.0.store.clone();
        self.0.tracker.spawn(async move {
            if let Err(err) = store.publish(notice).await {
                tracing::warn!(error = %err, "could not notify the other instances");
            }
        });
    }

    /// Record the titles of plans stored before titles were kept beside the plan row, one plan
    /// at a time in the background (each load under the hub's bound on concurrent loads), so
    /// the plan list shows them without loading documents. Until then they are listed untitled.
    pub fn start_title_backfill(&self) {
        let hub = self.clone();
        self.0.tracker.spawn(async move {
            let mut failed: HashSet<PlanId> = HashSet::new();
            loop {
                if hub.0.shutdown.is_cancelled() {
                    return;
                }
                let batch = match hub.0.store.plans_without_title(failed.len() as u64 + 50).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not look for plans without a recorded title");
                        return;
                    }
                };
                let todo: Vec<PlanId> = batch.into_iter().filter(|p| !failed.contains(p)).collect();
                if todo.is_empty() {
                    return;
                }
                for plan in todo {
                    let title = {
                        let _permit = hub.0.loads.acquire().await;
                        crate::services::plans::load_document(&hub.0.store, plan)
                            .await
                            .map(|document| cairn_shared::plan::read_title(&document))
                    };
                    let recorded = match title {
                        Ok(title) => hub.0.store.set_title(plan, &truncate_title(title)).await.is_ok(),
                        Err(err) => {
                            tracing::warn!(plan.id = %plan, error = %err, "could not read a plan to record its title");
                            false
                        }
                    };
                    if !recorded {
                        failed.insert(plan);
                    }
                }
            }
        });
    }

    /// Listen for the other instances' notices until shutdown (Postgres; nothing on SQLite).
    pub fn start_fanout(&self) {
        if !self.0.store.is_shared() {
            return;
        }
        let hub = self.clone();
        self.0.tracker.spawn(async move { hub.listen().await });
    }

    async fn listen(&self) {
        // A safety net under the notices: one that was never sent (the publishing instance
        // crashed between its commit and the notice, say) is made up for within this time.
        const SWEEP: Duration = Duration::from_secs(60);
        let (heard_tx, mut heard_rx) = mpsc::channel(1024);
        self.0.tracker.spawn(receive_notices(
            self.0.store.clone(),
            heard_tx,
            self.0.shutdown.clone(),
        ));
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.tick().await;
        loop {
            tokio::select! {
                heard = heard_rx.recv() => match heard {
                    Some(Heard::Notice(notice)) => self.heard(notice),
                    Some(Heard::Gap) => self.catch_up_all(),
                    None => return,
                },
                _ = sweep.tick() => self.catch_up_all(),
                () = self.0.shutdown.cancelled() => return,
            }
        }
    }

    fn heard(&self, notice: Notice) {
        match notice {
            Notice::Plan { plan } => self.catch_up(plan),
            Notice::AccountDisabled { user } => {
                self.close_here(|entry| entry.user == user, "this account has been disabled");
            }
            Notice::SessionEnded { session } => {
                self.close_here(
                    |entry| entry.session == session,
                    "this device session has ended",
                );
            }
            Notice::Presence {
                plan,
                sender,
                session_id,
                count,
                data,
            } => {
                use base64::Engine;
                let (Some(worker), Ok(data)) = (
                    self.worker(plan),
                    base64::engine::general_purpose::STANDARD.decode(data),
                ) else {
                    return;
                };
                let input = Input::RelayedEphemeral {
                    sender: PeerId(sender),
                    count,
                    session_id,
                    data,
                };
                // Presence is best effort: a worker too busy to take it now skips it.
                let _ = worker.try_send(Command::Input(input, None));
            }
            Notice::PresenceGone { plan, user } => {
                if let Some(worker) = self.worker(plan) {
                    let _ = worker.try_send(Command::Input(Input::GoneElsewhere(user), None));
                }
            }
        }
    }

    /// Relay presence a member sent here to the plan's connections on the other instances.
    fn publish_presence(&self, plan: PlanId, input: &Input) {
        use base64::Engine;
        let Input::Ephemeral {
            from,
            count,
            session_id,
            data,
        } = input
        else {
            return;
        };
        // Postgres caps a notice's size; presence is small (a cursor, "typing…").
        if data.len() > store_notice_room() {
            return;
        }
        self.publish(Notice::Presence {
            plan,
            sender: from.peer.0.clone(),
            session_id: session_id.clone(),
            count: *count,
            data: base64::engine::general_purpose::STANDARD.encode(data),
        });
    }

    /// Tell the other instances that `user`'s last connection syncing `plan` here went.
    fn publish_gone(&self, plan: PlanId, user: UserId) {
        self.publish(Notice::PresenceGone { plan, user });
    }

    /// Have the plan's worker, if it is loaded here, read what another instance stored.
    fn catch_up(&self, plan: PlanId) {
        if let Some(worker) = self.worker(plan) {
            self.0.tracker.spawn(async move {
                let _ = worker.send(Command::CatchUp).await;
            });
        }
    }

    fn catch_up_all(&self) {
        let plans: Vec<PlanId> = lock(&self.0.workers).keys().copied().collect();
        for plan in plans {
            self.catch_up(plan);
        }
    }

    async fn tell(&self, plan: PlanId, input: Input) {
        if let Some(worker) = self.worker(plan) {
            let _ = worker.send(Command::Input(input, None)).await;
        }
    }

    /// Close every sync connection of the account (it was disabled), on every instance.
    pub fn close_account(&self, user: UserId, reason: &str) {
        self.close_here(|entry| entry.user == user, reason);
        self.publish(Notice::AccountDisabled { user });
    }

    /// Close every sync connection of one device session (logged out or ended), on every
    /// instance.
    pub fn close_session(&self, session: SessionId, reason: &str) {
        self.close_here(|entry| entry.session == session, reason);
        self.publish(Notice::SessionEnded { session });
    }

    fn close_here(&self, which: impl Fn(&ConnEntry) -> bool, reason: &str) {
        for entry in lock(&self.0.connections).values().filter(|e| which(e)) {
            entry.outbox.close(reason);
        }
    }

    fn kill(&self, conn: ConnId) {
        if let Some(entry) = lock(&self.0.connections).get(&conn) {
            entry.outbox.closed().cancel();
        }
    }

    async fn ensure_loaded(
        &self,
        plan: PlanId,
        user: UserId,
    ) -> Result<mpsc::Sender<Command>, HubError> {
        if let Some(worker) = self.worker(plan) {
            return Ok(worker);
        }
        match self.0.store.role_of(plan, user).await {
            Ok(Some(_)) => Ok(self.worker_or_spawn(plan, Existence::Stored)),
            Ok(None) => Err(HubError::NotFound),
            Err(_) => Err(HubError::Unavailable),
        }
    }

    /// Hand an HTTP call's command to the plan's worker, loading the plan for a member (one
    /// worker per plan, so concurrent calls share one load and one document in memory).
    async fn send_to_plan(
        &self,
        plan: PlanId,
        user: UserId,
        mut command: Command,
    ) -> Result<(), HubError> {
        // A worker evicted between the lookup and the send: one more try starts a fresh one.
        for _ in 0..2 {
            let worker = self.ensure_loaded(plan, user).await?;
            match worker.send(command).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(returned)) => {
                    self.forget_worker(plan, &worker);
                    command = returned;
                }
            }
        }
        Err(HubError::Unavailable)
    }

    /// Apply changes uploaded over HTTP; the answer is the plan's heads once they are stored.
    pub async fn upload(
        &self,
        plan: PlanId,
        user: UserId,
        bytes: Vec<u8>,
    ) -> Result<Vec<ChangeHash>, HubError> {
        let (reply, answer) = oneshot::channel();
        self.send_to_plan(plan, user, Command::Upload { user, bytes, reply })
            .await?;
        answer.await.map_err(|_| HubError::Unavailable)?
    }

    /// The changes a client lacks, given the heads it has, and the plan's heads.
    pub async fn changes_since(
        &self,
        plan: PlanId,
        user: UserId,
        since: Vec<ChangeHash>,
    ) -> Result<(Vec<u8>, Vec<ChangeHash>), HubError> {
        let (reply, answer) = oneshot::channel();
        self.send_to_plan(plan, user, Command::Changes { user, since, reply })
            .await?;
        answer.await.map_err(|_| HubError::NotFound)
    }

    /// Read the plan's document as `user` (a member) sees it now: `read` runs on the document
    /// the plan's worker holds, loading it once if nobody is syncing it (the load shared by
    /// every request and socket asking at the same time, under the hub's bound on concurrent
    /// loads). Keep `read` to reading and turning into an answer; it runs on the worker's
    /// thread.
    pub async fn read<T: Send + 'static>(
        &self,
        plan: PlanId,
        user: UserId,
        read: impl FnOnce(&Automerge) -> T + Send + 'static,
    ) -> Result<T, HubError> {
        let (reply, answer) = oneshot::channel();
        let read: Reader = Box::new(move |doc| {
            let _ = reply.send(doc.map(read));
        });
        self.send_to_plan(plan, user, Command::Read { user, read })
            .await?;
        answer.await.map_err(|_| HubError::NotFound)?
    }
}

/// One plan's worker task: owns its [`DocumentCore`] and does its I/O.
struct Worker {
    hub: SyncHub,
    plan: PlanId,
    core: DocumentCore,
    outboxes: HashMap<ConnId, Outbox>,
    /// Connections already checked for the access log, so the hub is asked once per connection.
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
        self.hub
            .0
            .metrics
            .presence_sessions
            .sub(gauge_value(self.presence_counted));
    }
}

/// How often a message from an account that is not (yet) a member here makes the worker look in
/// storage for a membership granted on another instance.
const STRANGER_RECHECK: Duration = Duration::from_secs(5);

/// Which stored snapshot a worker's document includes, and up to which change row it includes
/// every stored change: where it catches up from when another instance stores something.
#[derive(Debug, Clone, Copy, Default)]
struct StorageMarks {
    snapshot_generation: i64,
    last_change_id: i64,
}

/// A plan is checked against the schema once it has had no change for this long (a person
/// typing a goal sends a change every keystroke or so; the check reads the whole document)...
const VALIDATE_WHEN_QUIET: Duration = Duration::from_secs(2);
/// ...or, while it keeps changing, this long after the first change not checked yet.
const VALIDATE_AT_MOST_AFTER: Duration = Duration::from_secs(30);

/// The longest title recorded for the plan list, in characters.
const RECORDED_TITLE_CHARS: usize = 500;

/// The plan list answers every title: a title grown huge by a buggy client is recorded (and
/// listed) by its beginning.
fn truncate_title(mut title: String) -> String {
    if let Some((cut, _)) = title.char_indices().nth(RECORDED_TITLE_CHARS) {
        title.truncate(cut);
    }
    title
}

/// How many queued commands a worker applies before one group commit.
const BATCH: usize = 64;

impl Worker {
    async fn run(
        hub: SyncHub,
        plan: PlanId,
        existence: Existence,
        mut rx: mpsc::Receiver<Command>,
    ) {
        let (schema_issue, title) = match hub.0.store.plan(plan).await {
            Ok(Some(stored)) => (stored.schema_issue, stored.title),
            _ => (None, PlanTitle::NotRecorded),
        };
        let loaded = {
            // Waiting here holds nothing but this task: messages for the plan queue in its
            // channel meanwhile (and their senders wait once it is full).
            let _permit = hub.0.loads.acquire().await;
            load(&hub.0.store, &hub.0.server, plan, existence, &hub.0.config).await
        };
        if existence == Existence::Stored && loaded.is_ok() {
            hub.0.metrics.plan_loads.inc();
        }
        let (core, uncompacted, marks) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(plan.id = %plan, error = %err, "sync: could not load the plan");
                hub.forget_worker_now(plan);
                rx.close();
                while let Some(command) = rx.recv().await {
                    fail_command(command, "the plan could not be loaded; try again");
                }
                return;
            }
        };
        let mut worker = Worker {
            hub,
            plan,
            core,
            outboxes: HashMap::new(),
            synced: HashSet::new(),
            uncompacted,
            unvalidated_since: (existence == Existence::Stored).then(tokio::time::Instant::now),
            last_changed: tokio::time::Instant::now(),
            schema_issue,
            title,
            marks,
            stranger_checks: HashMap::new(),
            presence_counted: 0,
        };
        let presence_limit = worker.hub.0.config.max_presence_ids_per_plan;
        worker.core.set_presence_limit(presence_limit);
        let idle = worker.hub.0.config.idle_evict;
        // One wait for shutdown for the worker's whole life, not a new one per message.
        let hub = worker.hub.clone();
        let shutdown = hub.0.shutdown.cancelled();
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
        worker.hub.forget_worker_now(worker.plan);
        rx.close();
        while let Some(command) = rx.recv().await {
            fail_command(command, "the plan is no longer available here; reconnect");
        }
    }

    /// Leave memory if nobody is connected and nothing is queued; decided under the hub's lock so
    /// no message is routed to a worker that is going away.
    fn try_evict(&self, rx: &mpsc::Receiver<Command>) -> bool {
        let mut workers = lock(&self.hub.0.workers);
        if self.core.has_peers() || !rx.is_empty() {
            return false;
        }
        workers.remove(&self.plan);
        tracing::debug!(plan.id = %self.plan, "plan evicted from memory");
        true
    }

    /// Apply a batch, commit what it accepted, then send. False if the worker must stop.
    async fn apply(&mut self, batch: Vec<Command>) -> bool {
        let mut effects = Effects::default();
        if self.must_catch_up(&batch) {
            self.catch_up(&mut effects).await;
        }
        let mut uploads: Vec<(UploadReply, Result<Vec<ChangeHash>, HubError>)> = Vec::new();
        let mut reads: Vec<(UserId, Vec<ChangeHash>, ChangesReply)> = Vec::new();
        let mut document_reads: Vec<(UserId, Reader)> = Vec::new();
        // Connections syncing this plan as a member for the first time: (account, session).
        let mut opened: Vec<(UserId, SessionId)> = Vec::new();
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
                        && self.hub.0.store.is_shared()
                        && self.core.is_member(from.user)
                    {
                        self.hub.publish_presence(self.plan, &input);
                    }
                    let core = &mut self.core;
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        core.handle(input, &mut effects)
                    }));
                    if handled.is_err() {
                        // The document may be half-changed: drop it unsaved and unadvertised.
                        tracing::error!(plan.id = %self.plan, "sync: a message made the plan's worker fail");
                        self.fail_all(
                            &mut effects,
                            "the server could not process a message; reconnect to try again",
                        );
                        return false;
                    }
                    if let Some((conn, user)) = syncing
                        && let Some(session) = self.first_sync(conn, user)
                    {
                        opened.push((user, session));
                    }
                }
                Command::Upload { user, bytes, reply } => {
                    let result = self
                        .core
                        .apply_uploaded(user, &bytes, &mut effects)
                        .map_err(HubError::from);
                    uploads.push((reply, result));
                }
                Command::Changes { user, since, reply } => reads.push((user, since, reply)),
                Command::Read { user, read } => document_reads.push((user, read)),
                Command::CatchUp => {}
            }
        }

        let batch = std::mem::take(&mut effects.batch);
        let created_by = batch.create_owner;
        let stored_count = batch.changes.len();
        let stored = self
            .hub
            .0
            .store
            .append_changes(self.plan, batch, chrono::Utc::now())
            .await;
        if let Err(crate::store::StoreError::PlanDeleted) = stored {
            // An offline creation of a deleted plan's id (a stale replica; the delete happened
            // after this document was loaded as unclaimed, on another instance say): nothing was
            // stored, and every connection here gets `doc-unavailable`, as for a deleted plan.
            tracing::info!(plan.id = %self.plan, "sync refused: the plan was deleted");
            for (reply, _) in uploads {
                let _ = reply.send(Err(HubError::NotFound));
            }
            effects.outgoing.clear();
            self.core.handle(Input::PlanDeleted, &mut effects);
            self.deliver(effects);
            return false;
        }
        if let Err(crate::store::StoreError::PlanLimitReached) = stored {
            // An offline creation beyond the owner's limit: counted in the transaction that
            // would have created it (see `Store::append_changes`), so none slips past it.
            tracing::info!(plan.id = %self.plan, "sync refused: the owner has reached the plan limit");
            for (reply, _) in uploads {
                let _ = reply.send(Err(HubError::Unavailable));
            }
            self.fail_all(
                &mut effects,
                "refused: this account has reached its limit of plans",
            );
            return false;
        }
        if let Err(err) = stored {
            // Nothing of this batch may be advertised: drop the in-memory document entirely.
            tracing::error!(plan.id = %self.plan, error = %err, "sync: could not store changes");
            for (reply, _) in uploads {
                let _ = reply.send(Err(HubError::Unavailable));
            }
            self.fail_all(
                &mut effects,
                "the server could not store your changes; reconnect to try again",
            );
            return false;
        }
        if created_by.is_some() {
            tracing::info!(plan.id = %self.plan, "plan created by offline sync");
            self.record_title().await;
        }
        self.record_accesses(created_by, opened);

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
            // Dropping the reply tells a non-member "not found".
        }
        for (user, read) in document_reads {
            if self.core.is_member(user) {
                read(Ok(self.core.doc()));
            }
        }
        self.hub
            .0
            .metrics
            .changes_stored
            .inc_by(stored_count as u64);
        self.hub
            .0
            .metrics
            .sync_refusals
            .inc_by(effects.close.len() as u64);
        let (shortcut, general) = self.core.take_steps();
        self.hub.0.metrics.sync_shortcut_steps.inc_by(shortcut);
        self.hub.0.metrics.sync_general_steps.inc_by(general);
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
        if self.uncompacted >= self.hub.0.config.compact_after_changes {
            self.compact().await;
        }
        true
    }

    /// Whether the batch needs what other instances stored first: they said so, or (with other
    /// instances on the database) an HTTP read, or a message from an account this document does
    /// not know as a member (it may have joined on another instance a moment ago).
    fn must_catch_up(&mut self, batch: &[Command]) -> bool {
        if !self.hub.0.store.is_shared() {
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
            .hub
            .0
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
        let issue = cairn_shared::plan::read_plan(self.core.doc())
            .err()
            .map(|issue| issue.to_string());
        if issue == self.schema_issue {
            return;
        }
        if issue.is_some() {
            self.hub.0.metrics.schema_mismatches.inc();
            tracing::warn!(plan.id = %self.plan, "plan document does not fit the schema (kept, flagged)");
        }
        match self
            .hub
            .0
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

    /// Record the document's title beside the plan row when it differs from the one recorded,
    /// so the plan list shows it without loading the document.
    async fn record_title(&mut self) {
        let title = truncate_title(cairn_shared::plan::read_title(self.core.doc()));
        if matches!(&self.title, PlanTitle::Known(known) if *known == title) {
            return;
        }
        match self.hub.0.store.set_title(self.plan, &title).await {
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
            .hub
            .0
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
        self.hub.first_sync(conn, self.plan)
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
        let store = self.hub.0.store.clone();
        let plan = self.plan;
        self.hub.0.tracker.spawn(async move {
            if let Err(err) = access_log::record_all(&store, plan, &records).await {
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
                self.hub.publish_gone(self.plan, user);
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
                self.hub.kill(conn);
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
            let gauge = &self.hub.0.metrics.presence_sessions;
            gauge.add(gauge_value(presence));
            gauge.sub(gauge_value(self.presence_counted));
            self.presence_counted = presence;
        }
    }
}

impl SyncHub {
    fn forget_worker_now(&self, plan: PlanId) {
        lock(&self.0.workers).remove(&plan);
    }
}

/// Receive the other instances' notices and pass them on, until shutdown; after every (re)connect
/// a [`Heard::Gap`], since anything may have happened while nobody listened. The subscription
/// is only ever dropped mid-receive at shutdown (its receive is not documented as cancel-safe).
async fn receive_notices(store: Store, heard: mpsc::Sender<Heard>, shutdown: CancellationToken) {
    const RETRY: Duration = Duration::from_secs(1);
    loop {
        let subscribed = tokio::select! {
            subscribed = store.subscribe() => subscribed,
            () = shutdown.cancelled() => return,
        };
        match subscribed {
            Ok(Some(mut subscription)) => {
                if heard.send(Heard::Gap).await.is_err() {
                    return;
                }
                loop {
                    let next = tokio::select! {
                        next = subscription.next() => next,
                        () = shutdown.cancelled() => return,
                    };
                    match next {
                        Ok(next) => {
                            if next == Heard::Gap {
                                tracing::warn!(
                                    "the notice connection was lost and is back; re-reading every loaded plan"
                                );
                            }
                            if heard.send(next).await.is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "lost the notice connection");
                            break;
                        }
                    }
                }
            }
            Ok(None) => return,
            Err(err) => tracing::warn!(error = %err, "could not listen for other instances"),
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Stored actor bindings (hex actor id → account) as the document core keeps them; a row whose
/// id is not hex (it cannot be, the server wrote it) is skipped.
fn actor_map(bindings: HashMap<String, UserId>) -> HashMap<ActorId, UserId> {
    bindings
        .into_iter()
        .filter_map(|(hex, user)| {
            ActorId::try_from(hex.as_str())
                .ok()
                .map(|actor| (actor, user))
        })
        .collect()
}

fn input_conn(input: &Input) -> Option<ConnId> {
    match input {
        Input::Sync { from, .. } | Input::Ephemeral { from, .. } => Some(from.conn),
        _ => None,
    }
}

fn fail_command(command: Command, reason: &str) {
    match command {
        Command::Input(_, Some(outbox)) => {
            outbox.close(reason);
        }
        Command::Upload { reply, .. } => {
            let _ = reply.send(Err(HubError::Unavailable));
        }
        Command::Read { read, .. } => read(Err(HubError::Unavailable)),
        _ => {}
    }
}

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the stored document is unreadable: {0}")]
    Document(String),
}

async fn load(
    store: &Store,
    server: &PeerId,
    plan: PlanId,
    existence: Existence,
    config: &SyncConfig,
) -> Result<(DocumentCore, usize, StorageMarks), LoadError> {
    let max_document_bytes = config.max_document_bytes;
    if existence == Existence::Unclaimed {
        let core = DocumentCore::new(
            plan,
            server.clone(),
            Automerge::new(),
            existence,
            HashSet::new(),
            HashMap::new(),
        )
        .with_size_limit(0, max_document_bytes)
        .with_op_limit(config.max_document_ops);
        return Ok((core, 0, StorageMarks::default()));
    }
    let loaded = crate::services::plans::load_document_counted(store, plan)
        .await
        .map_err(|err| LoadError::Document(err.to_string()))?;
    let members = store.member_ids(plan).await?;
    let actors = actor_map(store.actor_bindings(plan).await?);
    let core = DocumentCore::new(
        plan,
        server.clone(),
        loaded.document,
        existence,
        members,
        actors,
    )
    .with_size_limit(loaded.stored_bytes, max_document_bytes)
    .with_op_limit(config.max_document_ops);
    let marks = StorageMarks {
        snapshot_generation: loaded.snapshot_generation,
        last_change_id: loaded.last_change_id,
    };
    Ok((core, loaded.uncompacted, marks))
}

/// The most presence bytes a notice carries (base64 and the envelope take the rest).
fn store_notice_room() -> usize {
    crate::store::MAX_NOTICE_BYTES / 4 * 3 - 1024
}
