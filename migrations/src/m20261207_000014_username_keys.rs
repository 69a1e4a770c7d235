//! Usernames in any script: each account's username has a key that look-alike usernames share
//! (the UTS #39 confusable skeleton), unique, so "maria" and "mаria" (with a Cyrillic "а")
//! cannot both be registered. SQL cannot compute the skeleton: accounts stored before this
//! migration get their key from the server at start-up, and until then the column is empty
//! (several empty keys do not conflict).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    UsernameKey,
}

const INDEX: &str = "idx_users_username_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_null(Users::UsernameKey))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::UsernameKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::UsernameKey)
                    .to_owned(),
            )
            .await
    }
}
