//! Deleted plans leave a tombstone: their id and when it was deleted, nothing else (no content,
//! no owner). A stale offline replica that syncs a deleted plan's document id again must not
//! re-create it (offline creation accepts only ids never used), so the sync hub and the store
//! refuse a tombstoned id. No foreign key: the plan row is gone by design.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanTombstones {
    Table,
    PlanId,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanTombstones::Table)
                    .col(pk_uuid(PlanTombstones::PlanId))
                    .col(timestamp_with_time_zone(PlanTombstones::DeletedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlanTombstones::Table).to_owned())
            .await
    }
}
