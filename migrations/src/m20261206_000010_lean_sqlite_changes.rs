//! SQLite runs one instance, which never reads "the changes stored since" (that is how
//! instances sharing Postgres catch up), so it does without the index by plan and row id: every
//! change row written to an index costs a page in the write-ahead log and in its `fsync`, and this
//! index made a third of the pages each commit writes. A plan still loads by the unique index on
//! (plan, hash), sorted by row id. Postgres keeps the index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    PlanId,
    Id,
}

const INDEX: &str = "idx_plan_changes_plan_id";

fn on_sqlite(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Sqlite
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !on_sqlite(manager) {
            return Ok(());
        }
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(PlanChanges::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !on_sqlite(manager) {
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(PlanChanges::Table)
                    .col(PlanChanges::PlanId)
                    .col(PlanChanges::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
