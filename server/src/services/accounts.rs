//! Accounts and device sessions: registration, login, rotating refresh tokens, logout, and the
//! check of every access token.

use std::net::IpAddr;

use cairn_shared::api::{
    self, AccountKind, AuthTokens, LoginRequest, LoginResponse, RegisterRequest, RegistrationMode,
};
use cairn_shared::{SessionId, UserId};
use chrono::Utc;
use secrecy::SecretString;
use tracing::instrument;

use super::Services;
use crate::auth::limits::RateLimited;
use crate::auth::password::{PasswordError, hash_password, verify_password};
use crate::auth::secrets::{normalize_code, random_token, sha256_hex};
use crate::auth::tokens::TokenError;
use crate::domain::Caller;
use crate::domain::{DeviceSession, NewUser, User};
use crate::store::{EnrollmentOutcome, Store, StoreError};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is not acceptable; the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The username is taken, or one that looks like it is.
    #[error("that username is already taken, or one that looks like it is")]
    UsernameTaken,
    /// Registration is closed.
    #[error("registration is closed on this server")]
    RegistrationClosed,
    /// Registration needs a valid enrollment code.
    #[error("a valid, unexpired enrollment code is needed to register")]
    EnrollmentCodeInvalid,
    /// Wrong username or password.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("this account has been disabled")]
    AccountDisabled,
    /// Too many attempts (login, registration or enrollment code).
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// Bad, expired or revoked access token.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// Unknown or expired refresh token.
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    /// A refresh token was presented a second time.
    #[error("this refresh token was already used; the device session has been ended")]
    RefreshTokenReused,
    /// No such session of the caller.
    #[error("no such device session")]
    SessionNotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The agency's identity provider no longer lets this person sign in; the session ended.
    #[error("your agency's sign-in no longer allows this account; this device session has ended")]
    ProviderEndedSession,
    /// The agency's identity provider could not be asked; the refresh may be tried again.
    #[error("the agency's identity provider could not be reached; try again in a moment")]
    ProviderUnavailable,
}

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_DISPLAY_NAME_CHARS: usize = 80;
const MAX_DEVICE_NAME_CHARS: usize = 100;
/// The longest name a device session can be renamed to.
const MAX_RENAMED_DEVICE_CHARS: usize = 64;

const MIN_USERNAME_CHARS: usize = 3;
const MAX_USERNAME_CHARS: usize = 32;
/// Longer input is refused before it is normalised (NFKC may lengthen text).
const MAX_USERNAME_INPUT_BYTES: usize = 256;

/// A username as compared: NFKC, lower case, NFKC again (lower-casing can undo a composition),
/// without surrounding spaces. Login and the rate limits use it too, valid or not.
pub(crate) fn fold_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = username.trim().nfkc().collect();
    composed.to_lowercase().nfkc().collect()
}

/// A character a username may hold: a letter, digit or combining mark of any script that
/// Unicode's identifier profile (UTS #39) allows, or '.', '_' or '-'. Controls, spaces,
/// zero-width joiners, emoji and symbols are not.
fn username_char(c: char) -> bool {
    use unicode_security::GeneralSecurityProfile;
    matches!(c, '.' | '_' | '-')
        || (c.identifier_allowed()
            && (c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)))
}

/// The canonical username (NFKC, lower case), if acceptable: 3 to 32 characters, letters and
/// digits of any one script (or of the scripts one writing system mixes, as Japanese does)
/// plus '.', '_' and '-'.
pub fn normalize_username(username: &str) -> Result<String, AccountError> {
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    let invalid = || {
        AccountError::InvalidInput(format!(
            "username must be {MIN_USERNAME_CHARS} to {MAX_USERNAME_CHARS} characters: letters \
             or digits (of any script), '.', '_' or '-'"
        ))
    };
    if username.len() > MAX_USERNAME_INPUT_BYTES {
        return Err(invalid());
    }
    let username = fold_username(username);
    let chars = username.chars().count();
    if !(MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&chars)
        || !username.chars().all(username_char)
    {
        return Err(invalid());
    }
    // Latin with Cyrillic or Greek letters ("pаypal" with a Cyrillic "а") is how look-alike
    // names are made; Latin with Han, kana or Hangul is how people write (UTS #39 "highly
    // restrictive").
    let letters: String = username
        .chars()
        .filter(|c| !matches!(c, '.' | '_' | '-'))
        .collect();
    if letters.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return Err(AccountError::InvalidInput(
            "username mixes letters of different scripts (Latin and Cyrillic, say); write it in \
             one"
            .into(),
        ));
    }
    Ok(username)
}

