//! Second factors: a TOTP authenticator app, added by any account (members may opt in) and
//! needed by admins before any admin route works. A right password for an account with one
//! opens a short-lived, single-use challenge instead of a session; a current code answers it.
//! Seeds are sealed at rest and shown only in the enrolment answer; a code is accepted once.

use std::net::IpAddr;

use cairn_shared::UserId;
use cairn_shared::api::{
    ActivityKind, AdminAction, AuthTokens, SecondFactorChallenge, SecondFactorMethod,
    SecondFactorNeeded, SecondFactorSignIn, SecondFactorStatus, TotpEnrolment,
};
use chrono::Utc;
use tracing::instrument;

use super::accounts::{AccountError, start_session};
use super::admin::{AdminError, require_admin};
use super::{Services, activity};
use crate::auth::limits::RateLimited;
use crate::auth::secrets::{random_token, sha256_hex};
use crate::auth::totp;
use crate::crypto::CryptoError;
use crate::domain::{ActivityRecord, Caller, StoredSecondFactor, User};
use crate::store::StoreError;

/// How long a sign-in challenge lasts after the password.
pub const CHALLENGE_TTL_MINUTES: i64 = 5;
/// The name authenticator apps show for the account.
const ISSUER: &str = "Cairn";
const TOTP: &str = "totp";

/// Why a second-factor operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// The code is wrong, or its time step was already used.
    #[error("that code is not right (or was already used); enter the code your app shows now")]
    CodeInvalid,
    /// The sign-in challenge is unknown, used or expired.
    #[error("this sign-in has expired or was already used; sign in again with your password")]
    ChallengeInvalid,
    /// No second factor (or pending enrolment) to act on.
    #[error("{0}")]
    NotFound(&'static str),
    /// A second factor is already enabled.
    #[error("a second factor is already enabled; remove it before adding another")]
    AlreadyEnabled,
    /// Too many wrong codes.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// An admin act refused (not an admin, no second factor, no such account, own account).
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Signing in failed (disabled account, storage).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A stored seed could not be opened (wrong server secret?).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn unix_secs() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

/// Which second factors the caller has (never a secret).
pub async fn status(
    services: &Services,
    caller: &Caller,
) -> Result<SecondFactorStatus, SecondFactorError> {
    let stored = services.store.second_factor(caller.user.id).await?;
    let enabled_at = stored.as_ref().and_then(|f| f.confirmed_at);
    Ok(SecondFactorStatus {
        methods: enabled_at
            .map(|_| vec![SecondFactorMethod::Totp])
            .unwrap_or_default(),
        enabled_at,
        pending: stored.is_some() && enabled_at.is_none(),
    })
}

/// Start adding a TOTP app: a new seed, shown this once, pending until a code confirms it
/// (a new start replaces a pending one).
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn start_totp(
    services: &Services,
    caller: &Caller,
) -> Result<TotpEnrolment, SecondFactorError> {
    let user = caller.user.id;
    if let Some(stored) = services.store.second_factor(user).await?
        && stored.confirmed_at.is_some()
    {
        return Err(SecondFactorError::AlreadyEnabled);
    }
    let seed = totp::new_seed();
    let sealed = totp::seal_seed(&services.codes, user, &seed)?;
    services
        .store
        .put_pending_second_factor(user, TOTP, &sealed, Utc::now())
        .await
        .map_err(|err| match err {
            StoreError::Conflict => SecondFactorError::AlreadyEnabled,
            other => other.into(),
        })?;
    tracing::info!("second factor enrolment started");
    let secret = totp::base32(&seed);
    Ok(TotpEnrolment {
        otpauth_uri: totp::otpauth_uri(ISSUER, &caller.user.username, &secret),
        secret,
    })
}

/// Check `code` against `user`'s stored factor (rate limited per account and address) and
/// accept its time step once; with `confirm`, the pending factor becomes enabled.
async fn accept_code(
    services: &Services,
    user: UserId,
    stored: &StoredSecondFactor,
    code: &str,
    confirm: bool,
    address: Option<IpAddr>,
) -> Result<(), SecondFactorError> {
    let attempt = services
        .limits
        .code(Some(user), address)
        .map_err(|limited| services.refused(limited))?;
    let seed = totp::open_seed(&services.codes, user, &stored.sealed_secret)?;
    let Some(step) = totp::check(&seed, code, unix_secs()) else {
        tracing::info!(user.id = %user, "second factor code refused");
        return Err(SecondFactorError::CodeInvalid);
    };
    let step = i64::try_from(step).map_err(|_| SecondFactorError::CodeInvalid)?;
    let confirm_at = confirm.then(Utc::now);
    if !services
        .store
        .use_second_factor_step(user, step, confirm_at)
        .await?
    {
        tracing::info!(user.id = %user, "second factor code refused: already used");
        return Err(SecondFactorError::CodeInvalid);
    }
    services.limits.code_worked(attempt);
    Ok(())
}

/// Confirm a pending TOTP enrolment with a code from the app: enabled, and this session counts
/// as having passed it.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn confirm_totp(
    services: &Services,
    caller: &Caller,
    code: &str,
    address: Option<IpAddr>,
) -> Result<(), SecondFactorError> {
    let user = caller.user.id;
    let stored = services
        .store
        .second_factor(user)
        .await?
        .filter(|f| f.confirmed_at.is_none())
        .ok_or(SecondFactorError::NotFound(
            "no second factor is waiting to be confirmed; start with POST \
             /api/v1/me/second-factor/totp",
        ))?;
    accept_code(services, user, &stored, code, true, address).await?;
    services
        .store
        .set_session_second_factor(caller.session_id, Utc::now())
        .await?;
    tracing::info!("second factor enabled");
    let entry = ActivityRecord {
        detail: Some(TOTP.into()),
        ..ActivityRecord::now(ActivityKind::SecondFactorAdded)
    };
    activity::record(services, user, entry).await;
    Ok(())
}

