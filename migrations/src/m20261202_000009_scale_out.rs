//! Several instances on one database: each snapshot gets a generation, bumped by every
//! compaction, so that an instance only replaces the snapshot it has read (a compaction by an
//! instance that has not seen another's newer snapshot is refused, never a loss); and changes get
//! an index by plan and row id, which instances use to read the changes stored since they last
//! looked.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanSnapshots {
    Table,
    Generation,
}

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    PlanId,
    Id,
}

const INDEX: &str = "idx_plan_changes_plan_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanSnapshots::Table)
                    .add_column(big_integer(PlanSnapshots::Generation).default(0))
                    .to_owned(),
            )
            .await?;
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
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PlanSnapshots::Table)
                    .drop_column(PlanSnapshots::Generation)
                    .to_owned(),
            )
            .await
    }
}
