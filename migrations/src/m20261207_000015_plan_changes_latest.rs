//! A plan's newest change row, found by an index probe: the plan list says when each plan last
//! changed and by whom (`lastChangedAt`, `lastChangedBy`) from it, without reading a document
//! or scanning a plan's history. Change rows are never deleted (compaction keeps them), so the
//! rows already stored answer for plans from before this migration.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    PlanId,
    Id,
}

const INDEX: &str = "idx_plan_changes_plan_latest";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(PlanChanges::Table)
                    .col(PlanChanges::PlanId)
                    .col(PlanChanges::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(PlanChanges::Table)
                    .to_owned(),
            )
            .await
    }
}
