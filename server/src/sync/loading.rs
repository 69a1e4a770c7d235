//! Loading: a plan's document read from storage (its snapshot, then every change since) into a
//! [`DocumentCore`] for its worker, and what the worker must know of how it is stored. Also the
//! backfill of titles for plans stored before titles were kept beside the plan row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use automerge::{ActorId, Automerge};
use cairn_shared::protocol::PeerId;
use cairn_shared::{PlanId, UserId};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::SyncConfig;
use super::core::document::{DocumentCore, Existence};
use crate::store::{Store, StoreError};

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Storage failed, or the plan's sealed data could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored is not a readable Automerge document.
    #[error("the stored document is unreadable: {0}")]
    Document(String),
}

/// Load a plan's document from storage: its snapshot followed by every change since.
pub async fn load_document(store: &Store, plan: PlanId) -> Result<Automerge, LoadError> {
    Ok(load_document_counted(store, plan).await?.document)
}

/// A plan's document as loaded, with what the sync worker needs to know about its storage.
#[derive(Debug)]
pub struct LoadedDocument {
    /// The document.
    pub document: Automerge,
    /// How many changes are stored outside the snapshot.
    pub uncompacted: usize,
    /// The size of the stored snapshot and changes, in bytes.
    pub stored_bytes: usize,
    /// The generation of the snapshot it includes (0 for none).
    pub snapshot_generation: i64,
    /// The highest change row id it includes every change up to.
    pub last_change_id: i64,
}

/// Like [`load_document`], also saying how it is stored.
pub async fn load_document_counted(
    store: &Store,
    plan: PlanId,
) -> Result<LoadedDocument, LoadError> {
    let stored = store.stored_bytes(plan).await?;
    let bytes = stored.bytes;
    if bytes.is_empty() {
        return Err(LoadError::Document("no stored snapshot or changes".into()));
    }
    let stored_bytes = bytes.len();
    // Reading a large plan takes a while (a second or more at 100,000 changes): off the thread
    // that serves everyone else's connections.
    let document = tokio::task::spawn_blocking(move || Automerge::load(&bytes))
        .await
        .map_err(|_| LoadError::Document("reading the stored plan failed".into()))?
        .map_err(|err| LoadError::Document(err.to_string()))?;
    Ok(LoadedDocument {
        document,
        uncompacted: stored.changes,
        stored_bytes,
        snapshot_generation: stored.snapshot_generation,
        last_change_id: stored.last_change_id,
    })
}

/// Which stored snapshot a worker's document includes, and up to which change row it includes
/// every stored change: where it catches up from when another instance stores something.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StorageMarks {
    pub(super) snapshot_generation: i64,
    pub(super) last_change_id: i64,
}

/// A worker's document: read from storage (a stored plan), or empty (an unknown document id
/// a client syncs, a candidate for offline creation); with how many changes are stored outside
/// the snapshot, and its storage marks.
pub(super) async fn load_core(
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
    let loaded = load_document_counted(store, plan).await?;
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

/// Stored actor bindings (hex actor id → account) as the document core keeps them; a row whose
/// id is not hex (it cannot be, the server wrote it) is skipped.
pub(super) fn actor_map(bindings: HashMap<String, UserId>) -> HashMap<ActorId, UserId> {
    bindings
        .into_iter()
        .filter_map(|(hex, user)| {
            ActorId::try_from(hex.as_str())
                .ok()
                .map(|actor| (actor, user))
        })
        .collect()
}

/// The longest title recorded for the plan list, in characters.
const RECORDED_TITLE_CHARS: usize = 500;

/// The plan list answers every title: a title grown huge by a buggy client is recorded (and
/// listed) by its beginning.
pub(super) fn truncate_title(mut title: String) -> String {
    if let Some((cut, _)) = title.char_indices().nth(RECORDED_TITLE_CHARS) {
        title.truncate(cut);
    }
    title
}

/// Record the titles of plans stored before titles were kept beside the plan row, one plan at a
/// time in the background (each load under the bound on concurrent loads, `loads`), so the plan
/// list shows them without loading documents. Until then they are listed untitled.
pub(super) fn start_title_backfill(
    store: Store,
    loads: Arc<Semaphore>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) {
    tracker.spawn(async move {
        let mut failed: HashSet<PlanId> = HashSet::new();
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let batch = match store.plans_without_title(failed.len() as u64 + 50).await {
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
                    let _permit = loads.acquire().await;
                    load_document(&store, plan)
                        .await
                        .map(|document| cairn_shared::plan::read_title(&document))
                };
                let recorded = match title {
                    Ok(title) => store.set_title(plan, &truncate_title(title)).await.is_ok(),
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
