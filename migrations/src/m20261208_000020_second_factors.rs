//! Two-factor sign-in: each account's TOTP seed (sealed with a key derived from the server
//! secret, never stored in the clear), pending until a first code confirms it; the short-lived
//! challenges a right password opens for an account with a second factor; and, on each device
//! session, when it passed the second factor (admin routes need a session that did).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SecondFactors {
    Table,
    UserId,
    Method,
    SealedSecret,
    CreatedAt,
    ConfirmedAt,
    LastUsedStep,
}

#[derive(DeriveIden)]
enum SecondFactorChallenges {
    Table,
    TokenHash,
    UserId,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum DeviceSessions {
    Table,
    SecondFactorAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecondFactors::Table)
                    .col(pk_uuid(SecondFactors::UserId))
                    .col(string_len(SecondFactors::Method, 20))
                    // Base64 of nonce ‖ AES-256-GCM ciphertext of the seed.
                    .col(string_len(SecondFactors::SealedSecret, 200))
                    .col(timestamp_with_time_zone(SecondFactors::CreatedAt))
                    // None while the enrolment waits for its first code.
                    .col(timestamp_with_time_zone_null(SecondFactors::ConfirmedAt))
                    // The last accepted TOTP time step: a code is accepted once.
                    .col(big_integer_null(SecondFactors::LastUsedStep))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(SecondFactors::Table, SecondFactors::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecondFactorChallenges::Table)
                    .col(string_len(SecondFactorChallenges::TokenHash, 64).primary_key())
                    .col(uuid(SecondFactorChallenges::UserId))
                    .col(timestamp_with_time_zone(SecondFactorChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        SecondFactorChallenges::UsedAt,
                    ))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(
                                SecondFactorChallenges::Table,
                                SecondFactorChallenges::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeviceSessions::Table)
                    .add_column(timestamp_with_time_zone_null(
                        DeviceSessions::SecondFactorAt,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DeviceSessions::Table)
                    .drop_column(DeviceSessions::SecondFactorAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(SecondFactorChallenges::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SecondFactors::Table).to_owned())
            .await
    }
}
