//! The admin console: enrollment codes get an optional label (the admin's own words for who the
//! code is for, since the code itself is never shown again) and can be revoked; and each running
//! instance records itself in `instances` now and then, so the console can say how many are up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EnrollmentCodes {
    Table,
    Label,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Version,
    StartedAt,
    SeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds only one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentCodes::Table)
                    .add_column(string_len_null(EnrollmentCodes::Label, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentCodes::Table)
                    .add_column(timestamp_with_time_zone_null(EnrollmentCodes::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(pk_uuid(Instances::Id))
                    .col(string_len(Instances::Version, 40))
                    .col(timestamp_with_time_zone(Instances::StartedAt))
                    .col(timestamp_with_time_zone(Instances::SeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Instances::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentCodes::Table)
                    .drop_column(EnrollmentCodes::RevokedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentCodes::Table)
                    .drop_column(EnrollmentCodes::Label)
                    .to_owned(),
            )
            .await
    }
}
