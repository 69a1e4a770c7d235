//! Schema issues say where a plan does not fit and what kind of thing is wrong, never the
//! document's words (they are stored in the clear, outside the sealed blobs that deleting a plan
//! shreds). Issues stored before quoted the offending value or field name: each is replaced by
//! one without words, which the plan's next change replaces with the full where-and-what.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    SchemaIssue,
}

/// What a plan flagged before this migration says until its next change.
const WITHOUT_WORDS: &str = ".: the document does not fit schema v1 (where, after its next change)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let update = Query::update()
            .table(Plans::Table)
            .value(Plans::SchemaIssue, WITHOUT_WORDS)
            .and_where(Expr::col(Plans::SchemaIssue).is_not_null())
            .to_owned();
        manager.exec_stmt(update).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The words are gone for good; a plan's next change records its issue again.
        Ok(())
    }
}
