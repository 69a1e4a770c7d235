//! Each plan's access log. A row holds a kind, account and session ids, the removed member's id
//! or the export format, and a time: never plan content, never an invitation code.

use std::collections::{HashMap, HashSet};

use cairn_shared::api::AccessKind;
use cairn_shared::{PlanId, SessionId, UserId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{access_log, users};
use super::{Store, StoreError};
use crate::domain::AccessRecord;

/// A stored access, with its accounts' display names as they are now.
#[derive(Debug, Clone)]
pub struct LoggedAccess {
    /// The access.
    pub record: AccessRecord,
    /// The display name of `record.account`.
    pub account_name: String,
    /// The display name of `record.member`, if there is one.
    pub member_name: Option<String>,
}

fn kind_text(kind: AccessKind) -> &'static str {
    match kind {
        AccessKind::PlanCreated => "plan-created",
        AccessKind::SyncOpened => "sync-opened",
        AccessKind::PlanRead => "plan-read",
        AccessKind::Exported => "exported",
        AccessKind::Invited => "invited",
        AccessKind::Joined => "joined",
        AccessKind::Removed => "removed",
        AccessKind::Left => "left",
    }
}

fn parse_kind(text: &str) -> Result<AccessKind, StoreError> {
    Ok(match text {
        "plan-created" => AccessKind::PlanCreated,
        "sync-opened" => AccessKind::SyncOpened,
        "plan-read" => AccessKind::PlanRead,
        "exported" => AccessKind::Exported,
        "invited" => AccessKind::Invited,
        "joined" => AccessKind::Joined,
        "removed" => AccessKind::Removed,
        "left" => AccessKind::Left,
        other => return Err(StoreError::Corrupt(format!("access kind {other:?}"))),
    })
}

fn access_row(plan: PlanId, record: &AccessRecord) -> access_log::ActiveModel {
    access_log::ActiveModel {
        plan_id: Set(plan.0),
        kind: Set(kind_text(record.kind).to_owned()),
        account_id: Set(record.account.0),
        session_id: Set(record.session.map(|s| s.0)),
        member_id: Set(record.member.map(|m| m.0)),
        format: Set(record.format.clone()),
        occurred_at: Set(record.at),
        ..Default::default()
    }
}

impl Store {
    /// Append accesses to a plan's log, in one statement.
    pub async fn insert_accesses(
        &self,
        plan: PlanId,
        records: &[AccessRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        access_log::Entity::insert_many(records.iter().map(|r| access_row(plan, r)))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The newest `limit` accesses to a plan, newest first, with display names.
    pub async fn access_log(
        &self,
        plan: PlanId,
        limit: u64,
    ) -> Result<Vec<LoggedAccess>, StoreError> {
        let rows = access_log::Entity::find()
            .filter(access_log::Column::PlanId.eq(plan.0))
            .order_by_desc(access_log::Column::OccurredAt)
            .order_by_desc(access_log::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let accounts: HashSet<Uuid> = rows
            .iter()
            .flat_map(|row| std::iter::once(row.account_id).chain(row.member_id))
            .collect();
        let names: HashMap<Uuid, String> = if accounts.is_empty() {
            HashMap::new()
        } else {
            users::Entity::find()
                .filter(users::Column::Id.is_in(accounts))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|user| (user.id, super::leaving::shown_name(&user)))
                .collect()
        };
        rows.into_iter()
            .map(|row| {
                Ok(LoggedAccess {
                    account_name: names.get(&row.account_id).cloned().unwrap_or_default(),
                    member_name: row
                        .member_id
                        .map(|m| names.get(&m).cloned().unwrap_or_default()),
                    record: AccessRecord {
                        kind: parse_kind(&row.kind)?,
                        account: UserId(row.account_id),
                        session: row.session_id.map(SessionId),
                        member: row.member_id.map(UserId),
                        format: row.format,
                        at: row.occurred_at,
                    },
                })
            })
            .collect()
    }
}
