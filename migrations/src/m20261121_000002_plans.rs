//! Plans, their members and invitations, and the stored Automerge document of each plan:
//! a snapshot plus the changes since it, every change attributed to the account that made it,
//! and the binding of each Automerge actor id to the account that first used it in the plan.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PlanMembers {
    Table,
    PlanId,
    UserId,
    Role,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    PlanId,
    CodeHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedBy,
    AcceptedAt,
}

#[derive(DeriveIden)]
enum PlanSnapshots {
    Table,
    PlanId,
    Data,
    ChangeCount,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PlanChanges {
    Table,
    Id,
    PlanId,
    Hash,
    Actor,
    AuthorId,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ActorBindings {
    Table,
    PlanId,
    Actor,
    UserId,
    CreatedAt,
}

fn plan_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(column)
        .to(Plans::Table, Plans::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn user_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .col(pk_uuid(Plans::Id))
                    .col(uuid(Plans::OwnerId))
                    .col(timestamp_with_time_zone(Plans::CreatedAt))
                    .foreign_key(&mut user_fk(Plans::Table, Plans::OwnerId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanMembers::Table)
                    .col(uuid(PlanMembers::PlanId))
                    .col(uuid(PlanMembers::UserId))
                    .col(string_len(PlanMembers::Role, 16))
                    .col(timestamp_with_time_zone(PlanMembers::JoinedAt))
                    .primary_key(
                        Index::create()
                            .col(PlanMembers::PlanId)
                            .col(PlanMembers::UserId),
                    )
                    .foreign_key(&mut plan_fk(PlanMembers::Table, PlanMembers::PlanId))
                    .foreign_key(&mut user_fk(PlanMembers::Table, PlanMembers::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_plan_members_user")
                    .table(PlanMembers::Table)
                    .col(PlanMembers::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_uuid(Invitations::Id))
                    .col(uuid(Invitations::PlanId))
                    .col(string_len_uniq(Invitations::CodeHash, 64))
                    .col(uuid(Invitations::CreatedBy))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(uuid_null(Invitations::AcceptedBy))
                    .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                    .foreign_key(&mut plan_fk(Invitations::Table, Invitations::PlanId))
                    .foreign_key(&mut user_fk(Invitations::Table, Invitations::CreatedBy))
                    .foreign_key(&mut user_fk(Invitations::Table, Invitations::AcceptedBy))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanSnapshots::Table)
                    .col(pk_uuid(PlanSnapshots::PlanId))
                    .col(blob(PlanSnapshots::Data))
                    .col(big_integer(PlanSnapshots::ChangeCount))
                    .col(timestamp_with_time_zone(PlanSnapshots::UpdatedAt))
                    .foreign_key(&mut plan_fk(PlanSnapshots::Table, PlanSnapshots::PlanId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanChanges::Table)
                    .col(big_pk_auto(PlanChanges::Id))
                    .col(uuid(PlanChanges::PlanId))
                    .col(string_len(PlanChanges::Hash, 64))
                    .col(string_len(PlanChanges::Actor, 64))
                    .col(uuid(PlanChanges::AuthorId))
                    .col(blob(PlanChanges::Data))
                    .col(timestamp_with_time_zone(PlanChanges::CreatedAt))
                    .foreign_key(&mut plan_fk(PlanChanges::Table, PlanChanges::PlanId))
                    .foreign_key(&mut user_fk(PlanChanges::Table, PlanChanges::AuthorId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_plan_changes_plan_hash")
                    .table(PlanChanges::Table)
                    .col(PlanChanges::PlanId)
                    .col(PlanChanges::Hash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ActorBindings::Table)
                    .col(uuid(ActorBindings::PlanId))
                    .col(string_len(ActorBindings::Actor, 64))
                    .col(uuid(ActorBindings::UserId))
                    .col(timestamp_with_time_zone(ActorBindings::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ActorBindings::PlanId)
                            .col(ActorBindings::Actor),
                    )
                    .foreign_key(&mut plan_fk(ActorBindings::Table, ActorBindings::PlanId))
                    .foreign_key(&mut user_fk(ActorBindings::Table, ActorBindings::UserId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ActorBindings::Table.into_iden(),
            PlanChanges::Table.into_iden(),
            PlanSnapshots::Table.into_iden(),
            Invitations::Table.into_iden(),
            PlanMembers::Table.into_iden(),
            Plans::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
