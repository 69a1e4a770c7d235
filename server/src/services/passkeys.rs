//! Passkeys (WebAuthn, with webauthn-rs): an account registers passkeys, lists and removes them,
//! and signs in with one instead of its password.
//!
//! Sign-in asks for the username first (then the browser offers that account's passkeys):
//! the simplest flow for the PWA, and it works with every authenticator, discoverable or not.
//! Each ceremony's state is kept in the database between its start and its finish (any instance
//! may finish it), is taken out once — on success and on failure alike — and expires after
//! five minutes.
//!
//! Starting a sign-in does not tell whether the username exists or has passkeys: for a name
//! without any, the answer has the same shape, with credential ids made up from the name under
//! a key derived from the server secret (the same ids each time, as webauthn-rs's fake
//! credential generator does), and its ceremony can never finish.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_shared::api::{
    ActivityKind, AuthTokens, PasskeyChallenge, PasskeyConfirmation, PasskeyInfo,
    PasskeySignInFinish, PasskeySignInStart, RegisterPasskeyRequest,
};
use chrono::{Duration, Utc};
use rand::RngCore;
use uuid::Uuid;
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, WebauthnError,
};
use webauthn_rs::{DEFAULT_AUTHENTICATOR_TIMEOUT, Webauthn, WebauthnBuilder};

use super::accounts::{self, AccountError};
use super::{Services, activity};
use crate::auth::limits::RateLimited;
use crate::domain::{ActivityRecord, Caller, User};
use crate::store::{StoreError, StoredPasskey};

const REGISTRATION: &str = "registration";
const AUTHENTICATION: &str = "authentication";
/// A signed-in person confirming an act of theirs (deleting their account) with a passkey.
const CONFIRMATION: &str = "confirmation";
/// How long a started ceremony may be finished.
const CEREMONY_MINUTES: i64 = 5;
/// Passkeys one account may hold.
const MAX_PASSKEYS: usize = 20;
const MAX_NAME_CHARS: usize = 64;
const DEFAULT_NAME: &str = "Passkey";

/// Why a passkey operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// A field is not acceptable; the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// No passkey with that id on the caller's account.
    #[error("no such passkey")]
    NotFound,
    /// The registration could not be finished.
    #[error("the passkey could not be registered: {0}; start again")]
    RegistrationFailed(&'static str),
    /// The sign-in did not verify (unknown, expired or used ceremony; wrong or replayed answer).
    #[error("the passkey sign-in did not succeed; start again")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("this account has been disabled")]
    AccountDisabled,
    /// A confirmation by passkey was asked for by an account that has none.
    #[error("this account has no passkey; confirm with your password")]
    NoPasskeys,
    /// Too many attempts.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// Starting the device session failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// webauthn-rs could not start a ceremony, or stored state could not be read.
    #[error("passkey ceremony: {0}")]
    Internal(String),
}

/// The relying party: Cairn as WebAuthn sees it, bound to the public origin's host.
pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
    fake_ids: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// For `origin` (`Settings::public_origin`); `fake_key` (32 bytes, secret, stable across
    /// restarts and instances) makes up credential ids for names without passkeys.
    pub fn new(origin: &Url, fake_key: &[u8]) -> Result<Self, WebauthnError> {
        let rp_id = origin
            .domain()
            .ok_or(WebauthnError::Configuration)?
            .to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, origin)?
            .rp_name("Cairn")
            .build()?;
        let fake_ids = WebauthnFakeCredentialGenerator::new(fake_key)?;
        Ok(Self {
            webauthn,
            rp_id,
            fake_ids,
        })
    }
}

fn internal(err: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Internal(err.to_string())
}

fn info(passkey: &StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: passkey.id,
        name: passkey.name.clone(),
        created_at: passkey.created_at,
        last_used_at: passkey.last_used_at,
    }
}

fn parse_passkey(stored: &StoredPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&stored.credential).map_err(internal)
}

