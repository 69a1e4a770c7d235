//! `cairn-migrate`: the operator's tool to inspect and run Cairn's migrations by hand
//! (`cairn-migrate status`, `up`, `down`, …). Reads the database URL from `DATABASE_URL` or `-u`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(cairn_migrations::Migrator).await;
}
