//! Staff sign-in with the agency's identity provider (OpenID Connect): sign-ins under way
//! (state, nonce and PKCE verifier, kept server-side so any instance can finish one, short-lived
//! and single-use), the short-lived handoff codes the PWA trades for its tokens, and which
//! account each provider identity (issuer + subject) is linked to, with the provider's refresh
//! token sealed (Cairn's own refreshes use it to ask the provider whether the person may still
//! sign in).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OidcLogins {
    Table,
    StateHash,
    BrowserHash,
    Nonce,
    PkceVerifier,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OidcHandoffs {
    Table,
    CodeHash,
    UserId,
    ProviderMfa,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OidcIdentities {
    Table,
    UserId,
    Issuer,
    Subject,
    SealedRefreshToken,
    LinkedAt,
    SignedInAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OidcLogins::Table)
                    // SHA-256 of the `state` sent to the provider.
                    .col(string_len(OidcLogins::StateHash, 64).primary_key())
                    // SHA-256 of the cookie that binds the sign-in to the browser that began it.
                    .col(string_len(OidcLogins::BrowserHash, 64))
                    .col(string_len(OidcLogins::Nonce, 128))
                    .col(string_len(OidcLogins::PkceVerifier, 128))
                    .col(timestamp_with_time_zone(OidcLogins::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcHandoffs::Table)
                    .col(string_len(OidcHandoffs::CodeHash, 64).primary_key())
                    .col(uuid(OidcHandoffs::UserId))
                    // Whether the provider said the person used more than one factor.
                    .col(boolean(OidcHandoffs::ProviderMfa))
                    .col(timestamp_with_time_zone(OidcHandoffs::ExpiresAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(OidcHandoffs::Table, OidcHandoffs::UserId)
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
                    .table(OidcIdentities::Table)
                    .col(pk_uuid(OidcIdentities::UserId))
                    .col(string_len(OidcIdentities::Issuer, 400))
                    .col(string_len(OidcIdentities::Subject, 255))
                    // Base64 of nonce ‖ AES-256-GCM ciphertext; None when the provider gave none.
                    .col(text_null(OidcIdentities::SealedRefreshToken))
                    .col(timestamp_with_time_zone(OidcIdentities::LinkedAt))
                    .col(timestamp_with_time_zone(OidcIdentities::SignedInAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(OidcIdentities::Table, OidcIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oidc_identities_issuer_subject")
                    .table(OidcIdentities::Table)
                    .col(OidcIdentities::Issuer)
                    .col(OidcIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OidcIdentities::Table.into_iden(),
            OidcHandoffs::Table.into_iden(),
            OidcLogins::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