/// Remove the caller's TOTP factor, given a current code.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn remove_totp(
    services: &Services,
    caller: &Caller,
    code: &str,
    address: Option<IpAddr>,
) -> Result<(), SecondFactorError> {
    let user = caller.user.id;
    let stored = enabled(services, user)
        .await?
        .ok_or(SecondFactorError::NotFound("no second factor is enabled"))?;
    accept_code(services, user, &stored, code, false, address).await?;
    services.store.remove_second_factor(user).await?;
    tracing::info!("second factor removed");
    let entry = ActivityRecord {
        detail: Some(TOTP.into()),
        ..ActivityRecord::now(ActivityKind::SecondFactorRemoved)
    };
    activity::record(services, user, entry).await;
    Ok(())
}

async fn enabled(
    services: &Services,
    user: UserId,
) -> Result<Option<StoredSecondFactor>, StoreError> {
    Ok(services
        .store
        .second_factor(user)
        .await?
        .filter(|f| f.confirmed_at.is_some()))
}

/// After a right password: a challenge if `user` has a second factor, else `None`.
pub(crate) async fn challenge(
    services: &Services,
    user: &User,
) -> Result<Option<SecondFactorNeeded>, StoreError> {
    if enabled(services, user.id).await?.is_none() {
        return Ok(None);
    }
    let token = random_token();
    let now = Utc::now();
    let expires_at = now + chrono::Duration::minutes(CHALLENGE_TTL_MINUTES);
    services
        .store
        .insert_second_factor_challenge(&sha256_hex(&token), user.id, now, expires_at)
        .await?;
    tracing::info!(user.id = %user.id, "password right: second factor challenge opened");
    Ok(Some(SecondFactorNeeded {
        second_factor: SecondFactorChallenge {
            challenge: token,
            methods: vec![SecondFactorMethod::Totp],
            expires_at,
        },
    }))
}

/// Answer a login's challenge with a code: a device session that passed the second factor.
// Recovery codes (being built separately) are the other way to answer a challenge: a sign-in
// with one should likewise end in `start_session` + `set_session_second_factor`.
#[instrument(skip_all)]
pub async fn sign_in(
    services: &Services,
    request: SecondFactorSignIn,
    address: Option<IpAddr>,
) -> Result<AuthTokens, SecondFactorError> {
    let hash = sha256_hex(&request.challenge);
    let now = Utc::now();
    let user_id = services
        .store
        .live_second_factor_challenge(&hash, now)
        .await?
        .ok_or(SecondFactorError::ChallengeInvalid)?;
    let stored = enabled(services, user_id)
        .await?
        .ok_or(SecondFactorError::ChallengeInvalid)?;
    let user = services
        .store
        .user(user_id)
        .await?
        .ok_or(SecondFactorError::ChallengeInvalid)?;
    if user.disabled_at.is_some() {
        return Err(AccountError::AccountDisabled.into());
    }
    accept_code(services, user_id, &stored, &request.code, false, address).await?;
    if !services
        .store
        .use_second_factor_challenge(&hash, Utc::now())
        .await?
    {
        return Err(SecondFactorError::ChallengeInvalid);
    }
    let tokens = start_session(services, user, request.device_name.as_deref(), address).await?;
    services
        .store
        .set_session_second_factor(tokens.session_id, Utc::now())
        .await?;
    Ok(tokens)
}

/// An admin removes another account's second factor (a lost phone) and ends its sessions;
/// recorded in the audit and the account's activity. Not one's own: another admin does that.
#[instrument(skip_all, fields(admin.id = %caller.user.id, target.id = %target))]
pub async fn reset(
    services: &Services,
    caller: &Caller,
    target: UserId,
) -> Result<(), SecondFactorError> {
    require_admin(caller)?;
    if target == caller.user.id {
        return Err(AdminError::InvalidInput(
            "you cannot reset your own second factor; another admin can".into(),
        )
        .into());
    }
    if services.store.user(target).await?.is_none() {
        return Err(AdminError::AccountNotFound.into());
    }
    if !services.store.remove_second_factor(target).await? {
        return Err(SecondFactorError::NotFound(
            "that account has no second factor",
        ));
    }
    let now = Utc::now();
    for session in services.store.active_sessions(target, now).await? {
        if services
            .store
            .revoke_session(target, session.id, now)
            .await?
        {
            services
                .hub
                .close_session(session.id, "this account's second factor was reset");
        }
    }
    tracing::info!("second factor reset by an admin; sessions ended");
    activity::admin_act(
        &services.store,
        Some(caller.user.id),
        AdminAction::SecondFactorReset,
        Some(target),
        Some(TOTP.into()),
    )
    .await?;
    Ok(())
}
