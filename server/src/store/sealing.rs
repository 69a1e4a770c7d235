//! Plan data keys in the database: creating one with its plan, finding (and caching) the key of a
//! plan, shredding it when the plan is deleted, re-wrapping every key under a new master key,
//! sealing plans stored before encryption at rest existed, and re-keying change rows stored
//! under their plain hash before keyed change ids.

use cairn_shared::PlanId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};

use super::entities::{plan_changes, plan_keys, plan_snapshots, plan_tombstones, plans};
use super::{Store, StoreError};
use crate::crypto::{CryptoError, DataKey, Keyring, NewDataKey};

/// How many unwrapped data keys the store keeps in memory; past it the cache starts afresh.
/// Unwrapping is cheap (one AES-GCM open and one primary-key read), so the cache only spares
/// active plans a query on every write.
const KEY_CACHE_LIMIT: usize = 4096;

/// What re-wrapping the plans' data keys did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RewrapReport {
    /// Data keys now wrapped under the current master key that were not before.
    pub rewrapped: u64,
    /// Data keys still wrapped under another master key (it is not in the keyring).
    pub remaining: u64,
}

impl Store {
    /// The master keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A new data key for a plan being created, to insert with [`Store::insert_plan_key`].
    pub(super) fn new_plan_key(&self, plan: PlanId) -> Result<NewDataKey, StoreError> {
        Ok(self.keyring.new_data_key(plan)?)
    }

    /// Store a new plan's wrapped data key (inside the transaction that creates the plan).
    pub(super) async fn insert_plan_key<C: ConnectionTrait>(
        conn: &C,
        plan: PlanId,
        key: &NewDataKey,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        plan_keys::ActiveModel {
            plan_id: Set(plan.0),
            master_key_id: Set(key.master_key_id.clone()),
            wrapped_key: Set(key.wrapped.clone()),
            created_at: Set(now),
        }
        .insert(conn)
        .await?;
        Ok(())
    }

