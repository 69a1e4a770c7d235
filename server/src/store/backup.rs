//! Backups at the storage level: every table read in ONE snapshot (a read transaction on SQLite
//! in WAL mode, a `REPEATABLE READ` read-only transaction on Postgres), as engine-neutral rows
//! streamed out one at a time; and rows written back in ONE transaction, so a restore is all or
//! nothing. Rows go through the entities, never raw SQL, so a backup of SQLite restores into
//! Postgres and the other way round. Plan content stays in its sealed blobs: rows are copied
//! as they are stored (wrapped data keys stay wrapped).
//!
//! A cell is written as `[tag, value]` in CBOR: `b` bool, `i` 32-bit and `l` 64-bit integer,
//! `s` text, `y` bytes, `t` a UTC time (RFC 3339), `u` a UUID (16 bytes), `j` JSON (text); the
//! value is null for a NULL.

use chrono::{DateTime, SecondsFormat, Utc};
use ciborium::Value as Cbor;
use futures_util::TryStreamExt;
use sea_orm::sea_query::Value;
use sea_orm::{
    AccessMode, ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IdenStatic, IntoActiveModel, IsolationLevel, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait,
    QueryOrder, TransactionOptions, TransactionTrait,
};

use super::entities::{
    access_log, account_activity, actor_bindings, admin_audit, backups, device_sessions,
    enrollment_codes, instances, invitations, oidc_handoffs, oidc_identities, oidc_logins,
    passkey_ceremonies, passkeys, plan_changes, plan_keys, plan_members, plan_snapshots,
    plan_tombstones, plan_versions, plans, recovery_codes, reset_codes, second_factor_challenges,
    second_factors, server_settings, users,
};
use super::{Store, StoreError};

/// Every table a backup holds, parents before children (the order rows are restored in).
/// `tests::every_table_is_backed_up` checks that no table of the schema is missing.
pub const TABLES: &[&str] = &[
    "users",
    "server_settings",
    "device_sessions",
    "enrollment_codes",
    "plans",
    "plan_keys",
    "plan_members",
    "invitations",
    "plan_snapshots",
    "plan_changes",
    "actor_bindings",
    "access_log",
    "plan_tombstones",
    "account_activity",
    "admin_audit",
    "passkeys",
    "passkey_ceremonies",
    "recovery_codes",
    "reset_codes",
    "second_factors",
    "second_factor_challenges",
    "backups",
    "instances",
    "oidc_identities",
    "oidc_logins",
    "oidc_handoffs",
    "plan_versions",
];

/// Tables about the installation rather than its people: a fresh database may already hold
/// them (the storage id is made at first start), and a restore replaces them.
const INSTALLATION_TABLES: &[&str] = &["server_settings", "backups", "instances"];

/// An error of whatever reads or writes the backup stream.
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// Why dumping or restoring failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupStoreError {
    /// The database failed, or a row could not be turned into cells and back.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stream the rows go to or come from failed.
    #[error("{0}")]
    Stream(StreamError),
    /// The database already holds accounts or plans (and no `--force`). Nothing was written.
    #[error("the database is not empty (table {0} has rows)")]
    NotEmpty(String),
}

impl From<sea_orm::DbErr> for BackupStoreError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(err.into())
    }
}

/// Where dumped rows go.
pub trait RowSink: Send {
    /// A table begins; its rows follow, cells in the order of `columns`.
    fn table(&mut self, name: &str, columns: &[String]) -> Result<(), StreamError>;
    /// One row: a CBOR array of cells.
    fn row(&mut self, row: Cbor) -> Result<(), StreamError>;
    /// The table's rows have all been given.
    fn end_table(&mut self, rows: u64) -> Result<(), StreamError>;
}

/// What a restore reads, in the order a [`RowSink`] was given it.
#[derive(Debug)]
pub enum RestoreItem {
    /// A table begins.
    Table {
        /// Its name.
        name: String,
        /// Its columns, the order of each row's cells.
        columns: Vec<String>,
    },
    /// One row of the current table.
    Row(Cbor),
    /// The current table ends.
    EndTable,
    /// Nothing more.
    End,
}