/// The key two usernames that look alike share (UTS #39's confusable skeleton of the canonical
/// username): stored in a unique column, so "maria" and "mаria" (with a Cyrillic "а") cannot
/// both be registered.
pub fn username_key(canonical: &str) -> String {
    unicode_security::skeleton(canonical).collect()
}

/// Give accounts stored before usernames had keys their key (at start-up). Two old usernames
/// that look alike ("userl" and "user1") both keep working: the later gets its skeleton with
/// its id appended, which no new username's key can equal.
pub async fn key_stored_usernames(store: &Store) -> Result<usize, StoreError> {
    let mut keyed = 0;
    for (id, username) in store.users_without_key().await? {
        let key = username_key(&fold_username(&username));
        match store.set_username_key(id, &key).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                store
                    .set_username_key(id, &format!("{key}#{}", id.0))
                    .await?;
            }
            Err(err) => return Err(err),
        }
        keyed += 1;
    }
    Ok(keyed)
}

fn validate_display_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AccountError::InvalidInput(format!(
            "displayName must be 1 to {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

pub(crate) fn validate_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::InvalidInput(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_BYTES} bytes)"
        )));
    }
    if password.chars().all(char::is_whitespace) {
        return Err(AccountError::InvalidInput(
            "password cannot be only spaces; a few words you will remember work well".into(),
        ));
    }
    if is_common_password(password) {
        return Err(AccountError::InvalidInput(
            "that password is on a list of common and leaked passwords that attackers try \
             first; choose another (a few words you will remember work well)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether `password` is one of the ~100,000 common and breached passwords of the `passwords`
/// crate's list (embedded in the binary), as typed, in lower case or without surrounding spaces.
fn is_common_password(password: &str) -> bool {
    let trimmed = password.trim();
    let lower = trimmed.to_lowercase();
    [password, trimmed, lower.as_str()]
        .into_iter()
        .any(passwords::analyzer::is_common_password)
}

fn device_name(name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DEVICE_NAME_CHARS)
        .collect();
    if name.is_empty() {
        "Unnamed device".into()
    } else {
        name
    }
}

/// An account's fields, checked: the username (canonical), the display name and the password.
fn checked_fields(
    username: &str,
    display_name: &str,
    password: &SecretString,
) -> Result<(String, String), AccountError> {
    let username = normalize_username(username)?;
    let display_name = validate_display_name(display_name)?;
    validate_password(secrecy::ExposeSecret::expose_secret(password))?;
    Ok((username, display_name))
}

/// A validated account ready to store: the password is hashed off the executor.
async fn new_user(
    username: &str,
    display_name: &str,
    password: SecretString,
    kind: AccountKind,
) -> Result<NewUser, AccountError> {
    let (username, display_name) = checked_fields(username, display_name, &password)?;
    Ok(NewUser {
        username_key: username_key(&username),
        username,
        display_name,
        password_hash: hash_password(password).await?,
        kind,
    })
}

fn taken(err: StoreError) -> AccountError {
    match err {
        StoreError::Conflict => AccountError::UsernameTaken,
        other => AccountError::Store(other),
    }
}

/// Create an account directly (an admin's act, or `cairn admin create`).
#[instrument(skip_all, fields(account.kind = ?kind))]
pub async fn create_account(
    store: &Store,
    username: &str,
    display_name: &str,
    password: SecretString,
    kind: AccountKind,
) -> Result<User, AccountError> {
    let user = new_user(username, display_name, password, kind).await?;
    let user = store.insert_user(user, Utc::now()).await.map_err(taken)?;
    tracing::info!(user.id = %user.id, "account created");
    Ok(user)
}

/// Register a member account as the server's registration mode allows, and log it in.
/// Registrations are limited per client address whatever the mode; in enrollment mode the code
/// is checked (and its guesses limited) before the password is hashed, so wrong codes cost the
/// server next to nothing.
#[instrument(skip_all)]
pub async fn register(
    services: &Services,
    request: RegisterRequest,
    address: Option<IpAddr>,
) -> Result<AuthTokens, AccountError> {
    services
        .limits
        .registration(address)
        .map_err(|limited| services.refused(limited))?;
    let mode = services.settings.registration;
    if mode == RegistrationMode::Closed {
        return Err(AccountError::RegistrationClosed);
    }
    let password = SecretString::from(request.password);
    let (username, display_name) =
        checked_fields(&request.username, &request.display_name, &password)?;
    let code_hashes = match (mode, request.enrollment_code.as_deref()) {
        (RegistrationMode::Enrollment, None) => return Err(AccountError::EnrollmentCodeInvalid),
        (RegistrationMode::Enrollment, Some(code)) => {
            let code = normalize_code(code);
            let attempt = services
                .limits
                .code(None, address)
                .map_err(|limited| services.refused(limited))?;
            let hashes = services.codes.lookup_hashes(&code);
            if code.is_empty()
                || code.len() > 64
                || !services
                    .store
                    .enrollment_code_usable(&hashes, Utc::now())
                    .await?
            {
                tracing::info!("registration refused: enrollment code invalid");
                return Err(AccountError::EnrollmentCodeInvalid);
            }
            services.limits.code_worked(attempt);
            Some(hashes)
        }
        _ => None,
    };
    services.metrics.password_hashes.inc();
    let user = NewUser {
        username_key: username_key(&username),
        username,
        display_name,
        password_hash: hash_password(password).await?,
        kind: AccountKind::Member,
    };
    let now = Utc::now();
    let user = match code_hashes {
        None => services.store.insert_user(user, now).await.map_err(taken)?,
        Some(hashes) => match services
            .store
            .insert_user_with_enrollment(user, &hashes, now)
            .await
            .map_err(taken)?
        {
            EnrollmentOutcome::Registered(user) => user,
            EnrollmentOutcome::CodeRejected => return Err(AccountError::EnrollmentCodeInvalid),
        },
    };
    tracing::info!(user.id = %user.id, "member registered");
    let recovery_codes = super::credentials::new_recovery_codes(services, user.id).await?;
    let tokens = start_session(services, user, request.device_name.as_deref(), address).await?;
    Ok(AuthTokens {
        recovery_codes: Some(recovery_codes),
        ..tokens
    })
}

/// Check a username and password and open a device session, or, for an account with a second
/// factor, a challenge to answer with it (`second_factor::sign_in`).
#[instrument(skip_all)]
pub async fn login(
    services: &Services,
    request: LoginRequest,
    address: Option<IpAddr>,
) -> Result<LoginResponse, AccountError> {
    let username = fold_username(&request.username);
    let attempt = services
        .limits
        .login(&username, address)
        .map_err(|limited| services.refused(limited))?;
    let user = if normalize_username(&username).is_ok() {
        services.store.user_by_username(&username).await?
    } else {
        None
    };
    let password = SecretString::from(request.password);
    services.metrics.password_hashes.inc();
    let matches = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            tracing::info!("login refused: wrong username or password");
            return Err(AccountError::InvalidCredentials);
        }
    };
    // The right password: this attempt does not count against anyone's allowance.
    services.limits.signed_in(attempt);
    if user.disabled_at.is_some() {
        tracing::info!(user.id = %user.id, "login refused: account disabled");
        return Err(AccountError::AccountDisabled);
    }
    if let Some(needed) = super::second_factor::challenge(services, &user).await? {
        return Ok(LoginResponse::SecondFactor(needed));
    }
    start_session(services, user, request.device_name.as_deref(), address)
        .await
        .map(LoginResponse::Tokens)
}

