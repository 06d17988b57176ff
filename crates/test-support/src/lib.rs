//! Test helpers shared by the crates' test suites: a fresh, migrated
//! database per test, on SQLite always and on Postgres when `DATABASE_URL`
//! is set. Test-only; nothing in a served path may depend on it.
//!
//! In CI (`CI=true`) a missing `DATABASE_URL` or an unreachable server fails
//! the test loudly; elsewhere the Postgres variant is skipped with a message.

#![allow(clippy::panic, clippy::expect_used)]

use std::path::PathBuf;

use complaints_store::DatabaseConnection;
use sea_orm::{ConnectionTrait, Database};

/// A fresh database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub db: DatabaseConnection,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

/// True when running under CI, where every backend must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The URL of the Postgres server for tests, or `None` (with a visible
/// message) when unset outside CI. Panics in CI when unset.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if in_ci() => panic!("CI=true but DATABASE_URL is not a postgres:// URL"),
        _ => {
            eprintln!("SKIPPED: set DATABASE_URL=postgres://... to run the Postgres variant");
            None
        }
    }
}

/// The URL of the Redis server for tests, or `None` (with a visible
/// message) when unset outside CI. Panics in CI when unset.
pub fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("CI=true but REDIS_URL is not set"),
        _ => {
            eprintln!("SKIPPED: set REDIS_URL=redis://... to run the Redis variant");
            None
        }
    }
}

impl TestDb {
    /// A migrated SQLite database in a temporary file.
    pub async fn sqlite() -> TestDb {
        let path =
            std::env::temp_dir().join(format!("complaints-test-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = complaints_store::db::connect(&url)
            .await
            .expect("open and migrate a SQLite test database");
        TestDb {
            url,
            db,
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A migrated database of its own on the Postgres server at
    /// `DATABASE_URL`, or `None` when Postgres tests are skipped.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_url()?;
        let name = format!("complaints_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("connect to Postgres at DATABASE_URL: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        admin.close().await.ok();
        let url = replace_database(&admin_url, &name);
        let db = complaints_store::db::connect(&url)
            .await
            .expect("open and migrate a Postgres test database");
        Some(TestDb {
            url,
            db,
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            // Drop is synchronous and may run inside a runtime: do the
            // async work on a thread of its own. FORCE ends the pool's
            // connections, which may still be open.
            Cleanup::PostgresDatabase { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime.block_on(async {
                        let admin = Database::connect(admin_url.as_str()).await.ok()?;
                        admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await
                            .ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
                if !matches!(dropped, Ok(Some(()))) {
                    eprintln!("note: test database {} was left behind", self.url);
                }
            }
        }
    }
}

/// `postgres://user@host:port/db?x` with the database name replaced.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
