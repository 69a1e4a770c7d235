//! Accounts, their device sessions and the enrollment codes admins hand out.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    PasswordHash,
    Kind,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DeviceSessions {
    Table,
    Id,
    UserId,
    DeviceName,
    TokenHash,
    PreviousTokenHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum EnrollmentCodes {
    Table,
    Id,
    CodeHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    MaxUses,
    Uses,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len(Users::DisplayName, 200))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Kind, 16))
                    .col(timestamp_with_time_zone_null(Users::DisabledAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeviceSessions::Table)
                    .col(pk_uuid(DeviceSessions::Id))
                    .col(uuid(DeviceSessions::UserId))
                    .col(string_len(DeviceSessions::DeviceName, 200))
                    .col(string_len_uniq(DeviceSessions::TokenHash, 64))
                    .col(string_len_null(DeviceSessions::PreviousTokenHash, 64))
                    .col(timestamp_with_time_zone(DeviceSessions::CreatedAt))
                    .col(timestamp_with_time_zone(DeviceSessions::LastUsedAt))
                    .col(timestamp_with_time_zone(DeviceSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(DeviceSessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeviceSessions::Table, DeviceSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_sessions_user")
                    .table(DeviceSessions::Table)
                    .col(DeviceSessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_sessions_previous_token")
                    .table(DeviceSessions::Table)
                    .col(DeviceSessions::PreviousTokenHash)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EnrollmentCodes::Table)
                    .col(pk_uuid(EnrollmentCodes::Id))
                    .col(string_len_uniq(EnrollmentCodes::CodeHash, 64))
                    .col(uuid(EnrollmentCodes::CreatedBy))
                    .col(timestamp_with_time_zone(EnrollmentCodes::CreatedAt))
                    .col(timestamp_with_time_zone(EnrollmentCodes::ExpiresAt))
                    .col(integer(EnrollmentCodes::MaxUses))
                    .col(integer(EnrollmentCodes::Uses).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EnrollmentCodes::Table, EnrollmentCodes::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EnrollmentCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DeviceSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
