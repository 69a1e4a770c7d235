//! Fan-out across instances: several Cairn instances on one Postgres tell each other what
//! changed (a plan's changes stored, a member added or removed, a plan deleted, an account
//! disabled, a device session ended, presence) through the store's notices, and each catches up
//! from storage. On SQLite there is one instance and nothing here runs.
//!
//! [`Fanout`] publishes, off the caller's path; [`listen`] receives until shutdown and hands
//! each notice to the plans and connections of this process (through the [`Registry`]), with a
//! sweep every minute as a safety net under lost notices.

use std::sync::Arc;
use std::time::Duration;

use cairn_shared::protocol::PeerId;
use cairn_shared::{PlanId, UserId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::core::document::Input;
use super::mailbox::Command;
use super::registry::Registry;
use crate::store::{Heard, Notice, Store};

/// The way to the other instances on the database; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Fanout {
    store: Store,
    tracker: TaskTracker,
}

impl Fanout {
    pub(super) fn new(store: Store, tracker: TaskTracker) -> Self {
        Self { store, tracker }
    }

    /// Whether other instances may share the database (Postgres).
    pub(super) fn is_shared(&self) -> bool {
        self.store.is_shared()
    }

    /// Tell the other instances on the database, off the caller's path; a failure is logged
    /// (they still learn of it when their listener reconnects and re-reads every loaded plan).
    pub(super) fn publish(&self, notice: Notice) {
        if !self.store.is_shared() {
            return;
        }
        let store = self.store.clone();
        self.tracker.spawn(async move {
            if let Err(err) = store.publish(notice).await {
                tracing::warn!(error = %err, "could not notify the other instances");
            }
        });
    }

    /// Relay presence a member sent here to the plan's connections on the other instances.
    pub(super) fn publish_presence(&self, plan: PlanId, input: &Input) {
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
    pub(super) fn publish_gone(&self, plan: PlanId, user: UserId) {
        self.publish(Notice::PresenceGone { plan, user });
    }
}

/// Listen for the other instances' notices until shutdown, and act on each here.
pub(super) async fn listen(
    store: Store,
    registry: Arc<Registry>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let here = Here { registry, tracker };
    // A safety net under the notices: one that was never sent (the publishing instance
    // crashed between its commit and the notice, say) is made up for within this time.
    const SWEEP: Duration = Duration::from_secs(60);
    let (heard_tx, mut heard_rx) = mpsc::channel(1024);
    here.tracker
        .spawn(receive_notices(store, heard_tx, shutdown.clone()));
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.tick().await;
    loop {
        tokio::select! {
            heard = heard_rx.recv() => match heard {
                Some(Heard::Notice(notice)) => here.heard(notice),
                Some(Heard::Gap) => here.catch_up_all(),
                None => return,
            },
            _ = sweep.tick() => here.catch_up_all(),
            () = shutdown.cancelled() => return,
        }
    }
}

/// This process's side of the fan-out: its loaded plans and open connections.
struct Here {
    registry: Arc<Registry>,
    tracker: TaskTracker,
}

impl Here {
    fn heard(&self, notice: Notice) {
        match notice {
            Notice::Plan { plan } => self.catch_up(plan),
            Notice::AccountDisabled { user, reason } => {
                self.registry.close_where(
                    |entry| entry.user == user,
                    reason
                        .as_deref()
                        .unwrap_or("this account has been disabled"),
                );
            }
            Notice::SessionEnded { session } => {
                self.registry.close_where(
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
                    self.registry.worker(plan),
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
                if let Some(worker) = self.registry.worker(plan) {
                    let _ = worker.try_send(Command::Input(Input::GoneElsewhere(user), None));
                }
            }
        }
    }

    /// Have the plan's worker, if it is loaded here, read what another instance stored.
    fn catch_up(&self, plan: PlanId) {
        if let Some(worker) = self.registry.worker(plan) {
            self.tracker.spawn(async move {
                let _ = worker.send(Command::CatchUp).await;
            });
        }
    }

    fn catch_up_all(&self) {
        let plans = self.registry.loaded_plans();
        for plan in plans {
            self.catch_up(plan);
        }
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

/// The most presence bytes a notice carries (base64 and the envelope take the rest).
fn store_notice_room() -> usize {
    crate::store::MAX_NOTICE_BYTES / 4 * 3 - 1024
}