/// Where restored rows come from.
pub trait RowSource: Send {
    /// The next item.
    fn next_item(&mut self) -> Result<RestoreItem, StreamError>;
}

/// How many rows each table held.
pub type TableCounts = Vec<(String, u64)>;

/// Run `$body` with `E` bound to the entity of table `$name`.
macro_rules! with_entity {
    ($name:expr, |$entity:ident| $body:expr) => {
        match $name {
            "users" => {
                type $entity = users::Entity;
                $body
            }
            "server_settings" => {
                type $entity = server_settings::Entity;
                $body
            }
            "device_sessions" => {
                type $entity = device_sessions::Entity;
                $body
            }
            "enrollment_codes" => {
                type $entity = enrollment_codes::Entity;
                $body
            }
            "plans" => {
                type $entity = plans::Entity;
                $body
            }
            "plan_keys" => {
                type $entity = plan_keys::Entity;
                $body
            }
            "plan_members" => {
                type $entity = plan_members::Entity;
                $body
            }
            "invitations" => {
                type $entity = invitations::Entity;
                $body
            }
            "plan_snapshots" => {
                type $entity = plan_snapshots::Entity;
                $body
            }
            "plan_changes" => {
                type $entity = plan_changes::Entity;
                $body
            }
            "actor_bindings" => {
                type $entity = actor_bindings::Entity;
                $body
            }
            "access_log" => {
                type $entity = access_log::Entity;
                $body
            }
            "plan_tombstones" => {
                type $entity = plan_tombstones::Entity;
                $body
            }
            "account_activity" => {
                type $entity = account_activity::Entity;
                $body
            }
            "admin_audit" => {
                type $entity = admin_audit::Entity;
                $body
            }
            "passkeys" => {
                type $entity = passkeys::Entity;
                $body
            }
            "passkey_ceremonies" => {
                type $entity = passkey_ceremonies::Entity;
                $body
            }
            "recovery_codes" => {
                type $entity = recovery_codes::Entity;
                $body
            }
            "reset_codes" => {
                type $entity = reset_codes::Entity;
                $body
            }
            "second_factors" => {
                type $entity = second_factors::Entity;
                $body
            }
            "second_factor_challenges" => {
                type $entity = second_factor_challenges::Entity;
                $body
            }
            "backups" => {
                type $entity = backups::Entity;
                $body
            }
            "instances" => {
                type $entity = instances::Entity;
                $body
            }
            "oidc_identities" => {
                type $entity = oidc_identities::Entity;
                $body
            }
            "oidc_logins" => {
                type $entity = oidc_logins::Entity;
                $body
            }
            "oidc_handoffs" => {
                type $entity = oidc_handoffs::Entity;
                $body
            }
            "plan_versions" => {
                type $entity = plan_versions::Entity;
                $body
            }
            other => Err(StoreError::Corrupt(format!("no table is named {other:?}")).into()),
        }
    };
}

