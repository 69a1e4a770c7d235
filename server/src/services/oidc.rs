//! Staff sign-in with the agency's identity provider (OpenID Connect, through the `openidconnect`
//! crate): discovery, the authorization code flow with PKCE, and the ID token's checks (issuer,
//! audience, expiry, nonce, signature from the provider's JWKS).
//!
//! - `start` keeps the state's hash, the nonce and the PKCE verifier in the database (any
//!   instance may finish the sign-in; ten minutes, single-use) bound to a cookie of the browser
//!   that began it, and sends the browser to the provider.
//! - `finish` (the callback) takes that sign-in once, trades the code for tokens, checks the ID
//!   token and the agency's rule (tenant or email domain), links the identity (issuer +
//!   subject) to a Cairn account on first sign-in (admin or member by the configured claim,
//!   re-evaluated at every sign-in) and answers with a handoff code, never tokens: the PWA trades
//!   it at `exchange` (one use, two minutes), so no token is ever in an address.
//! - Staff only: a local account is never linked to an identity by name or email; people in
//!   recovery keep their local accounts.
//! - The provider's refresh token is kept sealed; every Cairn refresh of a linked account uses
//!   it, so a person disabled at the provider loses each Cairn session at its next refresh.
//! - Admin routes need a second factor: the provider's multi-factor sign-in (`amr` holding
//!   `mfa`) counts when `oidc_trust_provider_mfa` is on; otherwise, or without it, an account
//!   with Cairn's own second factor answers its challenge as after a password.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_shared::UserId;
use cairn_shared::api::{AccountKind, LoginResponse, OidcExchangeRequest, OidcSignInOption};
use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IdTokenClaims,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::instrument;

use super::Services;
use super::accounts::{AccountError, normalize_username, start_session, username_key};
use crate::auth::password::hash_password;
use crate::auth::secrets::{CodeHasher, random_token, sha256_hex};
use crate::config::Settings;
use crate::crypto::{CryptoError, open, seal};
use crate::domain::{DeviceSession, NewUser, User};
use crate::store::{PendingOidcLogin, StoreError};

/// How long a sign-in may take at the provider.
const LOGIN_TTL_MINUTES: i64 = 10;
/// How long the PWA has to trade its handoff code.
const HANDOFF_TTL_SECS: i64 = 120;
/// Provider metadata and keys are fetched again after this long (the provider rotates keys).
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);
/// The cookie that binds a sign-in to the browser that began it.
pub const BROWSER_COOKIE: &str = "cairn_oidc";
/// Where the callback is (append to the public origin).
pub const CALLBACK_PATH: &str = "/api/v1/auth/oidc/callback";
/// Where a sign-in starts.
pub const START_PATH: &str = "/api/v1/auth/oidc/start";
/// The HKDF `info` that separates the refresh-token sealing key from every other use.
const REFRESH_KEY_INFO: &[u8] = b"cairn: oidc refresh tokens v1";

/// Why a sign-in through the identity provider was refused.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Not configured on this server.
    #[error("staff sign-in through the agency's identity provider is not configured")]
    NotConfigured,
    /// A check failed (the reason is logged, not returned).
    #[error("the sign-in through the identity provider did not check out; start again")]
    SignInFailed,
    /// The person's tenant or email domain may not sign in here.
    #[error("your organisation's accounts may not sign in to this server")]
    NotAllowed,
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider could not be reached; try again in a moment")]
    ProviderUnavailable,
    /// Too many sign-ins begun from one address.
    #[error(transparent)]
    RateLimited(#[from] crate::auth::limits::RateLimited),
    /// An account refusal (disabled, say).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing the provider's refresh token failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<crate::auth::password::PasswordError> for OidcError {
    fn from(err: crate::auth::password::PasswordError) -> Self {
        OidcError::Account(err.into())
    }
}

/// The ID token's claims Cairn reads beyond the standard ones (`groups`, `roles`, `tid`, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AgencyClaims {
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for AgencyClaims {}

type AgencyIdToken = IdToken<
    AgencyClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type AgencyClaimsSet = IdTokenClaims<AgencyClaims, CoreGenderClaim>;
