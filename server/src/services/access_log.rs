//! Transparency: each plan's access log. Every member reads all of it, both ways: the person sees
//! when their supporter read or synced the plan, and the supporter sees the person's invitations
//! and exports. Entries name accounts, device sessions and times; never plan content, never an
//! invitation code.

use cairn_shared::api::{AccessKind, AccessLogEntry};
use cairn_shared::{PlanId, SessionId, UserId};
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::Services;
use super::plans::{PlanError, role_on};
use crate::domain::Caller;
use crate::store::{AccessRecord, LoggedAccess, Store, StoreError};

/// Entries returned when the request gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most entries one request may ask for.
pub const MAX_LIMIT: u32 = 500;

/// Something that happened to a plan, for its access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessEvent {
    /// The plan was created.
    PlanCreated,
    /// A connection started syncing the plan.
    SyncOpened,
    /// The plan was read over REST.
    PlanRead,
    /// The plan was exported in this format (`json`, `markdown`, `fhir`; at most 32 characters).
    Export {
        /// The export format.
        format: String,
    },
    /// The owner created an invitation (its code is never recorded).
    Invited,
    /// A supporter joined with an invitation.
    Joined,
    /// The owner removed this supporter.
    Removed {
        /// The supporter removed.
        member: UserId,
    },
    /// A supporter left.
    Left,
}

impl AccessEvent {
    /// The event done by `account`, from `session` where there is one, at `at`.
    pub fn by(
        self,
        account: UserId,
        session: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> AccessRecord {
        let (kind, member, format) = match self {
            AccessEvent::PlanCreated => (AccessKind::PlanCreated, None, None),
            AccessEvent::SyncOpened => (AccessKind::SyncOpened, None, None),
            AccessEvent::PlanRead => (AccessKind::PlanRead, None, None),
            AccessEvent::Export { format } => (AccessKind::Exported, None, Some(format)),
            AccessEvent::Invited => (AccessKind::Invited, None, None),
            AccessEvent::Joined => (AccessKind::Joined, None, None),
            AccessEvent::Removed { member } => (AccessKind::Removed, Some(member), None),
            AccessEvent::Left => (AccessKind::Left, None, None),
        };
        AccessRecord {
            kind,
            account,
            session,
            member,
            format,
            at,
        }
    }
}

/// Record that the caller did `event` to the plan, now. An access that hands out content (a read,
/// an export) should fail when this fails, so that nothing is served unrecorded.
pub async fn record(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    event: AccessEvent,
) -> Result<(), PlanError> {
    let record = event.by(caller.user.id, Some(caller.session_id), Utc::now());
    record_all(&services.store, plan, &[record]).await?;
    Ok(())
}

/// Record an HTTP sync (a read or an upload of changes) by a member as a sync session opened,
/// once per device session and plan within [`crate::sync::HTTP_SYNC_SESSION`]. Called before
/// anything is served, so nothing is served unrecorded.
pub async fn record_http_sync(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<(), PlanError> {
    if services.hub.first_http_sync(caller.session_id, plan) {
        record(services, caller, plan, AccessEvent::SyncOpened).await?;
    }
    Ok(())
}

/// Record accesses that were already checked (by the sync hub, say).
pub async fn record_all(
    store: &Store,
    plan: PlanId,
    records: &[AccessRecord],
) -> Result<(), StoreError> {
    store.insert_accesses(plan, records).await
}

/// Record an act that is already committed (a plan created, an invitation made, a member joined,
/// removed or gone): failing the request now would only invite a retry, so a failure is logged.
pub(crate) async fn record_done(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    event: AccessEvent,
) {
    if let Err(err) = record(services, caller, plan, event).await {
        tracing::error!(plan.id = %plan, user.id = %caller.user.id, error = %err, "could not record an access");
    }
}

/// The plan's access log, newest first, at most `limit` entries (members only).
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id = %plan))]
pub async fn access_log(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    limit: u32,
) -> Result<Vec<AccessLogEntry>, PlanError> {
    role_on(services, caller, plan).await?;
    let limit = limit.clamp(1, MAX_LIMIT);
    let logged = services.store.access_log(plan, u64::from(limit)).await?;
    Ok(logged.into_iter().map(entry).collect())
}

fn entry(logged: LoggedAccess) -> AccessLogEntry {
    let LoggedAccess {
        record,
        account_name,
        member_name,
    } = logged;
    AccessLogEntry {
        kind: record.kind,
        account_id: record.account,
        account_name,
        session_id: record.session,
        at: record.at,
        member_id: record.member,
        member_name,
        format: record.format,
    }
}
