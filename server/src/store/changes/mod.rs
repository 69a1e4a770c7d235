//! A plan's stored changes: appends of accepted changes (and the plans that clients created
//! offline, created with their first changes), the group commit that makes SQLite's appends share
//! one `fsync`, the reads of what is stored (to load a plan, to catch up with another instance,
//! for the history), and compaction into a snapshot. Every change is stored sealed with its
//! plan's data key, under a keyed id (see `crate::crypto`).
//!
//! Catching up relies on one ordering rule: the changes of one plan are appended under a lock
//! on the plan's row (Postgres), so their row ids are handed out in commit order. Once a worker
//! has read the plan's changes up to id N, no change with a smaller id can appear later, and
//! "the changes after N" is exactly what it lacks. On SQLite (one instance) writes are serial
//! anyway.
//!
//! - `append`: creating a plan with its first change, and appending accepted changes.
//! - `group_commit`: SQLite's commit task, which commits the batches waiting at one moment together.
//! - `read`: a plan as stored, its change log, and what a worker lacks.
//! - `compaction`: folding a plan's changes into a new snapshot.

mod append;
mod compaction;
mod group_commit;
mod read;

pub(super) use group_commit::AppendJob;
pub use read::{ChangeLog, LoggedChange, PlanCatchUp, StoredBytes, StoredDocument};

use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityName, IdenStatic};

use super::StoreError;
use super::entities::plan_changes;
use crate::domain::StoredChange;

/// The hex hash of a stored change's bytes.
pub(super) fn change_hash(data: &[u8]) -> Result<String, StoreError> {
    let change = automerge::Change::from_bytes(data.to_vec())
        .map_err(|err| StoreError::Corrupt(format!("a stored change does not parse: {err}")))?;
    Ok(const_hex::encode(change.hash().0))
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
