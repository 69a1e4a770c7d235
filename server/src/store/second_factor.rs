//! Second factors (TOTP seeds, sealed), sign-in challenges, and which sessions passed one.

use cairn_shared::{SessionId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set};

use super::entities::{device_sessions, second_factor_challenges, second_factors};
use super::{Store, StoreError};
use crate::domain::StoredSecondFactor;

impl From<second_factors::Model> for StoredSecondFactor {
    fn from(row: second_factors::Model) -> Self {
        StoredSecondFactor {
            method: row.method,
            sealed_secret: row.sealed_secret,
            created_at: row.created_at,
            confirmed_at: row.confirmed_at,
            last_used_step: row.last_used_step,
        }
    }
}

impl Store {
    /// `user`'s second factor, confirmed or pending.
    pub async fn second_factor(
        &self,
        user: UserId,
    ) -> Result<Option<StoredSecondFactor>, StoreError> {
        Ok(second_factors::Entity::find_by_id(user.0)
            .one(&self.db)
            .await?
            .map(StoredSecondFactor::from))
    }

    /// Store a pending (unconfirmed) TOTP enrolment for `user`, replacing a pending one.
    /// `Conflict` if a confirmed one exists.
    pub async fn put_pending_second_factor(
        &self,
        user: UserId,
        method: &str,
        sealed_secret: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        second_factors::Entity::delete_many()
            .filter(second_factors::Column::UserId.eq(user.0))
            .filter(second_factors::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await?;
        second_factors::ActiveModel {
            user_id: Set(user.0),
            method: Set(method.to_owned()),
            sealed_secret: Set(sealed_secret.to_owned()),
            created_at: Set(now),
            confirmed_at: Set(None),
            last_used_step: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Accept TOTP time step `step` for `user` once: false if that step (or a later one) was
    /// already accepted. With `confirm`, a pending enrolment becomes enabled.
    pub async fn use_second_factor_step(
        &self,
        user: UserId,
        step: i64,
        confirm: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut update = second_factors::Entity::update_many()
            .col_expr(
                second_factors::Column::LastUsedStep,
                Expr::value(Some(step)),
            )
            .filter(second_factors::Column::UserId.eq(user.0))
            .filter(
                Condition::any()
                    .add(second_factors::Column::LastUsedStep.is_null())
                    .add(second_factors::Column::LastUsedStep.lt(step)),
            );
        if let Some(now) = confirm {
            update = update
                .col_expr(second_factors::Column::ConfirmedAt, Expr::value(Some(now)))
                .filter(second_factors::Column::ConfirmedAt.is_null());
        } else {
            update = update.filter(second_factors::Column::ConfirmedAt.is_not_null());
        }
        Ok(update.exec(&self.db).await?.rows_affected == 1)
    }

    /// Remove `user`'s second factor; none of its sessions counts as having passed one any
    /// more. Returns false if it had none.
    pub async fn remove_second_factor(&self, user: UserId) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let removed = second_factors::Entity::delete_many()
            .filter(second_factors::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        device_sessions::Entity::update_many()
            .col_expr(
                device_sessions::Column::SecondFactorAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(device_sessions::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        second_factor_challenges::Entity::delete_many()
            .filter(second_factor_challenges::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(removed.rows_affected == 1)
    }

    /// Record that device session `id` passed a second factor at `now`.
    pub async fn set_session_second_factor(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        device_sessions::Entity::update_many()
            .col_expr(
                device_sessions::Column::SecondFactorAt,
                Expr::value(Some(now)),
            )
            .filter(device_sessions::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Store a sign-in challenge (the hash of its token) for `user`, and drop expired ones.
    pub async fn insert_second_factor_challenge(
        &self,
        token_hash: &str,
        user: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        second_factor_challenges::Entity::delete_many()
            .filter(second_factor_challenges::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        second_factor_challenges::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            user_id: Set(user.0),
            expires_at: Set(expires_at),
            used_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The account of a live (unused, unexpired) challenge.
    pub async fn live_second_factor_challenge(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(
            second_factor_challenges::Entity::find_by_id(token_hash.to_owned())
                .one(&self.db)
                .await?
                .filter(|row| row.used_at.is_none() && row.expires_at > now)
                .map(|row| UserId(row.user_id)),
        )
    }

    /// Use a live challenge up: false if it was used (or expired) meanwhile.
    pub async fn use_second_factor_challenge(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = second_factor_challenges::Entity::update_many()
            .col_expr(
                second_factor_challenges::Column::UsedAt,
                Expr::value(Some(now)),
            )
            .filter(second_factor_challenges::Column::TokenHash.eq(token_hash))
            .filter(second_factor_challenges::Column::UsedAt.is_null())
            .filter(second_factor_challenges::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }
}
