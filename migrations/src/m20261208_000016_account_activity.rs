//! Each account's activity (sign-ins, password and passkey changes, codes used, what admins did
//! to it) and the admin audit (every act of an admin, with who, what, whom and when). Both are
//! append-only and hold no plan content and no secrets. Client addresses are kept only when the
//! agency turns that on.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccountActivity {
    Table,
    Id,
    UserId,
    Kind,
    ByUserId,
    DeviceName,
    Address,
    Detail,
    OccurredAt,
}

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    Id,
    AdminId,
    Action,
    TargetId,
    Detail,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccountActivity::Table)
                    .col(big_pk_auto(AccountActivity::Id))
                    .col(uuid(AccountActivity::UserId))
                    .col(string_len(AccountActivity::Kind, 40))
                    // Who did it when it was not the account itself (an admin).
                    .col(uuid_null(AccountActivity::ByUserId))
                    .col(string_len_null(AccountActivity::DeviceName, 100))
                    .col(string_len_null(AccountActivity::Address, 64))
                    .col(string_len_null(AccountActivity::Detail, 200))
                    .col(timestamp_with_time_zone(AccountActivity::OccurredAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AccountActivity::Table, AccountActivity::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AccountActivity::Table, AccountActivity::ByUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        // An account's activity is read newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_account_activity_user")
                    .table(AccountActivity::Table)
                    .col(AccountActivity::UserId)
                    .col(AccountActivity::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminAudit::Table)
                    .col(big_pk_auto(AdminAudit::Id))
                    // None: an act from the command line on the server (`cairn keys rotate`).
                    .col(uuid_null(AdminAudit::AdminId))
                    .col(string_len(AdminAudit::Action, 40))
                    .col(uuid_null(AdminAudit::TargetId))
                    .col(string_len_null(AdminAudit::Detail, 200))
                    .col(timestamp_with_time_zone(AdminAudit::OccurredAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AdminAudit::Table, AdminAudit::AdminId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(AdminAudit::Table, AdminAudit::TargetId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminAudit::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AccountActivity::Table).to_owned())
            .await
    }
}
