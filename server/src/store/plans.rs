//! Plans, their members and invitations, and each plan's stored Automerge changes.

use std::collections::{HashMap, HashSet};

use cairn_shared::api::PlanRole;
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};
use uuid::Uuid;

use super::entities::{
    access_log, actor_bindings, invitations, plan_changes, plan_keys, plan_members, plan_snapshots,
    plan_tombstones, plans, users,
};
use super::{Store, StoreError};
use crate::crypto::NewDataKey;
use crate::domain::{InvitationOutcome, Membership, Plan, PlanTitle};

pub(super) fn role_text(role: PlanRole) -> &'static str {
    match role {
        PlanRole::Owner => "owner",
        PlanRole::Supporter => "supporter",
    }
}

fn parse_role(text: &str) -> Result<PlanRole, StoreError> {
    match text {
        "owner" => Ok(PlanRole::Owner),
        "supporter" => Ok(PlanRole::Supporter),
        other => Err(StoreError::Corrupt(format!("plan role {other:?}"))),
    }
}

impl From<plans::Model> for Plan {
    fn from(row: plans::Model) -> Self {
        Plan {
            id: PlanId(row.id),
            owner_id: UserId(row.owner_id),
            created_at: row.created_at,
            schema_issue: row.schema_issue,
            title: PlanTitle::NotRecorded,
            last_change: row.last_changed_at.zip(row.last_changed_by.map(UserId)),
            open_conflicts: row.open_conflicts,
        }
    }
}

fn member_row(
    plan: PlanId,
    user: UserId,
    role: PlanRole,
    now: DateTime<Utc>,
) -> plan_members::ActiveModel {
    plan_members::ActiveModel {
        plan_id: Set(plan.0),
        user_id: Set(user.0),
        role: Set(role_text(role).to_owned()),
        joined_at: Set(now),
    }
}

/// Inside a transaction that creates plan `id`: refuse it if the id has a tombstone. The delete
/// writes the tombstone in the same transaction that removes the plan row, so a creation racing a
/// delete either conflicts on the plan's primary key (the row is still there) or sees the tombstone.
async fn refuse_tombstoned(
    txn: &sea_orm::DatabaseTransaction,
    id: PlanId,
) -> Result<(), StoreError> {
    if plan_tombstones::Entity::find_by_id(id.0)
        .one(txn)
        .await?
        .is_some()
    {
        return Err(StoreError::PlanDeleted);
    }
    Ok(())
}

impl Store {
    /// Inside a transaction that creates a plan owned by `owner`: refuse it when the owner
    /// already owns as many plans as the server allows. The owner's account row is locked first
    /// (`SELECT … FOR UPDATE` on Postgres; on SQLite the write transaction, `BEGIN IMMEDIATE`,
    /// already holds the whole database), so creations by one owner at the same moment, over
    /// HTTP or offline sync, count one after another and never pass the limit together.
    pub(super) async fn refuse_over_plan_limit(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        owner: UserId,
    ) -> Result<(), StoreError> {
        users::Entity::find_by_id(owner.0)
            .lock_exclusive()
            .one(txn)
            .await?;
        let owned = plans::Entity::find()
            .filter(plans::Column::OwnerId.eq(owner.0))
            .count(txn)
            .await?;
        if owned >= self.plans_per_account {
            return Err(StoreError::PlanLimitReached);
        }
        Ok(())
    }

