//! Storage: the only module that talks to the database (sea-orm over SQLite or Postgres).
//! Everything it returns is a plain record from `crate::domain`.

mod access_log;
mod accounts;
mod documents;
pub use access_log::LoggedAccess;
pub use accounts::EnrollmentOutcome;
pub use documents::{ChangeLog, LoggedChange};
mod entities;
mod fanout;
pub use fanout::{CHANNEL, Heard, MAX_NOTICE_BYTES, Notice, PlanCatchUp, Subscription};
mod plans;
pub use plans::{StoredBytes, StoredDocument};
mod sealing;
pub use sealing::RewrapReport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_migrations::{Migrator, MigratorTrait};
use cairn_shared::PlanId;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr};
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{CryptoError, DataKey, Keyring};
use crate::domain::ChangeBatch;

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
    /// [`commit_appends`]); `None` on Postgres, where concurrent commits do not queue up.
    committer: Option<tokio::sync::mpsc::Sender<AppendJob>>,
    /// What that task writes through. On SQLite, a connection of its own: a connection drops
    /// its whole page cache whenever another one has written, so group commits taking turns
    /// over the pool read back every page they touch (many reads per change) before writing.
    /// The same pool as `db` on Postgres.
    appends: DatabaseConnection,
    /// How many plans one account may own; checked in the transaction that creates a plan,
    /// whichever way it is created.
    plans_per_account: u64,
}

/// A batch of changes waiting for the SQLite commit task.
#[derive(Debug)]
pub(crate) struct AppendJob {
    plan: PlanId,
    batch: ChangeBatch,
    now: chrono::DateTime<chrono::Utc>,
    reply: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// How many plans' batches one SQLite transaction commits at most.
const APPENDS_PER_COMMIT: usize = 64;

/// How long the commit task waits for more batches before a commit, when the last one took
/// several (a quiet plan's edit is committed at once).
const GATHER_WHEN_BUSY: Duration = Duration::from_millis(1);

/// SQLite has one writer and every commit waits for an `fsync`: with a transaction per batch,
/// busy plans queued behind each other's `fsync`s. This task commits every batch waiting at
/// that moment in one transaction, each in a savepoint (a refused batch, a deleted plan's id
/// say, is rolled back alone), and answers each batch once the transaction is durable.
async fn commit_appends(store: Store, mut queue: tokio::sync::mpsc::Receiver<AppendJob>) {
    let mut busy = false;
    while let Some(first) = queue.recv().await {
        if busy {
            // Batches are arriving together (the last commit took several): give the others
            // of this moment a little time to arrive too, so that they share one commit.
            tokio::time::sleep(GATHER_WHEN_BUSY).await;
        }
        let mut jobs = vec![first];
        while jobs.len() < APPENDS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        busy = jobs.len() > 1;
        store.commit_jobs(jobs).await;
    }
}

impl Store {
    async fn commit_jobs(&self, jobs: Vec<AppendJob>) {
        if self.append_plain(&jobs).await {
            for job in jobs {
                let _ = job.reply.send(Ok(()));
            }
            return;
        }
        let txn = match begin_write(&self.appends).await {
            Ok(txn) => txn,
            Err(err) => {
                let message = err.to_string();
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Database(DbErr::Custom(message.clone()))));
                }
                return;
            }
        };
        let mut appended = Vec::with_capacity(jobs.len());
        if let [_] = jobs.as_slice() {
            // One batch alone (a quiet moment) needs no savepoint: its own transaction is enough.
            for job in jobs {
                match self.append_in(&txn, job.plan, &job.batch, job.now).await {
                    Ok(key) => appended.push((job, key)),
                    Err(err) => {
                        let _ = txn.rollback().await;
                        let _ = job.reply.send(Err(err));
                        return;
                    }
                }
            }
        } else {
            self.append_each(&txn, jobs, &mut appended).await;
        }
        match txn.commit().await {
            Ok(()) => {
                for (job, key) in appended {
                    if let Some(key) = key {
                        self.remember_key(job.plan, key);
                    }
                    let _ = job.reply.send(Ok(()));
                }
            }
            Err(err) => {
                let message = err.to_string();
                for (job, _) in appended {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Database(DbErr::Custom(message.clone()))));
                }
            }
        }
    }

    /// Append each batch in a savepoint of its own inside `txn`: a refused one is rolled back
    /// and answered at once; the others wait in `appended` for the commit.
    async fn append_each(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        jobs: Vec<AppendJob>,
        appended: &mut Vec<(AppendJob, Option<DataKey>)>,
    ) {
        use sea_orm::TransactionTrait;
        for job in jobs {
            let outcome = match txn.begin().await {
                Ok(savepoint) => {
                    match self
                        .append_in(&savepoint, job.plan, &job.batch, job.now)
                        .await
                    {
                        Ok(key) => savepoint.commit().await.map(|()| key).map_err(Into::into),
                        Err(err) => {
                            let _ = savepoint.rollback().await;
                            Err(err)
                        }
                    }
                }
                Err(err) => Err(err.into()),
            };
            match outcome {
                Ok(key) => appended.push((job, key)),
                Err(err) => {
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
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
        let mut store = Self {
            db,
            keyring,
            plan_keys: Arc::default(),
            instance: uuid::Uuid::new_v4(),
            url: url.clone(),
            committer: None,
            appends,
            // Set here, before the commit task below takes its own copy of the store.
            plans_per_account,
        };
        if store.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let (queue, jobs) = tokio::sync::mpsc::channel(1024);
            // The task's own handle has no queue, so the task ends with the last handle that has.
            tokio::spawn(commit_appends(store.clone(), jobs));
            store.committer = Some(queue);
        }
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
