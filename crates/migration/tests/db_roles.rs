//! The per-service database roles (`deploy/k8s/base/db-roles.sql`), applied
//! with `psql` as the migration Job applies them, on a fresh database
//! migrated to the current schema: each service's role reads and writes its
//! own tables and nothing else, and none can change the schema.
//!
//! Only when there is a Postgres (always in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use complaints_migration::migrate;
use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

const ROLES: [&str; 3] = [
    "complaints_case",
    "complaints_escalation",
    "complaints_notification",
];

fn roles_sql() -> PathBuf {
    complaints_test_support::workspace_root().join("deploy/k8s/base/db-roles.sql")
}

fn psql(url: &str, args: &[&str]) -> Output {
    Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql runs (the postgresql-client package)")
}

/// Runs `sql` as `role` (SET ROLE: checked as if it had logged in).
fn as_role(url: &str, role: &str, sql: &str) -> Result<String, String> {
    let output = psql(url, &["-c", &format!("SET ROLE {role}; {sql}")]);
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

fn with_database(url: &str, database: &str) -> String {
    let (server, _) = url
        .rsplit_once('/')
        .expect("a postgres:// URL names a database");
    format!("{server}/{database}")
}

#[tokio::test]
async fn each_service_role_reads_and_writes_only_its_own_tables_and_changes_no_schema() {
    let Some(server) = complaints_test_support::postgres_url() else {
        return;
    };
    let name = format!(
        "complaints_roles_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let admin = Database::connect(&server).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = with_database(&server, &name);
    let db = Database::connect(&url).await.unwrap();
    migrate(&db).await.unwrap();
    // Intake's role as an earlier release left it: its idempotency records.
    db.execute_unprepared(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'complaints_intake') THEN \
             CREATE ROLE complaints_intake NOLOGIN; \
           END IF; \
         END $$; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_records TO complaints_intake",
    )
    .await
    .unwrap();
    db.close().await.unwrap();

    // Applied twice: the Job runs it after every release's migrations.
    for _ in 0..2 {
        let applied = psql(&url, &["-f", roles_sql().to_str().unwrap()]);
        assert!(
            applied.status.success(),
            "{}",
            String::from_utf8_lossy(&applied.stderr)
        );
    }

    // No role may change the schema.
    for role in ROLES {
        let refused = as_role(&url, role, "CREATE TABLE probe (id integer)").unwrap_err();
        assert!(
            refused.contains("permission denied for schema public"),
            "{role}: {refused}"
        );
        let refused = as_role(&url, role, "DROP TABLE outbox").unwrap_err();
        assert!(refused.contains("must be owner"), "{role}: {refused}");
    }

    // Notification: its own rows and the outbox, not the complainants'.
    assert_eq!(
        as_role(
            &url,
            "complaints_notification",
            "SELECT count(*) FROM notifications"
        ),
        Ok("0".to_owned())
    );
    as_role(
        &url,
        "complaints_notification",
        "SELECT count(*) FROM outbox",
    )
    .unwrap();
    let refused = as_role(
        &url,
        "complaints_notification",
        "SELECT * FROM complainants",
    )
    .unwrap_err();
    assert!(
        refused.contains("permission denied for table complainants"),
        "{refused}"
    );
    as_role(&url, "complaints_notification", "SELECT * FROM deadlines").unwrap_err();

    // Case: the system of record, with an append-only timeline.
    as_role(&url, "complaints_case", "SELECT count(*) FROM complainants").unwrap();
    as_role(
        &url,
        "complaints_case",
        "UPDATE cases SET summary = summary",
    )
    .unwrap();
    let refused = as_role(&url, "complaints_case", "DELETE FROM case_events").unwrap_err();
    assert!(
        refused.contains("permission denied for table case_events"),
        "{refused}"
    );
    as_role(&url, "complaints_case", "SELECT * FROM notifications").unwrap_err();

    // Escalation: its own tables only.
    as_role(&url, "complaints_escalation", "DELETE FROM deadlines").unwrap();
    as_role(&url, "complaints_escalation", "SELECT * FROM cases").unwrap_err();

    // Intake keeps no table: the role an earlier release gave it keeps
    // no right to any.
    let refused = as_role(
        &url,
        "complaints_intake",
        "SELECT count(*) FROM idempotency_records",
    )
    .unwrap_err();
    assert!(
        refused.contains("permission denied for table idempotency_records"),
        "{refused}"
    );
    as_role(&url, "complaints_intake", "SELECT * FROM outbox").unwrap_err();

    // Every table of the schema belongs to some service: a new table
    // without a grant here would fail its service in production.
    let ungranted = psql(
        &url,
        &[
            "-c",
            "SELECT string_agg(t.table_name, ', ' ORDER BY t.table_name) \
             FROM information_schema.tables t \
             WHERE t.table_schema = 'public' AND NOT EXISTS ( \
               SELECT FROM information_schema.role_table_grants g \
               WHERE g.table_schema = 'public' AND g.table_name = t.table_name \
                 AND g.grantee LIKE 'complaints\\_%' AND g.privilege_type = 'INSERT')",
        ],
    );
    assert!(
        ungranted.status.success(),
        "{}",
        String::from_utf8_lossy(&ungranted.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ungranted.stdout).trim(),
        "seaql_migrations",
        "tables no service may write"
    );

    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}
