//! Migrating: replicas that start together migrate one at a time; a
//! migration that changes data does what it says.

use chrono::{TimeZone, Utc};
use complaints_migration::{Migrator, MigratorTrait};
use complaints_store::db;
use complaints_store::idempotency::{self, RequestKey};
use complaints_test_support::TestDb;
use sea_orm::{ConnectionTrait, Database, Statement};

complaints_test_support::on_every_backend!(
    #[tokio::test]
    intake_records_go_and_the_case_service_records_stay,
);

/// Intake keeps no table: the migration that says so deletes the records
/// intake wrote (scope `intake`), fingerprints of complaints that erasure
/// never reached, and leaves every other scope's.
async fn intake_records_go_and_the_case_service_records_stay(test: TestDb) {
    const NAME: &str = "m20261215_000001_intake_records";
    let migrations = Migrator::migrations();
    let position = migrations
        .iter()
        .position(|m| m.name() == NAME)
        .expect("the migration is listed");
    let later = u32::try_from(migrations.len() - position).unwrap();
    // Back to just before it (its own down keeps the data as it is).
    Migrator::down(&test.db, Some(later)).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let intake = RequestKey::new("intake", "crm-1", b"a complaint");
    let case = RequestKey::new("case.open", "crm-1", b"a complaint");
    for key in [&intake, &case] {
        idempotency::record(&test.db, key, "case-1", Vec::new(), now)
            .await
            .unwrap();
    }

    Migrator::up(&test.db, None).await.unwrap();

    assert_eq!(idempotency::lookup(&test.db, &intake).await.unwrap(), None);
    assert!(
        idempotency::lookup(&test.db, &case)
            .await
            .unwrap()
            .is_some()
    );
}

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
