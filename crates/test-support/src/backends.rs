//! The backends a test can run on, and where their servers are.
//!
//! [`on_every_backend!`](crate::on_every_backend) makes a SQLite and a
//! Postgres variant of each test. [`postgres_server`] and [`redis_url`] say
//! where the Postgres and Redis servers for tests are: the one named by
//! `DATABASE_URL` / `REDIS_URL`, else (outside CI) the machine's own if it
//! answers, else none, and the calling variant is reported as skipped (see
//! the crate documentation).

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

use crate::report::{self, Backend};

/// The Postgres server tried when `DATABASE_URL` is unset (outside CI).
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The Redis server tried when `REDIS_URL` is unset (outside CI).
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379";
/// Names another Postgres URL to try instead of [`LOCAL_POSTGRES`]; empty,
/// nothing is tried.
pub const LOCAL_POSTGRES_VAR: &str = "COMPLAINTS_TEST_LOCAL_POSTGRES";
/// Names another Redis URL to try instead of [`LOCAL_REDIS`]; empty,
/// nothing is tried.
pub const LOCAL_REDIS_VAR: &str = "COMPLAINTS_TEST_LOCAL_REDIS";
/// How long the probe of a local server waits for it to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Generates, for each named `async fn(TestDb)` in the calling module, a
/// test on SQLite (`sqlite::<name>`) and one on Postgres
/// (`postgres::<name>`), each with a fresh database of its own. The
/// Postgres variant is skipped, visibly, when there is no server for it
/// (a failure in CI; see the crate documentation).
///
/// ```text
/// on_every_backend!(a_case_is_opened, a_case_is_closed);
/// // Another runtime than the default (multi-threaded, two workers):
/// on_every_backend!(#[tokio::test] a_case_is_opened);
/// // Each variant's body run through `wrap(body).await` (a time limit, say):
/// on_every_backend!(wrap = crate::helpers::bounded; a_case_is_opened);
/// ```
///
/// The calling crate needs `tokio` (with its `macros` feature).
#[macro_export]
macro_rules! on_every_backend {
    (#[$runtime:meta] wrap = $wrap:path; $($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[$runtime]
                async fn $test() {
                    let db = $crate::TestDb::sqlite().await;
                    $wrap(super::$test(db)).await;
                }
            )+
        }

        mod postgres {
            $(
                #[$runtime]
                async fn $test() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        $wrap(super::$test(db)).await;
                    }
                }
            )+
        }
    };
    (#[$runtime:meta] $($test:ident),+ $(,)?) => {
        $crate::on_every_backend!(#[$runtime] wrap = $crate::backends::run; $($test),+);
    };
    (wrap = $wrap:path; $($test:ident),+ $(,)?) => {
        $crate::on_every_backend!(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            wrap = $wrap;
            $($test),+
        );
    };
    ($($test:ident),+ $(,)?) => {
        $crate::on_every_backend!(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            wrap = $crate::backends::run;
            $($test),+
        );
    };
}

/// Runs a test body as it is: [`on_every_backend!`](crate::on_every_backend)'s
/// wrapper when none is named.
pub async fn run(test: impl Future<Output = ()>) {
    test.await;
}

/// True when running under CI, where every backend must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A server for tests.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    /// `None` when the URL is the one the environment names; otherwise why
    /// that was not used (`"DATABASE_URL unset"`): the server was found by
    /// probing the machine, and a failure to use it is a skip, not an error.
    pub instead_of: Option<String>,
}

/// The Postgres server for tests: `DATABASE_URL` when it is a `postgres://`
/// URL; else, outside CI, the machine's own ([`LOCAL_POSTGRES`]) if it
/// answers. `None` when there is none, after reporting the calling variant
/// as skipped. Panics in CI when `DATABASE_URL` is not a Postgres URL.
pub fn postgres_server() -> Option<Server> {
    let unused = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            return Some(Server {
                url,
                instead_of: None,
            });
        }
        _ if in_ci() => panic!("CI=true but DATABASE_URL is not a postgres:// URL"),
        Ok(url) if !url.is_empty() => "DATABASE_URL is not a postgres:// URL",
        _ => "DATABASE_URL unset",
    };
    static LOCAL: OnceLock<Result<String, String>> = OnceLock::new();
    let local = LOCAL.get_or_init(|| local_server(LOCAL_POSTGRES_VAR, LOCAL_POSTGRES, 5432, None));
    found(Backend::Postgres, unused, local)
}

