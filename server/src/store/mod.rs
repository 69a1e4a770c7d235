//! Storage: the only module that talks to the database (sea-orm over SQLite or Postgres).
//! Everything it returns is a plain record from `crate::domain`.

mod access_log;
mod activity;
pub mod backup;
pub use activity::{LoggedActivity, LoggedAdminAct};
mod accounts;
mod changes;
mod credentials;
pub use access_log::LoggedAccess;
pub use accounts::EnrollmentOutcome;
pub use changes::{ChangeLog, LoggedChange, PlanCatchUp, StoredBytes, StoredDocument};
pub use credentials::{CodeKind, RecoveryCodeSet};
mod entities;
use entities::server_settings;
mod fanout;
mod leaving;
pub use fanout::{CHANNEL, Heard, MAX_NOTICE_BYTES, Notice, Subscription};
pub use leaving::Leaving;
mod passkeys;
pub use passkeys::{PasskeyCeremony, StoredPasskey};
mod oidc;
mod plans;
mod sealing;
mod second_factor;
pub use oidc::{OidcIdentity, PendingOidcLogin};
pub use sealing::RewrapReport;
mod upgrade;
pub use upgrade::MigrationState;
mod console;
pub use console::{Revocation, StoredEnrollmentCode};
mod versions;
pub use versions::StoredVersion;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_migrations::{Migrator, MigratorTrait};
use cairn_shared::PlanId;
use sea_orm::sea_query::OnConflict;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, EntityTrait, Set, SqlErr};
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{CryptoError, DataKey, Keyring};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (username, token hash, …) is taken.
    #[error("unique constraint violated")]
    Conflict,
    /// A stored value cannot be read back (an unknown enum text, say).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The plan id belongs to a deleted plan (it has a tombstone) and may never be used again.
    #[error("the plan was deleted")]
    PlanDeleted,
    /// The owner of a plan being created already owns as many plans as the server allows.
    #[error("the account owns as many plans as the server allows")]
    PlanLimitReached,
    /// A plan's stored bytes or data key could not be opened (a missing or wrong master key,
    /// a damaged blob): an error, never an empty plan.
    #[error("sealed plan data could not be opened")]
    Sealing(#[from] CryptoError),
    /// The database failed.
    #[error("database error")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    // One place turns unique-constraint violations into `Conflict`, for both databases.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            _ => StoreError::Database(err),
        }
    }
}

/// A handle on the database; cheap to clone. Plan blobs pass through it sealed on the way in and
/// opened on the way out, with the plan's data key (see [`crate::crypto`]).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    keyring: Arc<Keyring>,
    /// Unwrapped data keys of recently used plans (bounded; see `sealing`).
    plan_keys: Arc<Mutex<HashMap<PlanId, DataKey>>>,
    /// This process among the instances sharing the database (see `fanout`).
    instance: uuid::Uuid,
    /// Where the database is, for the notice listener's own connection.
    url: SecretString,
    /// SQLite: the queue of change batches that one task commits together (see
    /// [`Store::start_group_commit`]); `None` on Postgres, where concurrent commits do not queue
    /// up, and until the task is started.
    committer: Option<tokio::sync::mpsc::Sender<changes::AppendJob>>,
    /// What that task writes through. On SQLite, a connection of its own: a connection drops
    /// its whole page cache whenever another one has written, so group commits taking turns
    /// over the pool read back every page they touch (many reads per change) before writing.
    /// The same pool as `db` on Postgres.
    appends: DatabaseConnection,
    /// How many plans one account may own; checked in the transaction that creates a plan,
    /// whichever way it is created.
    plans_per_account: u64,
}

impl Store {
    /// Connect to `url` (SQLite: WAL, `synchronous=FULL` so that a committed change survives a
    /// power cut too, not only a crash of Cairn; foreign keys and a busy timeout on every
    /// connection), with the master keyring that wraps the plans' data keys and the number of
    /// plans one account may own.
    pub async fn connect(
        url: &SecretString,
        max_connections: u32,
        keyring: Arc<Keyring>,
        plans_per_account: u64,
    ) -> Result<Self, StoreError> {
        let sqlite = url.expose_secret().starts_with("sqlite:");
        // SQLite has one writer (and sqlx gives each connection a thread of its own), so a few
        // connections serve it as well as many, with less memory; Postgres serves more.
        let max_connections = match (max_connections, sqlite) {
            (0, true) => 4,
            (0, false) => 10,
            (n, _) => n,
        };
        let options = |max_connections: u32| {
            let mut options = ConnectOptions::new(url.expose_secret().to_owned());
            options
                .max_connections(max_connections)
                .min_connections(0)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(10))
                .sqlx_logging(false)
                // A SQLite connection is a file handle and does not drop out like a network
                // connection: checking it before each use was one more trip to its thread (and
                // two thread switches) per commit.
                .test_before_acquire(!sqlite)
                .map_sqlx_sqlite_opts(|sqlite| {
                    sqlite
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(5))
                });
            options
        };
        let db = Database::connect(options(max_connections)).await?;
        let appends = if sqlite {
            Database::connect(options(1)).await?
        } else {
            db.clone()
        };
        let store = Self {
            db,
            keyring,
            plan_keys: Arc::default(),
            instance: uuid::Uuid::new_v4(),
            url: url.clone(),
            committer: None,
            appends,
            plans_per_account,
        };
        Ok(store)
    }

    /// Start a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting up to the busy timeout for another writer: a transaction that read
    /// first and then wrote would instead fail at once with "database is locked" whenever another
    /// connection wrote in between. Postgres ignores the mode.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        begin_write(&self.db).await
    }

    /// Apply every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Whether the database answers and no migration is pending.
    pub async fn is_ready(&self) -> bool {
        if self.db.ping().await.is_err() {
            return false;
        }
        matches!(Migrator::get_pending_migrations(&self.db).await, Ok(pending) if pending.is_empty())
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

    /// Close the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        if self.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            // Its own connection there (the same pool as `db` elsewhere).
            self.appends.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }
}

/// [`Store::begin_write`] on `db`.
async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
