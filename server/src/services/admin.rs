//! What admin accounts (agency staff) can do: manage accounts and enrollment codes and see
//! counts. Nothing here reads or returns plan content.

use cairn_shared::UserId;
use cairn_shared::api::{
    Account, AccountKind, AdminAction, AuditPage, Counts, CreateAccountRequest, EnrollmentCode,
};
use chrono::Utc;
use secrecy::SecretString;
use tracing::instrument;

use super::accounts::{AccountError, create_account};
use super::{Services, activity};
use crate::auth::secrets::{CODE_LENGTH, human_code, normalize_code};
use crate::domain::Caller;
use crate::store::StoreError;

/// Why an admin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller is not an admin.
    #[error("only an admin account can do this")]
    AdminOnly,
    /// No such account.
    #[error("no such account")]
    AccountNotFound,
    /// A field is not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// Creating the account failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The admin has no second factor, or this session did not pass it.
    #[error(
        "admin routes need a second factor: add one at /api/v1/me/second-factor/totp (and \
         confirm it from this session), or sign in again with it"
    )]
    SecondFactorRequired,
}

/// The one check in front of every admin act: an admin account, in a session that passed a
/// second factor (which the account therefore has: removing a factor clears it from every
/// session).
pub(crate) fn require_admin(caller: &Caller) -> Result<(), AdminError> {
    if caller.user.kind != AccountKind::Admin {
        tracing::warn!(user.id = %caller.user.id, "admin action refused for a member");
        return Err(AdminError::AdminOnly);
    }
    if !caller.second_factor_passed {
        tracing::warn!(user.id = %caller.user.id, "admin action refused: no second factor passed");
        return Err(AdminError::SecondFactorRequired);
    }
    Ok(())
}

/// Every account (no plan content).
pub async fn list_accounts(
    services: &Services,
    caller: &Caller,
) -> Result<Vec<Account>, AdminError> {
    require_admin(caller)?;
    Ok(services
        .store
        .users()
        .await?
        .iter()
        .map(|u| u.to_account())
        .collect())
}

/// Create a member or admin account.
#[instrument(skip_all, fields(admin.id = %caller.user.id))]
pub async fn create(
    services: &Services,
    caller: &Caller,
    request: CreateAccountRequest,
) -> Result<Account, AdminError> {
    require_admin(caller)?;
    let user = create_account(
        &services.store,
        &request.username,
        &request.display_name,
        SecretString::from(request.password),
        request.kind.unwrap_or(AccountKind::Member),
    )
    .await?;
    activity::admin_act(
        &services.store,
        Some(caller.user.id),
        AdminAction::AccountCreated,
        Some(user.id),
        None,
    )
    .await?;
    Ok(user.to_account())
}

/// Disable or re-enable an account. Disabling ends all of its device sessions at once.
#[instrument(skip_all, fields(admin.id = %caller.user.id, account.id = %account, disabled))]
pub async fn set_disabled(
    services: &Services,
    caller: &Caller,
    account: UserId,
    disabled: bool,
) -> Result<Account, AdminError> {
    require_admin(caller)?;
    if account == caller.user.id && disabled {
        return Err(AdminError::InvalidInput(
            "you cannot disable your own account".into(),
        ));
    }
    let when = disabled.then(Utc::now);
    if !services.store.set_user_disabled(account, when).await? {
        return Err(AdminError::AccountNotFound);
    }
    if disabled {
        services
            .hub
            .close_account(account, "this account has been disabled");
    }
    tracing::info!("account {}", if disabled { "disabled" } else { "enabled" });
    let action = if disabled {
        AdminAction::AccountDisabled
    } else {
        AdminAction::AccountEnabled
    };
    activity::admin_act(
        &services.store,
        Some(caller.user.id),
        action,
        Some(account),
        None,
    )
    .await?;
    let user = services
        .store
        .user(account)
        .await?
        .ok_or(AdminError::AccountNotFound)?;
    Ok(user.to_account())
}

/// Issue an enrollment code for registering member accounts.
#[instrument(skip_all, fields(admin.id = %caller.user.id))]
pub async fn create_enrollment_code(
    services: &Services,
    caller: &Caller,
    max_uses: Option<u32>,
    expires_in_hours: Option<u32>,
    label: Option<String>,
) -> Result<EnrollmentCode, AdminError> {
    require_admin(caller)?;
    let label = super::console::enrollment_label(label)?;
    let max_uses = max_uses.unwrap_or(1);
    if !(1..=1000).contains(&max_uses) {
        return Err(AdminError::InvalidInput(
            "maxUses must be between 1 and 1000".into(),
        ));
    }
    let hours = expires_in_hours
        .map(i64::from)
        .unwrap_or(services.settings.enrollment_code_ttl_hours);
    if !(1..=90 * 24).contains(&hours) {
        return Err(AdminError::InvalidInput(
            "expiresInHours must be between 1 and 2160".into(),
        ));
    }
    let now = Utc::now();
    let expires_at = now + chrono::Duration::hours(hours);
    let code = human_code(CODE_LENGTH);
    let id = services
        .store
        .insert_enrollment_code(
            &services.codes.hash(&normalize_code(&code)),
            caller.user.id,
            max_uses,
            now,
            expires_at,
        )
        .await?;
    if let Some(label) = &label {
        services.store.label_enrollment_code(id, label).await?;
    }
    tracing::info!(max_uses, "enrollment code issued");
    activity::admin_act(
        &services.store,
        Some(caller.user.id),
        AdminAction::EnrollmentCodeIssued,
        None,
        Some(format!("{max_uses} uses, {hours} h")),
    )
    .await?;
    Ok(EnrollmentCode {
        id,
        code,
        label,
        max_uses,
        expires_at,
    })
}

/// Numbers of accounts, plans and memberships; never content.
pub async fn counts(services: &Services, caller: &Caller) -> Result<Counts, AdminError> {
    require_admin(caller)?;
    let store = &services.store;
    Ok(Counts {
        members: store.count_users(AccountKind::Member).await?,
        admins: store.count_users(AccountKind::Admin).await?,
        disabled_accounts: store.count_disabled_users().await?,
        plans: store.count_plans().await?,
        supporter_memberships: store.count_supporters().await?,
    })
}

/// A page of the admin audit, newest first: at most `limit` acts older than `before`.
pub async fn audit(
    services: &Services,
    caller: &Caller,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPage, AdminError> {
    require_admin(caller)?;
    Ok(activity::audit_page(&services.store, before, limit).await?)
}
