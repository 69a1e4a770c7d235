//! Accounts, device sessions and enrollment codes.

use cairn_shared::api::AccountKind;
use cairn_shared::{SessionId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::entities::{device_sessions, enrollment_codes, users};
use super::{Store, StoreError};
use crate::domain::{DeviceSession, NewUser, User};

pub(super) fn kind_text(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Member => "member",
        AccountKind::Admin => "admin",
    }
}

impl TryFrom<users::Model> for User {
    type Error = StoreError;
    fn try_from(row: users::Model) -> Result<Self, StoreError> {
        let kind = match row.kind.as_str() {
            "member" => AccountKind::Member,
            "admin" => AccountKind::Admin,
            other => return Err(StoreError::Corrupt(format!("account kind {other:?}"))),
        };
        let display_name = super::leaving::shown_name(&row);
        Ok(User {
            id: UserId(row.id),
            username: row.username,
            display_name,
            password_hash: row.password_hash,
            kind,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
            deleted_at: row.deleted_at,
        })
    }
}

impl From<device_sessions::Model> for DeviceSession {
    fn from(row: device_sessions::Model) -> Self {
        DeviceSession {
            id: SessionId(row.id),
            user_id: UserId(row.user_id),
            device_name: row.device_name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            second_factor_at: row.second_factor_at,
        }
    }
}

pub(super) fn user_row(user: NewUser, now: DateTime<Utc>) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(Uuid::new_v4()),
        username: Set(user.username),
        username_key: Set(Some(user.username_key)),
        display_name: Set(user.display_name),
        password_hash: Set(user.password_hash),
        kind: Set(kind_text(user.kind).to_owned()),
        disabled_at: Set(None),
        created_at: Set(now),
        deleted_at: Set(None),
    }
}

/// What happened to a registration that needed an enrollment code.
#[derive(Debug)]
pub enum EnrollmentOutcome {
    /// The account was created and the code's use counted.
    Registered(User),
    /// The code is unknown, expired or used up; nothing was created.
    CodeRejected,
}

