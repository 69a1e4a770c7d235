//! Each plan's title, sealed with the plan's own data key, beside the plan row: the plan list
//! reads titles from here and never loads a document. The sync worker keeps it current; plans
//! stored before this migration get theirs the first time they are loaded (or by the start-up
//! backfill), and until then are listed with an empty title.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    SealedTitle,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(blob_null(Plans::SealedTitle))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .drop_column(Plans::SealedTitle)
                    .to_owned(),
            )
            .await
    }
}