/// Open a device session for `user` (a sign-in, recorded in the account's activity).
pub(crate) async fn start_session(
    services: &Services,
    user: User,
    device: Option<&str>,
    address: Option<IpAddr>,
) -> Result<AuthTokens, AccountError> {
    let now = Utc::now();
    let refresh_token = random_token();
    let expires_at = now + chrono::Duration::days(services.settings.refresh_token_ttl_days);
    let session = services
        .store
        .insert_session(
            user.id,
            &device_name(device),
            &sha256_hex(&refresh_token),
            now,
            expires_at,
        )
        .await?;
    tracing::info!(user.id = %user.id, session.id = %session.id, "device session started");
    super::activity::signed_in(services, user.id, &session.device_name, address).await;
    tokens_for(services, &user, &session, refresh_token)
}

fn tokens_for(
    services: &Services,
    user: &User,
    session: &DeviceSession,
    refresh_token: String,
) -> Result<AuthTokens, AccountError> {
    let access_token = services.tokens.issue(user.id, session.id, Utc::now())?;
    Ok(AuthTokens {
        access_token,
        token_type: "Bearer".into(),
        expires_in: services.tokens.ttl_secs(),
        refresh_token,
        refresh_expires_at: session.expires_at,
        session_id: session.id,
        account: user.to_account(),
        recovery_codes: None,
    })
}

