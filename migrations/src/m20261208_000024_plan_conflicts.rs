//! Whether each plan has fields its members set differently at the same time and have not
//! settled (`plans.open_conflicts`), kept beside the plan row by the sync worker when the plan
//! is quiet, so `/metrics` counts such plans without reading a document. It says only that there
//! is something to settle, never where or what.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    OpenConflicts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(boolean(Plans::OpenConflicts).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .drop_column(Plans::OpenConflicts)
                    .to_owned(),
            )
            .await
    }
}