impl Store {
    /// Store a new account. `Conflict` if the username is taken.
    pub async fn insert_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
        user_row(user, now).insert(&self.db).await?.try_into()
    }

    /// Whether an enrollment code stored under one of `code_hashes` is unexpired and has uses
    /// left (looked at before a password is hashed; the use is counted at registration).
    pub async fn enrollment_code_usable(
        &self,
        code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let found = enrollment_codes::Entity::find()
            .filter(enrollment_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
            .filter(enrollment_codes::Column::ExpiresAt.gt(now))
            .filter(enrollment_codes::Column::RevokedAt.is_null())
            .filter(
                Expr::col(enrollment_codes::Column::Uses)
                    .lt(Expr::col(enrollment_codes::Column::MaxUses)),
            )
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    /// Store a new account and count one use of the enrollment code (stored under one of
    /// `code_hashes`), in one transaction, so a code is never used more often than allowed even
    /// under concurrent registrations.
    pub async fn insert_user_with_enrollment(
        &self,
        user: NewUser,
        code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<EnrollmentOutcome, StoreError> {
        let txn = self.begin_write().await?;
        let consumed = enrollment_codes::Entity::update_many()
            .col_expr(
                enrollment_codes::Column::Uses,
                Expr::col(enrollment_codes::Column::Uses).add(1),
            )
            .filter(enrollment_codes::Column::CodeHash.is_in(code_hashes.iter().cloned()))
            .filter(enrollment_codes::Column::ExpiresAt.gt(now))
            .filter(enrollment_codes::Column::RevokedAt.is_null())
            .filter(
                Expr::col(enrollment_codes::Column::Uses)
                    .lt(Expr::col(enrollment_codes::Column::MaxUses)),
            )
            .exec(&txn)
            .await?;
        if consumed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(EnrollmentOutcome::CodeRejected);
        }
        let user = user_row(user, now).insert(&txn).await?;
        txn.commit().await?;
        Ok(EnrollmentOutcome::Registered(user.try_into()?))
    }

    /// The account with this (lower-case) username.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        users::Entity::find()
            .filter(users::Column::Username.eq(username))
            .one(&self.db)
            .await?
            .map(User::try_from)
            .transpose()
    }

    /// Accounts stored before usernames had a look-alike key: (id, username), oldest first.
    pub async fn users_without_key(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        Ok(users::Entity::find()
            .filter(users::Column::UsernameKey.is_null())
            .order_by_asc(users::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (UserId(row.id), row.username))
            .collect())
    }

    /// Record an account's look-alike key. `Conflict` if another account holds it.
    pub async fn set_username_key(&self, id: UserId, key: &str) -> Result<(), StoreError> {
        users::Entity::update_many()
            .col_expr(users::Column::UsernameKey, Expr::value(key))
            .filter(users::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The account with this id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(User::try_from)
            .transpose()
    }

    /// Every account, oldest first (not those deleted by their person: they are tombstones).
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        users::Entity::find()
            .filter(users::Column::DeletedAt.is_null())
            .order_by_asc(users::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::try_from)
            .collect()
    }

    /// Disable (with the time) or re-enable an account. Disabling also ends all its device
    /// sessions. Returns false if there is no such account.
    pub async fn set_user_disabled(
        &self,
        id: UserId,
        disabled_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let updated = users::Entity::update_many()
            .col_expr(users::Column::DisabledAt, Expr::value(disabled_at))
            .filter(users::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        if let Some(now) = disabled_at {
            device_sessions::Entity::update_many()
                .col_expr(device_sessions::Column::RevokedAt, Expr::value(Some(now)))
                .filter(device_sessions::Column::UserId.eq(id.0))
                .filter(device_sessions::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(updated.rows_affected == 1)
    }

    /// How many accounts of a kind exist, and how many of all kinds are disabled.
    pub async fn count_users(&self, kind: AccountKind) -> Result<u64, StoreError> {
        Ok(users::Entity::find()
            .filter(users::Column::Kind.eq(kind_text(kind)))
            .filter(users::Column::DeletedAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// How many accounts are disabled.
    pub async fn count_disabled_users(&self) -> Result<u64, StoreError> {
        Ok(users::Entity::find()
            .filter(users::Column::DisabledAt.is_not_null())
            .filter(users::Column::DeletedAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// Store a new device session holding the hash of its first refresh token.
    pub async fn insert_session(
        &self,
        user_id: UserId,
        device_name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<DeviceSession, StoreError> {
        let row = device_sessions::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id.0),
            device_name: Set(device_name.to_owned()),
            token_hash: Set(token_hash.to_owned()),
            previous_token_hash: Set(None),
            created_at: Set(now),
            last_used_at: Set(now),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            second_factor_at: Set(None),
        };
        Ok(row.insert(&self.db).await?.into())
    }

    /// The device session with this id.
    pub async fn session(&self, id: SessionId) -> Result<Option<DeviceSession>, StoreError> {
        Ok(device_sessions::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(DeviceSession::from))
    }

    /// The session whose current refresh token has this hash.
    pub async fn session_by_token(&self, hash: &str) -> Result<Option<DeviceSession>, StoreError> {
        Ok(device_sessions::Entity::find()
            .filter(device_sessions::Column::TokenHash.eq(hash))
            .one(&self.db)
            .await?
            .map(DeviceSession::from))
    }

    /// The session whose previous (already used) refresh token has this hash.
    pub async fn session_by_previous_token(
        &self,
        hash: &str,
    ) -> Result<Option<DeviceSession>, StoreError> {
        Ok(device_sessions::Entity::find()
            .filter(device_sessions::Column::PreviousTokenHash.eq(hash))
            .one(&self.db)
            .await?
            .map(DeviceSession::from))
    }

    /// Replace the session's refresh token, only if `old_hash` is still the current one and the
    /// session is active. Exactly one of two concurrent refreshes with the same token wins.
    pub async fn rotate_session_token(
        &self,
        id: SessionId,
        old_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = device_sessions::Entity::update_many()
            .col_expr(device_sessions::Column::TokenHash, Expr::value(new_hash))
            .col_expr(
                device_sessions::Column::PreviousTokenHash,
                Expr::value(old_hash),
            )
            .col_expr(device_sessions::Column::LastUsedAt, Expr::value(now))
            .col_expr(device_sessions::Column::ExpiresAt, Expr::value(expires_at))
            .filter(device_sessions::Column::Id.eq(id.0))
            .filter(device_sessions::Column::TokenHash.eq(old_hash))
            .filter(device_sessions::Column::RevokedAt.is_null())
            .filter(device_sessions::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// End one session of `user_id`. Returns false if it is not theirs or already ended.
    pub async fn revoke_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = device_sessions::Entity::update_many()
            .col_expr(device_sessions::Column::RevokedAt, Expr::value(Some(now)))
            .filter(device_sessions::Column::Id.eq(id.0))
            .filter(device_sessions::Column::UserId.eq(user_id.0))
            .filter(device_sessions::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Rename one active session of `user_id`. `None` if it is not theirs, ended or expired.
    pub async fn rename_session(
        &self,
        user_id: UserId,
        id: SessionId,
        device_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceSession>, StoreError> {
        let updated = device_sessions::Entity::update_many()
            .col_expr(
                device_sessions::Column::DeviceName,
                Expr::value(device_name),
            )
            .filter(device_sessions::Column::Id.eq(id.0))
            .filter(device_sessions::Column::UserId.eq(user_id.0))
            .filter(device_sessions::Column::RevokedAt.is_null())
            .filter(device_sessions::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        if updated.rows_affected != 1 {
            return Ok(None);
        }
        self.session(id).await
    }

    /// The account's sessions that are still active at `now`, newest first.
    pub async fn active_sessions(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeviceSession>, StoreError> {
        Ok(device_sessions::Entity::find()
            .filter(device_sessions::Column::UserId.eq(user_id.0))
            .filter(device_sessions::Column::RevokedAt.is_null())
            .filter(device_sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(device_sessions::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(DeviceSession::from)
            .collect())
    }

    /// Store an enrollment code (by its hash); returns its id.
    pub async fn insert_enrollment_code(
        &self,
        code_hash: &str,
        created_by: UserId,
        max_uses: u32,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        let row = enrollment_codes::ActiveModel {
            id: Set(id),
            code_hash: Set(code_hash.to_owned()),
            created_by: Set(created_by.0),
            created_at: Set(now),
            expires_at: Set(expires_at),
            max_uses: Set(i32::try_from(max_uses).unwrap_or(i32::MAX)),
            uses: Set(0),
            label: Set(None),
            revoked_at: Set(None),
        };
        row.insert(&self.db).await?;
        Ok(id)
    }
}
