//! Getting back into an account: changing a password (knowing the current one), recovery codes
//! a person keeps for when they forget it, and reset codes an admin issues so the person can
//! choose a new one themself (the admin never learns it).
//!
//! Codes are 8 characters from the 29-letter unambiguous alphabet (`K7QM-3XPA`): 29^8 ≈ 5·10^11
//! (39 bits). A guess is checked against one account's codes, and guesses are limited per
//! account (`code_attempts_per_account` per window, default 10 an hour) and per address: at the
//! default, a year of guessing at one account (87,600 guesses) against its 10 live recovery codes
//! succeeds with odds of about 1 in 570,000; a reset code lives at most a day (240 guesses, odds
//! about 1 in 2·10^9). Codes are stored as keyed hashes ([`crate::auth::secrets::CodeHasher`]),
//! so a copy of the database does not give them away.

use std::net::IpAddr;

use cairn_shared::api::{
    ActivityKind, AdminAction, AuthTokens, ChangePasswordRequest, NewRecoveryCodesRequest,
    RecoveryCodeStatus, RedeemCodeRequest, ResetCode,
};
use cairn_shared::{SessionId, UserId};
use chrono::Utc;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::accounts::{
    AccountError, fold_username, normalize_username, start_session, validate_password,
};
use super::admin::{AdminError, require_admin};
use super::{Services, activity};
use crate::auth::limits::RateLimited;
use crate::auth::password::{PasswordError, hash_password, verify_password};
use crate::auth::secrets::{human_code, normalize_code};
use crate::domain::{ActivityRecord, Caller};
use crate::store::{CodeKind, StoreError};

/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// Characters in a recovery or reset code (shown as two groups of four).
pub const CREDENTIAL_CODE_LENGTH: usize = 8;
/// Longest typed code looked at (after dashes and spaces are dropped).
const MAX_TYPED_CODE: usize = 64;

/// Why a password change, recovery or reset was refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The current password given is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// No unused recovery code of that account matches (or no such account: not told apart).
    #[error("that username and recovery code do not match an unused recovery code")]
    RecoveryCodeInvalid,
    /// No unused, unexpired reset code of that account matches (or no such account).
    #[error("that username and reset code do not match an unused, unexpired reset code")]
    ResetCodeInvalid,
    /// An account error (bad input, disabled account, rate limit, storage).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// An admin error (not an admin, no such account, not allowed on that account).
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<StoreError> for CredentialError {
    fn from(err: StoreError) -> Self {
        CredentialError::Account(AccountError::Store(err))
    }
}

impl From<PasswordError> for CredentialError {
    fn from(err: PasswordError) -> Self {
        CredentialError::Account(AccountError::Password(err))
    }
}

impl From<RateLimited> for CredentialError {
    fn from(err: RateLimited) -> Self {
        CredentialError::Account(AccountError::RateLimited(err))
    }
}

/// End these device sessions' sync connections at once.
fn close_sessions(services: &Services, sessions: &[SessionId], reason: &str) {
    for session in sessions {
        services.hub.close_session(*session, reason);
    }
}

/// The registration rules for a new password, the message naming the field.
fn validate_new_password(password: &str) -> Result<(), AccountError> {
    validate_password(password).map_err(|err| match err {
        AccountError::InvalidInput(message) => {
            AccountError::InvalidInput(format!("newPassword: {message}"))
        }
        other => other,
    })
}

/// Check the caller's current password, limited as logins are (per account and per address); a
/// right one does not count against them.
async fn confirm_password(
    services: &Services,
    caller: &Caller,
    password: String,
    address: Option<IpAddr>,
) -> Result<(), CredentialError> {
    let attempt = services
        .limits
        .login(&caller.user.username, address)
        .map_err(|limited| services.refused(limited))?;
    services.metrics.password_hashes.inc();
    let matches = verify_password(
        SecretString::from(password),
        Some(caller.user.password_hash.clone()),
    )
    .await?;
    if !matches {
        tracing::info!("refused: wrong current password");
        return Err(CredentialError::WrongPassword);
    }
    services.limits.signed_in(attempt);
    Ok(())
}

