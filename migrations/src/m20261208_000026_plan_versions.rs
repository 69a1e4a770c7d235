//! Named versions of a plan (issue 28): a member names the plan as it stands ("what we agreed
//! on 2 March"), the other acknowledges it. The name and the document heads it points at are
//! plan content: sealed with the plan's data key (`sealed_name`, `sealed_heads`), so they are
//! shredded with the plan. Who named and acknowledged it, and when, are kept in clear like the
//! rest of a plan's metadata. Rows go with their plan.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PlanVersions {
    Table,
    Id,
    PlanId,
    SealedName,
    SealedHeads,
    NamedBy,
    NamedAt,
    AcknowledgedBy,
    AcknowledgedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanVersions::Table)
                    .col(pk_uuid(PlanVersions::Id))
                    .col(uuid(PlanVersions::PlanId))
                    .col(blob(PlanVersions::SealedName))
                    .col(blob(PlanVersions::SealedHeads))
                    .col(uuid(PlanVersions::NamedBy))
                    .col(timestamp_with_time_zone(PlanVersions::NamedAt))
                    .col(uuid_null(PlanVersions::AcknowledgedBy))
                    .col(timestamp_with_time_zone_null(PlanVersions::AcknowledgedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PlanVersions::Table, PlanVersions::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_plan_versions_plan")
                    .table(PlanVersions::Table)
                    .col(PlanVersions::PlanId)
                    .col(PlanVersions::NamedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlanVersions::Table).to_owned())
            .await
    }
}
