//! When each plan's content last changed and whose change it was, beside the plan row
//! (`last_changed_at`, `last_changed_by`), so the plan list orders plans by activity and says
//! "changed since you last looked" without reading a document or a plan's history.
//!
//! The database keeps them current: a trigger on `plan_changes` copies the newest inserted
//! change's time and author to its plan, inside the statement that stores the change. That
//! rides on every existing append (Postgres: one update of the plan row per statement, whose
//! row the append already holds locked; SQLite: per inserted row, in the same statement and
//! commit, including the one-statement group append) and needs no extra round trip. Plans
//! stored before this migration are filled in from their newest change row here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    LastChangedAt,
    LastChangedBy,
}

const BACKFILL: &str = "UPDATE plans SET \
     last_changed_at = (SELECT c.created_at FROM plan_changes c \
         WHERE c.plan_id = plans.id ORDER BY c.id DESC LIMIT 1), \
     last_changed_by = (SELECT c.author_id FROM plan_changes c \
         WHERE c.plan_id = plans.id ORDER BY c.id DESC LIMIT 1)";

const SQLITE_TRIGGER: &str = "CREATE TRIGGER plan_changes_last_change \
     AFTER INSERT ON plan_changes FOR EACH ROW BEGIN \
     UPDATE plans SET last_changed_at = NEW.created_at, last_changed_by = NEW.author_id \
     WHERE id = NEW.plan_id; END";

const POSTGRES_FUNCTION: &str = "CREATE FUNCTION plan_changes_last_change() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN \
     UPDATE plans SET last_changed_at = newest.created_at, last_changed_by = newest.author_id \
     FROM (SELECT DISTINCT ON (plan_id) plan_id, created_at, author_id FROM inserted \
           ORDER BY plan_id, id DESC) AS newest \
     WHERE plans.id = newest.plan_id; \
     RETURN NULL; END $$";

const POSTGRES_TRIGGER: &str = "CREATE TRIGGER plan_changes_last_change \
     AFTER INSERT ON plan_changes REFERENCING NEW TABLE AS inserted \
     FOR EACH STATEMENT EXECUTE FUNCTION plan_changes_last_change()";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            timestamp_with_time_zone_null(Plans::LastChangedAt),
            uuid_null(Plans::LastChangedBy),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Plans::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(BACKFILL).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_FUNCTION).await?;
                db.execute_unprepared(POSTGRES_TRIGGER).await?;
            }
            _ => {
                db.execute_unprepared(SQLITE_TRIGGER).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER plan_changes_last_change ON plan_changes")
                    .await?;
                db.execute_unprepared("DROP FUNCTION plan_changes_last_change()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER plan_changes_last_change")
                    .await?;
            }
        }
        for column in [Plans::LastChangedAt, Plans::LastChangedBy] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Plans::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