impl Store {
    /// Stream every table to `sink`, all read in one snapshot: every change committed (and so
    /// acknowledged) before this call is in it, nothing committed after it is.
    pub async fn dump_tables(
        &self,
        sink: &mut dyn RowSink,
    ) -> Result<TableCounts, BackupStoreError> {
        let postgres = self.db.get_database_backend() == DbBackend::Postgres;
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                isolation_level: postgres.then_some(IsolationLevel::RepeatableRead),
                access_mode: postgres.then_some(AccessMode::ReadOnly),
                sqlite_transaction_mode: None,
            })
            .await?;
        let mut counts = Vec::with_capacity(TABLES.len());
        for &name in TABLES {
            let rows = with_entity!(name, |E| dump_table::<E>(&txn, sink).await)?;
            counts.push((name.to_owned(), rows));
        }
        txn.commit().await?;
        Ok(counts)
    }

    /// Write back what [`Store::dump_tables`] gave, from `source`, in one transaction: refused
    /// (nothing written) when the database holds any account, plan or log unless `wipe`, which
    /// first deletes everything. An error anywhere rolls all of it back.
    pub async fn restore_tables(
        &self,
        source: &mut dyn RowSource,
        wipe: bool,
    ) -> Result<TableCounts, BackupStoreError> {
        let txn = self.begin_write().await?;
        if !wipe {
            for &name in TABLES.iter().filter(|n| !INSTALLATION_TABLES.contains(n)) {
                if with_entity!(name, |E| has_rows::<E>(&txn).await)? {
                    return Err(BackupStoreError::NotEmpty(name.to_owned()));
                }
            }
        }
        for &name in TABLES.iter().rev() {
            with_entity!(name, |E| delete_rows::<E>(&txn).await)?;
        }
        let mut counts = Vec::new();
        loop {
            match source.next_item().map_err(BackupStoreError::Stream)? {
                RestoreItem::Table { name, columns } => {
                    let rows = with_entity!(name.as_str(), |E| {
                        restore_table::<E>(&txn, &columns, source).await
                    })?;
                    counts.push((name, rows));
                }
                RestoreItem::End => break,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "unexpected {other:?} between tables"
                    ))
                    .into());
                }
            }
        }
        if txn.get_database_backend() == DbBackend::Postgres {
            for &name in TABLES {
                with_entity!(name, |E| next_ids_after_restored::<E>(&txn).await)?;
            }
        }
        txn.commit().await?;
        Ok(counts)
    }

    /// Record a backup just written: when, its size and checksum.
    pub async fn record_backup(
        &self,
        taken_at: DateTime<Utc>,
        bytes: u64,
        checksum: &str,
    ) -> Result<(), StoreError> {
        backups::Entity::insert(backups::ActiveModel {
            taken_at: sea_orm::Set(taken_at),
            bytes: sea_orm::Set(i64::try_from(bytes).unwrap_or(i64::MAX)),
            checksum: sea_orm::Set(checksum.to_owned()),
            ..Default::default()
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// When the last recorded backup was taken, if any.
    pub async fn last_backup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(backups::Entity::find()
            .order_by_desc(backups::Column::TakenAt)
            .one(&self.db)
            .await?
            .map(|row| row.taken_at))
    }

    /// Write a tombstone for a plan id that has no plan row (deleted after a backup that never
    /// held it), so no stale device can create it again. Nothing if it has one already.
    pub async fn tombstone_absent_plan(
        &self,
        plan: cairn_shared::PlanId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use sea_orm::sea_query::OnConflict;
        plan_tombstones::Entity::insert(plan_tombstones::ActiveModel {
            plan_id: sea_orm::Set(plan.0),
            deleted_at: sea_orm::Set(at),
        })
        .on_conflict(
            OnConflict::column(plan_tombstones::Column::PlanId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }
}

fn column_names<E: EntityTrait>() -> Vec<String> {
    E::Column::iter().map(|c| c.as_str().to_owned()).collect()
}

async fn dump_table<E>(
    txn: &DatabaseTransaction,
    sink: &mut dyn RowSink,
) -> Result<u64, BackupStoreError>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let columns: Vec<E::Column> = E::Column::iter().collect();
    sink.table(E::default().table_name(), &column_names::<E>())
        .map_err(BackupStoreError::Stream)?;
    let mut query = E::find();
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    let mut rows = query.stream(txn).await?;
    let mut count = 0u64;
    while let Some(model) = rows.try_next().await? {
        let active = model.into_active_model();
        let mut cells = Vec::with_capacity(columns.len());
        for &column in &columns {
            let value = active.get(column).into_value().ok_or_else(|| {
                StoreError::Corrupt(format!("column {} has no value", column.as_str()))
            })?;
            cells.push(to_cell(value)?);
        }
        sink.row(Cbor::Array(cells))
            .map_err(BackupStoreError::Stream)?;
        count += 1;
    }
    sink.end_table(count).map_err(BackupStoreError::Stream)?;
    Ok(count)
}

async fn has_rows<E: EntityTrait>(txn: &DatabaseTransaction) -> Result<bool, BackupStoreError> {
    Ok(E::find().one(txn).await?.is_some())
}

async fn delete_rows<E: EntityTrait>(txn: &DatabaseTransaction) -> Result<(), BackupStoreError> {
    E::delete_many().exec(txn).await?;
    Ok(())
}

/// Rows are inserted in batches of at most this many rows...
const BATCH_ROWS: usize = 200;
/// ...or this many bytes of blobs and text, whichever comes first (memory stays bounded).
const BATCH_BYTES: usize = 4 << 20;

async fn restore_table<E>(
    txn: &DatabaseTransaction,
    names: &[String],
    source: &mut dyn RowSource,
) -> Result<u64, BackupStoreError>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    // Columns this version no longer has would be refused; columns it added since the backup
    // are left to their defaults.
    let columns = names
        .iter()
        .map(|name| {
            E::Column::iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "table {} has no column {name}",
                        E::default().table_name()
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = Vec::new();
    let mut batch_bytes = 0usize;
    let mut count = 0u64;
    loop {
        match source.next_item().map_err(BackupStoreError::Stream)? {
            RestoreItem::Row(Cbor::Array(cells)) if cells.len() == columns.len() => {
                let mut active = <E::ActiveModel as ActiveModelTrait>::default();
                for (&column, cell) in columns.iter().zip(cells) {
                    batch_bytes += cell_size(&cell);
                    active.try_set(column, from_cell(cell)?)?;
                }
                batch.push(active);
                count += 1;
                if batch.len() >= BATCH_ROWS || batch_bytes >= BATCH_BYTES {
                    E::insert_many(std::mem::take(&mut batch))
                        .exec_without_returning(txn)
                        .await?;
                    batch_bytes = 0;
                }
            }
            RestoreItem::EndTable => break,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unexpected {other:?} in table {}",
                    E::default().table_name()
                ))
                .into());
            }
        }
    }
    if !batch.is_empty() {
        E::insert_many(batch).exec_without_returning(txn).await?;
    }
    Ok(count)
}