/// Change the caller's password, knowing the current one. Wrong guesses are limited like
/// logins; on success every other device session of the account ends (its sync connections
/// closed at once) and this one continues.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn change_password(
    services: &Services,
    caller: &Caller,
    request: ChangePasswordRequest,
    address: Option<IpAddr>,
) -> Result<(), CredentialError> {
    validate_new_password(&request.new_password)?;
    confirm_password(services, caller, request.current_password, address).await?;
    services.metrics.password_hashes.inc();
    let hash = hash_password(SecretString::from(request.new_password)).await?;
    let ended = services
        .store
        .change_password(caller.user.id, caller.session_id, &hash, Utc::now())
        .await?;
    close_sessions(services, &ended, "the account's password was changed");
    activity::record(
        services,
        caller.user.id,
        ActivityRecord::now(ActivityKind::PasswordChanged),
    )
    .await;
    tracing::info!(sessions.ended = ended.len(), "password changed");
    Ok(())
}

/// Make a new set of recovery codes for `user`, voiding the old set; the codes are returned
/// this once and stored only as hashes.
pub(crate) async fn new_recovery_codes(
    services: &Services,
    user: UserId,
) -> Result<Vec<String>, StoreError> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| human_code(CREDENTIAL_CODE_LENGTH))
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| services.codes.hash(&normalize_code(code)))
        .collect();
    services
        .store
        .replace_recovery_codes(user, &hashes, Utc::now())
        .await?;
    activity::record(
        services,
        user,
        ActivityRecord::now(ActivityKind::RecoveryCodesCreated),
    )
    .await;
    tracing::info!(user.id = %user, "recovery codes made");
    Ok(codes)
}

/// A new set of recovery codes for the caller, confirmed by their password (the old set stops
/// working). A wrong password changes nothing and is limited as logins are.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn renew_recovery_codes(
    services: &Services,
    caller: &Caller,
    request: NewRecoveryCodesRequest,
    address: Option<IpAddr>,
) -> Result<Vec<String>, CredentialError> {
    confirm_password(services, caller, request.password, address).await?;
    Ok(new_recovery_codes(services, caller.user.id).await?)
}

/// How many of the caller's recovery codes are left, and when the set was made.
pub async fn recovery_code_status(
    services: &Services,
    caller: &Caller,
) -> Result<RecoveryCodeStatus, CredentialError> {
    let set = services.store.recovery_code_set(caller.user.id).await?;
    Ok(RecoveryCodeStatus {
        remaining: set.remaining,
        created_at: set.created_at,
    })
}

