//! Migrating: replicas that start together migrate one at a time.

use complaints_migration::{Migrator, MigratorTrait};
use complaints_store::db;
use sea_orm::{ConnectionTrait, Database, Statement};

/// Two migrators on a fresh Postgres database at once: both succeed, and
/// every migration is recorded once. Without the lock the second one's
/// `CREATE TABLE` or its record of a migration collides with the first's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_at_once_both_succeed_and_apply_the_schema_once() {
    let Some(server) = complaints_test_support::postgres_url() else {
        return;
    };
    complaints_test_support::report::ran(complaints_test_support::report::Backend::Postgres);
    for _ in 0..3 {
        let name = format!("complaints_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(server.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = complaints_test_support::replace_database(&server, &name);
        let (one, two) = (db::open(&url).await.unwrap(), db::open(&url).await.unwrap());
        let (first, second) = tokio::join!(db::migrate(&one), db::migrate(&two));
        let applied = one
            .query_one_raw(Statement::from_string(
                one.get_database_backend(),
                "SELECT COUNT(*) AS applied, COUNT(DISTINCT version) AS distinct_versions \
                 FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let counts: (i64, i64) = (
            applied.try_get("", "applied").unwrap(),
            applied.try_get("", "distinct_versions").unwrap(),
        );
        one.close().await.unwrap();
        two.close().await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        first.expect("the first migrator succeeds");
        second.expect("the second migrator succeeds");
        let expected = i64::try_from(Migrator::migrations().len()).unwrap();
        assert_eq!(counts, (expected, expected));
    }
}
