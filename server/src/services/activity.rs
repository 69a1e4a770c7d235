//! Account activity and the admin audit. A person can read everything that happened to their
//! account (sign-ins, password and passkey changes, codes used) and every act an admin did to it,
//! so that nothing is done to an account without its owner knowing; admins read the audit of
//! every admin act. Both are append-only and hold no secrets and no plan content.

use std::net::IpAddr;

use cairn_shared::UserId;
use cairn_shared::api::{ActivityEntry, ActivityKind, AdminAction, AuditEntry, AuditPage};
use chrono::Utc;
use tracing::instrument;

use super::Services;
use crate::domain::{ActivityRecord, AdminAct, Caller};
use crate::store::{Store, StoreError};

/// Entries returned when the request gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most entries one request may ask for.
pub const MAX_LIMIT: u32 = 200;

/// Record something already done to `user`'s account; a failure is logged (the act stands).
pub async fn record(services: &Services, user: UserId, record: ActivityRecord) {
    if let Err(err) = services.store.record_activity(user, &record).await {
        tracing::error!(user.id = %user, error = %err, "could not record account activity");
    }
}

/// Record a sign-in of `user` on `device` (a new device session), from `address` where the
/// agency records addresses.
pub async fn signed_in(services: &Services, user: UserId, device: &str, address: Option<IpAddr>) {
    let entry = ActivityRecord {
        device_name: Some(device.to_owned()),
        address: address
            .filter(|_| services.settings.activity_addresses)
            .map(|address| address.to_string()),
        ..ActivityRecord::now(ActivityKind::SignedIn)
    };
    record(services, user, entry).await;
}

/// Record an admin act (`admin`: `None` for the server's command line) in the audit and in the
/// target account's activity. Called once the act is done; its error is the caller's to report.
pub async fn admin_act(
    store: &Store,
    admin: Option<UserId>,
    action: AdminAction,
    target: Option<UserId>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    store
        .record_admin_act(&AdminAct {
            action,
            admin,
            target,
            detail,
            at: Utc::now(),
        })
        .await
}

/// The caller's account activity, newest first, at most `limit` entries.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn my_activity(
    services: &Services,
    caller: &Caller,
    limit: u32,
) -> Result<Vec<ActivityEntry>, StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let logged = services
        .store
        .activity(caller.user.id, u64::from(limit))
        .await?;
    Ok(logged
        .into_iter()
        .map(|logged| ActivityEntry {
            kind: logged.record.kind,
            at: logged.record.at,
            device_name: logged.record.device_name,
            by_id: logged.record.by,
            by_name: logged.by_name,
            address: logged.record.address,
            detail: logged.record.detail,
        })
        .collect())
}

/// A page of the admin audit, newest first: at most `limit` acts older than `before`.
pub async fn audit_page(
    store: &Store,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPage, StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let logged = store.admin_audit(before, u64::from(limit)).await?;
    let next_before = (logged.len() == limit as usize)
        .then(|| logged.last().map(|last| last.id))
        .flatten();
    Ok(AuditPage {
        entries: logged
            .into_iter()
            .map(|logged| AuditEntry {
                id: logged.id,
                action: logged.act.action,
                at: logged.act.at,
                admin_id: logged.act.admin,
                admin_name: logged.admin_name,
                target_id: logged.act.target,
                target_name: logged.target_name,
                detail: logged.act.detail,
            })
            .collect(),
        next_before,
    })
}
