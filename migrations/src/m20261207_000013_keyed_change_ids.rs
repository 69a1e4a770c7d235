//! Keyed change ids: a change row stores a keyed id (HMAC under a key derived from its plan's
//! data key) in `hash`, never the change's plain hash. `hash_keyed` tells the rows written so
//! (true) from the rows written before (false), which the server re-keys at start-up; an index
//! on it keeps that start-up check from reading every change row of a large database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    HashKeyed,
}

const INDEX: &str = "idx_plan_changes_hash_keyed";

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
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(PlanChanges::Table)
                    .col(PlanChanges::HashKeyed)
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
                    .table(PlanChanges::Table)
                    .drop_column(PlanChanges::HashKeyed)
                    .to_owned(),
            )
            .await
    }
}
