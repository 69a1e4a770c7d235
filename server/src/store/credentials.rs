//! Password changes, recovery codes and admin-issued reset codes. Codes are stored only as
//! keyed hashes; using one, setting the new password and ending the account's device sessions
//! happen in one transaction, so a code works once even under concurrent attempts.

use cairn_shared::{SessionId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{device_sessions, recovery_codes, reset_codes, users};
use super::{Store, StoreError};

/// Which kind of one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// One of the account's own recovery codes.
    Recovery,
    /// A reset code an admin issued for the account (it expires).
    Reset,
}

/// What is known about an account's recovery codes (never the codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    /// Codes of the current set not used yet.
    pub remaining: u64,
    /// When the current set was made; `None` if the account has none.
    pub created_at: Option<DateTime<Utc>>,
}

/// Set the account's password hash and end its active device sessions except `keep`, in `txn`;
/// returns the sessions ended.
async fn set_password_ending_sessions(
    txn: &DatabaseTransaction,
    user: UserId,
    password_hash: &str,
    keep: Option<SessionId>,
    now: DateTime<Utc>,
) -> Result<Vec<SessionId>, StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .filter(users::Column::Id.eq(user.0))
        .exec(txn)
        .await?;
    let mut open = device_sessions::Entity::find()
        .select_only()
        .column(device_sessions::Column::Id)
        .filter(device_sessions::Column::UserId.eq(user.0))
        .filter(device_sessions::Column::RevokedAt.is_null());
    let mut revoke = device_sessions::Entity::update_many()
        .col_expr(device_sessions::Column::RevokedAt, Expr::value(Some(now)))
        .filter(device_sessions::Column::UserId.eq(user.0))
        .filter(device_sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        open = open.filter(device_sessions::Column::Id.ne(keep.0));
        revoke = revoke.filter(device_sessions::Column::Id.ne(keep.0));
    }
    let ended: Vec<Uuid> = open.into_tuple().all(txn).await?;
    revoke.exec(txn).await?;
    Ok(ended.into_iter().map(SessionId).collect())
}

impl Store {
    /// Replace the account's password hash and end every other active device session (all but
    /// `keep`), in one transaction. Returns the sessions ended.
    pub async fn change_password(
        &self,
        user: UserId,
        keep: SessionId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let txn = self.begin_write().await?;
        let ended =
            set_password_ending_sessions(&txn, user, password_hash, Some(keep), now).await?;
        txn.commit().await?;
        Ok(ended)
    }

    /// Replace the account's recovery codes (used or not) with a new set, stored by hash.
    pub async fn replace_recovery_codes(
        &self,
        user: UserId,
        code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        recovery_codes::Entity::delete_many()
            .filter(recovery_codes::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        for hash in code_hashes {
            recovery_codes::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(user.0),
                code_hash: Set(hash.clone()),
                created_at: Set(now),
                used_at: Set(None),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// How many of the account's recovery codes are unused, and when the set was made.
    pub async fn recovery_code_set(&self, user: UserId) -> Result<RecoveryCodeSet, StoreError> {
        let newest = recovery_codes::Entity::find()
            .filter(recovery_codes::Column::UserId.eq(user.0))
            .order_by_desc(recovery_codes::Column::CreatedAt)
            .one(&self.db)
            .await?;
        let remaining = recovery_codes::Entity::find()
            .filter(recovery_codes::Column::UserId.eq(user.0))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .count(&self.db)
            .await?;
        Ok(RecoveryCodeSet {
            remaining,
            created_at: newest.map(|row| row.created_at),
        })
    }

    /// Store a reset code for `user` issued by `issued_by`, voiding any unused earlier one.
    pub async fn insert_reset_code(
        &self,
        user: UserId,
        code_hash: &str,
        issued_by: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        reset_codes::Entity::delete_many()
            .filter(reset_codes::Column::UserId.eq(user.0))
            .filter(reset_codes::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        reset_codes::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user.0),
            code_hash: Set(code_hash.to_owned()),
            issued_by: Set(issued_by.0),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether `user` has an unused (and, for reset codes, unexpired) code stored under one of
    /// `code_hashes`. Looked at before the new password is hashed; [`Store::redeem_code`] uses it.
    pub async fn code_usable(
        &self,
        kind: CodeKind,
        user: UserId,
        code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(code_matches(&self.db, kind, user, code_hashes, now).await? > 0)
    }
    /// Who issued the reset code of `user` that `code_hashes` name (used or not).
    pub async fn reset_code_issuer(
        &self,
        user: UserId,
        code_hashes: &[String],
    ) -> Result<Option<UserId>, StoreError> {
        Ok(reset_codes::Entity::find()
            .filter(reset_codes::Column::UserId.eq(user.0))
            .filter(reset_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
            .one(&self.db)
            .await?
            .map(|row| UserId(row.issued_by)))
    }

    /// Use the code (as [`Store::code_usable`]), set the account's password hash and end all of
    /// its device sessions, in one transaction. `None` (and nothing changed) if the code is not
    /// usable any more; else the sessions ended.
    pub async fn redeem_code(
        &self,
        kind: CodeKind,
        user: UserId,
        code_hashes: &[String],
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<SessionId>>, StoreError> {
        let txn = self.begin_write().await?;
        let used = match kind {
            CodeKind::Recovery => {
                recovery_codes::Entity::update_many()
                    .col_expr(recovery_codes::Column::UsedAt, Expr::value(Some(now)))
                    .filter(recovery_codes::Column::UserId.eq(user.0))
                    .filter(recovery_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
                    .filter(recovery_codes::Column::UsedAt.is_null())
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
            CodeKind::Reset => {
                reset_codes::Entity::update_many()
                    .col_expr(reset_codes::Column::UsedAt, Expr::value(Some(now)))
                    .filter(reset_codes::Column::UserId.eq(user.0))
                    .filter(reset_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
                    .filter(reset_codes::Column::UsedAt.is_null())
                    .filter(reset_codes::Column::ExpiresAt.gt(now))
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
        };
        if used != 1 {
            txn.rollback().await?;
            return Ok(None);
        }
        let ended = set_password_ending_sessions(&txn, user, password_hash, None, now).await?;
        txn.commit().await?;
        Ok(Some(ended))
    }
}

async fn code_matches(
    db: &impl ConnectionTrait,
    kind: CodeKind,
    user: UserId,
    code_hashes: &[String],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(match kind {
        CodeKind::Recovery => {
            recovery_codes::Entity::find()
                .filter(recovery_codes::Column::UserId.eq(user.0))
                .filter(recovery_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
                .filter(recovery_codes::Column::UsedAt.is_null())
                .count(db)
                .await?
        }
        CodeKind::Reset => {
            reset_codes::Entity::find()
                .filter(reset_codes::Column::UserId.eq(user.0))
                .filter(reset_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
                .filter(reset_codes::Column::UsedAt.is_null())
                .filter(reset_codes::Column::ExpiresAt.gt(now))
                .count(db)
                .await?
        }
    })
}
