//! Reads of what is stored: a plan's snapshot and changes (to load it, whole or as one byte
//! string), its change log (for the history), and what a worker that read up to a mark lacks
//! (to catch up with another instance).

use std::collections::{HashMap, HashSet};

use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::entities::{plan_changes, plan_snapshots, plans};
use super::super::{Store, StoreError};
use super::change_hash;
use crate::crypto::DataKey;
use crate::domain::StoredChange;

impl Store {
    /// A plan's snapshot (if it was ever compacted) and the changes stored since, opened with
    /// the plan's data key. A plan with nothing stored (deleted, say) has neither.
    pub async fn plan_document(
        &self,
        plan: PlanId,
    ) -> Result<(Option<Vec<u8>>, Vec<StoredChange>), StoreError> {
        let stored = self.stored_document(plan).await?;
        Ok((stored.snapshot, stored.changes))
    }

    /// Like [`Store::plan_document`], with the marks a sync worker needs to catch up later.
    /// The mark is read first and the snapshot last: a change stored meanwhile is read again
    /// later (harmless), and a compaction committed meanwhile empties rows that the snapshot
    /// read after it holds.
    pub async fn stored_document(&self, plan: PlanId) -> Result<StoredDocument, StoreError> {
        let last_change_id = self.last_change_id(&self.db, plan).await?;
        let rows = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::Compacted.eq(false))
            .order_by_asc(plan_changes::Column::Id)
            .all(&self.db)
            .await?;
        let snapshot = plan_snapshots::Entity::find_by_id(plan.0)
            .one(&self.db)
            .await?;
        if snapshot.is_none() && rows.is_empty() {
            return Ok(StoredDocument::default());
        }
        let key = self.plan_key(&self.db, plan).await?;
        let generation = snapshot.as_ref().map_or(0, |row| row.generation);
        let snapshot = snapshot
            .map(|row| key.open_snapshot(plan, &row.data))
            .transpose()?;
        let changes = rows
            .into_iter()
            .map(|row| {
                // The row names the change by keyed id: its hash comes from its bytes.
                let data = key.open_change(plan, &row.hash, &row.data)?;
                Ok(StoredChange {
                    hash: change_hash(&data)?,
                    data,
                    actor: row.actor,
                    author_id: UserId(row.author_id),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(StoredDocument {
            snapshot,
            changes,
            snapshot_generation: generation,
            last_change_id,
        })
    }

    /// A plan as the sync engine loads it: the snapshot and every change stored outside it, as
    /// one byte string for `Automerge::load`, with the marks of [`Store::stored_document`]. Only
    /// each row's hash and bytes are read, one row at a time, and opened straight into the
    /// output: a plan of 100,000 changes is never held as 100,000 decoded rows.
    pub async fn stored_bytes(&self, plan: PlanId) -> Result<StoredBytes, StoreError> {
        use futures_util::TryStreamExt;
        let last_change_id = self.last_change_id(&self.db, plan).await?;
        // The key is fetched before the rows stream (which holds a connection until it ends),
        // so a load never waits for a second connection while holding one. A plan with no
        // change rows has nothing stored (compaction keeps the rows).
        let mut key: Option<DataKey> = None;
        if last_change_id > 0 {
            key = Some(self.plan_key(&self.db, plan).await?);
        }
        let mut changes = Vec::new();
        let mut count = 0usize;
        if let Some(opener) = &key {
            let mut rows = plan_changes::Entity::find()
                .select_only()
                .column(plan_changes::Column::Hash)
                .column(plan_changes::Column::Data)
                .filter(plan_changes::Column::PlanId.eq(plan.0))
                .filter(plan_changes::Column::Compacted.eq(false))
                .order_by_asc(plan_changes::Column::Id)
                .into_tuple::<(String, Vec<u8>)>()
                .stream(&self.db)
                .await?;
            while let Some((hash, sealed)) = rows.try_next().await? {
                changes.extend_from_slice(&opener.open_change(plan, &hash, &sealed)?);
                count += 1;
            }
        }
        let snapshot = plan_snapshots::Entity::find_by_id(plan.0)
            .one(&self.db)
            .await?;
        let Some(snapshot) = snapshot else {
            return Ok(StoredBytes {
                bytes: changes,
                changes: count,
                snapshot_generation: 0,
                last_change_id,
            });
        };
        let opener = match &key {
            Some(key) => key,
            None => key.insert(self.plan_key(&self.db, plan).await?),
        };
        let mut bytes = opener.open_snapshot(plan, &snapshot.data)?;
        bytes.extend_from_slice(&changes);
        Ok(StoredBytes {
            bytes,
            changes: count,
            snapshot_generation: snapshot.generation,
            last_change_id,
        })
    }

    /// The highest change row id of the plan (0 when it has none).
    pub(super) async fn last_change_id<C: ConnectionTrait>(
        &self,
        conn: &C,
        plan: PlanId,
    ) -> Result<i64, StoreError> {
        let last: Option<i64> = plan_changes::Entity::find()
            .select_only()
            .column(plan_changes::Column::Id)
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .order_by_desc(plan_changes::Column::Id)
            .limit(1)
            .into_tuple()
            .one(conn)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// What a worker that has read the plan's changes up to `after` and its snapshot of
    /// `generation` lacks. The changes are read before the snapshot: a compaction committed in
    /// between empties rows that the newer snapshot then holds.
    pub async fn plan_catch_up(
        &self,
        plan: PlanId,
        after: i64,
        generation: i64,
    ) -> Result<PlanCatchUp, StoreError> {
        if plans::Entity::find_by_id(plan.0)
            .one(&self.db)
            .await?
            .is_none()
        {
            return Ok(PlanCatchUp::default());
        }
        let members = self.member_ids(plan).await?;
        let bindings = self.actor_bindings(plan).await?;
        let rows = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::Id.gt(after))
            .order_by_asc(plan_changes::Column::Id)
            .all(&self.db)
            .await?;
        let snapshot = plan_snapshots::Entity::find_by_id(plan.0)
            .filter(plan_snapshots::Column::Generation.ne(generation))
            .one(&self.db)
            .await?;
        let last_change_id = rows.last().map_or(after, |row| row.id);
        let key = if rows.is_empty() && snapshot.is_none() {
            None
        } else {
            Some(self.plan_key(&self.db, plan).await?)
        };
        let mut changes = Vec::with_capacity(rows.len());
        let mut snapshot_bytes = None;
        if let Some(key) = key {
            for row in rows.iter().filter(|row| !row.data.is_empty()) {
                changes.push(key.open_change(plan, &row.hash, &row.data)?);
            }
            if let Some(row) = snapshot {
                snapshot_bytes = Some((row.generation, key.open_snapshot(plan, &row.data)?));
            }
        }
        Ok(PlanCatchUp {
            exists: true,
            members,
            bindings,
            snapshot: snapshot_bytes,
            changes,
            last_change_id,
        })
    }
}

/// A plan as stored, with the marks a sync worker catches up from (see [`Store::plan_catch_up`]).
#[derive(Debug, Default)]
pub struct StoredDocument {
    /// The snapshot, if the plan was ever compacted.
    pub snapshot: Option<Vec<u8>>,
    /// The changes stored outside the snapshot.
    pub changes: Vec<StoredChange>,
    /// The snapshot's generation (0 for none).
    pub snapshot_generation: i64,
    /// The highest change row id when it was read.
    pub last_change_id: i64,
}

/// A plan's stored snapshot and changes as one byte string (see [`Store::stored_bytes`]).
#[derive(Debug, Default)]
pub struct StoredBytes {
    /// The snapshot (if any), then every change stored outside it.
    pub bytes: Vec<u8>,
    /// How many changes are stored outside the snapshot.
    pub changes: usize,
    /// The snapshot's generation (0 for none).
    pub snapshot_generation: i64,
    /// The highest change row id when it was read.
    pub last_change_id: i64,
}

/// What changed in a plan's storage since a worker last looked.
#[derive(Debug, Default)]
pub struct PlanCatchUp {
    /// Whether the plan still exists.
    pub exists: bool,
    /// Its members now.
    pub members: HashSet<UserId>,
    /// Its actor bindings now (hex actor id → account).
    pub bindings: HashMap<String, UserId>,
    /// The snapshot, when it is newer than the one the worker has: (generation, bytes).
    pub snapshot: Option<(i64, Vec<u8>)>,
    /// The changes stored after the worker's mark that still have their bytes.
    pub changes: Vec<Vec<u8>>,
    /// The new mark: the highest change row id read.
    pub last_change_id: i64,
}

/// One stored change with the time the server received it.
#[derive(Debug, Clone)]
pub struct LoggedChange {
    /// The change. Its `hash` is the real change hash when its bytes are stored; for a change
    /// folded into the snapshot (no bytes), it is empty unless the row predates keyed ids: find
    /// the change in the document by [`ChangeLog::stored_id`] of each change against `stored_id`.
    pub change: StoredChange,
    /// The id the row stores the change under (its keyed id).
    pub stored_id: String,
    /// When it was stored.
    pub received_at: DateTime<Utc>,
}

/// A plan's stored changes, with what names them in storage.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    /// Every change, in the order stored.
    pub entries: Vec<LoggedChange>,
    plan: PlanId,
    key: Option<crate::crypto::DataKey>,
}

impl ChangeLog {
    /// The id a change of this plan with hash `hash` (hex) is stored under (`None` when the
    /// plan has nothing stored).
    pub fn stored_id(&self, hash: &str) -> Option<String> {
        self.key.as_ref().map(|key| key.change_id(self.plan, hash))
    }
}

impl Store {
    /// Every stored change of a plan with its receive time, in the order they were stored; the
    /// bytes of changes folded into the snapshot are empty.
    pub async fn change_log(&self, plan: PlanId) -> Result<ChangeLog, StoreError> {
        use sea_orm::QueryOrder;
        let rows = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .order_by_asc(plan_changes::Column::Id)
            .all(&self.db)
            .await?;
        let key = if rows.is_empty() {
            None
        } else {
            Some(self.plan_key(&self.db, plan).await?)
        };
        let entries = rows
            .into_iter()
            .map(|row| {
                let (data, hash) = match &key {
                    Some(key) if !row.data.is_empty() => {
                        let data = key.open_change(plan, &row.hash, &row.data)?;
                        let hash = change_hash(&data)?;
                        (data, hash)
                    }
                    // Folded into the snapshot: the real hash is found through the document.
                    _ if row.hash_keyed => (Vec::new(), String::new()),
                    _ => (Vec::new(), row.hash.clone()),
                };
                Ok(LoggedChange {
                    change: StoredChange {
                        hash,
                        actor: row.actor,
                        author_id: UserId(row.author_id),
                        data,
                    },
                    stored_id: row.hash,
                    received_at: row.created_at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ChangeLog { entries, plan, key })
    }
}