fn passkey_name(name: Option<&str>) -> Result<String, PasskeyError> {
    let Some(name) = name.map(str::trim) else {
        return Ok(DEFAULT_NAME.to_owned());
    };
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(PasskeyError::InvalidInput(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters once trimmed, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// `POST /me/passkeys/registration`: begin registering a passkey for the caller's account.
pub async fn start_registration(
    services: &Services,
    caller: &Caller,
) -> Result<PasskeyChallenge, PasskeyError> {
    let user = &caller.user;
    let existing = services.store.passkeys_of(user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(PasskeyError::InvalidInput(format!(
            "an account may hold at most {MAX_PASSKEYS} passkeys; remove one first"
        )));
    }
    let exclude = existing
        .iter()
        .map(|stored| parse_passkey(stored).map(|passkey| passkey.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = services
        .passkeys
        .webauthn
        .start_passkey_registration(user.id.0, &user.username, &user.display_name, Some(exclude))
        .map_err(internal)?;
    // One registration in progress per account: a new one replaces the one before.
    begin_own(services, user.id, REGISTRATION, &state, &options).await
}

/// Keep a ceremony of the account's own (a registration or a confirmation) until it is finished,
/// replacing one of the same kind in progress, and answer its options.
async fn begin_own(
    services: &Services,
    user: cairn_shared::UserId,
    kind: &str,
    state: &impl serde::Serialize,
    options: &impl serde::Serialize,
) -> Result<PasskeyChallenge, PasskeyError> {
    let state = serde_json::to_string(state).map_err(internal)?;
    let now = Utc::now();
    services.store.drop_passkey_ceremonies(user, kind).await?;
    let ceremony_id = services
        .store
        .insert_passkey_ceremony(
            Some(user),
            kind,
            Some(&state),
            now,
            now + Duration::minutes(CEREMONY_MINUTES),
        )
        .await?;
    Ok(PasskeyChallenge {
        ceremony_id,
        options: serde_json::to_value(options).map_err(internal)?,
    })
}

/// `POST /me/passkeys`: finish a registration; the passkey is stored under the caller.
pub async fn finish_registration(
    services: &Services,
    caller: &Caller,
    request: RegisterPasskeyRequest,
) -> Result<PasskeyInfo, PasskeyError> {
    let name = passkey_name(request.name.as_deref())?;
    let now = Utc::now();
    let ceremony = services
        .store
        .take_passkey_ceremony(request.ceremony_id, now)
        .await?
        .filter(|ceremony| {
            ceremony.kind == REGISTRATION && ceremony.user_id == Some(caller.user.id)
        })
        .ok_or(PasskeyError::RegistrationFailed(
            "the registration is unknown, expired or already finished",
        ))?;
    let state: PasskeyRegistration =
        serde_json::from_str(ceremony.state.as_deref().unwrap_or_default()).map_err(internal)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(request.credential)
        .map_err(|_| PasskeyError::RegistrationFailed("the credential is not readable"))?;
    let passkey = services
        .passkeys
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|err| {
            tracing::info!(user.id = %caller.user.id, error = %err, "passkey registration refused");
            PasskeyError::RegistrationFailed("the credential did not verify")
        })?;
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
    let serialised = serde_json::to_string(&passkey).map_err(internal)?;
    let stored = services
        .store
        .insert_passkey(caller.user.id, &name, &credential_id, &serialised, now)
        .await
        .map_err(|err| match err {
            StoreError::Conflict => {
                PasskeyError::RegistrationFailed("this passkey is already registered")
            }
            other => other.into(),
        })?;
    tracing::info!(user.id = %caller.user.id, passkey.id = %stored.id, "passkey registered");
    activity::record(
        services,
        caller.user.id,
        ActivityRecord {
            detail: Some(stored.name.clone()),
            ..ActivityRecord::now(ActivityKind::PasskeyAdded)
        },
    )
    .await;
    Ok(info(&stored))
}

/// `GET /me/passkeys`: the caller's passkeys, oldest first.
pub async fn list(services: &Services, caller: &Caller) -> Result<Vec<PasskeyInfo>, PasskeyError> {
    let stored = services.store.passkeys_of(caller.user.id).await?;
    Ok(stored.iter().map(info).collect())
}

/// `DELETE /me/passkeys/{id}`: remove one of the caller's passkeys.
pub async fn remove(services: &Services, caller: &Caller, id: Uuid) -> Result<(), PasskeyError> {
    let name = services
        .store
        .passkeys_of(caller.user.id)
        .await?
        .into_iter()
        .find(|passkey| passkey.id == id)
        .map(|passkey| passkey.name);
    if !services.store.delete_passkey(caller.user.id, id).await? {
        return Err(PasskeyError::NotFound);
    }
    tracing::info!(user.id = %caller.user.id, passkey.id = %id, "passkey removed");
    activity::record(
        services,
        caller.user.id,
        ActivityRecord {
            detail: name,
            ..ActivityRecord::now(ActivityKind::PasskeyRemoved)
        },
    )
    .await;
    Ok(())
}

/// `POST /auth/passkey/start`: begin signing in as `username`. The answer looks the same whether
/// or not the account exists or has passkeys.
pub async fn start_sign_in(
    services: &Services,
    request: PasskeySignInStart,
) -> Result<PasskeyChallenge, PasskeyError> {
    let username = accounts::fold_username(&request.username);
    let user = if accounts::normalize_username(&username).is_ok() {
        services.store.user_by_username(&username).await?
    } else {
        None
    };
    let stored = match &user {
        Some(user) => services.store.passkeys_of(user.id).await?,
        None => Vec::new(),
    };
    let now = Utc::now();
    let expires_at = now + Duration::minutes(CEREMONY_MINUTES);
    let rp = &services.passkeys;
    let (user_id, state, options) = match user {
        Some(user) if !stored.is_empty() => {
            let passkeys = stored
                .iter()
                .map(parse_passkey)
                .collect::<Result<Vec<_>, _>>()?;
            let (options, state) = rp
                .webauthn
                .start_passkey_authentication(&passkeys)
                .map_err(internal)?;
            let options = serde_json::to_value(options).map_err(internal)?;
            (
                Some(user.id),
                Some(serde_json::to_string(&state).map_err(internal)?),
                options,
            )
        }
        _ => (None, None, made_up_options(rp, &username)?),
    };
    let ceremony_id = services
        .store
        .insert_passkey_ceremony(user_id, AUTHENTICATION, state.as_deref(), now, expires_at)
        .await?;
    Ok(PasskeyChallenge {
        ceremony_id,
        options,
    })
}

/// What `start_passkey_authentication` answers, for a name without passkeys: a fresh challenge
/// and credential ids made up from the name (the same ones every time).
fn made_up_options(rp: &RelyingParty, username: &str) -> Result<serde_json::Value, PasskeyError> {
    let mut challenge = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut challenge);
    let ids = rp
        .fake_ids
        .generate(username.as_bytes())
        .map_err(internal)?;
    let allow: Vec<serde_json::Value> = ids
        .iter()
        // No transports: webauthn-rs keeps them only from packed or TPM attestation, and
        // passkeys are registered without attestation, so real options carry none either.
        .map(|id| serde_json::json!({"type": "public-key", "id": URL_SAFE_NO_PAD.encode(id)}))
        .collect();
    let timeout = u32::try_from(DEFAULT_AUTHENTICATOR_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
    Ok(serde_json::json!({
        "publicKey": {
            "challenge": URL_SAFE_NO_PAD.encode(challenge),
            "timeout": timeout,
            "rpId": rp.rp_id,
            "allowCredentials": allow,
            "userVerification": "required",
        }
    }))
}

/// `POST /auth/passkey/finish`: sign in with the passkey's signed answer; a new device session.
pub async fn finish_sign_in(
    services: &Services,
    request: PasskeySignInFinish,
    address: Option<IpAddr>,
) -> Result<AuthTokens, PasskeyError> {
    let now = Utc::now();
    let ceremony = services
        .store
        .take_passkey_ceremony(request.ceremony_id, now)
        .await?
        .filter(|ceremony| ceremony.kind == AUTHENTICATION);
    let user = match ceremony.as_ref().and_then(|ceremony| ceremony.user_id) {
        Some(id) => services.store.user(id).await?,
        None => None,
    };
    // Counted like a login: per address, and per account when the ceremony was for one.
    let limit_key = user
        .as_ref()
        .map(|user| user.username.clone())
        .unwrap_or_default();
    let attempt = services
        .limits
        .login(&limit_key, address)
        .map_err(|limited| services.refused(limited))?;
    let (Some(ceremony), Some(user)) = (ceremony, user) else {
        tracing::info!("passkey sign-in refused: unknown, expired or used ceremony");
        return Err(PasskeyError::InvalidCredentials);
    };
    let (passkey_id, updated) = verify(
        services,
        &user,
        ceremony.state.as_deref(),
        request.credential,
    )
    .await?;
    // A passkey of this account answered: this attempt does not count against anyone.
    services.limits.signed_in(attempt);
    if user.disabled_at.is_some() {
        tracing::info!(user.id = %user.id, "passkey sign-in refused: account disabled");
        return Err(PasskeyError::AccountDisabled);
    }
    services
        .store
        .passkey_used(passkey_id, &updated, now)
        .await?;
    tracing::info!(user.id = %user.id, passkey.id = %passkey_id, "signed in with a passkey");
    let tokens =
        accounts::start_session(services, user, request.device_name.as_deref(), address).await?;
    // A passkey is itself two factors (the device, and its lock): an admin signed in with one
    // may use the admin routes.
    services
        .store
        .set_session_second_factor(tokens.session_id, now)
        .await?;
    Ok(tokens)
}

/// `POST /me/passkeys/confirmation`: begin confirming an act of the caller's (deleting their
/// account) with one of their passkeys. A new confirmation replaces the one before.
pub async fn start_confirmation(
    services: &Services,
    caller: &Caller,
) -> Result<PasskeyChallenge, PasskeyError> {
    let user = &caller.user;
    let passkeys = services
        .store
        .passkeys_of(user.id)
        .await?
        .iter()
        .map(parse_passkey)
        .collect::<Result<Vec<_>, _>>()?;
    if passkeys.is_empty() {
        return Err(PasskeyError::NoPasskeys);
    }
    let (options, state) = services
        .passkeys
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(internal)?;
    begin_own(services, user.id, CONFIRMATION, &state, &options).await
}

/// Check a passkey's answer to the caller's own confirmation ceremony: taken out once, whether
/// it verifies or not. Another account's ceremony, a sign-in ceremony, a replayed or another
/// account's passkey answer are [`PasskeyError::InvalidCredentials`]. The caller counts it
/// against their limits as they do a password.
pub async fn confirm(
    services: &Services,
    caller: &Caller,
    confirmation: PasskeyConfirmation,
) -> Result<(), PasskeyError> {
    let now = Utc::now();
    let ceremony = services
        .store
        .take_passkey_ceremony(confirmation.ceremony_id, now)
        .await?
        .filter(|ceremony| {
            ceremony.kind == CONFIRMATION && ceremony.user_id == Some(caller.user.id)
        });
    let Some(ceremony) = ceremony else {
        tracing::info!(user.id = %caller.user.id, "passkey confirmation refused: unknown, expired, used or another account's ceremony");
        return Err(PasskeyError::InvalidCredentials);
    };
    let (passkey_id, updated) = verify(
        services,
        &caller.user,
        ceremony.state.as_deref(),
        confirmation.credential,
    )
    .await?;
    services
        .store
        .passkey_used(passkey_id, &updated, now)
        .await?;
    Ok(())
}

/// Check the signed answer against the ceremony's state and the account's passkeys; the
/// passkey that answered, and its credential with the new counter.
async fn verify(
    services: &Services,
    user: &User,
    state: Option<&str>,
    credential: serde_json::Value,
) -> Result<(Uuid, String), PasskeyError> {
    let refused = |why: &str| {
        tracing::info!(user.id = %user.id, why, "passkey sign-in refused");
        PasskeyError::InvalidCredentials
    };
    let state: PasskeyAuthentication =
        serde_json::from_str(state.unwrap_or_default()).map_err(internal)?;
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| refused("unreadable credential"))?;
    let result = services
        .passkeys
        .webauthn
        .finish_passkey_authentication(&credential, &state)
        .map_err(|err| refused(&err.to_string()))?;
    for stored in services.store.passkeys_of(user.id).await? {
        let mut passkey = parse_passkey(&stored)?;
        if passkey.update_credential(&result).is_some() {
            let updated = serde_json::to_string(&passkey).map_err(internal)?;
            return Ok((stored.id, updated));
        }
    }
    // Removed between start and finish.
    Err(refused("the passkey has been removed"))
}
