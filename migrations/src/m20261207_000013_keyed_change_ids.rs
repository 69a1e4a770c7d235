//! Keyed change ids: a change row stores a keyed id (HMAC under a key derived from its plan's
//! data key) in `hash`, never the change's plain hash. `hash_keyed` tells the rows written so
//! (true) from the rows written before (false), which the server re-keys at start-up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    HashKeyed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanChanges::Table)
                    .add_column(boolean(PlanChanges::HashKeyed).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanChanges::Table)
                    .drop_column(PlanChanges::HashKeyed)
                    .to_owned(),
            )
            .await
    }
}