/// Postgres: ids inserted by hand do not move an identity column's sequence; move it past
/// the largest restored id, so the next row gets a fresh one.
async fn next_ids_after_restored<E: EntityTrait>(
    txn: &DatabaseTransaction,
) -> Result<(), BackupStoreError> {
    if !<E::PrimaryKey as PrimaryKeyTrait>::auto_increment() {
        return Ok(());
    }
    let Some(key) = E::PrimaryKey::iter().next() else {
        return Ok(());
    };
    let table = E::default().table_name();
    let id = key.into_column().as_str();
    txn.execute_unprepared(&format!(
        "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{id}'), m) \
         FROM (SELECT MAX(\"{id}\") AS m FROM \"{table}\") AS restored WHERE m IS NOT NULL"
    ))
    .await?;
    Ok(())
}

fn cell(tag: &str, value: Option<Cbor>) -> Cbor {
    Cbor::Array(vec![
        Cbor::Text(tag.to_owned()),
        value.unwrap_or(Cbor::Null),
    ])
}

fn to_cell(value: Value) -> Result<Cbor, StoreError> {
    Ok(match value {
        Value::Bool(v) => cell("b", v.map(Cbor::Bool)),
        Value::Int(v) => cell("i", v.map(|v| Cbor::Integer(v.into()))),
        Value::BigInt(v) => cell("l", v.map(|v| Cbor::Integer(v.into()))),
        Value::String(v) => cell("s", v.map(Cbor::Text)),
        Value::Bytes(v) => cell("y", v.map(Cbor::Bytes)),
        Value::ChronoDateTimeUtc(v) => cell(
            "t",
            v.map(|t| Cbor::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))),
        ),
        Value::Uuid(v) => cell("u", v.map(|u| Cbor::Bytes(u.as_bytes().to_vec()))),
        Value::Json(v) => cell("j", v.map(|j| Cbor::Text(j.to_string()))),
        other => {
            return Err(StoreError::Corrupt(format!(
                "a column of a type backups do not carry: {other:?}"
            )));
        }
    })
}

