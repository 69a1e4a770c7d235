//! Backups taken: when, how big, and the SHA-256 of the file (no key, no path, nothing secret),
//! so an admin can see when the last backup ran.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    TakenAt,
    Bytes,
    Checksum,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Backups::Table)
                    .col(big_pk_auto(Backups::Id))
                    .col(timestamp_with_time_zone(Backups::TakenAt))
                    .col(big_integer(Backups::Bytes))
                    // Hex SHA-256 of the whole backup file.
                    .col(string_len(Backups::Checksum, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Backups::Table).to_owned())
            .await
    }
}
