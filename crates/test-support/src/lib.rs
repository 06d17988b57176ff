//! Helpers the workspace's test suites share, each defined once here.
//! Test-only: a dev-dependency (or a dependency of a test-only crate), never
//! published; nothing in a served path may depend on it.
//!
//! - [`db`]: [`TestDb`], a fresh migrated database per test, on SQLite or on
//!   Postgres (feature `db`, on by default), and [`counting`], a connection
//!   that counts its statements.
//! - [`backends`]: [`on_every_backend!`], which makes a SQLite and a
//!   Postgres variant of each test, and where the Postgres and Redis servers
//!   for tests are ([`postgres_url`], [`redis_url`], [`in_ci`]).
//! - [`report`]: what a variant that cannot run says, and the ledger of
//!   variants that `cargo xtask test` sums up.
//! - [`time`]: [`time::monday_morning`], and protobuf timestamps (feature
//!   `proto`).
//! - [`net`]: free loopback ports.
//! - [`server`]: a service's `Application` serving on a task of its own
//!   until the test stops it.
//! - [`tokens`] (feature `tokens`): bearer tokens signed for a test
//!   deployment.
//! - [`smtp`] (feature `smtp`): a real SMTP server on loopback, from the
//!   `server.py` shipped in this crate (python3 and aiosmtpd).
//! - [`tls`] (feature `tls`): a CA made at test time and the certificates
//!   it signs, for servers and clients.
//! - [`servers`] (feature `servers`): a Postgres cluster and a Redis server
//!   of the caller's own, TLS-only when asked; the fault harness runs on
//!   them too.
//!
//! # Postgres and Redis variants: run, skip or fail
//!
//! A test's Postgres variant ([`TestDb::postgres`]) and Redis variant
//! ([`redis_url`]) look for their server in this order:
//!
//! 1. `DATABASE_URL` (a `postgres://` URL) or `REDIS_URL`, when set. A
//!    server that does not answer there fails the test.
//! 2. When it is unset and `CI=true`: the test fails (panics), as CI must
//!    run every backend.
//! 3. When it is unset elsewhere (the README's `cargo test --workspace` on
//!    a fresh machine): the machine's own server,
//!    `postgres://postgres@127.0.0.1:5432/test` or `redis://127.0.0.1:6379`,
//!    or the URL in `COMPLAINTS_TEST_LOCAL_POSTGRES` /
//!    `COMPLAINTS_TEST_LOCAL_REDIS` (empty: try none). It is probed once per
//!    test binary, with a 500 ms connect timeout (Redis must answer `PING`);
//!    if it answers, the variant runs against it.
//! 4. Otherwise the variant is skipped. It passes (libtest has no
//!    "skipped"), but first writes straight to the process's standard error,
//!    which `cargo test` shows (libtest captures only the print macros):
//!
//!    ```text
//!    skipped: access::postgres::a_case_is_read on postgres: DATABASE_URL unset and nothing answers on 127.0.0.1:5432
//!    ```
//!
//! A test that needs the SMTP server and cannot have it is reported the
//! same way ([`smtp::smtp_available`]).
//!
//! # Counting
//!
//! Each Postgres or Redis variant that runs, and each variant skipped,
//! appends a line to a ledger (format in [`report`]): the file named by
//! `COMPLAINTS_TEST_LEDGER`, else `complaints-test-backends.tsv` in the
//! target directory the test binary was built into (found from the binary's
//! path). `cargo xtask test` names a ledger of its own in the target
//! directory, `xtask-test-backends.tsv`, empties it, runs
//! `cargo test --workspace` and then prints, for example:
//!
//! ```text
//! backend variants: 130 ran on postgres, 26 on redis, 0 skipped
//! ```
//!
//! A plain `cargo test` appends to `complaints-test-backends.tsv`, which
//! nothing reads: delete it at will.

// A test helper that cannot do its job fails the test, loudly.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod backends;
#[cfg(feature = "complaints")]
pub mod complaints;
#[cfg(feature = "db")]
pub mod db;
pub mod net;
pub mod report;
pub mod server;
#[cfg(feature = "servers")]
pub mod servers;
#[cfg(feature = "smtp")]
pub mod smtp;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokens")]
pub mod tokens;

pub use backends::{in_ci, postgres_url, redis_url};

/// The workspace the running test belongs to, found at run time: the
/// nearest folder holding `Cargo.lock` at or above the package's
/// `CARGO_MANIFEST_DIR`, which cargo and nextest set for every test they
/// run. Not `env!("CARGO_MANIFEST_DIR")`: cargo may find a test binary
/// fresh in a shared target directory although another clone built it, and
/// a path baked in then names that clone's files.
pub fn workspace_root() -> std::path::PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map_or(start.clone(), std::path::Path::to_path_buf)
}
#[cfg(feature = "db")]
pub use db::{TestDb, counting, replace_database};
