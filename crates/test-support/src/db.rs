//! [`TestDb`]: a fresh, migrated database per test, on SQLite or on the
//! Postgres server [`crate::backends`] finds, dropped with the value.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use complaints_store::DatabaseConnection;
use sea_orm::{ConnectionTrait, Database};

use crate::backends;
use crate::report::{self, Backend};

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

    /// A migrated database of its own on the Postgres server for tests
    /// (see [`crate::backends`]), or `None` when the calling variant is
    /// skipped, which has then been reported.
    pub async fn postgres() -> Option<TestDb> {
        let server = backends::postgres_server()?;
        let name = format!("complaints_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(error) = create_database(&server.url, &name).await {
            match server.instead_of {
                // A server found by probing that will not have us: a skip.
                Some(unused) => {
                    let reason = format!("{unused} and {} refused: {error}", server.url);
                    report::skipped(Backend::Postgres, &reason);
                    return None;
                }
                None => panic!("Postgres at DATABASE_URL: {error}"),
            }
        }
        report::ran(Backend::Postgres);
        let url = replace_database(&server.url, &name);
        let db = complaints_store::db::connect(&url)
            .await
            .expect("open and migrate a Postgres test database");
        Some(TestDb {
            url,
            db,
            cleanup: Cleanup::PostgresDatabase {
                admin_url: server.url,
                name,
            },
        })
    }
}

/// Creates the database `name` on the server at `admin_url`.
async fn create_database(admin_url: &str, name: &str) -> Result<(), String> {
    let admin = Database::connect(admin_url)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let created = admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| format!("cannot create a test database: {e}"));
    admin.close().await.ok();
    created.map(drop)
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

/// `db` as a connection that counts the statements run through it whose
/// SQL `picks` chooses (`|_| true`: every one), and that count, for tests
/// of how many statements a write costs.
pub fn counting(
    db: &DatabaseConnection,
    picks: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> (DatabaseConnection, Arc<AtomicUsize>) {
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    let mut counted = db.clone();
    counted.set_metric_callback(move |info| {
        if picks(&info.statement.sql) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (counted, statements)
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
