//! Encryption at rest: each plan's data key, wrapped by a master key, with the id of the master
//! key that wrapped it (so `cairn keys rotate` knows what to re-wrap). Deleting this row is what
//! makes a deleted plan's stored bytes unreadable (crypto-shredding). A plan has no row here only
//! while its deletion is being finished, or when it was stored before encryption at rest: the
//! server seals such plans at start-up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanKeys {
    Table,
    PlanId,
    MasterKeyId,
    WrappedKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanKeys::Table)
                    .col(pk_uuid(PlanKeys::PlanId))
                    .col(string_len(PlanKeys::MasterKeyId, 32))
                    .col(blob(PlanKeys::WrappedKey))
                    .col(timestamp_with_time_zone(PlanKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plan_keys_plan")
                            .from(PlanKeys::Table, PlanKeys::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_plan_keys_master_key")
                    .table(PlanKeys::Table)
                    .col(PlanKeys::MasterKeyId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlanKeys::Table).to_owned())
            .await
    }
}
