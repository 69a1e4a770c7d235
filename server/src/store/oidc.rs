//! Staff sign-in through the agency's identity provider: sign-ins under way, handoff codes and
//! the identities linked to accounts. Sign-ins and handoffs are taken by deleting them, so each
//! is used once even when several instances share the database.

use cairn_shared::UserId;
use cairn_shared::api::AccountKind;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::accounts::kind_text;
use super::entities::{oidc_handoffs, oidc_identities, oidc_logins, users};
use super::{Store, StoreError};
use crate::domain::{NewUser, User};

/// A sign-in under way, as `start` left it for the callback.
#[derive(Debug, Clone)]
pub struct PendingOidcLogin {
    /// SHA-256 of the browser-binding cookie.
    pub browser_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
}

/// A provider identity linked to an account.
#[derive(Debug, Clone)]
pub struct OidcIdentity {
    /// The account.
    pub user_id: UserId,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The person's subject at that provider.
    pub subject: String,
    /// The provider's refresh token, sealed; None when the provider gave none.
    pub sealed_refresh_token: Option<String>,
}

impl From<oidc_identities::Model> for OidcIdentity {
    fn from(row: oidc_identities::Model) -> Self {
        OidcIdentity {
            user_id: UserId(row.user_id),
            issuer: row.issuer,
            subject: row.subject,
            sealed_refresh_token: row.sealed_refresh_token,
        }
    }
}

impl Store {
    /// Keep a sign-in under way (and drop the expired ones).
    pub async fn insert_oidc_login(
        &self,
        state_hash: &str,
        login: PendingOidcLogin,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        oidc_logins::Entity::delete_many()
            .filter(oidc_logins::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        oidc_logins::ActiveModel {
            state_hash: Set(state_hash.to_owned()),
            browser_hash: Set(login.browser_hash),
            nonce: Set(login.nonce),
            pkce_verifier: Set(login.pkce_verifier),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Take (and so end) the unexpired sign-in stored under `state_hash`; None if there is
    /// none, it expired, or another request took it first.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingOidcLogin>, StoreError> {
        let Some(row) = oidc_logins::Entity::find_by_id(state_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let taken = oidc_logins::Entity::delete_many()
            .filter(oidc_logins::Column::StateHash.eq(state_hash))
            .exec(&self.db)
            .await?;
        if taken.rows_affected != 1 || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(PendingOidcLogin {
            browser_hash: row.browser_hash,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
        }))
    }

    /// Keep a handoff code for `user` (and drop the expired ones).
    pub async fn insert_oidc_handoff(
        &self,
        code_hash: &str,
        user: UserId,
        provider_mfa: bool,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        oidc_handoffs::Entity::delete_many()
            .filter(oidc_handoffs::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        oidc_handoffs::ActiveModel {
            code_hash: Set(code_hash.to_owned()),
            user_id: Set(user.0),
            provider_mfa: Set(provider_mfa),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Take (and so end) an unexpired handoff code: the account and whether the provider
    /// reported more than one factor.
    pub async fn take_oidc_handoff(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, bool)>, StoreError> {
        let Some(row) = oidc_handoffs::Entity::find_by_id(code_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let taken = oidc_handoffs::Entity::delete_many()
            .filter(oidc_handoffs::Column::CodeHash.eq(code_hash))
            .exec(&self.db)
            .await?;
        if taken.rows_affected != 1 || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some((UserId(row.user_id), row.provider_mfa)))
    }

    /// The identity linked to `user`, if any.
    pub async fn oidc_identity_of(&self, user: UserId) -> Result<Option<OidcIdentity>, StoreError> {
        Ok(oidc_identities::Entity::find_by_id(user.0)
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// The identity `subject` at `issuer`, if linked.
    pub async fn oidc_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<OidcIdentity>, StoreError> {
        Ok(oidc_identities::Entity::find()
            .filter(oidc_identities::Column::Issuer.eq(issuer))
            .filter(oidc_identities::Column::Subject.eq(subject))
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// Create an account linked to `subject` at `issuer`, in one transaction. `Conflict` if the
    /// username is taken or the identity is already linked.
    pub async fn insert_oidc_user(
        &self,
        user: NewUser,
        issuer: &str,
        subject: &str,
        sealed_refresh_token: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let txn = self.begin_write().await?;
        let user = super::accounts::user_row(user, now).insert(&txn).await?;
        oidc_identities::ActiveModel {
            user_id: Set(user.id),
            issuer: Set(issuer.to_owned()),
            subject: Set(subject.to_owned()),
            sealed_refresh_token: Set(sealed_refresh_token),
            linked_at: Set(now),
            signed_in_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        user.try_into()
    }

    /// A linked account signed in again: its kind as the provider's claims now say (kept as it
    /// was when None), and the provider's new refresh token (kept as it was when None).
    pub async fn update_oidc_sign_in(
        &self,
        user: UserId,
        kind: Option<AccountKind>,
        sealed_refresh_token: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        if let Some(kind) = kind {
            users::Entity::update_many()
                .col_expr(users::Column::Kind, Expr::value(kind_text(kind)))
                .filter(users::Column::Id.eq(user.0))
                .exec(&txn)
                .await?;
        }
        let mut update = oidc_identities::Entity::update_many()
            .col_expr(oidc_identities::Column::SignedInAt, Expr::value(now));
        if let Some(sealed) = sealed_refresh_token {
            update = update.col_expr(
                oidc_identities::Column::SealedRefreshToken,
                Expr::value(Some(sealed)),
            );
        }
        update
            .filter(oidc_identities::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Keep the provider's rotated refresh token for `user`.
    pub async fn set_oidc_refresh_token(
        &self,
        user: UserId,
        sealed_refresh_token: &str,
    ) -> Result<(), StoreError> {
        oidc_identities::Entity::update_many()
            .col_expr(
                oidc_identities::Column::SealedRefreshToken,
                Expr::value(Some(sealed_refresh_token.to_owned())),
            )
            .filter(oidc_identities::Column::UserId.eq(user.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
