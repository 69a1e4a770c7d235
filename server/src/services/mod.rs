//! Use cases, as plain async functions over domain types. No web types in here: `routes` turn
//! HTTP into calls of these and their errors into responses.

pub mod access_log;
pub mod accounts;
pub mod admin;
pub mod export;
pub mod history;
pub mod keys;
pub mod plans;

use std::sync::Arc;

use crate::auth::limits::LoginLimiter;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::domain::User;
use crate::store::Store;
use crate::sync::SyncHub;
use cairn_shared::SessionId;

/// What the use cases need: storage, token keys, login limits and settings.
#[derive(Debug)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Access token signing and checking.
    pub tokens: TokenKeys,
    /// Login attempt limits.
    pub login_limits: LoginLimiter,
    /// Settings in force.
    pub settings: Arc<Settings>,
    /// Live sync: told about membership changes, deletions and ended sessions.
    pub hub: SyncHub,
    /// Operational metrics.
    pub metrics: crate::metrics::Metrics,
}

/// The authenticated account behind a request, and the device session it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account (enabled).
    pub user: User,
    /// The device session (active).
    pub session_id: SessionId,
}
