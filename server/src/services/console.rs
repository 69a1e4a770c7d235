//! What the admin console needs beyond the first admin routes: searching accounts a page at a
//! time, the list of enrollment codes (never the codes) and revoking one, the server's health,
//! and the heartbeat by which each instance says it is up. Nothing here reads plan content.

use std::time::Duration;

use cairn_shared::api::{
    Account, AdminAction, AdminHealth, DatabaseKind, EnrollmentCodeInfo, EnrollmentCodeState,
};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::admin::{AdminError, require_admin};
use super::{Services, activity};
use crate::domain::Caller;
use crate::store::{Revocation, Store, StoreError, StoredEnrollmentCode};

/// The most accounts on one page of a search.
pub const MAX_ACCOUNTS_PAGE: u64 = 200;
/// Enrollment codes listed (the newest).
const MAX_CODES_LISTED: u64 = 500;
/// How often each instance records that it is up.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// An instance counts as up if it recorded itself within this many minutes.
pub const INSTANCES_WINDOW_MINUTES: u32 = 5;

/// Why a console act was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not an admin, or no second factor; bad input.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// No enrollment code with that id.
    #[error("no such enrollment code")]
    CodeNotFound,
    /// The code was revoked before.
    #[error("this enrollment code was already revoked")]
    AlreadyRevoked,
}

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> Self {
        ConsoleError::Admin(AdminError::Store(err))
    }
}

/// Accounts whose username or name contains `query` (every account without one), by username.
pub async fn search_accounts(
    services: &Services,
    caller: &Caller,
    query: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Vec<Account>, ConsoleError> {
    require_admin(caller)?;
    if query.is_some_and(|q| q.chars().count() > 200) {
        return Err(AdminError::InvalidInput("q is longer than 200 characters".into()).into());
    }
    Ok(services
        .store
        .search_users(query, limit, offset)
        .await?
        .iter()
        .map(|u| u.to_account())
        .collect())
}

fn state(code: &StoredEnrollmentCode, now: DateTime<Utc>) -> EnrollmentCodeState {
    if code.revoked_at.is_some() {
        EnrollmentCodeState::Revoked
    } else if code.uses >= code.max_uses {
        EnrollmentCodeState::UsedUp
    } else if code.expires_at <= now {
        EnrollmentCodeState::Expired
    } else {
        EnrollmentCodeState::Active
    }
}

/// Every enrollment code, newest first: label, uses, expiry and state; never the code.
pub async fn enrollment_codes(
    services: &Services,
    caller: &Caller,
) -> Result<Vec<EnrollmentCodeInfo>, ConsoleError> {
    require_admin(caller)?;
    let now = Utc::now();
    Ok(services
        .store
        .enrollment_codes(MAX_CODES_LISTED)
        .await?
        .into_iter()
        .map(|code| EnrollmentCodeInfo {
            id: code.id,
            state: state(&code, now),
            label: code.label,
            uses: code.uses,
            max_uses: code.max_uses,
            created_at: code.created_at,
            expires_at: code.expires_at,
            revoked_at: code.revoked_at,
        })
        .collect())
}

/// Revoke an enrollment code: nobody registers with it from now on. Audited.
#[instrument(skip_all, fields(admin.id = %caller.user.id, code.id = %id))]
pub async fn revoke_enrollment_code(
    services: &Services,
    caller: &Caller,
    id: uuid::Uuid,
) -> Result<(), ConsoleError> {
    require_admin(caller)?;
    match services
        .store
        .revoke_enrollment_code(id, Utc::now())
        .await?
    {
        Revocation::NotFound => Err(ConsoleError::CodeNotFound),
        Revocation::AlreadyRevoked => Err(ConsoleError::AlreadyRevoked),
        Revocation::Revoked(label) => {
            tracing::info!("enrollment code revoked");
            activity::admin_act(
                &services.store,
                Some(caller.user.id),
                AdminAction::EnrollmentCodeRevoked,
                None,
                label,
            )
            .await?;
            Ok(())
        }
    }
}

/// A label for an enrollment code: trimmed, at most 100 characters, no control characters;
/// empty means none.
pub fn enrollment_label(label: Option<String>) -> Result<Option<String>, AdminError> {
    let Some(label) = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(AdminError::InvalidInput(
            "label must be at most 100 characters, on one line".into(),
        ));
    }
    Ok(Some(label))
}

/// How the server is doing: version, database, migrations, instances seen lately, last backup.
pub async fn health(services: &Services, caller: &Caller) -> Result<AdminHealth, ConsoleError> {
    require_admin(caller)?;
    let store = &services.store;
    let database = match store.backend() {
        sea_orm::DbBackend::Postgres => DatabaseKind::Postgres,
        _ => DatabaseKind::Sqlite,
    };
    let reachable = store.reachable().await;
    let migrations = store.migration_state().await?;
    let since = Utc::now() - chrono::Duration::minutes(i64::from(INSTANCES_WINDOW_MINUTES));
    let seen = store.instances_seen_since(since).await?;
    let last_backup = store.last_backup().await?;
    Ok(AdminHealth {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database,
        database_reachable: reachable,
        migrations_applied: u32::try_from(migrations.applied).unwrap_or(u32::MAX),
        migrations_known: u32::try_from(migrations.known()).unwrap_or(u32::MAX),
        instances_seen: u32::try_from(seen).unwrap_or(u32::MAX),
        instances_window_minutes: INSTANCES_WINDOW_MINUTES,
        last_backup,
    })
}

/// Record that this instance is up (at start-up, before it serves; then by [`heartbeat`]).
pub async fn record_up(store: &Store, started_at: DateTime<Utc>) {
    if let Err(err) = store
        .record_instance(env!("CARGO_PKG_VERSION"), started_at, Utc::now())
        .await
    {
        tracing::warn!(error = %err, "could not record that this instance is up");
    }
}

/// Record every minute, until shutdown, that this instance is up (for the console's count of
/// instances). A failed write is logged and tried again at the next beat.
pub async fn heartbeat(store: Store, started_at: DateTime<Utc>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => record_up(&store, started_at).await,
        }
    }
}
