//! Appends: a batch of accepted changes stored in one transaction, creating the plan first when
//! a client created it offline (or over HTTP, with its first change): the one way a plan is
//! created.

use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Set, Statement};

use super::super::entities::actor_bindings;
use super::super::{Notice, Store, StoreError};
use super::group_commit::AppendJob;
use super::{MAX_PLAIN_ROWS, change_rows, insert_changes};
use crate::crypto::DataKey;
use crate::domain::{ChangeBatch, Plan, StoredChange};

/// What an append did beyond storing changes.
#[derive(Debug, Default)]
pub(in crate::store) struct Appended {
    /// The data key of the plan the append created, to remember once the transaction commits.
    pub(in crate::store) new_key: Option<DataKey>,
    /// The plan the append created.
    pub(in crate::store) created: Option<Plan>,
}

impl Store {
    /// Create a plan owned by `owner` with its first document change, in one transaction: the
    /// plan, the owner's membership, the change and the binding of the change's actor to the owner.
    /// The id of a deleted plan is refused ([`StoreError::PlanDeleted`]), and so is a plan beyond
    /// the owner's limit ([`StoreError::PlanLimitReached`]). The same way as a plan created
    /// offline: an append whose batch creates the plan.
    pub async fn insert_plan(
        &self,
        id: PlanId,
        owner: UserId,
        first_change: &StoredChange,
        now: DateTime<Utc>,
    ) -> Result<Plan, StoreError> {
        let batch = ChangeBatch {
            create_owner: Some(owner),
            new_bindings: vec![(first_change.actor.clone(), owner)],
            changes: vec![first_change.clone()],
        };
        let txn = self.begin_write().await?;
        let appended = self.append_in(&txn, id, &batch, now).await?;
        txn.commit().await?;
        if let Some(key) = appended.new_key {
            self.remember_key(id, key);
        }
        appended
            .created
            .ok_or_else(|| StoreError::Corrupt("a created plan was not returned".into()))
    }

    /// Store a batch of accepted changes in one transaction: when it returns `Ok`, every change
    /// in it is committed and may be advertised to clients. Creating a plan whose id has a
    /// tombstone is refused with [`StoreError::PlanDeleted`] and stores nothing, and so is one
    /// beyond its owner's limit ([`StoreError::PlanLimitReached`]).
    ///
    /// On SQLite, batches of different plans that arrive together are committed by one
    /// transaction (one `fsync`), each in a savepoint of its own so that one refused batch
    /// leaves the others; see `group_commit`.
    pub async fn append_changes(
        &self,
        plan: PlanId,
        mut batch: ChangeBatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(committer) = &self.committer {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = AppendJob {
                plan,
                batch,
                now,
                reply,
            };
            match committer.send(job).await {
                Ok(()) => {
                    return answer
                        .await
                        .map_err(|_| StoreError::Corrupt("the commit queue is closed".into()))?;
                }
                // The commit task has stopped (shutdown): this batch commits alone.
                Err(tokio::sync::mpsc::error::SendError(job)) => batch = job.batch,
            }
        }
        let txn = self.begin_write().await?;
        let appended = self.append_in(&txn, plan, &batch, now).await?;
        txn.commit().await?;
        if let Some(key) = appended.new_key {
            self.remember_key(plan, key);
        }
        Ok(())
    }

    /// SQLite: store jobs that only add changes, to plans whose data keys are at hand, with
    /// one `INSERT` statement, atomic and durable on its own: one trip to the database thread
    /// and one `fsync`, where a transaction takes several trips (and a savepoint per job).
    /// False, with nothing stored, when a job does more or the statement fails (a plan deleted
    /// meanwhile, say): the caller then takes the long way, which answers each job on its own.
    pub(super) async fn append_plain(&self, jobs: &[AppendJob]) -> bool {
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

    /// The work of [`Store::append_changes`] inside `txn`: the plan it created, if the batch
    /// creates one, whose data key is to be remembered once `txn` commits.
    pub(super) async fn append_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        plan: PlanId,
        batch: &ChangeBatch,
        now: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        let mut created = None;
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
            created = Some(self.create_plan_in(txn, plan, owner, new_key, now).await?);
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
        self.publish_on(txn, Notice::Plan { plan }).await?;
        Ok(Appended {
            new_key: new_key.map(|_| key),
            created,
        })
    }

    /// Take the plan's append lock for the rest of the transaction (Postgres; see the module
    /// comment). Another instance appending to the same plan waits for the commit.
    pub(in crate::store) async fn lock_plan_for_append<C: ConnectionTrait>(
        &self,
        txn: &C,
        plan: PlanId,
    ) -> Result<(), StoreError> {
        if !self.is_shared() {
            return Ok(());
        }
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM plans WHERE id = $1 FOR NO KEY UPDATE",
            [plan.0.into()],
        ))
        .await?;
        Ok(())
    }
}
