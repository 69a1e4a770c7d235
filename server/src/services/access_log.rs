//! Transparency: each plan's access log. Every member reads all of it, both ways: the person sees
//! when their supporter read or synced the plan, and the supporter sees the person's invitations
//! and exports. Entries name accounts, device sessions and times; never plan content, never an
//! invitation code.

use cairn_shared::PlanId;
use cairn_shared::api::AccessLogEntry;
use chrono::Utc;
use tracing::instrument;

use super::Services;
use super::plans::{PlanError, role_on};
use crate::domain::{AccessEvent, Caller};
use crate::store::LoggedAccess;

/// Entries returned when the request gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most entries one request may ask for.
pub const MAX_LIMIT: u32 = 500;

/// Record that the caller did `event` to the plan, now. An access that hands out content (a read,
/// an export) should fail when this fails, so that nothing is served unrecorded.
pub async fn record(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    event: AccessEvent,
) -> Result<(), PlanError> {
    let record = event.by(caller.user.id, Some(caller.session_id), Utc::now());
    services.store.insert_accesses(plan, &[record]).await?;
    Ok(())
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
