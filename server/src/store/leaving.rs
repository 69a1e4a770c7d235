//! Leaving Cairn: an account its person deleted becomes a tombstone row. Its id stays (history,
//! actor bindings and other people's access logs point to it), its personal data goes, and
//! every name read from it is [`FORMER_MEMBER`].

use cairn_shared::api::PlanRole;
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{
    account_activity, device_sessions, passkeys, plan_members, recovery_codes, reset_codes,
    second_factor_challenges, second_factors, users,
};
use super::plans::role_text;
use super::{Store, StoreError};
use crate::domain::FORMER_MEMBER;

/// The name others see for an account row: its display name, or [`FORMER_MEMBER`] once the
/// account is deleted. Every place the store reads a name from `users` goes through here.
pub(super) fn shown_name(row: &users::Model) -> String {
    if row.deleted_at.is_some() {
        FORMER_MEMBER.to_owned()
    } else {
        row.display_name.clone()
    }
}

/// The username and look-alike key a deleted account keeps: never a valid username (longer
/// than any, with its id), so the person's name is free again and cannot collide.
fn tombstone_username(id: UserId) -> String {
    format!("deleted-{}", id.0)
}

/// What [`Store::close_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// The account is now a tombstone and all its device sessions have ended.
    Closed,
    /// It is the only enabled admin account: nothing changed.
    SoleAdmin,
    /// There is no such account, or it was already deleted: nothing changed.
    Gone,
}

impl Store {
    /// Turn the account into a tombstone, in one transaction: `deleted_at` set, display name and
    /// password hash wiped, the username replaced (freeing it), every device session ended. An
    /// admin is refused when no other enabled admin would remain: the enabled admins' rows are
    /// locked first (`FOR UPDATE` on Postgres; SQLite's write transaction holds the whole
    /// database), so two admins leaving at once cannot both go. `Gone` when another request
    /// deleted it first.
    pub async fn close_account(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Leaving, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = users::Entity::find_by_id(user.0)
            .one(&txn)
            .await?
            .filter(|row| row.deleted_at.is_none())
        else {
            return Ok(Leaving::Gone);
        };
        if row.kind == "admin" {
            // Locked in one order (by id), so two admins leaving at once wait, not deadlock; the
            // second then sees the first gone (Postgres re-checks a locked row's conditions).
            let admins: Vec<uuid::Uuid> = users::Entity::find()
                .select_only()
                .column(users::Column::Id)
                .filter(users::Column::Kind.eq("admin"))
                .filter(users::Column::DisabledAt.is_null())
                .filter(users::Column::DeletedAt.is_null())
                .order_by_asc(users::Column::Id)
                .lock_exclusive()
                .into_tuple()
                .all(&txn)
                .await?;
            if !admins.iter().any(|id| *id != user.0) {
                return Ok(Leaving::SoleAdmin);
            }
        }
        let tombstone = tombstone_username(user);
        let closed = users::Entity::update_many()
            .col_expr(users::Column::DeletedAt, Expr::value(Some(now)))
            .col_expr(users::Column::DisplayName, Expr::value(""))
            .col_expr(users::Column::PasswordHash, Expr::value(""))
            .col_expr(users::Column::Username, Expr::value(tombstone.clone()))
            .col_expr(users::Column::UsernameKey, Expr::value(Some(tombstone)))
            .filter(users::Column::Id.eq(user.0))
            .filter(users::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if closed.rows_affected != 1 {
            // Deleted a moment ago by another request (the transaction is rolled back on drop).
            return Ok(Leaving::Gone);
        }
        device_sessions::Entity::update_many()
            .col_expr(device_sessions::Column::RevokedAt, Expr::value(Some(now)))
            .filter(device_sessions::Column::UserId.eq(user.0))
            .filter(device_sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        // Its codes and its own activity (device names, addresses) go with its personal data;
        // what admins did stays in the admin audit, naming "a former member".
        recovery_codes::Entity::delete_many()
            .filter(recovery_codes::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        reset_codes::Entity::delete_many()
            .filter(reset_codes::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        account_activity::Entity::delete_many()
            .filter(account_activity::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        passkeys::Entity::delete_many()
            .filter(passkeys::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        second_factor_challenges::Entity::delete_many()
            .filter(second_factor_challenges::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        second_factors::Entity::delete_many()
            .filter(second_factors::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Leaving::Closed)
    }

    /// Memberships deleted accounts still hold, (plan, account, role): what a departure left
    /// undone if Cairn stopped between closing the account and ending its plans.
    pub async fn departed_memberships(
        &self,
    ) -> Result<Vec<(PlanId, UserId, PlanRole)>, StoreError> {
        let rows = plan_members::Entity::find()
            .inner_join(users::Entity)
            .filter(users::Column::DeletedAt.is_not_null())
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let role = if row.role == role_text(PlanRole::Owner) {
                    PlanRole::Owner
                } else {
                    PlanRole::Supporter
                };
                (PlanId(row.plan_id), UserId(row.user_id), role)
            })
            .collect())
    }
}