/// The URL of the Postgres server for tests; see [`postgres_server`].
pub fn postgres_url() -> Option<String> {
    postgres_server().map(|server| server.url)
}

/// The Redis server for tests: `REDIS_URL` when set; else, outside CI, the
/// machine's own ([`LOCAL_REDIS`]) if it answers `PING`. `None` when there
/// is none, after reporting the calling variant as skipped. Panics in CI
/// when `REDIS_URL` is unset. A variant that gets a URL is recorded as run
/// on Redis.
pub fn redis_url() -> Option<String> {
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("CI=true but REDIS_URL is not set"),
        _ => {
            static LOCAL: OnceLock<Result<String, String>> = OnceLock::new();
            let local = LOCAL
                .get_or_init(|| local_server(LOCAL_REDIS_VAR, LOCAL_REDIS, 6379, Some(redis_ping)));
            found(Backend::Redis, "REDIS_URL unset", local).map(|server| server.url)
        }
    };
    if url.is_some() {
        report::ran(Backend::Redis);
    }
    url
}

/// The local server, or why there is none (reported as a skip).
fn found(backend: Backend, unused: &str, local: &Result<String, String>) -> Option<Server> {
    match local {
        Ok(url) => Some(Server {
            url: url.clone(),
            instead_of: Some(unused.to_owned()),
        }),
        Err(why) => {
            report::skipped(backend, &format!("{unused} and {why}"));
            None
        }
    }
}

/// The URL in `var` (or `default`) if a server answers there within
/// [`PROBE_TIMEOUT`] (and passes `check`), or why not.
fn local_server(
    var: &str,
    default: &str,
    default_port: u16,
    check: Option<fn(TcpStream) -> Result<(), String>>,
) -> Result<String, String> {
    let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    if url.is_empty() {
        return Err(format!("{var} is empty, so no local server is tried"));
    }
    let address = host_port(&url, default_port);
    let stream = connect(&address).map_err(|why| format!("{why} on {address}"))?;
    if let Some(check) = check {
        check(stream).map_err(|why| format!("{address} {why}"))?;
    }
    Ok(url)
}

/// A connection to `address` (`host:port`), within [`PROBE_TIMEOUT`].
pub(crate) fn connect(address: &str) -> Result<TcpStream, String> {
    let addresses: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve ({e})"))?
        .collect();
    addresses
        .iter()
        .find_map(|address| TcpStream::connect_timeout(address, PROBE_TIMEOUT).ok())
        .ok_or_else(|| "nothing answers".to_owned())
}

/// Whether a Redis server is what answered: `PING` gets `+PONG`.
pub(crate) fn redis_ping(mut stream: TcpStream) -> Result<(), String> {
    let exchange = (|| {
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(b"PING\r\n")?;
        let mut reply = [0u8; 64];
        let read = stream.read(&mut reply)?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply[..read]).trim().to_owned())
    })();
    match exchange {
        Ok(reply) if reply == "+PONG" => Ok(()),
        Ok(reply) => Err(format!("answers PING with {reply:?}")),
        Err(error) => Err(format!("does not answer PING ({error})")),
    }
}

/// `host:port` of a `scheme://user@host:port/path?query` URL.
fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let has_port = match host.rsplit_once(':') {
        // `[::1]` has colons but no port; `[::1]:5432` has one.
        Some((before, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!before.contains(':') || before.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_to_probe_is_the_urls_host_and_port() {
        assert_eq!(host_port(LOCAL_POSTGRES, 5432), "127.0.0.1:5432");
        assert_eq!(host_port(LOCAL_REDIS, 6379), "127.0.0.1:6379");
        assert_eq!(host_port("redis://localhost", 6379), "localhost:6379");
        assert_eq!(
            host_port("postgres://u:p@db.example:6543/x?sslmode=disable", 5432),
            "db.example:6543"
        );
        assert_eq!(host_port("redis://[::1]:7000/0", 6379), "[::1]:7000");
        assert_eq!(host_port("redis://[::1]", 6379), "[::1]:6379");
    }

    #[test]
    fn a_port_where_nothing_listens_is_no_server() {
        let port = crate::net::free_port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/test");
        let why = local_server("COMPLAINTS_TEST_NO_SUCH_VARIABLE", &url, 5432, None);
        assert_eq!(why, Err(format!("nothing answers on 127.0.0.1:{port}")));
    }
}
