//! The hub: the way into sync for the layers above. It registers connections, routes each
//! protocol message to its plan's worker (checking membership before a document is ever loaded,
//! and loading it once for everyone asking at the same time), runs HTTP sync calls and REST reads
//! on the document a worker holds, and tells workers and connections, here and on the other
//! instances, about membership changes, deletions, disabled accounts and ended sessions.

use std::collections::HashSet;
use std::sync::Arc;

use automerge::{Automerge, ChangeHash};
use cairn_shared::api::AccountKind;
use cairn_shared::protocol::{Message, PeerId};
use cairn_shared::{PlanId, SessionId, UserId};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::SyncConfig;
use super::core::document::{ConnId, Existence, Input};
use super::fanout::{self, Fanout};
use super::loading::start_title_backfill;
use super::mailbox::{Command, HubError, Reader};
use super::outbox::{Outbox, Outgoing};
use super::registry::{ConnEntry, Registry};
use super::worker::{Handles, Worker};
use crate::metrics::Metrics;
use crate::store::{Notice, Store};

struct HubInner {
    handles: Arc<Handles>,
    /// The storage id announced in the handshake.
    storage_id: String,
}

/// The document hub; cheap to clone.
#[derive(Clone)]
pub struct SyncHub(Arc<HubInner>);

impl std::fmt::Debug for SyncHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHub")
            .field("server", &self.0.handles.server)
            .finish_non_exhaustive()
    }
}

impl SyncHub {
    /// A hub over `store`, announcing `storage_id`, with workers tracked by `tracker` and stopped
    /// by `shutdown`.
    pub fn new(
        store: Store,
        metrics: Metrics,
        config: SyncConfig,
        storage_id: String,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let handles = Handles {
            registry: Arc::new(Registry::new(config.max_unclaimed_per_connection)),
            fanout: Fanout::new(store.clone(), tracker.clone()),
            loads: Arc::new(Semaphore::new(config.max_concurrent_loads.max(1))),
            server: PeerId(format!("cairn-{storage_id}")),
            store,
            metrics,
            config,
            tracker,
            shutdown,
        };
        Self(Arc::new(HubInner {
            handles: Arc::new(handles),
            storage_id,
        }))
    }

    /// The server's stable peer id.
    pub fn server_peer(&self) -> PeerId {
        self.0.handles.server.clone()
    }

    /// The storage id announced in the handshake.
    pub fn storage_id(&self) -> String {
        self.0.storage_id.clone()
    }

    /// How many plan documents are in memory now.
    pub fn loaded_documents(&self) -> usize {
        self.0.handles.registry.loaded_documents()
    }

    /// How many sync connections `user` has open now.
    pub fn connections_of(&self, user: UserId) -> usize {
        self.0.handles.registry.connections_of(user)
    }

    /// How many sync connections are open now.
    pub fn open_connections(&self) -> usize {
        self.0.handles.registry.open_connections()
    }

    /// Register a new connection: its id, its outbox (whose [`Outbox::closed`] is cancelled
    /// when it must close, at shutdown too), and the queue its socket sends from.
    pub fn connect(
        &self,
        user: UserId,
        session: SessionId,
    ) -> (ConnId, Outbox, mpsc::Receiver<Outgoing>) {
        let handles = &self.0.handles;
        let (outbox, queue) = Outbox::new(
            handles.shutdown.child_token(),
            handles.config.max_outbox_bytes,
            handles.metrics.outbox_bytes.clone(),
        );
        let conn = handles
            .registry
            .add_connection(user, session, outbox.clone());
        (conn, outbox, queue)
    }

    /// Forget a connection that closed before it synced any plan.
    pub fn forget_connection(&self, conn: ConnId) {
        self.0.handles.registry.forget_connection(conn);
    }

