//! Use cases, as plain async functions over domain types. No web types in here: `routes` turn
//! HTTP into calls of these and their errors into responses.

pub mod access_log;
pub mod accounts;
pub mod activity;
pub mod admin;
pub mod backup;
pub mod conflicts;
pub mod console;
pub mod credentials;
pub mod export;
pub mod history;
pub mod http_sync;
pub mod keys;
pub mod leaving;
pub mod oidc;
pub mod passkeys;
pub mod plans;
pub mod second_factor;
pub mod versions;

use std::sync::Arc;

use crate::auth::limits::{Limits, RateLimited};
use crate::auth::secrets::CodeHasher;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::store::Store;
use crate::sync::SyncHub;

/// What the use cases need: storage, token keys, attempt limits and settings.
#[derive(Debug)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Access token signing and checking.
    pub tokens: TokenKeys,
    /// Attempt limits: login, registration, codes.
    pub limits: Limits,
    /// How invitation and enrollment codes are stored.
    pub codes: CodeHasher,
    /// Settings in force.
    pub settings: Arc<Settings>,
    /// Live sync: told about membership changes, deletions and ended sessions.
    pub hub: SyncHub,
    /// Operational metrics.
    pub metrics: crate::metrics::Metrics,
    /// Which device sessions synced which plans over HTTP lately (for the access log).
    pub http_syncs: http_sync::HttpSyncSessions,
    /// Passkeys: the WebAuthn relying party.
    pub passkeys: passkeys::RelyingParty,
    /// Staff sign-in: the agency's identity provider, when configured.
    pub oidc: Option<oidc::IdentityProvider>,
}

impl Services {
    /// An attempt refused by a limit: counted in `/metrics` and logged (without the key).
    pub fn refused(&self, limited: RateLimited) -> RateLimited {
        self.metrics.rate_limited(limited.limit);
        tracing::warn!(limit = limited.limit.name(), "attempt rate limited");
        limited
    }
}