/// A refresh token was presented a second time: the whole device session ends (the token may
/// have been stolen), its sync connections included.
async fn end_reused_session(
    services: &Services,
    session: &DeviceSession,
    now: chrono::DateTime<Utc>,
) -> Result<(), AccountError> {
    services
        .store
        .revoke_session(session.user_id, session.id, now)
        .await?;
    services
        .hub
        .close_session(session.id, "this device session has ended");
    Ok(())
}

/// Trade a refresh token for new tokens. The old refresh token stops working; presenting it
/// again ends the whole device session (it may have been stolen).
#[instrument(skip_all)]
pub async fn refresh(services: &Services, refresh_token: &str) -> Result<AuthTokens, AccountError> {
    let now = Utc::now();
    let old_hash = sha256_hex(refresh_token);
    let Some(session) = services.store.session_by_token(&old_hash).await? else {
        if let Some(session) = services.store.session_by_previous_token(&old_hash).await? {
            end_reused_session(services, &session, now).await?;
            tracing::warn!(session.id = %session.id, "refresh token reused: device session ended");
            return Err(AccountError::RefreshTokenReused);
        }
        return Err(AccountError::InvalidRefreshToken);
    };
    if !session.is_active(now) {
        return Err(AccountError::InvalidRefreshToken);
    }
    let user = services
        .store
        .user(session.user_id)
        .await?
        .filter(|user| user.deleted_at.is_none())
        .ok_or(AccountError::InvalidRefreshToken)?;
    if user.disabled_at.is_some() {
        return Err(AccountError::AccountDisabled);
    }
    super::oidc::check_at_refresh(services, &session, &user).await?;
    let new_token = random_token();
    let expires_at = now + chrono::Duration::days(services.settings.refresh_token_ttl_days);
    let rotated = services
        .store
        .rotate_session_token(
            session.id,
            &old_hash,
            &sha256_hex(&new_token),
            now,
            expires_at,
        )
        .await?;
    if !rotated {
        // Another request rotated this token a moment ago: that is a second use.
        end_reused_session(services, &session, now).await?;
        return Err(AccountError::RefreshTokenReused);
    }
    let session = DeviceSession {
        expires_at,
        last_used_at: now,
        ..session
    };
    tokens_for(services, &user, &session, new_token)
}

