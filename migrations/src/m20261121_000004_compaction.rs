//! Compaction: a plan's changes are folded into its snapshot and their bytes cleared, but each
//! change's row stays (hash, author, time) so the plan's history keeps every author.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    Compacted,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanChanges::Table)
                    .add_column(boolean(PlanChanges::Compacted).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanChanges::Table)
                    .drop_column(PlanChanges::Compacted)
                    .to_owned(),
            )
            .await
    }
}
