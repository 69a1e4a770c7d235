//! What the sync engine needs from storage: a plan's members and actor bindings when its
//! document is loaded, durable appends of accepted changes (grouped into one transaction), the
//! creation of plans that clients made offline, and the installation's storage id.

use std::collections::{HashMap, HashSet};

use cairn_shared::api::PlanRole;
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityName, EntityTrait, IdenStatic,
    PaginatorTrait, QueryFilter, Set,
};

use super::entities::{
    actor_bindings, plan_changes, plan_members, plan_snapshots, plans, server_settings,
};
use super::{Store, StoreError};
use crate::domain::{ChangeBatch, StoredChange};

impl Store {
    /// The account ids of a plan's members.
    pub async fn member_ids(&self, plan: PlanId) -> Result<HashSet<UserId>, StoreError> {
        Ok(plan_members::Entity::find()
            .filter(plan_members::Column::PlanId.eq(plan.0))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| UserId(row.user_id))
            .collect())
    }

    /// Which account each Automerge actor of the plan is bound to (hex actor id → account).
    pub async fn actor_bindings(
        &self,
        plan: PlanId,
    ) -> Result<HashMap<String, UserId>, StoreError> {
        Ok(actor_bindings::Entity::find()
            .filter(actor_bindings::Column::PlanId.eq(plan.0))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.actor, UserId(row.user_id)))
            .collect())
    }

    /// How many plans the account owns.
    pub async fn count_owned_plans(&self, owner: UserId) -> Result<u64, StoreError> {
        Ok(plans::Entity::find()
            .filter(plans::Column::OwnerId.eq(owner.0))
            .count(&self.db)
            .await?)
    }

    /// Store a batch of accepted changes in one transaction: when it returns `Ok`, every change
    /// in it is committed and may be advertised to clients. Creating a plan whose id has a
    /// tombstone is refused with [`StoreError::PlanDeleted`] and stores nothing, and so is one
    /// beyond its owner's limit ([`StoreError::PlanLimitReached`]).
    ///
    /// On SQLite, batches of different plans that arrive together are committed by one
    /// transaction (one `fsync`), each in a savepoint of its own so that one refused batch
    /// leaves the others; see [`super::commit_appends`].
    pub async fn append_changes(
        &self,
        plan: PlanId,
        batch: ChangeBatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(committer) = &self.committer {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = super::AppendJob {
                plan,
                batch,
                now,
                reply,
            };
            committer
                .send(job)
                .await
                .map_err(|_| StoreError::Corrupt("the commit queue is closed".into()))?;
            return answer
                .await
                .map_err(|_| StoreError::Corrupt("the commit queue is closed".into()))?;
        }
        let txn = self.begin_write().await?;
        let new_key = self.append_in(&txn, plan, &batch, now).await?;
        txn.commit().await?;
        if let Some(key) = new_key {
            self.remember_key(plan, key);
        }
        Ok(())
    }

    /// SQLite: store jobs that only add changes, to plans whose data keys are at hand, with
    /// one `INSERT` statement, atomic and durable on its own: one trip to the database thread
    /// and one `fsync`, where a transaction takes several trips (and a savepoint per job).
    /// False, with nothing stored, when a job does more or the statement fails (a plan deleted
    /// meanwhile, say): the caller then takes the long way, which answers each job on its own.
    pub(super) async fn append_plain(&self, jobs: &[super::AppendJob]) -> bool {
        let mut rows = Vec::new();
        for job in jobs {
            let batch = &job.batch;
            if batch.create_owner.is_some() || !batch.new_bindings.is_empty() {
                return false;
            }
            let Some(key) = self.cached_key(job.plan) else {
                return false;
            };
            match change_rows(job.plan, &key, &batch.changes, job.now) {
                Ok(more) => rows.extend(more),
                Err(_) => return false,
            }
            if rows.len() > MAX_PLAIN_ROWS {
                return false;
            }
        }
        if rows.is_empty() {
            return true;
        }
        match insert_changes(&self.appends, rows).await {
            Ok(()) => true,
            Err(err) => {
                tracing::debug!(error = %err, "one-statement append failed; appending job by job");
                false
            }
        }
    }

    /// The work of [`Store::append_changes`] inside `txn`; the new plan's data key (if the batch
    /// creates the plan) is to be remembered once `txn` commits.
    pub(super) async fn append_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        plan: PlanId,
        batch: &ChangeBatch,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::crypto::DataKey>, StoreError> {
        let new_key = match batch.create_owner {
            Some(_) => Some(self.new_plan_key(plan)?),
            None => None,
        };
        if batch.create_owner.is_none() {
            self.lock_plan_for_append(txn, plan).await?;
        }
        let key = match &new_key {
            Some(new_key) => new_key.key.clone(),
            None => self.plan_key(txn, plan).await?,
        };
        if let (Some(owner), Some(new_key)) = (batch.create_owner, &new_key) {
            // A deleted plan's id is never created again (a stale replica syncing it).
            super::plans::refuse_tombstoned(txn, plan).await?;
            self.refuse_over_plan_limit(txn, owner).await?;
            plans::ActiveModel {
                id: Set(plan.0),
                owner_id: Set(owner.0),
                created_at: Set(now),
                schema_issue: Set(None),
                sealed_title: Set(None),
                last_changed_at: sea_orm::ActiveValue::NotSet,
                last_changed_by: sea_orm::ActiveValue::NotSet,
            }
            .insert(txn)
            .await?;
            plan_members::ActiveModel {
                plan_id: Set(plan.0),
                user_id: Set(owner.0),
                role: Set(super::plans::role_text(PlanRole::Owner).to_owned()),
                joined_at: Set(now),
            }
            .insert(txn)
            .await?;
            Self::insert_plan_key(txn, plan, new_key, now).await?;
        }
        if !batch.new_bindings.is_empty() {
            let rows = batch
                .new_bindings
                .iter()
                .map(|(actor, user)| actor_bindings::ActiveModel {
                    plan_id: Set(plan.0),
                    actor: Set(actor.clone()),
                    user_id: Set(user.0),
                    created_at: Set(now),
                });
            actor_bindings::Entity::insert_many(rows).exec(txn).await?;
        }
        if !batch.changes.is_empty() {
            let rows = change_rows(plan, &key, &batch.changes, now)?;
            insert_changes(txn, rows).await?;
        }
        // Other instances with the plan loaded read what is new once this commits.
        self.publish_on(txn, super::Notice::Plan { plan }).await?;
        Ok(new_key.map(|_| key))
    }

    /// The storage id this installation announces to automerge-repo clients, created once and
    /// shared by every instance on the same database.
    pub async fn storage_id(&self) -> Result<String, StoreError> {
        const KEY: &str = "storage_id";
        if let Some(row) = server_settings::Entity::find_by_id(KEY)
            .one(&self.db)
            .await?
        {
            return Ok(row.value);
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        let inserted = server_settings::Entity::insert(server_settings::ActiveModel {
            key: Set(KEY.to_owned()),
            value: Set(fresh),
        })
        .on_conflict(
            OnConflict::column(server_settings::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await;
        inserted?;
        server_settings::Entity::find_by_id(KEY)
            .one(&self.db)
            .await?
            .map(|row| row.value)
            .ok_or_else(|| StoreError::Corrupt("storage id missing after insert".into()))
    }
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

/// The hex hash of a stored change's bytes.
pub(super) fn change_hash(data: &[u8]) -> Result<String, StoreError> {
    let change = automerge::Change::from_bytes(data.to_vec())
        .map_err(|err| StoreError::Corrupt(format!("a stored change does not parse: {err}")))?;
    Ok(const_hex::encode(change.hash().0))
}

impl Store {
    /// Fold a plan's changes into a new snapshot, in one transaction: store the snapshot and mark
    /// the changes it covers as compacted (their bytes cleared, their attribution kept). A crash
    /// before the commit leaves the old snapshot and every change; running it again is harmless.
    ///
    /// `generation` is the generation of the stored snapshot the caller's document includes (0
    /// for none). If another instance compacted since, the snapshot it stored may hold changes
    /// the caller lacks, so nothing is written and the answer is `None`: catch up, then retry.
    /// Otherwise the answer is how many changes were folded and the new generation.
    pub async fn compact(
        &self,
        plan: PlanId,
        snapshot: Vec<u8>,
        covered: &HashSet<String>,
        generation: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<(usize, i64)>, StoreError> {
        use sea_orm::QuerySelect;
        use sea_orm::sea_query::Expr;
        let txn = self.begin_write().await?;
        let key = self.plan_key(&txn, plan).await?;
        let total = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .count(&txn)
            .await?;
        let change_count = i64::try_from(total).unwrap_or(i64::MAX);
        let sealed = key.seal_snapshot(plan, &snapshot)?;
        let next = generation + 1;
        // Replace only the snapshot of the expected generation (a row lock in Postgres: a
        // concurrent compaction of the same plan waits, then finds the generation moved on).
        let mut written = plan_snapshots::Entity::update_many()
            .col_expr(plan_snapshots::Column::Data, Expr::value(sealed.clone()))
            .col_expr(
                plan_snapshots::Column::ChangeCount,
                Expr::value(change_count),
            )
            .col_expr(plan_snapshots::Column::UpdatedAt, Expr::value(now))
            .col_expr(plan_snapshots::Column::Generation, Expr::value(next))
            .filter(plan_snapshots::Column::PlanId.eq(plan.0))
            .filter(plan_snapshots::Column::Generation.eq(generation))
            .exec(&txn)
            .await?
            .rows_affected;
        if written == 0 && generation == 0 {
            written = plan_snapshots::Entity::insert(plan_snapshots::ActiveModel {
                plan_id: Set(plan.0),
                data: Set(sealed),
                change_count: Set(change_count),
                updated_at: Set(now),
                generation: Set(next),
            })
            .on_conflict(
                OnConflict::column(plan_snapshots::Column::PlanId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        if written == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let pending: Vec<(i64, String)> = plan_changes::Entity::find()
            .select_only()
            .column(plan_changes::Column::Id)
            .column(plan_changes::Column::Hash)
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::Compacted.eq(false))
            .into_tuple()
            .all(&txn)
            .await?;
        // Only changes the snapshot really holds: another instance may have stored more meanwhile.
        // Rows name changes by keyed id (rows not re-keyed yet, by their plain hash).
        let covered_ids: HashSet<String> = covered
            .iter()
            .map(|hash| key.change_id(plan, hash))
            .collect();
        let ids: Vec<i64> = pending
            .into_iter()
            .filter(|(_, id)| covered_ids.contains(id) || covered.contains(id))
            .map(|(id, _)| id)
            .collect();
        for chunk in ids.chunks(500) {
            plan_changes::Entity::update_many()
                .col_expr(plan_changes::Column::Compacted, Expr::value(true))
                .col_expr(plan_changes::Column::Data, Expr::value(Vec::<u8>::new()))
                .filter(plan_changes::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(Some((ids.len(), next)))
    }
}

impl Store {
    /// Record whether the plan's document fits the schema (`None`) or where it does not.
    pub async fn set_schema_issue(
        &self,
        plan: PlanId,
        issue: Option<String>,
    ) -> Result<(), StoreError> {
        use sea_orm::sea_query::Expr;
        plans::Entity::update_many()
            .col_expr(plans::Column::SchemaIssue, Expr::value(issue))
            .filter(plans::Column::Id.eq(plan.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// How many plans are flagged as not fitting the schema.
    pub async fn count_plans_not_fitting(&self) -> Result<u64, StoreError> {
        Ok(plans::Entity::find()
            .filter(plans::Column::SchemaIssue.is_not_null())
            .count(&self.db)
            .await?)
    }
}

/// Rows one plain append statement holds at most (SQLite binds at most 32,766 values; a row
/// binds 7).
const MAX_PLAIN_ROWS: usize = 1_000;

/// The rows storing `changes` of `plan`, each under its keyed id and sealed with the plan's data
/// key.
pub(super) fn change_rows(
    plan: PlanId,
    key: &crate::crypto::DataKey,
    changes: &[StoredChange],
    now: DateTime<Utc>,
) -> Result<Vec<ChangeRow>, StoreError> {
    changes
        .iter()
        .map(|change| {
            // The row names the change by its keyed id, never its plain hash.
            let id = key.change_id(plan, &change.hash);
            Ok(ChangeRow {
                plan,
                sealed: key.seal_change(plan, &id, &change.data)?,
                id,
                actor: change.actor.clone(),
                author: change.author_id,
                created_at: now,
            })
        })
        .collect()
}

/// One change as `plan_changes` stores it, its bytes sealed.
pub(super) struct ChangeRow {
    plan: PlanId,
    /// The keyed id ([`crate::crypto::DataKey::change_id`]), stored in `hash`.
    id: String,
    actor: String,
    author: UserId,
    sealed: Vec<u8>,
    created_at: DateTime<Utc>,
}

/// The columns [`insert_changes`] fills, in the order of its values.
const CHANGE_COLUMNS: [plan_changes::Column; 7] = [
    plan_changes::Column::PlanId,
    plan_changes::Column::Hash,
    plan_changes::Column::Actor,
    plan_changes::Column::AuthorId,
    plan_changes::Column::Data,
    plan_changes::Column::CreatedAt,
    plan_changes::Column::HashKeyed,
];

impl ChangeRow {
    /// The row's values, in the order of [`CHANGE_COLUMNS`] and of the types the entity binds
    /// (`uuid`, text, blob, timestamp, boolean), so that rows read back the same.
    fn into_values(self) -> [sea_orm::Value; CHANGE_COLUMNS.len()] {
        [
            self.plan.0.into(),
            self.id.into(),
            self.actor.into(),
            self.author.0.into(),
            self.sealed.into(),
            self.created_at.into(),
            true.into(),
        ]
    }
}

/// Insert change rows; a change stored already (sent twice, or by another instance) is not an
/// error.
///
/// Every accepted edit comes through here, so the statement is written out directly rather than
/// built through the entity: sea-query's builder (active models, then a statement tree, then the
/// text, each copying every value) cost more instructions than the commit's own binding.
/// `compacted` takes its default.
pub(super) async fn insert_changes<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<ChangeRow>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let columns = CHANGE_COLUMNS
        .map(|column| format!("\"{}\"", column.as_str()))
        .join(", ");
    let table = plan_changes::Entity.table_name();
    let (plan_id, hash) = (
        plan_changes::Column::PlanId.as_str(),
        plan_changes::Column::Hash.as_str(),
    );
    let mut sql = format!("INSERT INTO \"{table}\" ({columns}) VALUES ");
    sql.reserve(rows.len() * 6 * CHANGE_COLUMNS.len());
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * CHANGE_COLUMNS.len());
    for (i, row) in rows.into_iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for column in 0..CHANGE_COLUMNS.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            if backend == sea_orm::DbBackend::Postgres {
                sql.push('$');
                sql.push_str(&(values.len() + column + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
        values.extend(row.into_values());
    }
    sql.push_str(&format!(
        " ON CONFLICT (\"{plan_id}\", \"{hash}\") DO NOTHING"
    ));
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .await?;
    Ok(())
}
