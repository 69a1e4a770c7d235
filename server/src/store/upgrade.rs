//! Before migrating: what the database's migrations table says about the version that wrote it,
//! read without writing anything, and SQLite's safety copy before pending migrations run.

use std::collections::HashSet;
use std::path::Path;

use cairn_migrations::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Store, StoreError};

/// Where the database stands against the migrations this binary knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migrations the database lists that this binary does not know, in the table's order:
    /// a newer Cairn wrote the database.
    pub unknown: Vec<String>,
    /// How many migrations the database lists (0: a brand-new database).
    pub applied: usize,
    /// This binary's migrations the database does not list yet, oldest first.
    pub pending: Vec<String>,
    /// This binary's newest migration.
    pub newest_known: String,
}

impl MigrationState {
    /// How many migrations this binary has (those applied that it knows, and those pending).
    pub fn known(&self) -> usize {
        self.applied - self.unknown.len() + self.pending.len()
    }
}

impl Store {
    /// Read the migrations table (if there is one) and compare it with this binary's
    /// migrations. Reads only: a database from a newer Cairn is left exactly as it was.
    pub async fn migration_state(&self) -> Result<MigrationState, StoreError> {
        let known: Vec<String> = Migrator::migrations()
            .iter()
            .map(|migration| migration.name().to_owned())
            .collect();
        let table = Migrator::migration_table_name().to_string();
        let listed: Vec<String> = if SchemaManager::new(&self.db).has_table(&table).await? {
            let backend = self.db.get_database_backend();
            let rows = self
                .db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT version FROM {table} ORDER BY version"),
                ))
                .await?;
            rows.iter()
                .map(|row| row.try_get::<String>("", "version"))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let known_set: HashSet<&String> = known.iter().collect();
        let listed_set: HashSet<&String> = listed.iter().collect();
        Ok(MigrationState {
            unknown: listed
                .iter()
                .filter(|name| !known_set.contains(name))
                .cloned()
                .collect(),
            applied: listed.len(),
            pending: known
                .iter()
                .filter(|name| !listed_set.contains(name))
                .cloned()
                .collect(),
            newest_known: known.last().cloned().unwrap_or_default(),
        })
    }

    /// Whether the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Sqlite
    }

    /// SQLite only: write a consistent copy of the whole database into `path` (which must not
    /// exist yet) with `VACUUM INTO`; the copy is an ordinary SQLite database file.
    pub async fn copy_sqlite_into(&self, path: &Path) -> Result<(), StoreError> {
        let path = path.to_str().ok_or_else(|| {
            StoreError::Corrupt(format!("{} is not a UTF-8 path", path.display()))
        })?;
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [path.into()],
            ))
            .await?;
        Ok(())
    }
}