    /// The data key of `plan`: from the cache, else unwrapped from its stored form.
    pub(super) async fn plan_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        plan: PlanId,
    ) -> Result<DataKey, StoreError> {
        if let Some(key) = self.cached_key(plan) {
            return Ok(key);
        }
        let row = plan_keys::Entity::find_by_id(plan.0)
            .one(conn)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the plan has no data key".into()))?;
        let key = self
            .keyring
            .unwrap(plan, &row.master_key_id, &row.wrapped_key)?;
        self.remember_key(plan, key.clone());
        Ok(key)
    }

    pub(super) fn cached_key(&self, plan: PlanId) -> Option<DataKey> {
        self.plan_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&plan)
            .cloned()
    }

    /// Keep a plan's data key in memory (after the transaction that stored it committed).
    pub(super) fn remember_key(&self, plan: PlanId, key: DataKey) {
        let mut cache = self.plan_keys.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= KEY_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(plan, key);
    }

    /// Forget a plan's data key (its plan was deleted).
    pub(super) fn forget_key(&self, plan: PlanId) {
        self.plan_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&plan);
    }

    /// Re-wrap every data key that is not under the keyring's current master key. Each key is
    /// replaced only if it is still the one read (another instance may be doing the same).
    pub async fn rewrap_plan_keys(&self) -> Result<RewrapReport, StoreError> {
        let target = self.keyring.current();
        let mut report = RewrapReport::default();
        let mut unreadable = std::collections::HashSet::new();
        loop {
            let batch = plan_keys::Entity::find()
                .filter(plan_keys::Column::MasterKeyId.ne(target.id()))
                .filter(plan_keys::Column::PlanId.is_not_in(unreadable.iter().copied()))
                .limit(200)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                break;
            }
            for row in batch {
                let plan = PlanId(row.plan_id);
                let wrapped =
                    match self
                        .keyring
                        .rewrap(plan, &row.master_key_id, &row.wrapped_key, &target)
                    {
                        Ok(wrapped) => wrapped,
                        Err(CryptoError::UnknownMasterKey(_) | CryptoError::Unreadable) => {
                            unreadable.insert(row.plan_id);
                            continue;
                        }
                        Err(err) => return Err(err.into()),
                    };
                let updated = plan_keys::Entity::update_many()
                    .col_expr(plan_keys::Column::MasterKeyId, Expr::value(target.id()))
                    .col_expr(plan_keys::Column::WrappedKey, Expr::value(wrapped))
                    .filter(plan_keys::Column::PlanId.eq(row.plan_id))
                    .filter(plan_keys::Column::MasterKeyId.eq(row.master_key_id))
                    .exec(&self.db)
                    .await?;
                report.rewrapped += updated.rows_affected;
            }
        }
        report.remaining = plan_keys::Entity::find()
            .filter(plan_keys::Column::MasterKeyId.ne(target.id()))
            .count(&self.db)
            .await?;
        Ok(report)
    }

    /// Finish work a crash may have interrupted, and bring old data up to date (at start-up):
    /// remove the rows of plans whose deletion did not finish, and seal the plans stored before
    /// encryption at rest. Returns how many plans were sealed.
    pub async fn prepare_plans_at_rest(&self) -> Result<usize, StoreError> {
        let half_deleted: Vec<uuid::Uuid> = plans::Entity::find()
            .select_only()
            .column(plans::Column::Id)
            .filter(
                plans::Column::Id.in_subquery(
                    Query::select()
                        .column(plan_tombstones::Column::PlanId)
                        .from(plan_tombstones::Entity)
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        for id in half_deleted {
            self.purge_plan_rows(PlanId(id)).await?;
        }
        let with_keys: std::collections::HashSet<uuid::Uuid> = plan_keys::Entity::find()
            .select_only()
            .column(plan_keys::Column::PlanId)
            .into_tuple()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let all: Vec<uuid::Uuid> = plans::Entity::find()
            .select_only()
            .column(plans::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut sealed = 0;
        for id in all.into_iter().filter(|id| !with_keys.contains(id)) {
            self.seal_stored_plan(PlanId(id)).await?;
            sealed += 1;
        }
        self.rekey_change_ids().await?;
        Ok(sealed)
    }

    /// Store every change row written before keyed change ids under its keyed id, its blob
    /// resealed with that id as associated data: plan by plan, one transaction each. Only rows
    /// still unkeyed are updated, so running it again, or on two instances starting at once,
    /// is harmless. A plan whose data key cannot be unwrapped is left (and reported) as it is.
    /// Returns how many rows were re-keyed.
    pub async fn rekey_change_ids(&self) -> Result<u64, StoreError> {
        let plans: Vec<uuid::Uuid> = plan_changes::Entity::find()
            .select_only()
            .column(plan_changes::Column::PlanId)
            .distinct()
            .filter(plan_changes::Column::HashKeyed.eq(false))
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut rekeyed = 0;
        for id in plans {
            let plan = PlanId(id);
            match self.rekey_plan_changes(plan).await {
                Ok(rows) => rekeyed += rows,
                Err(StoreError::Sealing(err)) => {
                    tracing::warn!(plan.id = %plan, error = %err, "the plan's change ids could not be re-keyed: its data key or a change does not open");
                }
                Err(err) => return Err(err),
            }
        }
        if rekeyed > 0 {
            tracing::info!(rows = rekeyed, "change rows re-keyed");
        }
        Ok(rekeyed)
    }

    /// Re-key the unkeyed change rows of one plan, in one transaction.
    async fn rekey_plan_changes(&self, plan: PlanId) -> Result<u64, StoreError> {
        let txn = self.begin_write().await?;
        // Appends to the plan wait (Postgres), so none stores a keyed twin of a row meanwhile.
        self.lock_plan_for_append(&txn, plan).await?;
        let key = self.plan_key(&txn, plan).await?;
        let rows = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::HashKeyed.eq(false))
            .all(&txn)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let keyed: std::collections::HashSet<String> = plan_changes::Entity::find()
            .select_only()
            .column(plan_changes::Column::Hash)
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::HashKeyed.eq(true))
            .into_tuple()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let mut rekeyed = 0;
        for row in rows {
            let id = key.change_id(plan, &row.hash);
            if keyed.contains(&id) {
                // The same change stored again under its keyed id (by a newer instance while an
                // older one still ran): the keyed row stands for it.
                rekeyed += plan_changes::Entity::delete_many()
                    .filter(plan_changes::Column::Id.eq(row.id))
                    .filter(plan_changes::Column::HashKeyed.eq(false))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                continue;
            }
            let data = if row.data.is_empty() {
                Vec::new()
            } else {
                let opened = key.open_change(plan, &row.hash, &row.data)?;
                key.seal_change(plan, &id, &opened)?
            };
            rekeyed += plan_changes::Entity::update_many()
                .col_expr(plan_changes::Column::Hash, Expr::value(id))
                .col_expr(plan_changes::Column::Data, Expr::value(data))
                .col_expr(plan_changes::Column::HashKeyed, Expr::value(true))
                .filter(plan_changes::Column::Id.eq(row.id))
                .filter(plan_changes::Column::HashKeyed.eq(false))
                .exec(&txn)
                .await?
                .rows_affected;
        }
        txn.commit().await?;
        Ok(rekeyed)
    }

    /// Give a plan stored in the clear a data key and seal its blobs, in one transaction.
    async fn seal_stored_plan(&self, plan: PlanId) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        let key = self.new_plan_key(plan)?;
        match Self::insert_plan_key(&txn, plan, &key, Utc::now()).await {
            // Another instance starting at the same time sealed it first (the transaction is
            // rolled back as it is dropped).
            Err(StoreError::Conflict) => return Ok(()),
            other => other?,
        }
        let changes = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::Compacted.eq(false))
            .all(&txn)
            .await?;
        for row in changes {
            let sealed = key.key.seal_change(plan, &row.hash, &row.data)?;
            plan_changes::Entity::update_many()
                .col_expr(plan_changes::Column::Data, Expr::value(sealed))
                .filter(plan_changes::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
        if let Some(snapshot) = plan_snapshots::Entity::find_by_id(plan.0).one(&txn).await? {
            let sealed = key.key.seal_snapshot(plan, &snapshot.data)?;
            plan_snapshots::Entity::update_many()
                .col_expr(plan_snapshots::Column::Data, Expr::value(sealed))
                .filter(plan_snapshots::Column::PlanId.eq(plan.0))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.remember_key(plan, key.key);
        Ok(())
    }
}
