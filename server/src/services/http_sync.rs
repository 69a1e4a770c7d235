//! HTTP sync: a client without a WebSocket (a service worker, a script) reads the changes it
//! lacks and uploads its own over plain HTTP. Only members may; each call runs on the document
//! the sync hub holds, and is recorded in the plan's access log as a sync session opened, once
//! per device session and plan within [`HTTP_SYNC_SESSION`], before anything is served.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use cairn_shared::{PlanId, SessionId};
use tracing::instrument;

use super::Services;
use super::access_log::record;
use super::plans::{PlanError, role_on};
use crate::domain::{AccessEvent, Caller};
use crate::sync::HubError;

/// HTTP syncs of one plan by one device session within this time count as one sync session.
pub const HTTP_SYNC_SESSION: Duration = Duration::from_secs(60 * 60);

/// The device sessions that synced each plan over HTTP lately, and when (bounded: old entries
/// are dropped once there are many).
#[derive(Debug, Default)]
pub struct HttpSyncSessions(Mutex<HashMap<(SessionId, PlanId), Instant>>);

impl HttpSyncSessions {
    /// Whether this HTTP sync by `session` of `plan` starts a new sync session for the access
    /// log: the first in [`HTTP_SYNC_SESSION`]. A service worker syncing every few minutes then
    /// shows up about once an hour, as a socket shows up once per connection.
    fn first(&self, session: SessionId, plan: PlanId) -> bool {
        let now = Instant::now();
        // A panic while holding the lock leaves a plain map in a usable state.
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.len() >= 10_000 {
            seen.retain(|_, at| now.duration_since(*at) < HTTP_SYNC_SESSION);
        }
        match seen.get(&(session, plan)) {
            Some(at) if now.duration_since(*at) < HTTP_SYNC_SESSION => false,
            _ => {
                seen.insert((session, plan), now);
                true
            }
        }
    }
}

/// Why an HTTP sync call was refused.
#[derive(Debug, thiserror::Error)]
pub enum HttpSyncError {
    /// Not a member (or no such plan), or the access could not be recorded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `since` is not a list of change hashes.
    #[error("since must be comma-separated hex change hashes")]
    BadHeads,
    /// The hub refused the upload, or the plan could not be loaded or stored.
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// Check the caller is a member and record the sync in the access log, before anything is served.
async fn begin(services: &Services, caller: &Caller, plan: PlanId) -> Result<(), PlanError> {
    role_on(services, caller, plan).await?;
    if services.http_syncs.first(caller.session_id, plan) {
        record(services, caller, plan, AccessEvent::SyncOpened).await?;
    }
    Ok(())
}

/// The changes the caller lacks, given the heads it has (`since`: comma-separated hex change
/// hashes, empty for everything), as concatenated Automerge change bytes, and the plan's heads.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id))]
pub async fn changes_since(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    since: &str,
) -> Result<(Vec<u8>, Vec<ChangeHash>), HttpSyncError> {
    begin(services, caller, plan).await?;
    let since = since
        .split(',')
        .filter(|hex| !hex.is_empty())
        .map(|hex| hex.parse::<ChangeHash>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| HttpSyncError::BadHeads)?;
    Ok(services
        .hub
        .changes_since(plan, caller.user.id, since)
        .await?)
}

/// Apply concatenated Automerge changes the caller uploaded: stored, sent to everyone syncing
/// the plan, and answered with the plan's heads once they are stored.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id))]
pub async fn upload(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    changes: Vec<u8>,
) -> Result<Vec<ChangeHash>, HttpSyncError> {
    begin(services, caller, plan).await?;
    Ok(services.hub.upload(plan, caller.user.id, changes).await?)
}
