//! Each account's activity and the admin audit: append-only rows (nothing here updates or
//! deletes one), read newest first with the display names of the accounts they name.

use std::collections::{HashMap, HashSet};

use cairn_shared::UserId;
use cairn_shared::api::{ActivityKind, AdminAction};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{account_activity, admin_audit, users};
use super::{Store, StoreError};
use crate::domain::{ActivityRecord, AdminAct};

/// A stored activity entry, with the display name of who did it.
#[derive(Debug, Clone)]
pub struct LoggedActivity {
    /// The entry.
    pub record: ActivityRecord,
    /// The display name of `record.by`.
    pub by_name: Option<String>,
}

/// A stored admin act, with the display names of the accounts it names.
#[derive(Debug, Clone)]
pub struct LoggedAdminAct {
    /// Its place in the audit.
    pub id: i64,
    /// The act.
    pub act: AdminAct,
    /// The admin's display name.
    pub admin_name: Option<String>,
    /// The target account's display name.
    pub target_name: Option<String>,
}

fn text<T: serde::Serialize>(value: T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => Ok(text),
        _ => Err(StoreError::Corrupt("an activity kind has no name".into())),
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("activity kind {text:?}")))
}

/// What an admin act shows in its target account's activity.
fn shown_to_target(action: AdminAction) -> Option<ActivityKind> {
    match action {
        AdminAction::AccountCreated => Some(ActivityKind::AccountCreated),
        AdminAction::AccountDisabled => Some(ActivityKind::AccountDisabled),
        AdminAction::AccountEnabled => Some(ActivityKind::AccountEnabled),
        AdminAction::ResetCodeIssued => Some(ActivityKind::ResetCodeIssued),
        AdminAction::SecondFactorReset => Some(ActivityKind::SecondFactorReset),
        AdminAction::EnrollmentCodeIssued
        | AdminAction::KeysRotated
        | AdminAction::EnrollmentCodeRevoked => None,
    }
}

fn activity_row(
    user: UserId,
    record: &ActivityRecord,
) -> Result<account_activity::ActiveModel, StoreError> {
    Ok(account_activity::ActiveModel {
        user_id: Set(user.0),
        kind: Set(text(record.kind)?),
        by_user_id: Set(record.by.map(|by| by.0)),
        device_name: Set(record.device_name.clone()),
        address: Set(record.address.clone()),
        detail: Set(record.detail.clone()),
        occurred_at: Set(record.at),
        ..Default::default()
    })
}

impl Store {
    /// Append an entry to the account's activity.
    pub async fn record_activity(
        &self,
        user: UserId,
        record: &ActivityRecord,
    ) -> Result<(), StoreError> {
        account_activity::Entity::insert(activity_row(user, record)?)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Append an admin act to the audit and, when it was done to an account, to that account's
    /// activity, in one transaction.
    pub async fn record_admin_act(&self, act: &AdminAct) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        admin_audit::Entity::insert(admin_audit::ActiveModel {
            admin_id: Set(act.admin.map(|admin| admin.0)),
            action: Set(text(act.action)?),
            target_id: Set(act.target.map(|target| target.0)),
            detail: Set(act.detail.clone()),
            occurred_at: Set(act.at),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
        if let (Some(target), Some(kind)) = (act.target, shown_to_target(act.action)) {
            let record = ActivityRecord {
                kind,
                by: act.admin,
                device_name: None,
                address: None,
                detail: act.detail.clone(),
                at: act.at,
            };
            account_activity::Entity::insert(activity_row(target, &record)?)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The account's newest `limit` activity entries, newest first.
    pub async fn activity(
        &self,
        user: UserId,
        limit: u64,
    ) -> Result<Vec<LoggedActivity>, StoreError> {
        let rows = account_activity::Entity::find()
            .filter(account_activity::Column::UserId.eq(user.0))
            .order_by_desc(account_activity::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let names = display_names(&self.db, rows.iter().filter_map(|row| row.by_user_id)).await?;
        rows.into_iter()
            .map(|row| {
                Ok(LoggedActivity {
                    by_name: row.by_user_id.and_then(|by| names.get(&by).cloned()),
                    record: ActivityRecord {
                        kind: parse(&row.kind)?,
                        by: row.by_user_id.map(UserId),
                        device_name: row.device_name,
                        address: row.address,
                        detail: row.detail,
                        at: row.occurred_at,
                    },
                })
            })
            .collect()
    }

    /// The newest `limit` admin acts older than `before` (all, without it), newest first.
    pub async fn admin_audit(
        &self,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<LoggedAdminAct>, StoreError> {
        let mut query = admin_audit::Entity::find();
        if let Some(before) = before {
            query = query.filter(admin_audit::Column::Id.lt(before));
        }
        let rows = query
            .order_by_desc(admin_audit::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let names = display_names(
            &self.db,
            rows.iter()
                .flat_map(|row| row.admin_id.into_iter().chain(row.target_id)),
        )
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LoggedAdminAct {
                    id: row.id,
                    admin_name: row.admin_id.and_then(|id| names.get(&id).cloned()),
                    target_name: row.target_id.and_then(|id| names.get(&id).cloned()),
                    act: AdminAct {
                        action: parse(&row.action)?,
                        admin: row.admin_id.map(UserId),
                        target: row.target_id.map(UserId),
                        detail: row.detail,
                        at: row.occurred_at,
                    },
                })
            })
            .collect()
    }
}

/// The display names of `accounts`.
async fn display_names<C: ConnectionTrait>(
    db: &C,
    accounts: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, StoreError> {
    let accounts: HashSet<Uuid> = accounts.collect();
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(accounts))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, super::leaving::shown_name(&user)))
        .collect())
}