    /// Inside a transaction: create plan `id` owned by `owner`, with its data key `key`: the plan
    /// row and the owner's membership, after refusing the id of a deleted plan and a plan beyond
    /// the owner's limit. Every plan is created here (see `changes::append`).
    pub(super) async fn create_plan_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        id: PlanId,
        owner: UserId,
        key: &NewDataKey,
        now: DateTime<Utc>,
    ) -> Result<Plan, StoreError> {
        // A deleted plan's id is never created again (a stale replica syncing it).
        refuse_tombstoned(txn, id).await?;
        self.refuse_over_plan_limit(txn, owner).await?;
        let plan = plans::ActiveModel {
            id: Set(id.0),
            owner_id: Set(owner.0),
            created_at: Set(now),
            schema_issue: Set(None),
            sealed_title: Set(None),
            last_changed_at: sea_orm::ActiveValue::NotSet,
            last_changed_by: sea_orm::ActiveValue::NotSet,
            open_conflicts: Set(false),
        }
        .insert(txn)
        .await?;
        member_row(id, owner, PlanRole::Owner, now)
            .insert(txn)
            .await?;
        Self::insert_plan_key(txn, id, key, now).await?;
        Ok(plan.into())
    }

    /// The plan with this id, with its recorded title.
    pub async fn plan(&self, id: PlanId) -> Result<Option<Plan>, StoreError> {
        match plans::Entity::find_by_id(id.0).one(&self.db).await? {
            Some(row) => Ok(Some(self.plan_with_title(row).await)),
            None => Ok(None),
        }
    }

    /// A plan row as a [`Plan`], its sealed title opened. A title that cannot be opened is
    /// [`PlanTitle::Unreadable`] (and logged), never an error: one damaged plan must not keep
    /// its members from the rest of their plans.
    async fn plan_with_title(&self, mut row: plans::Model) -> Plan {
        let sealed = row.sealed_title.take();
        let mut plan = Plan::from(row);
        let Some(sealed) = sealed else {
            return plan;
        };
        let opened = match self.plan_key(&self.db, plan.id).await {
            Ok(key) => key.open_title(plan.id, &sealed).map_err(StoreError::from),
            Err(err) => Err(err),
        };
        plan.title = match opened {
            Ok(title) => PlanTitle::Known(title),
            Err(err) => {
                tracing::error!(plan.id = %plan.id, error = %err, "a plan's title could not be opened");
                PlanTitle::Unreadable
            }
        };
        plan
    }

    /// Record the plan's current title, sealed with its data key.
    pub async fn set_title(&self, plan: PlanId, title: &str) -> Result<(), StoreError> {
        let key = self.plan_key(&self.db, plan).await?;
        let sealed = key.seal_title(plan, title)?;
        plans::Entity::update_many()
            .col_expr(plans::Column::SealedTitle, Expr::value(sealed))
            .filter(plans::Column::Id.eq(plan.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Plans whose title has not been recorded yet (stored before titles were kept), at most
    /// `limit` of them.
    pub async fn plans_without_title(&self, limit: u64) -> Result<Vec<PlanId>, StoreError> {
        let ids: Vec<Uuid> = plans::Entity::find()
            .select_only()
            .column(plans::Column::Id)
            .filter(plans::Column::SealedTitle.is_null())
            .order_by_asc(plans::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().map(PlanId).collect())
    }

    /// The caller's role on the plan, or `None` if they are not a member (or there is no plan).
    pub async fn role_of(
        &self,
        plan: PlanId,
        user: UserId,
    ) -> Result<Option<PlanRole>, StoreError> {
        plan_members::Entity::find_by_id((plan.0, user.0))
            .one(&self.db)
            .await?
            .map(|row| parse_role(&row.role))
            .transpose()
    }

    /// Every plan the user is a member of, with their role, oldest first.
    pub async fn plans_of(&self, user: UserId) -> Result<Vec<(Plan, PlanRole)>, StoreError> {
        let rows = plans::Entity::find()
            .join(JoinType::InnerJoin, plans::Relation::Members.def())
            .filter(plan_members::Column::UserId.eq(user.0))
            .select_also(plan_members::Entity)
            .order_by_asc(plans::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let mut plans = Vec::with_capacity(rows.len());
        for (plan, member) in rows {
            let Some(member) = member else { continue };
            let role = parse_role(&member.role)?;
            plans.push((self.plan_with_title(plan).await, role));
        }
        Ok(plans)
    }

    /// The members of each of the given plans, with display names, owner first.
    pub async fn members_of(
        &self,
        plan_ids: &[PlanId],
    ) -> Result<HashMap<PlanId, Vec<Membership>>, StoreError> {
        let ids: Vec<Uuid> = plan_ids.iter().map(|p| p.0).collect();
        let rows = plan_members::Entity::find()
            .filter(plan_members::Column::PlanId.is_in(ids))
            .find_also_related(users::Entity)
            .order_by_asc(plan_members::Column::JoinedAt)
            .all(&self.db)
            .await?;
        let mut by_plan: HashMap<PlanId, Vec<Membership>> = HashMap::new();
        for (member, user) in rows {
            let (display_name, disabled) = user
                .map(|u| (super::leaving::shown_name(&u), u.disabled_at.is_some()))
                .unwrap_or_default();
            let plan_id = PlanId(member.plan_id);
            by_plan.entry(plan_id).or_default().push(Membership {
                plan_id,
                user_id: UserId(member.user_id),
                display_name,
                role: parse_role(&member.role)?,
                joined_at: member.joined_at,
                disabled,
            });
        }
        for members in by_plan.values_mut() {
            members.sort_by_key(|m| (m.role != PlanRole::Owner, m.joined_at));
        }
        Ok(by_plan)
    }

    /// Delete a plan and everything stored for it (members, invitations, document, access log),
    /// leaving a tombstone (the id and the time, nothing else) so the id can never be created
    /// again, by a stale offline replica syncing it say. The data key goes first, in the
    /// transaction that writes the tombstone (crypto-shredding: from then on no copy of the plan's
    /// bytes can be read, backups included); the rows follow. A crash in between leaves a
    /// tombstoned plan without a key, whose rows the next start-up removes.
    pub async fn delete_plan(&self, id: PlanId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let existed = self.shred_plan(id, now).await?;
        if existed {
            self.purge_plan_rows(id).await?;
        }
        Ok(existed)
    }

    /// The first step of [`Store::delete_plan`]: delete the plan's data key and write its
    /// tombstone, in one transaction. False if there is no such plan (a plan whose key is
    /// already gone still counts: its rows are left to remove).
    pub async fn shred_plan(&self, id: PlanId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        if plans::Entity::find_by_id(id.0).one(&txn).await?.is_none() {
            return Ok(false);
        }
        plan_keys::Entity::delete_by_id(id.0).exec(&txn).await?;
        plan_tombstones::Entity::insert(plan_tombstones::ActiveModel {
            plan_id: Set(id.0),
            deleted_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(plan_tombstones::Column::PlanId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        self.forget_key(id);
        Ok(true)
    }

    /// Remove every row of a plan whose data key is gone, in one transaction.
    pub(super) async fn purge_plan_rows(&self, id: PlanId) -> Result<(), StoreError> {
        // Foreign keys cascade on both databases; deleting the children explicitly as well keeps
        // the outcome the same on a database where cascades were not applied.
        let txn = self.begin_write().await?;
        access_log::Entity::delete_many()
            .filter(access_log::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        actor_bindings::Entity::delete_many()
            .filter(actor_bindings::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        plan_changes::Entity::delete_many()
            .filter(plan_changes::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        plan_snapshots::Entity::delete_many()
            .filter(plan_snapshots::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        super::entities::plan_versions::Entity::delete_many()
            .filter(super::entities::plan_versions::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        invitations::Entity::delete_many()
            .filter(invitations::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        plan_members::Entity::delete_many()
            .filter(plan_members::Column::PlanId.eq(id.0))
            .exec(&txn)
            .await?;
        plans::Entity::delete_by_id(id.0).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether the id belongs to a deleted plan.
    pub async fn is_tombstoned(&self, id: PlanId) -> Result<bool, StoreError> {
        Ok(plan_tombstones::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Remove a supporter from a plan. Never removes the owner. Returns false if they were not
    /// a supporter of it.
    pub async fn remove_supporter(&self, plan: PlanId, user: UserId) -> Result<bool, StoreError> {
        let deleted = plan_members::Entity::delete_many()
            .filter(plan_members::Column::PlanId.eq(plan.0))
            .filter(plan_members::Column::UserId.eq(user.0))
            .filter(plan_members::Column::Role.eq(role_text(PlanRole::Supporter)))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }

    /// Store an invitation to a plan (by the hash of its code).
    pub async fn insert_invitation(
        &self,
        plan: PlanId,
        code_hash: &str,
        created_by: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        invitations::ActiveModel {
            id: Set(Uuid::new_v4()),
            plan_id: Set(plan.0),
            code_hash: Set(code_hash.to_owned()),
            created_by: Set(created_by.0),
            created_at: Set(now),
            expires_at: Set(expires_at),
            accepted_by: Set(None),
            accepted_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Use an invitation (stored under one of `code_hashes`): mark it used by `user` and make
    /// them a supporter, in one transaction. The conditional update makes the code single-use
    /// even when two people race for it.
    pub async fn accept_invitation(
        &self,
        code_hashes: &[String],
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<InvitationOutcome, StoreError> {
        let txn = self.begin_write().await?;
        let Some(invitation) = invitations::Entity::find()
            .filter(invitations::Column::CodeHash.is_in(code_hashes.iter().cloned()))
            .one(&txn)
            .await?
        else {
            return Ok(InvitationOutcome::NotFound);
        };
        let plan_id = PlanId(invitation.plan_id);
        if invitation.accepted_by.is_some() {
            return Ok(InvitationOutcome::Used);
        }
        if invitation.expires_at <= now {
            return Ok(InvitationOutcome::Expired);
        }
        if plan_members::Entity::find_by_id((plan_id.0, user.0))
            .one(&txn)
            .await?
            .is_some()
        {
            return Ok(InvitationOutcome::AlreadyMember(plan_id));
        }
        let claimed = invitations::Entity::update_many()
            .col_expr(invitations::Column::AcceptedBy, Expr::value(Some(user.0)))
            .col_expr(invitations::Column::AcceptedAt, Expr::value(Some(now)))
            .filter(invitations::Column::Id.eq(invitation.id))
            .filter(invitations::Column::AcceptedBy.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Ok(InvitationOutcome::Used);
        }
        member_row(plan_id, user, PlanRole::Supporter, now)
            .insert(&txn)
            .await?;
        txn.commit().await?;
        Ok(InvitationOutcome::Joined(plan_id))
    }

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

    /// How many plans exist.
    pub async fn count_plans(&self) -> Result<u64, StoreError> {
        Ok(plans::Entity::find().count(&self.db).await?)
    }

    /// How many supporter memberships exist across all plans.
    pub async fn count_supporters(&self) -> Result<u64, StoreError> {
        Ok(plan_members::Entity::find()
            .filter(plan_members::Column::Role.eq(role_text(PlanRole::Supporter)))
            .count(&self.db)
            .await?)
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

    /// Record whether the plan has fields its members set differently and have not settled.
    pub async fn set_open_conflicts(&self, plan: PlanId, open: bool) -> Result<(), StoreError> {
        use sea_orm::sea_query::Expr;
        plans::Entity::update_many()
            .col_expr(plans::Column::OpenConflicts, Expr::value(open))
            .filter(plans::Column::Id.eq(plan.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// How many plans have fields their members have not settled.
    pub async fn count_plans_with_open_conflicts(&self) -> Result<u64, StoreError> {
        Ok(plans::Entity::find()
            .filter(plans::Column::OpenConflicts.eq(true))
            .count(&self.db)
            .await?)
    }

    /// How many plans are flagged as not fitting the schema.
    pub async fn count_plans_not_fitting(&self) -> Result<u64, StoreError> {
        Ok(plans::Entity::find()
            .filter(plans::Column::SchemaIssue.is_not_null())
            .count(&self.db)
            .await?)
    }
}