/// A client made from discovered metadata: authorization endpoint set; token and user-info
/// endpoints as the provider lists them.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The configured identity provider: its settings, and its metadata and keys once discovered.
pub struct IdentityProvider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: SecretString,
    redirect: RedirectUrl,
    origin: String,
    http: openidconnect::reqwest::Client,
    sealing: Aes256Gcm,
    discovered: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.issuer.as_str())
            .finish_non_exhaustive()
    }
}

enum RefreshOutcome {
    Allowed(Option<String>),
    Refused,
    Unavailable,
}

impl IdentityProvider {
    /// The provider `settings` name, or None when staff sign-in is off. `origin` is the public
    /// origin Cairn is opened at (the callback is under it).
    pub fn from_settings(
        settings: &Settings,
        origin: &str,
        codes: &CodeHasher,
    ) -> anyhow::Result<Option<Self>> {
        let Some(issuer) = settings.oidc_issuer.as_deref() else {
            return Ok(None);
        };
        let (Some(client_id), Some(client_secret)) =
            (&settings.oidc_client_id, &settings.oidc_client_secret)
        else {
            anyhow::bail!("oidc_issuer needs oidc_client_id and oidc_client_secret");
        };
        let origin = origin.trim_end_matches('/').to_owned();
        let issuer = IssuerUrl::new(issuer.trim().to_owned())
            .map_err(|err| anyhow::anyhow!("oidc_issuer is not a URL: {err}"))?;
        let redirect = RedirectUrl::new(format!("{origin}{CALLBACK_PATH}"))
            .map_err(|err| anyhow::anyhow!("the OIDC redirect URI is not a URL: {err}"))?;
        let http = openidconnect::reqwest::Client::builder()
            // The provider's endpoints answer directly; following redirects would let a
            // compromised metadata document send Cairn anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Some(IdentityProvider {
            issuer,
            client_id: ClientId::new(client_id.trim().to_owned()),
            client_secret: client_secret.clone(),
            redirect,
            origin,
            http,
            sealing: Aes256Gcm::new(&Key::<Aes256Gcm>::from(codes.derive_key(REFRESH_KEY_INFO))),
            discovered: Mutex::new(None),
        }))
    }

    /// The public origin (where the PWA is).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((at, metadata)) = discovered.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "OIDC discovery failed");
                OidcError::ProviderUnavailable
            })?;
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn client(&self) -> Result<ProviderClient, OidcError> {
        let metadata = self.metadata().await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    fn aad(user: UserId) -> Vec<u8> {
        let mut aad = b"cairn oidc refresh\0".to_vec();
        aad.extend_from_slice(user.0.as_bytes());
        aad
    }

    fn seal_refresh(&self, user: UserId, token: &str) -> Result<String, CryptoError> {
        Ok(STANDARD.encode(seal(&self.sealing, &Self::aad(user), token.as_bytes())?))
    }

    fn open_refresh(&self, user: UserId, sealed: &str) -> Result<String, CryptoError> {
        let blob = STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Unreadable)?;
        String::from_utf8(open(&self.sealing, &Self::aad(user), &blob)?)
            .map_err(|_| CryptoError::Unreadable)
    }

    /// Ask the provider for new tokens with its refresh token: whether it still lets the person
    /// in (and its next refresh token, when it rotates them).
    async fn refresh(&self, refresh_token: &str) -> RefreshOutcome {
        let Ok(client) = self.client().await else {
            return RefreshOutcome::Unavailable;
        };
        let token = RefreshToken::new(refresh_token.to_owned());
        let Ok(request) = client.exchange_refresh_token(&token) else {
            return RefreshOutcome::Unavailable;
        };
        match request.request_async(&self.http).await {
            Ok(answer) => {
                RefreshOutcome::Allowed(answer.refresh_token().map(|t| t.secret().to_owned()))
            }
            Err(RequestTokenError::ServerResponse(answer)) => {
                tracing::info!(error = %answer.error(), "the identity provider refused a refresh");
                RefreshOutcome::Refused
            }
            Err(err) => {
                tracing::warn!(error = %err, "the identity provider could not refresh");
                RefreshOutcome::Unavailable
            }
        }
    }
}

/// What the sign-in button needs, or `NotConfigured`.
pub fn sign_in_option(services: &Services) -> Result<OidcSignInOption, OidcError> {
    services.oidc.as_ref().ok_or(OidcError::NotConfigured)?;
    Ok(OidcSignInOption {
        display_name: services.settings.oidc_display_name.clone(),
        start_path: START_PATH.into(),
    })
}

