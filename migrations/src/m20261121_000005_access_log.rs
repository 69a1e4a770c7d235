//! The access log of each plan: who created, read, synced, exported it, who was invited, joined,
//! was removed or left, from which device session, and when. It never holds plan content or
//! invitation codes. It goes with its plan: the foreign key cascades.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AccessLog {
    Table,
    Id,
    PlanId,
    Kind,
    AccountId,
    SessionId,
    MemberId,
    Format,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessLog::Table)
                    .col(big_pk_auto(AccessLog::Id))
                    .col(uuid(AccessLog::PlanId))
                    .col(string_len(AccessLog::Kind, 32))
                    .col(uuid(AccessLog::AccountId))
                    // No foreign key: the entry keeps naming the device session it came from
                    // whatever later happens to that session's row.
                    .col(uuid_null(AccessLog::SessionId))
                    .col(uuid_null(AccessLog::MemberId))
                    .col(string_len_null(AccessLog::Format, 32))
                    .col(timestamp_with_time_zone(AccessLog::OccurredAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AccessLog::Table, AccessLog::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AccessLog::Table, AccessLog::AccountId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AccessLog::Table, AccessLog::MemberId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        // The log is read newest first, one plan at a time.
        manager
            .create_index(
                Index::create()
                    .name("idx_access_log_plan_time")
                    .table(AccessLog::Table)
                    .col(AccessLog::PlanId)
                    .col(AccessLog::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessLog::Table).to_owned())
            .await
    }
}