/// Who is calling: the access token must verify, its session be active and its account enabled.
pub async fn authenticate(services: &Services, access_token: &str) -> Result<Caller, AccountError> {
    let claims = services
        .tokens
        .verify(access_token)
        .map_err(|_| AccountError::InvalidToken)?;
    let now = Utc::now();
    let session = services
        .store
        .session(SessionId(claims.sid))
        .await?
        .filter(|s| s.user_id.0 == claims.sub && s.is_active(now))
        .ok_or(AccountError::InvalidToken)?;
    let user = services
        .store
        .user(UserId(claims.sub))
        .await?
        .filter(|user| user.deleted_at.is_none())
        .ok_or(AccountError::InvalidToken)?;
    if user.disabled_at.is_some() {
        return Err(AccountError::AccountDisabled);
    }
    Ok(Caller {
        user,
        session_id: session.id,
        second_factor_passed: session.second_factor_at.is_some(),
    })
}

/// End the caller's current device session.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn logout(services: &Services, caller: &Caller) -> Result<(), AccountError> {
    services
        .store
        .revoke_session(caller.user.id, caller.session_id, Utc::now())
        .await?;
    services.hub.close_session(caller.session_id, "signed out");
    Ok(())
}

/// The caller's active device sessions.
pub async fn sessions(
    services: &Services,
    caller: &Caller,
) -> Result<Vec<api::DeviceSession>, AccountError> {
    let sessions = services
        .store
        .active_sessions(caller.user.id, Utc::now())
        .await?;
    Ok(sessions
        .into_iter()
        .map(|s| session_for(caller, s))
        .collect())
}

fn session_for(caller: &Caller, session: DeviceSession) -> api::DeviceSession {
    api::DeviceSession {
        current: session.id == caller.session_id,
        id: session.id,
        device_name: session.device_name,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        expires_at: session.expires_at,
    }
}

/// Give one of the caller's active device sessions a name they will recognise ("Maria's
/// phone"): 1 to 64 characters once trimmed, no control characters.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn rename_session(
    services: &Services,
    caller: &Caller,
    session: SessionId,
    device_name: &str,
) -> Result<api::DeviceSession, AccountError> {
    let name = device_name.trim();
    let chars = name.chars().count();
    if !(1..=MAX_RENAMED_DEVICE_CHARS).contains(&chars) || name.chars().any(char::is_control) {
        return Err(AccountError::InvalidInput(format!(
            "deviceName must be 1 to {MAX_RENAMED_DEVICE_CHARS} characters, without control \
             characters"
        )));
    }
    let renamed = services
        .store
        .rename_session(caller.user.id, session, name, Utc::now())
        .await?
        .ok_or(AccountError::SessionNotFound)?;
    Ok(session_for(caller, renamed))
}

/// End one of the caller's device sessions (a lost phone, say).
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn end_session(
    services: &Services,
    caller: &Caller,
    session: SessionId,
) -> Result<(), AccountError> {
    if services
        .store
        .revoke_session(caller.user.id, session, Utc::now())
        .await?
    {
        services
            .hub
            .close_session(session, "this device session was ended");
        Ok(())
    } else {
        Err(AccountError::SessionNotFound)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn usernames_of_any_script_are_folded_and_checked() {
        assert_eq!(normalize_username(" María ").unwrap(), "maría");
        // NFD input (an "i" and a combining acute) is the same name as NFC.
        assert_eq!(normalize_username("Mari\u{301}a").unwrap(), "maría");
        for ok in [
            "дмитрий",
            "山田太郎",
            "हिन्दी",
            "user_1.x-y",
            "ｍａｒｉａ",
            "tanaka太郎",
        ] {
            assert!(normalize_username(ok).is_ok(), "{ok}");
        }
        assert_eq!(normalize_username("ｍａｒｉａ").unwrap(), "maria");
        let too_long = "é".repeat(33);
        for bad in [
            "ma\u{7}ria",
            "ma\u{200d}ria",
            "ma\u{200b}ria",
            "maria😀",
            "ma ria",
            "ab",
            too_long.as_str(),
            "p\u{430}ypal",
        ] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_username(&"é".repeat(32)).is_ok());
    }

    #[test]
    fn look_alike_usernames_share_a_key() {
        let key = |name: &str| username_key(&normalize_username(name).unwrap());
        assert_eq!(key("user1"), key("userl"));
        assert_eq!(key("cope"), key("\u{441}\u{43e}\u{440}\u{435}"));
        assert_ne!(key("maria"), key("mario"));
    }
}
