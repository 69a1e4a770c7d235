//! Cairn's database schema, as one append-only set of migrations that runs unchanged on SQLite
//! and Postgres. The server applies them at start-up; operators can run them with `cairn-migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_accounts;
mod m20261121_000002_plans;
mod m20261121_000003_server_identity;
mod m20261121_000004_compaction;
mod m20261121_000005_access_log;
mod m20261121_000006_plan_schema_issue;
mod m20261121_000007_plan_tombstones;
mod m20261202_000008_plan_keys;
mod m20261202_000009_scale_out;
mod m20261207_000010_schema_issues_without_words;
mod m20261207_000012_plan_titles;
mod m20261207_000013_keyed_change_ids;
mod m20261207_000014_username_keys;
mod m20261207_000015_plan_last_change;
mod m20261208_000016_account_activity;
mod m20261208_000017_passkeys;
mod m20261208_000018_leaving;
mod m20261208_000019_credential_codes;
mod m20261208_000020_second_factors;
mod m20261208_000021_backups;
mod m20261208_000022_oidc;
mod m20261208_000023_console;
mod m20261208_000024_plan_conflicts;
mod m20261208_000026_plan_versions;

/// Every migration Cairn has, oldest first. Never edit or reorder one that has shipped: add a new one.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_accounts::Migration),
            Box::new(m20261121_000002_plans::Migration),
            Box::new(m20261121_000003_server_identity::Migration),
            Box::new(m20261121_000004_compaction::Migration),
            Box::new(m20261121_000005_access_log::Migration),
            Box::new(m20261121_000006_plan_schema_issue::Migration),
            Box::new(m20261121_000007_plan_tombstones::Migration),
            Box::new(m20261202_000008_plan_keys::Migration),
            Box::new(m20261202_000009_scale_out::Migration),
            Box::new(m20261207_000010_schema_issues_without_words::Migration),
            Box::new(m20261207_000012_plan_titles::Migration),
            Box::new(m20261207_000013_keyed_change_ids::Migration),
            Box::new(m20261207_000014_username_keys::Migration),
            Box::new(m20261207_000015_plan_last_change::Migration),
            Box::new(m20261208_000016_account_activity::Migration),
            Box::new(m20261208_000017_passkeys::Migration),
            Box::new(m20261208_000018_leaving::Migration),
            Box::new(m20261208_000019_credential_codes::Migration),
            Box::new(m20261208_000020_second_factors::Migration),
            Box::new(m20261208_000021_backups::Migration),
            Box::new(m20261208_000022_oidc::Migration),
            Box::new(m20261208_000023_console::Migration),
            Box::new(m20261208_000024_plan_conflicts::Migration),
            Box::new(m20261208_000026_plan_versions::Migration),
        ]
    }
}