/// A sign-in begun: where to send the browser, and the value of its binding cookie.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL.
    pub authorize_url: String,
    /// The cookie value (random; only its hash is stored).
    pub browser_cookie: String,
}

/// Begin a sign-in at the provider. Each stores a row until it expires, so sign-ins begun from
/// one address are limited like registrations (a first sign-in also creates an account).
#[instrument(skip_all)]
pub async fn start(services: &Services, address: Option<IpAddr>) -> Result<Started, OidcError> {
    let provider = services.oidc.as_ref().ok_or(OidcError::NotConfigured)?;
    services
        .limits
        .registration(address)
        .map_err(|limited| services.refused(limited))?;
    let client = provider.client().await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    // A refresh token lets Cairn ask the provider, at each of its own refreshes, whether the
    // person may still sign in. Google gives one for `access_type=offline` (with consent);
    // others for the `offline_access` scope.
    if provider.issuer.as_str().trim_end_matches('/') == "https://accounts.google.com" {
        request = request
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
    } else {
        request = request.add_scope(Scope::new("offline_access".into()));
        if let Some(prompt) = services.settings.oidc_prompt.as_deref() {
            request = request.add_extra_param("prompt", prompt.to_owned());
        }
    }
    let (url, state, nonce) = request.url();
    let browser_cookie = random_token();
    let now = Utc::now();
    services
        .store
        .insert_oidc_login(
            &sha256_hex(state.secret()),
            PendingOidcLogin {
                browser_hash: sha256_hex(&browser_cookie),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
            now,
            now + chrono::Duration::minutes(LOGIN_TTL_MINUTES),
        )
        .await?;
    Ok(Started {
        authorize_url: url.to_string(),
        browser_cookie,
    })
}

/// What the provider sent back to the callback.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state `start` sent.
    pub state: Option<String>,
    /// The provider's error, when it refused.
    pub error: Option<String>,
}

/// Finish a sign-in at the callback: a handoff code for the PWA.
#[instrument(skip_all)]
pub async fn finish(
    services: &Services,
    callback: Callback,
    browser_cookie: Option<&str>,
) -> Result<String, OidcError> {
    let provider = services.oidc.as_ref().ok_or(OidcError::NotConfigured)?;
    let failed = |why: &str| {
        tracing::info!(why, "OIDC sign-in refused");
        OidcError::SignInFailed
    };
    let state = callback.state.as_deref().unwrap_or_default();
    if state.is_empty() || state.len() > 512 {
        return Err(failed("no state"));
    }
    // Taken (and so ended) whatever happens next: a state works once.
    let Some(login) = services
        .store
        .take_oidc_login(&sha256_hex(state), Utc::now())
        .await?
    else {
        return Err(failed("unknown, used or expired state"));
    };
    if browser_cookie.map(sha256_hex).as_deref() != Some(login.browser_hash.as_str()) {
        return Err(failed("the sign-in began in another browser"));
    }
    if let Some(error) = &callback.error {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "the provider refused");
        return Err(OidcError::SignInFailed);
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| failed("no code"))?;
    let client = provider.client().await?;
    let answer = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| OidcError::ProviderUnavailable)?
        .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier))
        .request_async(&provider.http)
        .await
        .map_err(|err| match err {
            RequestTokenError::ServerResponse(answer) => {
                tracing::info!(error = %answer.error(), "the provider refused the code");
                OidcError::SignInFailed
            }
            other => {
                tracing::warn!(error = %other, "the code exchange failed");
                OidcError::ProviderUnavailable
            }
        })?;
    let raw = answer
        .id_token()
        .ok_or_else(|| failed("no ID token"))?
        .to_string();
    let id_token: AgencyIdToken = raw.parse().map_err(|_| failed("unreadable ID token"))?;
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(login.nonce))
        .map_err(|err| {
            tracing::info!(error = %err, "OIDC sign-in refused: the ID token failed its checks");
            OidcError::SignInFailed
        })?;
    allowed(&services.settings, claims)?;
    let kind = kind_for(&services.settings, claims);
    let provider_mfa = services.settings.oidc_trust_provider_mfa
        && claims
            .auth_method_refs()
            .is_some_and(|amr| amr.iter().any(|m| m.as_str() == "mfa"));
    let issuer = claims.issuer().as_str().to_owned();
    let subject = claims.subject().as_str().to_owned();
    let refresh_token = answer.refresh_token().map(|t| t.secret().to_owned());
    let user = link(
        services,
        provider,
        claims,
        &issuer,
        &subject,
        kind,
        refresh_token,
    )
    .await?;
    let handoff = random_token();
    let now = Utc::now();
    services
        .store
        .insert_oidc_handoff(
            &sha256_hex(&handoff),
            user,
            provider_mfa,
            now,
            now + chrono::Duration::seconds(HANDOFF_TTL_SECS),
        )
        .await?;
    tracing::info!(user.id = %user, "OIDC sign-in checked; handoff code issued");
    Ok(handoff)
}