fn from_cell(cell: Cbor) -> Result<Value, StoreError> {
    let bad = || StoreError::Corrupt("a cell of the backup is malformed".into());
    let Cbor::Array(mut parts) = cell else {
        return Err(bad());
    };
    let (Some(value), Some(Cbor::Text(tag)), None) = (parts.pop(), parts.pop(), parts.pop()) else {
        return Err(bad());
    };
    let value = (!value.is_null()).then_some(value);
    Ok(match tag.as_str() {
        "b" => Value::Bool(value.map(|v| v.as_bool().ok_or_else(bad)).transpose()?),
        "i" => Value::Int(
            value
                .map(|v| {
                    integer(v)
                        .and_then(|i| i32::try_from(i).ok())
                        .ok_or_else(bad)
                })
                .transpose()?,
        ),
        "l" => Value::BigInt(
            value
                .map(|v| {
                    integer(v)
                        .and_then(|i| i64::try_from(i).ok())
                        .ok_or_else(bad)
                })
                .transpose()?,
        ),
        "s" => Value::String(
            value
                .map(|v| v.into_text().map_err(|_| bad()))
                .transpose()?,
        ),
        "y" => Value::Bytes(
            value
                .map(|v| v.into_bytes().map_err(|_| bad()))
                .transpose()?,
        ),
        "t" => Value::ChronoDateTimeUtc(
            value
                .map(|v| {
                    let text = v.into_text().map_err(|_| bad())?;
                    DateTime::parse_from_rfc3339(&text)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| bad())
                })
                .transpose()?,
        ),
        "u" => Value::Uuid(
            value
                .map(|v| {
                    let bytes = v.into_bytes().map_err(|_| bad())?;
                    uuid::Uuid::from_slice(&bytes).map_err(|_| bad())
                })
                .transpose()?,
        ),
        "j" => Value::Json(
            value
                .map(|v| {
                    let text = v.into_text().map_err(|_| bad())?;
                    serde_json::from_str(&text).map(Box::new).map_err(|_| bad())
                })
                .transpose()?,
        ),
        _ => return Err(bad()),
    })
}

fn integer(value: Cbor) -> Option<i128> {
    value.as_integer().map(i128::from)
}

fn cell_size(cell: &Cbor) -> usize {
    match cell {
        Cbor::Array(parts) => parts.iter().map(cell_size).sum(),
        Cbor::Bytes(bytes) => bytes.len(),
        Cbor::Text(text) => text.len(),
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_with_their_types_and_nulls() -> Result<(), StoreError> {
        let now = Utc::now();
        let values = [
            Value::Bool(Some(true)),
            Value::Int(Some(-7)),
            Value::BigInt(Some(i64::MAX)),
            Value::BigInt(None),
            Value::String(Some("x".into())),
            Value::String(None),
            Value::Bytes(Some(vec![0, 255])),
            Value::ChronoDateTimeUtc(Some(now)),
            Value::ChronoDateTimeUtc(None),
            Value::Uuid(Some(uuid::Uuid::new_v4())),
        ];
        for value in values {
            assert_eq!(from_cell(to_cell(value.clone())?)?, value);
        }
        assert!(from_cell(cell("i", Some(Cbor::Integer(i64::MAX.into())))).is_err());
        assert!(from_cell(Cbor::Text("l".into())).is_err());
        Ok(())
    }

    /// The `name` column of what `sql` selects.
    async fn names(store: &Store, sql: &str) -> Result<Vec<String>, sea_orm::DbErr> {
        let rows = store
            .db
            .query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
            .await?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "name"))
            .collect()
    }

    #[tokio::test]
    async fn every_table_is_backed_up() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = secrecy::SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.db").display()
        ));
        let store = Store::connect(
            &url,
            1,
            std::sync::Arc::new(crate::crypto::Keyring::ephemeral()),
            10,
        )
        .await?;
        store.migrate().await?;
        let mut tables = names(
            &store,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
        )
        .await?;
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        tables.sort();
        listed.sort();
        assert_eq!(tables, listed, "a table missing from store::backup::TABLES");
        for table in TABLES {
            let mut columns = names(
                &store,
                &format!("SELECT name FROM pragma_table_info('{table}')"),
            )
            .await?;
            columns.sort();
            let mut known = with_entity!(*table, |E| Ok::<_, StoreError>(column_names::<E>()))?;
            known.sort();
            assert_eq!(
                columns, known,
                "table {table}: a column its entity does not carry"
            );
        }
        store.close().await?;
        Ok(())
    }
}
