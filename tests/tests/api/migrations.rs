use cairn_migrations::{Migrator, MigratorTrait};
use sea_orm::Database;
use sea_orm_migration::SchemaManager;

const TABLES: [&str; 12] = [
    "users",
    "device_sessions",
    "enrollment_codes",
    "plans",
    "plan_members",
    "invitations",
    "plan_snapshots",
    "plan_changes",
    "actor_bindings",
    "server_settings",
    "access_log",
    "plan_tombstones",
];

async fn tables_present(manager: &SchemaManager<'_>) -> Vec<&'static str> {
    let mut present = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await.expect("has_table") {
            present.push(table);
        }
    }
    present
}

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let db = Database::connect(url.as_str()).await.expect("connect");
    let manager = SchemaManager::new(&db);
    let expected = if cairn_tests::on_postgres() {
        sea_orm::DatabaseBackend::Postgres
    } else {
        sea_orm::DatabaseBackend::Sqlite
    };
    assert_eq!(
        sea_orm::ConnectionTrait::get_database_backend(&db),
        expected
    );

    Migrator::up(&db, None).await.expect("up");
    assert_eq!(tables_present(&manager).await, TABLES.to_vec());
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .is_empty()
    );

    Migrator::down(&db, None).await.expect("down");
    assert!(
        tables_present(&manager).await.is_empty(),
        "down removes every table"
    );
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        Migrator::migrations().len()
    );

    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(tables_present(&manager).await, TABLES.to_vec());
}
