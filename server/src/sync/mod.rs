//! Sync: the automerge-repo protocol on the `automerge` crate, for the layers above (the
//! WebSocket transport, the services). Knows nothing of actix, HTTP or the services; below it,
//! only `store`. Its files, from the inside out:
//!
//! - [`core`]: the sans-IO core: one socket's protocol state and one plan's sync (members,
//!   authorship, offline creation, presence). Messages in, messages and storage effects out.
//! - [`outbox`]: what goes out on one connection, bounded by count and bytes.
//! - `mailbox`: what a plan's worker is asked to do, and how it answers.
//! - `registry`: this process's open connections and loaded plans.
//! - `loading`: a plan read from storage into a document core.
//! - `fanout`: instances sharing one Postgres tell each other what changed.
//! - `worker`: one task per loaded plan: applies, commits (then sends), catches up, compacts,
//!   checks the schema, records first syncs, leaves memory when idle.
//! - `hub`: the way in: connections, routing, HTTP sync calls, REST reads, membership news.
//!
//! A worker applies a batch of messages, commits every accepted change in one transaction, and
//! only then sends anything whose heads include them. A worker with no connections for the idle
//! time is evicted, so memory follows active plans, not stored plans.

pub mod core;

mod fanout;
mod hub;
mod loading;
mod mailbox;
pub mod outbox;
mod registry;
mod worker;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use hub::SyncHub;
pub use loading::{LoadError, LoadedDocument, load_document, load_document_counted};
pub use mailbox::HubError;
pub use outbox::{Gone, OUTBOX_CAPACITY, Outbox, Outgoing};

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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps in a usable state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn gauge_value(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