    /// Forget a closed connection and tell the documents it synced.
    pub async fn disconnect(&self, conn: ConnId, plans: &HashSet<PlanId>) {
        self.0.handles.registry.forget_connection(conn);
        for plan in plans {
            let worker = self.0.handles.registry.worker(*plan);
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
            sender_id: self.0.handles.server.clone(),
            target_id: conn_peer.clone(),
            document_id: plan.document_id().to_string(),
        };
        if kind == AccountKind::Admin {
            tracing::info!(plan.id = %plan, user.id = %user, "sync refused: admins do not sync plans");
            let _ = outbox.send(&unavailable());
            return;
        }
        let mut command = Command::Input(input, Some(outbox.clone()));
        if let Some(worker) = self.0.handles.registry.worker(plan) {
            match worker.send(command).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(returned)) => {
                    // The worker stopped (evicted) just now: start a fresh one below.
                    self.0.handles.registry.forget_worker(plan, &worker);
                    command = returned;
                }
            }
        }
        let existence = match self.0.handles.store.role_of(plan, user).await {
            Ok(Some(_)) => Existence::Stored,
            Ok(None) => match self.0.handles.store.plan(plan).await {
                // A deleted plan's id stays taken (its tombstone): a stale replica syncing it
                // gets `doc-unavailable`, as for someone else's plan, and nothing is created.
                Ok(None) if is_sync_with_document => {
                    match self.0.handles.store.is_tombstoned(plan).await {
                        Ok(false) => Existence::Unclaimed,
                        Ok(true) => {
                            tracing::info!(plan.id = %plan, user.id = %user, "sync refused: the plan was deleted");
                            let _ = outbox.send(&unavailable());
                            return;
                        }
                        Err(err) => return self.storage_failed(outbox, &err),
                    }
                }
                Ok(_) => {
                    tracing::info!(plan.id = %plan, user.id = %user, "sync refused: not a member");
                    let _ = outbox.send(&unavailable());
                    return;
                }
                Err(err) => return self.storage_failed(outbox, &err),
            },
            Err(err) => return self.storage_failed(outbox, &err),
        };
        if existence == Existence::Unclaimed
            && !self.0.handles.registry.may_load_unclaimed(conn, plan)
        {
            let limit = self.0.handles.config.max_unclaimed_per_connection;
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

    fn storage_failed(&self, outbox: &Outbox, err: &dyn std::error::Error) {
        tracing::error!(error = %err, "sync: storage unavailable");
        outbox.close("the server cannot reach its storage; try again");
    }

    fn worker_or_spawn(&self, plan: PlanId, existence: Existence) -> mpsc::Sender<Command> {
        let handles = &self.0.handles;
        handles.registry.worker_or_spawn(plan, || {
            let (tx, rx) = mpsc::channel(256);
            let worker_handles = handles.clone();
            handles.tracker.spawn(async move {
                Worker::run(worker_handles, plan, existence, rx).await;
            });
            tx
        })
    }

    /// The account is no longer a member: its live sync of the plan stops at once, on every
    /// instance.
    pub async fn member_removed(&self, plan: PlanId, user: UserId) {
        self.tell(plan, Input::MemberRemoved(user)).await;
        self.0.handles.fanout.publish(Notice::Plan { plan });
    }

    /// The account became a member.
    pub async fn member_added(&self, plan: PlanId, user: UserId) {
        self.tell(plan, Input::MemberAdded(user)).await;
        self.0.handles.fanout.publish(Notice::Plan { plan });
    }

    /// The plan was deleted: every connection loses it and the document leaves memory, on every
    /// instance.
    pub async fn plan_deleted(&self, plan: PlanId) {
        self.tell(plan, Input::PlanDeleted).await;
        self.0.handles.fanout.publish(Notice::Plan { plan });
    }

    /// Record the titles of plans stored before titles were kept beside the plan row, in the
    /// background, one plan at a time under the bound on concurrent loads.
    pub fn start_title_backfill(&self) {
        let handles = &self.0.handles;
        start_title_backfill(
            handles.store.clone(),
            handles.loads.clone(),
            &handles.tracker,
            handles.shutdown.clone(),
        );
    }

    /// Listen for the other instances' notices until shutdown (Postgres; nothing on SQLite).
    pub fn start_fanout(&self) {
        let handles = &self.0.handles;
        if !handles.fanout.is_shared() {
            return;
        }
        handles.tracker.spawn(fanout::listen(
            handles.store.clone(),
            handles.registry.clone(),
            handles.tracker.clone(),
            handles.shutdown.clone(),
        ));
    }

    async fn tell(&self, plan: PlanId, input: Input) {
        if let Some(worker) = self.0.handles.registry.worker(plan) {
            let _ = worker.send(Command::Input(input, None)).await;
        }
    }

    /// Close every sync connection of the account (disabled or deleted), on every instance.
    pub fn close_account(&self, user: UserId, reason: &str) {
        self.close_everywhere(
            |entry| entry.user == user,
            reason,
            Notice::AccountDisabled {
                user,
                reason: Some(reason.to_owned()),
            },
        );
    }

    /// Close every sync connection of one device session (logged out or ended), on every
    /// instance.
    pub fn close_session(&self, session: SessionId, reason: &str) {
        self.close_everywhere(
            |entry| entry.session == session,
            reason,
            Notice::SessionEnded { session },
        );
    }

    /// Close the connections `which` picks here, and tell the other instances with `notice`.
    fn close_everywhere(&self, which: impl Fn(&ConnEntry) -> bool, reason: &str, notice: Notice) {
        let handles = &self.0.handles;
        handles.registry.close_where(which, reason);
        handles.fanout.publish(notice);
    }

    async fn ensure_loaded(
        &self,
        plan: PlanId,
        user: UserId,
    ) -> Result<mpsc::Sender<Command>, HubError> {
        if let Some(worker) = self.0.handles.registry.worker(plan) {
            return Ok(worker);
        }
        match self.0.handles.store.role_of(plan, user).await {
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
                    self.0.handles.registry.forget_worker(plan, &worker);
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