/// The key guesses at one username's codes are counted under, whether or not the account
/// exists (so the limit behaves the same for both).
fn attempts_key(username: &str) -> UserId {
    let digest = Sha256::digest(format!("cairn: code attempts for {username}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UserId(uuid::Uuid::from_bytes(bytes))
}

/// Set a new password with a recovery code or a reset code and sign in on a new device
/// session; the code is used up and every other session of the account ends. A wrong code, a
/// code of another account and an unknown username get the same answer, after the same work.
async fn redeem(
    services: &Services,
    kind: CodeKind,
    request: RedeemCodeRequest,
    address: Option<IpAddr>,
) -> Result<AuthTokens, CredentialError> {
    let refused = || match kind {
        CodeKind::Recovery => CredentialError::RecoveryCodeInvalid,
        CodeKind::Reset => CredentialError::ResetCodeInvalid,
    };
    validate_new_password(&request.new_password)?;
    let username = fold_username(&request.username);
    let attempt = services
        .limits
        .code(Some(attempts_key(&username)), address)
        .map_err(|limited| services.refused(limited))?;
    let user = if normalize_username(&username).is_ok() {
        services.store.user_by_username(&username).await?
    } else {
        None
    };
    let code = normalize_code(&request.code);
    let hashes = services.codes.lookup_hashes(&code);
    let now = Utc::now();
    // An unknown account is looked up under the nil id, which has no codes: the same queries.
    let account = user.as_ref().map_or(UserId(uuid::Uuid::nil()), |u| u.id);
    let usable = !code.is_empty()
        && code.len() <= MAX_TYPED_CODE
        && services
            .store
            .code_usable(kind, account, &hashes, now)
            .await?;
    let user = match user {
        Some(user) if usable => user,
        _ => {
            tracing::info!(code.kind = ?kind, "password reset refused: code invalid");
            return Err(refused());
        }
    };
    services.limits.code_worked(attempt);
    if user.disabled_at.is_some() {
        tracing::info!(user.id = %user.id, "password reset refused: account disabled");
        return Err(AccountError::AccountDisabled.into());
    }
    services.metrics.password_hashes.inc();
    let hash = hash_password(SecretString::from(request.new_password)).await?;
    let Some(ended) = services
        .store
        .redeem_code(kind, user.id, &hashes, &hash, Utc::now())
        .await?
    else {
        // Used (or voided) by another request meanwhile.
        return Err(refused());
    };
    close_sessions(services, &ended, "the account's password was reset");
    let used = match kind {
        CodeKind::Recovery => ActivityRecord::now(ActivityKind::RecoveryCodeUsed),
        // "Password reset by <admin>": the admin who issued the code.
        CodeKind::Reset => ActivityRecord {
            by: services.store.reset_code_issuer(user.id, &hashes).await?,
            ..ActivityRecord::now(ActivityKind::PasswordReset)
        },
    };
    activity::record(services, user.id, used).await;
    tracing::info!(user.id = %user.id, code.kind = ?kind, sessions.ended = ended.len(), "password set with a code");
    let tokens = start_session(services, user, request.device_name.as_deref(), address).await?;
    if kind == CodeKind::Recovery {
        // Recovery codes are the way back from a lost second factor too: the new session
        // counts as having passed it (a reset code from an admin does not).
        services
            .store
            .set_session_second_factor(tokens.session_id, Utc::now())
            .await?;
    }
    Ok(tokens)
}

/// Set a new password with one of the account's recovery codes.
#[instrument(skip_all)]
pub async fn recover(
    services: &Services,
    request: RedeemCodeRequest,
    address: Option<IpAddr>,
) -> Result<AuthTokens, CredentialError> {
    redeem(services, CodeKind::Recovery, request, address).await
}

/// Set a new password with a reset code an admin issued.
#[instrument(skip_all)]
pub async fn reset(
    services: &Services,
    request: RedeemCodeRequest,
    address: Option<IpAddr>,
) -> Result<AuthTokens, CredentialError> {
    redeem(services, CodeKind::Reset, request, address).await
}

/// An admin issues a one-time reset code for another account (member or admin; never their
/// own: they change their password knowing it). It expires after `reset_code_ttl_hours`; a new
/// one voids the previous one. Stored only as a hash, with who issued it.
#[instrument(skip_all, fields(admin.id = %caller.user.id, account.id = %account))]
pub async fn issue_reset_code(
    services: &Services,
    caller: &Caller,
    account: UserId,
) -> Result<ResetCode, CredentialError> {
    require_admin(caller)?;
    if account == caller.user.id {
        return Err(AdminError::InvalidInput(
            "you cannot issue a reset code for your own account; change your password instead \
             (or ask another admin)"
                .into(),
        )
        .into());
    }
    let user = services
        .store
        .user(account)
        .await?
        .ok_or(AdminError::AccountNotFound)?;
    if user.disabled_at.is_some() {
        return Err(AdminError::InvalidInput(
            "this account is disabled; enable it before issuing a reset code".into(),
        )
        .into());
    }
    let now = Utc::now();
    let expires_at = now + chrono::Duration::hours(services.settings.reset_code_ttl_hours);
    let code = human_code(CREDENTIAL_CODE_LENGTH);
    services
        .store
        .insert_reset_code(
            user.id,
            &services.codes.hash(&normalize_code(&code)),
            caller.user.id,
            now,
            expires_at,
        )
        .await?;
    activity::admin_act(
        &services.store,
        Some(caller.user.id),
        AdminAction::ResetCodeIssued,
        Some(user.id),
        None,
    )
    .await?;
    tracing::info!(account.kind = ?user.kind, "reset code issued");
    Ok(ResetCode { code, expires_at })
}