fn claim_texts(claims: &AgencyClaimsSet, name: &str) -> Vec<String> {
    match claims.additional_claims().other.get(name) {
        Some(serde_json::Value::String(text)) => vec![text.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The agency's rule: a listed tenant (`tid`) or a verified email of a listed domain.
fn allowed(settings: &Settings, claims: &AgencyClaimsSet) -> Result<(), OidcError> {
    let tenants = &settings.oidc_allowed_tenants;
    let domains = &settings.oidc_allowed_domains;
    if tenants.is_empty() && domains.is_empty() {
        return Ok(());
    }
    let tenant_ok = claim_texts(claims, "tid")
        .iter()
        .any(|tid| tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)));
    let domain_ok = claims.email_verified() != Some(false)
        && claims.email().is_some_and(|email| {
            email
                .as_str()
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
        });
    if tenant_ok || domain_ok {
        Ok(())
    } else {
        tracing::info!("OIDC sign-in refused: tenant or email domain not allowed");
        Err(OidcError::NotAllowed)
    }
}

/// Admin when the configured claim holds one of the configured values; member otherwise. None
/// when no values are configured: the provider then says nothing about who is an admin (new
/// accounts are members; one an admin promoted in Cairn stays an admin).
fn kind_for(settings: &Settings, claims: &AgencyClaimsSet) -> Option<AccountKind> {
    if settings.oidc_admin_values.is_empty() {
        return None;
    }
    let values = claim_texts(claims, &settings.oidc_admin_claim);
    Some(
        if settings
            .oidc_admin_values
            .iter()
            .any(|admin| values.iter().any(|v| v == admin))
        {
            AccountKind::Admin
        } else {
            AccountKind::Member
        },
    )
}

/// A username for a new staff account: from the provider's preferred username or email (the
/// part before '@'), else `staff-` and random letters.
fn username_candidates(claims: &AgencyClaimsSet) -> Vec<String> {
    let mut candidates = Vec::new();
    let named = claims
        .preferred_username()
        .map(|u| u.as_str().to_owned())
        .or_else(|| claims.email().map(|e| e.as_str().to_owned()));
    if let Some(name) = named {
        let local = name.split('@').next().unwrap_or_default();
        if let Ok(name) = normalize_username(local) {
            let short: String = name.chars().take(24).collect();
            candidates.push(name);
            candidates.push(format!("{short}-{}", &random_token()[..4].to_lowercase()));
        }
    }
    candidates.push(format!("staff-{}", &random_token()[..8].to_lowercase()));
    candidates
}

/// The account linked to `subject` at `issuer`, its kind brought up to date; created and linked
/// on the first sign-in.
async fn link(
    services: &Services,
    provider: &IdentityProvider,
    claims: &AgencyClaimsSet,
    issuer: &str,
    subject: &str,
    kind: Option<AccountKind>,
    refresh_token: Option<String>,
) -> Result<UserId, OidcError> {
    let now = Utc::now();
    if let Some(identity) = services.store.oidc_identity(issuer, subject).await? {
        let sealed = refresh_token
            .map(|t| provider.seal_refresh(identity.user_id, &t))
            .transpose()?;
        services
            .store
            .update_oidc_sign_in(identity.user_id, kind, sealed, now)
            .await?;
        return Ok(identity.user_id);
    }
    let display_name: String = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().trim().to_owned())
        .filter(|n| !n.is_empty() && !n.chars().any(char::is_control))
        .unwrap_or_else(|| "Staff".into())
        .chars()
        .take(80)
        .collect();
    // Staff never sign in with a password: the hash is of one nobody knows.
    let password_hash = hash_password(SecretString::from(random_token())).await?;
    for username in username_candidates(claims) {
        let user = NewUser {
            username_key: username_key(&username),
            username,
            display_name: display_name.clone(),
            password_hash: password_hash.clone(),
            kind: kind.unwrap_or(AccountKind::Member),
        };
        // The id is only known once stored: seal the refresh token after, under it.
        match services
            .store
            .insert_oidc_user(user, issuer, subject, None, now)
            .await
        {
            Ok(user) => {
                if let Some(token) = refresh_token {
                    let sealed = provider.seal_refresh(user.id, &token)?;
                    services
                        .store
                        .set_oidc_refresh_token(user.id, &sealed)
                        .await?;
                }
                tracing::info!(user.id = %user.id, "staff account created for an OIDC identity");
                return Ok(user.id);
            }
            Err(StoreError::Conflict) => {
                // Two first sign-ins at once: the other linked it.
                if let Some(identity) = services.store.oidc_identity(issuer, subject).await? {
                    return Ok(identity.user_id);
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(OidcError::Store(StoreError::Conflict))
}

/// Trade a handoff code for a device session (or, for an account with Cairn's own second factor
/// the provider did not stand in for, its challenge).
#[instrument(skip_all)]
pub async fn exchange(
    services: &Services,
    request: OidcExchangeRequest,
    address: Option<IpAddr>,
) -> Result<LoginResponse, OidcError> {
    services.oidc.as_ref().ok_or(OidcError::NotConfigured)?;
    if request.code.is_empty() || request.code.len() > 128 {
        return Err(OidcError::SignInFailed);
    }
    let Some((user_id, provider_mfa)) = services
        .store
        .take_oidc_handoff(&sha256_hex(&request.code), Utc::now())
        .await?
    else {
        tracing::info!("OIDC handoff refused: unknown, used or expired code");
        return Err(OidcError::SignInFailed);
    };
    let user: User = services
        .store
        .user(user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(OidcError::SignInFailed)?;
    if user.disabled_at.is_some() {
        return Err(AccountError::AccountDisabled.into());
    }
    if !provider_mfa && let Some(needed) = super::second_factor::challenge(services, &user).await? {
        return Ok(LoginResponse::SecondFactor(needed));
    }
    let tokens = start_session(services, user, request.device_name.as_deref(), address).await?;
    if provider_mfa {
        services
            .store
            .set_session_second_factor(tokens.session_id, Utc::now())
            .await?;
    }
    Ok(LoginResponse::Tokens(tokens))
}

/// At a Cairn refresh of `user`'s `session`: for an account linked to the provider, ask the
/// provider (with its refresh token) whether the person may still sign in. If not, the session
/// ends; if the provider cannot be reached, the refresh fails and may be tried again.
pub(crate) async fn check_at_refresh(
    services: &Services,
    session: &DeviceSession,
    user: &User,
) -> Result<(), AccountError> {
    let Some(identity) = services.store.oidc_identity_of(user.id).await? else {
        return Ok(());
    };
    let token = services.oidc.as_ref().and_then(|provider| {
        identity
            .sealed_refresh_token
            .as_deref()
            .and_then(|sealed| provider.open_refresh(user.id, sealed).ok())
            .map(|token| (provider, token))
    });
    let outcome = match &token {
        // Staff sign-in turned off, or no refresh token to ask with: nothing can vouch.
        None => RefreshOutcome::Refused,
        Some((provider, token)) => provider.refresh(token).await,
    };
    match outcome {
        RefreshOutcome::Allowed(rotated) => {
            if let (Some(new), Some((provider, old))) = (rotated, &token)
                && &new != old
            {
                let sealed = provider
                    .seal_refresh(user.id, &new)
                    .map_err(|err| AccountError::Store(err.into()))?;
                services
                    .store
                    .set_oidc_refresh_token(user.id, &sealed)
                    .await?;
            }
            Ok(())
        }
        RefreshOutcome::Refused => {
            services
                .store
                .revoke_session(user.id, session.id, Utc::now())
                .await?;
            services.hub.close_session(
                session.id,
                "the agency's identity provider ended this sign-in",
            );
            tracing::info!(user.id = %user.id, session.id = %session.id,
                "device session ended: the identity provider no longer vouches for the person");
            Err(AccountError::ProviderEndedSession)
        }
        RefreshOutcome::Unavailable => Err(AccountError::ProviderUnavailable),
    }
}
