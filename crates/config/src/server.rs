//! How a process's gRPC server and its clients connect: TLS certificates
//! (read here, at start, so a missing or unreadable file names its setting),
//! the server's limits, and whether reflection is served.

use std::path::Path;
use std::time::Duration;

use complaints_auth::Secret;

use crate::{ConfigError, env, invalid, read};

/// The gRPC server's and clients' connection settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// TLS on the server (`COMPLAINTS_TLS_CERT_FILE`, `COMPLAINTS_TLS_KEY_FILE`);
    /// unset, the server speaks plaintext HTTP/2.
    pub tls: Option<ServerTls>,
    /// How this process's clients reach the other services over TLS.
    pub client_tls: ClientTls,
    /// Concurrency, time and size limits on the calls the server answers.
    pub limits: ServerLimits,
    /// Serve gRPC server reflection (`COMPLAINTS_REFLECTION`, default true:
    /// the deployment turns it off). Reflection answers without a token.
    pub reflection: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tls: None,
            client_tls: ClientTls::default(),
            limits: ServerLimits::default(),
            reflection: true,
        }
    }
}

/// The server's certificate and key, and the CA that client certificates
/// must chain to when clients must present one (mutual TLS).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first (`COMPLAINTS_TLS_CERT_FILE`).
    pub cert_pem: String,
    /// PEM private key (`COMPLAINTS_TLS_KEY_FILE`).
    pub key_pem: Secret,
    /// PEM CA bundle; set, every client must present a certificate signed by
    /// it (`COMPLAINTS_TLS_CLIENT_CA_FILE`).
    pub client_ca_pem: Option<String>,
}

/// What this process's clients trust and present when calling the other
/// services at `https://` addresses.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM CA bundle the other services' certificates must chain to
    /// (`COMPLAINTS_TLS_CA_FILE`). Set, the peers' addresses must be
    /// `https://`; `https://` addresses need it.
    pub ca_pem: Option<String>,
    /// A client certificate and key to present, for servers that require
    /// one (`COMPLAINTS_TLS_CLIENT_CERT_FILE`, `COMPLAINTS_TLS_CLIENT_KEY_FILE`).
    pub identity: Option<(String, Secret)>,
}

/// Limits on the calls one server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Calls in progress at once across all connections
    /// (`COMPLAINTS_MAX_CONCURRENT_CALLS`, default 256); more are refused
    /// at once with RESOURCE_EXHAUSTED rather than queued.
    pub max_concurrent_calls: usize,
    /// Calls in progress at once on one connection
    /// (`COMPLAINTS_MAX_CONCURRENT_CALLS_PER_CONNECTION`, default 64).
    pub max_concurrent_calls_per_connection: usize,
    /// The longest a call may take (`COMPLAINTS_CALL_TIMEOUT_SECONDS`,
    /// default 120); a client's shorter `grpc-timeout` wins.
    pub call_timeout: Duration,
    /// The largest message an ordinary call may send
    /// (`COMPLAINTS_MAX_MESSAGE_BYTES`, default 1 MiB). Calls that carry a
    /// document (a raw email, a letter's scan) and evidence chunks have
    /// their own limits, derived from the evidence limits.
    pub max_message_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_concurrent_calls: 256,
            max_concurrent_calls_per_connection: 64,
            call_timeout: Duration::from_secs(120),
            max_message_bytes: 1024 * 1024,
        }
    }
}

pub(crate) fn server_config(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigError> {
    let pem = |name: &str| -> Result<Option<String>, ConfigError> {
        match var(name) {
            Some(path) => read(Path::new(&path))
                .map(Some)
                .map_err(|e| invalid(name, e.to_string())),
            None => Ok(None),
        }
    };
    let tls = match (pem(env::TLS_CERT_FILE)?, pem(env::TLS_KEY_FILE)?) {
        (Some(cert_pem), Some(key_pem)) => Some(ServerTls {
            cert_pem,
            key_pem: Secret::new(key_pem),
            client_ca_pem: pem(env::TLS_CLIENT_CA_FILE)?,
        }),
        (None, None) => {
            if var(env::TLS_CLIENT_CA_FILE).is_some() {
                return Err(invalid(
                    env::TLS_CLIENT_CA_FILE,
                    "needs the server's own certificate: set COMPLAINTS_TLS_CERT_FILE and COMPLAINTS_TLS_KEY_FILE",
                ));
            }
            None
        }
        (Some(_), None) => {
            return Err(invalid(
                env::TLS_KEY_FILE,
                "required with COMPLAINTS_TLS_CERT_FILE",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                env::TLS_CERT_FILE,
                "required with COMPLAINTS_TLS_KEY_FILE",
            ));
        }
    };
    let identity = match (
        pem(env::TLS_CLIENT_CERT_FILE)?,
        pem(env::TLS_CLIENT_KEY_FILE)?,
    ) {
        (Some(cert), Some(key)) => Some((cert, Secret::new(key))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                env::TLS_CLIENT_KEY_FILE,
                "required with COMPLAINTS_TLS_CLIENT_CERT_FILE",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                env::TLS_CLIENT_CERT_FILE,
                "required with COMPLAINTS_TLS_CLIENT_KEY_FILE",
            ));
        }
    };
    let client_tls = ClientTls {
        ca_pem: pem(env::TLS_CA_FILE)?,
        identity,
    };

    let defaults = ServerLimits::default();
    let count = |name: &str, default: usize, most: usize| match var(name) {
        Some(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| invalid(name, format!("{n:?}: expected 1 to {most}"))),
        None => Ok(default),
    };
    let limits = ServerLimits {
        max_concurrent_calls: count(
            env::MAX_CONCURRENT_CALLS,
            defaults.max_concurrent_calls,
            100_000,
        )?,
        max_concurrent_calls_per_connection: count(
            env::MAX_CONCURRENT_CALLS_PER_CONNECTION,
            defaults.max_concurrent_calls_per_connection,
            100_000,
        )?,
        call_timeout: Duration::from_secs(count(
            env::CALL_TIMEOUT_SECONDS,
            defaults.call_timeout.as_secs() as usize,
            3600,
        )? as u64),
        max_message_bytes: count(
            env::MAX_MESSAGE_BYTES,
            defaults.max_message_bytes,
            64 * 1024 * 1024,
        )?,
    };
    let reflection = match var(env::REFLECTION).as_deref().map(str::trim) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(invalid(
                env::REFLECTION,
                format!("{other:?}: expected true or false"),
            ));
        }
    };
    Ok(ServerConfig {
        tls,
        client_tls,
        limits,
        reflection,
    })
}
