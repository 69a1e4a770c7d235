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

#[tokio::test]
async fn schema_issues_that_quoted_a_plans_words_are_replaced_by_ones_without() {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let db = Database::connect(url.as_str()).await.expect("connect");
    // The database as the versions before issue 23 left it: their nine migrations, and a plan
    // whose schema issue quotes the value that did not fit.
    Migrator::up(&db, Some(9)).await.expect("up to 9");
    let backend = db.get_database_backend();
    let (owner, plan, now) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        chrono::Utc::now(),
    );
    let inserts = [
        Query::insert()
            .into_table(Alias::new("users"))
            .columns(
                [
                    "id",
                    "username",
                    "display_name",
                    "password_hash",
                    "kind",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                owner.into(),
                "maria".into(),
                "Maria".into(),
                "x".into(),
                "member".into(),
                now.into(),
            ])
            .to_owned(),
        Query::insert()
            .into_table(Alias::new("plans"))
            .columns(["id", "owner_id", "created_at", "schema_issue"].map(Alias::new))
            .values_panic([
                plan.into(),
                owner.into(),
                now.into(),
                "checkIns[0].date: \"the day after court\" is not a date (YYYY-MM-DD)".into(),
            ])
            .to_owned(),
    ];
    for insert in &inserts {
        db.execute_raw(backend.build(insert)).await.expect("insert");
    }

    Migrator::up(&db, None).await.expect("up");
    let select = Query::select()
        .column(Alias::new("schema_issue"))
        .from(Alias::new("plans"))
        .and_where(Expr::col(Alias::new("id")).eq(plan))
        .to_owned();
    let row = db
        .query_one_raw(backend.build(&select))
        .await
        .expect("select")
        .expect("the plan");
    let issue: Option<String> = row.try_get("", "schema_issue").expect("issue");
    let issue = issue.expect("the plan is still flagged");
    assert!(!issue.contains("court"), "{issue}");
    assert!(issue.contains("does not fit"), "{issue}");
}

#[tokio::test]
async fn a_plans_last_change_is_filled_in_for_old_plans_and_kept_by_the_database() {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let db = Database::connect(url.as_str()).await.expect("connect");
    let backend = db.get_database_backend();
    // A plan with two changes, by Maria then Sam, stored before migration 15.
    Migrator::up(&db, Some(14)).await.expect("up to 14");
    let (maria, sam, plan) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    // Whole seconds: Postgres keeps microseconds.
    let start =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0) - chrono::Duration::hours(2);
    let user = |id: uuid::Uuid, name: &str| {
        Query::insert()
            .into_table(Alias::new("users"))
            .columns(
                [
                    "id",
                    "username",
                    "display_name",
                    "password_hash",
                    "kind",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                id.into(),
                name.into(),
                name.into(),
                "x".into(),
                "member".into(),
                start.into(),
            ])
            .to_owned()
    };
    let change = |hash: &str, author: uuid::Uuid, at: chrono::DateTime<chrono::Utc>| {
        Query::insert()
            .into_table(Alias::new("plan_changes"))
            .columns(
                [
                    "plan_id",
                    "hash",
                    "actor",
                    "author_id",
                    "data",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                plan.into(),
                hash.into(),
                "actor".into(),
                author.into(),
                Vec::<u8>::new().into(),
                at.into(),
            ])
            .to_owned()
    };
    let sam_wrote_at = start + chrono::Duration::minutes(30);
    let inserts = [
        user(maria, "maria"),
        user(sam, "sam"),
        Query::insert()
            .into_table(Alias::new("plans"))
            .columns(["id", "owner_id", "created_at"].map(Alias::new))
            .values_panic([plan.into(), maria.into(), start.into()])
            .to_owned(),
        change("a", maria, start),
        change("b", sam, sam_wrote_at),
    ];
    for insert in &inserts {
        db.execute_raw(backend.build(insert)).await.expect("insert");
    }
    let last_change = async || {
        let select = Query::select()
            .columns(["last_changed_at", "last_changed_by"].map(Alias::new))
            .from(Alias::new("plans"))
            .and_where(Expr::col(Alias::new("id")).eq(plan))
            .to_owned();
        let row = db
            .query_one_raw(backend.build(&select))
            .await
            .expect("select")
            .expect("the plan");
        let at: Option<chrono::DateTime<chrono::Utc>> =
            row.try_get("", "last_changed_at").expect("at");
        let by: Option<uuid::Uuid> = row.try_get("", "last_changed_by").expect("by");
        (at, by)
    };

    Migrator::up(&db, None).await.expect("up");
    assert_eq!(last_change().await, (Some(sam_wrote_at), Some(sam)));
    // A change stored from now on moves it, whatever path stores it.
    let later = start + chrono::Duration::hours(1);
    db.execute_raw(backend.build(&change("c", maria, later)))
        .await
        .expect("insert");
    assert_eq!(last_change().await, (Some(later), Some(maria)));
}
