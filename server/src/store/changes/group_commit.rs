//! SQLite's group commit. SQLite has one writer and every commit waits for an `fsync`: with a
//! transaction per batch, busy plans queued behind each other's `fsync`s. One task commits every
//! batch waiting at that moment in one transaction, each in a savepoint of its own, on a
//! connection of its own. The task is tracked with the server's other background work: at
//! shutdown it commits what is queued and stops, and appends from then on commit alone.

use std::time::Duration;

use cairn_shared::PlanId;
use sea_orm::DbErr;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::super::{Store, StoreError, begin_write};
use crate::crypto::DataKey;
use crate::domain::ChangeBatch;

/// A batch of changes waiting for the SQLite commit task.
#[derive(Debug)]
pub(in crate::store) struct AppendJob {
    pub(super) plan: PlanId,
    pub(super) batch: ChangeBatch,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    pub(super) reply: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
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
async fn commit_appends(
    store: Store,
    mut queue: tokio::sync::mpsc::Receiver<AppendJob>,
    shutdown: CancellationToken,
) {
    let mut busy = false;
    while let Some(first) = next_job(&mut queue, &shutdown).await {
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

/// The next batch to commit; at shutdown the queue closes (appends then commit alone) and what
/// waits in it is still committed, then `None`.
async fn next_job(
    queue: &mut tokio::sync::mpsc::Receiver<AppendJob>,
    shutdown: &CancellationToken,
) -> Option<AppendJob> {
    tokio::select! {
        biased;
        job = queue.recv() => job,
        () = shutdown.cancelled() => {
            queue.close();
            queue.recv().await
        }
    }
}

impl Store {
    /// SQLite: start the commit task (tracked by `tracker`, stopped by `shutdown` once what is
    /// queued is committed); appends then go through it. Nothing on Postgres, where concurrent
    /// commits do not queue up. Call before the store is cloned: only this handle and its
    /// clones use the task.
    pub fn start_group_commit(&mut self, tracker: &TaskTracker, shutdown: CancellationToken) {
        if self.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return;
        }
        let (queue, jobs) = tokio::sync::mpsc::channel(1024);
        // The task's own handle has no queue.
        tracker.spawn(commit_appends(self.clone(), jobs, shutdown));
        self.committer = Some(queue);
    }

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
                    Ok(done) => appended.push((job, done.new_key)),
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
                        Ok(done) => savepoint
                            .commit()
                            .await
                            .map(|()| done.new_key)
                            .map_err(Into::into),
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
