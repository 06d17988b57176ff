//! Settings for every complaints process.
//!
//! Layered: built-in defaults (which run the embedded suite on a laptop),
//! then an optional TOML file named by `COMPLAINTS_CONFIG`, then environment
//! variables, merged in one place ([`sources`]); a secret may also be read
//! from the file its `<NAME>_FILE` variable names. Every setting is listed
//! once, in [`env`], and checked here, at start-up: a bad one stops the
//! process with a message naming it and where its value came from. This
//! crate reads files and the environment; it must not open connections or
//! start anything.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use complaints_auth::{
    AuthConfig, ConfigError as AuthConfigError, KeyAlgorithm, KeySource, ProviderConfig, PublicKey,
    Secret, ServiceKey, ServiceSigner, TokenVerifier, weak_secret_reason,
};
use complaints_domain::calendar::{Calendar, Region};
use complaints_domain::policy::Policy;

mod server;
mod sources;

pub use server::{ClientTls, ServerConfig, ServerLimits, ServerTls};
pub use sources::file_key;

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}{}: {reason}", origin_note(.origin.as_deref()))]
    Invalid {
        setting: String,
        reason: String,
        /// Where the bad value came from (the environment, a key of the
        /// configuration file, a secret's file), when known.
        origin: Option<String>,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(setting: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.to_string(),
        origin: None,
    }
}

fn origin_note(origin: Option<&str>) -> String {
    origin.map(|o| format!(" (from {o})")).unwrap_or_default()
}

impl ConfigError {
    /// Names where the bad value came from, if the error does not yet.
    fn naming_origin(self, sources: &sources::Sources) -> ConfigError {
        match self {
            ConfigError::Invalid {
                setting,
                reason,
                origin: None,
            } => ConfigError::Invalid {
                origin: sources.origin(&setting).map(str::to_owned),
                setting,
                reason,
            },
            other => other,
        }
    }
}

/// Everything a process may need. Each binary uses the parts it serves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the gRPC server listens (`COMPLAINTS_LISTEN`).
    pub listen: SocketAddr,
    /// Postgres or SQLite URL (`DATABASE_URL`).
    pub database_url: String,
    /// Folder for the embedded database and outbox files (`COMPLAINTS_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The case service's address, for intake in production (`COMPLAINTS_CASE_URL`).
    pub case_url: String,
    /// The escalation service's address, for the case service's outbox
    /// relay in production (`COMPLAINTS_ESCALATION_URL`).
    pub escalation_url: String,
    /// The notification service's address (`COMPLAINTS_NOTIFICATION_URL`).
    pub notification_url: String,
    /// Redis for the deadline queue's index (`REDIS_URL`); without it the
    /// queue is served from the database alone.
    pub redis_url: Option<String>,
    /// The prefix of the deadline index's Redis keys
    /// (`COMPLAINTS_REDIS_PREFIX`), so several deployments can share a Redis.
    pub redis_prefix: String,
    /// The PEM CA bundle a `rediss://` Redis's certificate is verified
    /// against instead of the system's roots (`COMPLAINTS_REDIS_CA_FILE`),
    /// for a Redis with a private CA. Only with a `rediss://` `REDIS_URL`.
    pub redis_ca_pem: Option<String>,
    /// How long an escalation worker holds a claimed deadline before another
    /// may take it over (`COMPLAINTS_DEADLINE_LEASE_SECONDS`, default 60).
    pub deadline_lease: std::time::Duration,
    /// Where and how notifications are delivered.
    pub delivery: DeliveryConfig,
    /// Token verification (`COMPLAINTS_JWT_*`).
    pub auth: AuthConfig,
    /// A token for calls between services (`COMPLAINTS_SERVICE_TOKEN`); when
    /// unset and an HS256 secret is configured, processes mint their own.
    pub service_token: Option<Secret>,
    /// The complaints policy in force (`COMPLAINTS_POLICY_FILE`, else the default).
    pub policy: Policy,
    /// The working-day calendar (`COMPLAINTS_REGION`, `COMPLAINTS_TIME_ZONE`,
    /// `COMPLAINTS_EXTRA_HOLIDAYS`).
    pub calendar: Calendar,
    /// Days after a case closes when the case service erases its
    /// complainant's personal data (`COMPLAINTS_RETENTION_DAYS`, 1 to
    /// 36500). Unset, nothing is erased by age.
    pub retention_days: Option<u32>,
    /// Where and what evidence the case service keeps.
    pub evidence: EvidenceConfig,
    /// Log filter (`RUST_LOG`), default `info`.
    pub log_filter: String,
    /// Which spans are exported over OTLP (`COMPLAINTS_TRACE_FILTER`), apart
    /// from what is logged; default `info`.
    pub trace_filter: String,
    /// Log as JSON lines (`COMPLAINTS_LOG_FORMAT=json`), for log collectors.
    pub log_json: bool,
    /// Where Prometheus scrapes `/metrics` (`COMPLAINTS_METRICS_LISTEN`).
    /// Unset by default, so several processes on one machine do not fight
    /// over a port; the Kubernetes config sets it.
    pub metrics_listen: Option<SocketAddr>,
    /// How the gRPC server and its clients connect: TLS, limits, reflection.
    pub server: ServerConfig,
    /// Production binaries may run with the development signing key
    /// (`COMPLAINTS_ALLOW_DEV_KEY=true`; test deployments only).
    pub allow_dev_key: bool,
    /// Whether a service applies pending migrations when it starts
    /// (`COMPLAINTS_MIGRATE_ON_START`, default true). Where a migration job
    /// runs before a release (Kubernetes), `false`: replicas only connect.
    pub migrate_on_start: bool,
}

/// Delivery of emails and letters (the notification service).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `smtp://host:port` (`COMPLAINTS_SMTP_URL`); unset, emails are written
    /// as `.eml` files to the outbox folder instead.
    pub smtp_url: Option<String>,
    /// SMTP login (`COMPLAINTS_SMTP_USERNAME`, `COMPLAINTS_SMTP_PASSWORD`);
    /// only over TLS.
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// The From of every email (`COMPLAINTS_MAIL_FROM`).
    pub mail_from: String,
    /// Internal alerts go to `<role>@<domain>` (`COMPLAINTS_STAFF_EMAIL_DOMAIN`).
    pub staff_email_domain: String,
    /// Letters (`.pdf`) and, without SMTP, emails (`.eml`) are written here
    /// (`COMPLAINTS_OUTBOX_DIR`, default `<data dir>/outbox`).
    pub outbox_dir: PathBuf,
    /// Company-edited templates (`COMPLAINTS_TEMPLATES_DIR`); unset, the
    /// bundled ones.
    pub templates_dir: Option<PathBuf>,
    /// The longest one SMTP send may take before it is abandoned as a
    /// transient failure (`COMPLAINTS_SMTP_TIMEOUT_SECONDS`, default 300:
    /// RFC 5321 advises waiting minutes for the end of a message, since a
    /// message abandoned after the relay took it is sent again).
    pub smtp_timeout: std::time::Duration,
    /// How long a delivery worker holds a claimed notification
    /// (`COMPLAINTS_NOTIFICATION_LEASE_SECONDS`, default 60): renewed just
    /// before a send and every third of it while the send lasts, so it is
    /// also how soon another replica takes over the work of one that died.
    pub lease: std::time::Duration,
    /// Notifications one worker claims at a time
    /// (`COMPLAINTS_NOTIFICATION_CLAIM_BATCH`, default 3).
    pub claim_batch: u32,
    /// Notifications one worker (one replica) sends at once
    /// (`COMPLAINTS_NOTIFICATION_CONCURRENCY`, default 8, 1 to 64): a send
    /// spends most of its time waiting on the SMTP relay, so one at a time
    /// caps a replica's rate at one relay round trip.
    pub concurrency: u32,
    /// How long transient failures are retried, from when the notification
    /// was queued, before it is FAILED (`COMPLAINTS_NOTIFICATION_RETRY_FOR`,
    /// default `24h`).
    pub retry_for: std::time::Duration,
    /// The letterhead: `COMPLAINTS_COMPANY_NAME`, `_ADDRESS` (lines separated
    /// by `|`), `_PHONE`, `_EMAIL`, `_WEBSITE`.
    pub company_name: String,
    pub company_address: Vec<String>,
    pub company_phone: String,
    pub company_email: String,
    pub company_website: String,
}

/// Evidence (the case service's blob store).
#[derive(Clone)]
pub struct EvidenceConfig {
    /// Where the bytes are kept (`COMPLAINTS_EVIDENCE_URL`): a directory (a
    /// plain path or `file:///...`, default `<data dir>/evidence`) or an
    /// `s3://bucket[/prefix]?...` URL. It may hold credentials: never log it.
    pub url: String,
    /// The largest piece of evidence, in bytes (`COMPLAINTS_EVIDENCE_MAX_BYTES`,
    /// default 25 MiB).
    pub max_bytes: u64,
    /// The accepted media types (`COMPLAINTS_EVIDENCE_MEDIA_TYPES`, comma
    /// separated; `type/*` covers a type), default the blob store's list.
    pub media_types: Vec<String>,
}

impl std::fmt::Debug for EvidenceConfig {
    /// Names the store's kind only: its URL may carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.url.starts_with("s3://") {
            "s3"
        } else {
            "filesystem"
        };
        f.debug_struct("EvidenceConfig")
            .field("store", &kind)
            .field("max_bytes", &self.max_bytes)
            .field("media_types", &self.media_types)
            .finish()
    }
}

impl EvidenceConfig {
    /// The blob store's limits these settings give.
    pub fn limits(&self) -> complaints_blobs::Limits {
        complaints_blobs::Limits {
            max_bytes: self.max_bytes,
            allowed_media_types: self.media_types.clone(),
        }
    }
}

/// Every setting, by the name of its environment variable; the README's
/// configuration table lists exactly these (a test checks it). A setting
/// added here is read from the environment and, under its file key
/// ([`file_key`]), from the configuration file.
pub mod env {
    /// Declares the settings' names and [`ALL`], the list of them.
    macro_rules! settings {
        ($($(#[$meta:meta])* pub const $name:ident: &str = $value:literal;)*) => {
            $($(#[$meta])* pub const $name: &str = $value;)*
            /// Every setting's name.
            pub const ALL: &[&str] = &[$($name),*];
        };
    }

    /// Settings that may hold a secret, and so may also be given as
    /// `<NAME>_FILE`: the path of a file whose trimmed contents are the value.
    pub const SECRETS: &[&str] = &[
        DATABASE_URL,
        REDIS_URL,
        JWT_SECRET,
        SERVICE_TOKEN,
        SERVICE_KEY,
        SMTP_URL,
        SMTP_USERNAME,
        SMTP_PASSWORD,
        EVIDENCE_URL,
    ];

    /// Variables in the README's table that the OpenTelemetry set-up reads
    /// from the environment itself, not through these settings.
    pub const READ_ELSEWHERE: &[&str] = &["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"];

    settings! {
    pub const CONFIG: &str = "COMPLAINTS_CONFIG";
    pub const LISTEN: &str = "COMPLAINTS_LISTEN";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DATA_DIR: &str = "COMPLAINTS_DATA_DIR";
    pub const CASE_URL: &str = "COMPLAINTS_CASE_URL";
    pub const ESCALATION_URL: &str = "COMPLAINTS_ESCALATION_URL";
    pub const NOTIFICATION_URL: &str = "COMPLAINTS_NOTIFICATION_URL";
    pub const REDIS_URL: &str = "REDIS_URL";
    pub const REDIS_PREFIX: &str = "COMPLAINTS_REDIS_PREFIX";
    pub const REDIS_CA_FILE: &str = "COMPLAINTS_REDIS_CA_FILE";
    pub const DEADLINE_LEASE_SECONDS: &str = "COMPLAINTS_DEADLINE_LEASE_SECONDS";
    pub const POLICY_FILE: &str = "COMPLAINTS_POLICY_FILE";
    pub const REGION: &str = "COMPLAINTS_REGION";
    pub const TIME_ZONE: &str = "COMPLAINTS_TIME_ZONE";
    pub const EXTRA_HOLIDAYS: &str = "COMPLAINTS_EXTRA_HOLIDAYS";
    pub const JWT_SECRET: &str = "COMPLAINTS_JWT_SECRET";
    pub const JWT_PUBLIC_KEY_FILE: &str = "COMPLAINTS_JWT_PUBLIC_KEY_FILE";
    pub const JWT_PUBLIC_KEY_ALGORITHM: &str = "COMPLAINTS_JWT_PUBLIC_KEY_ALGORITHM";
    pub const JWT_ISSUER: &str = "COMPLAINTS_JWT_ISSUER";
    pub const JWT_AUDIENCE: &str = "COMPLAINTS_JWT_AUDIENCE";
    pub const SERVICE_TOKEN: &str = "COMPLAINTS_SERVICE_TOKEN";
    pub const JWT_JWKS_URL: &str = "COMPLAINTS_JWT_JWKS_URL";
    pub const JWT_OIDC_DISCOVERY: &str = "COMPLAINTS_JWT_OIDC_DISCOVERY";
    pub const JWT_ROLES_CLAIM: &str = "COMPLAINTS_JWT_ROLES_CLAIM";
    pub const JWT_ROLE_MAP: &str = "COMPLAINTS_JWT_ROLE_MAP";
    pub const JWT_KEYS_REFRESH_SECONDS: &str = "COMPLAINTS_JWT_KEYS_REFRESH_SECONDS";
    pub const SERVICE_KEY: &str = "COMPLAINTS_SERVICE_KEY";
    pub const SERVICE_PUBLIC_KEYS_DIR: &str = "COMPLAINTS_SERVICE_PUBLIC_KEYS_DIR";
    pub const LOG_FORMAT: &str = "COMPLAINTS_LOG_FORMAT";
    pub const METRICS_LISTEN: &str = "COMPLAINTS_METRICS_LISTEN";
    pub const RUST_LOG: &str = "RUST_LOG";
    pub const TRACE_FILTER: &str = "COMPLAINTS_TRACE_FILTER";
    pub const ALLOW_DEV_KEY: &str = "COMPLAINTS_ALLOW_DEV_KEY";
    pub const MIGRATE_ON_START: &str = "COMPLAINTS_MIGRATE_ON_START";
    pub const SMTP_URL: &str = "COMPLAINTS_SMTP_URL";
    pub const SMTP_USERNAME: &str = "COMPLAINTS_SMTP_USERNAME";
    pub const SMTP_PASSWORD: &str = "COMPLAINTS_SMTP_PASSWORD";
    pub const MAIL_FROM: &str = "COMPLAINTS_MAIL_FROM";
    pub const STAFF_EMAIL_DOMAIN: &str = "COMPLAINTS_STAFF_EMAIL_DOMAIN";
    pub const OUTBOX_DIR: &str = "COMPLAINTS_OUTBOX_DIR";
    pub const TEMPLATES_DIR: &str = "COMPLAINTS_TEMPLATES_DIR";
    pub const SMTP_TIMEOUT_SECONDS: &str = "COMPLAINTS_SMTP_TIMEOUT_SECONDS";
    pub const NOTIFICATION_LEASE_SECONDS: &str = "COMPLAINTS_NOTIFICATION_LEASE_SECONDS";
    pub const NOTIFICATION_CLAIM_BATCH: &str = "COMPLAINTS_NOTIFICATION_CLAIM_BATCH";
    pub const NOTIFICATION_CONCURRENCY: &str = "COMPLAINTS_NOTIFICATION_CONCURRENCY";
    pub const NOTIFICATION_RETRY_FOR: &str = "COMPLAINTS_NOTIFICATION_RETRY_FOR";
    pub const COMPANY_NAME: &str = "COMPLAINTS_COMPANY_NAME";
    pub const COMPANY_ADDRESS: &str = "COMPLAINTS_COMPANY_ADDRESS";
    pub const COMPANY_PHONE: &str = "COMPLAINTS_COMPANY_PHONE";
    pub const COMPANY_EMAIL: &str = "COMPLAINTS_COMPANY_EMAIL";
    pub const COMPANY_WEBSITE: &str = "COMPLAINTS_COMPANY_WEBSITE";
    pub const RETENTION_DAYS: &str = "COMPLAINTS_RETENTION_DAYS";
    pub const EVIDENCE_URL: &str = "COMPLAINTS_EVIDENCE_URL";
    pub const EVIDENCE_MAX_BYTES: &str = "COMPLAINTS_EVIDENCE_MAX_BYTES";
    pub const EVIDENCE_MEDIA_TYPES: &str = "COMPLAINTS_EVIDENCE_MEDIA_TYPES";
    pub const TLS_CERT_FILE: &str = "COMPLAINTS_TLS_CERT_FILE";
    pub const TLS_KEY_FILE: &str = "COMPLAINTS_TLS_KEY_FILE";
    pub const TLS_CLIENT_CA_FILE: &str = "COMPLAINTS_TLS_CLIENT_CA_FILE";
    pub const TLS_CA_FILE: &str = "COMPLAINTS_TLS_CA_FILE";
    pub const TLS_CLIENT_CERT_FILE: &str = "COMPLAINTS_TLS_CLIENT_CERT_FILE";
    pub const TLS_CLIENT_KEY_FILE: &str = "COMPLAINTS_TLS_CLIENT_KEY_FILE";
    pub const REFLECTION: &str = "COMPLAINTS_REFLECTION";
    pub const MAX_CONCURRENT_CALLS: &str = "COMPLAINTS_MAX_CONCURRENT_CALLS";
    pub const MAX_CONCURRENT_CALLS_PER_CONNECTION: &str = "COMPLAINTS_MAX_CONCURRENT_CALLS_PER_CONNECTION";
    pub const CALL_TIMEOUT_SECONDS: &str = "COMPLAINTS_CALL_TIMEOUT_SECONDS";
    pub const MAX_MESSAGE_BYTES: &str = "COMPLAINTS_MAX_MESSAGE_BYTES";
    }
}

impl Settings {
    /// Settings from the process environment (and the file it names).
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::from_vars(&std::env::vars().collect())
    }

    /// Settings from the given variables; `load` passes the environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let sources = sources::Sources::read(vars)?;
        Settings::from_sources(&sources).map_err(|e| e.naming_origin(&sources))
    }

    /// Every setting from the merged sources; `var(name)` is a setting's
    /// value, whichever source gave it.
    fn from_sources(sources: &sources::Sources) -> Result<Settings, ConfigError> {
        let var = |name: &str| sources.get(name);

        let data_dir = var(env::DATA_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data"));
        let listen = var(env::LISTEN).unwrap_or_else(|| "127.0.0.1:50051".to_owned());
        let listen = listen
            .parse()
            .map_err(|e| invalid(env::LISTEN, format!("{listen:?}: {e}")))?;
        let database_url = var(env::DATABASE_URL).unwrap_or_else(|| sqlite_url(&data_dir));
        let case_url = var(env::CASE_URL).unwrap_or_else(|| "http://127.0.0.1:50052".to_owned());

        let escalation_url =
            var(env::ESCALATION_URL).unwrap_or_else(|| "http://127.0.0.1:50053".to_owned());
        let notification_url =
            var(env::NOTIFICATION_URL).unwrap_or_else(|| "http://127.0.0.1:50054".to_owned());
        let redis_url = var(env::REDIS_URL);
        let redis_prefix =
            var(env::REDIS_PREFIX).unwrap_or_else(|| "complaints:{deadlines}:".to_owned());
        let redis_ca_pem = redis_ca(redis_url.as_deref(), var(env::REDIS_CA_FILE))?;
        let deadline_lease = match var(env::DEADLINE_LEASE_SECONDS) {
            Some(n) => n
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| {
                    invalid(
                        env::DEADLINE_LEASE_SECONDS,
                        format!("{n:?}: expected 1 to 3600"),
                    )
                })?,
            None => std::time::Duration::from_secs(60),
        };

        let policy = match var(env::POLICY_FILE).map(PathBuf::from) {
            Some(path) => Policy::from_toml(&read(&path)?)
                .map_err(|e| invalid(env::POLICY_FILE, format!("{}: {e}", path.display())))?,
            None => Policy::default(),
        };

        let region = var(env::REGION);
        let region = match region {
            Some(name) => name
                .parse::<Region>()
                .map_err(|e| invalid(env::REGION, e.description))?,
            None => Region::default(),
        };
        let time_zone = var(env::TIME_ZONE).unwrap_or_else(|| "Europe/London".to_owned());
        let time_zone: Tz = time_zone
            .parse()
            .map_err(|_| invalid(env::TIME_ZONE, format!("unknown time zone {time_zone:?}")))?;
        let extra_holidays = match var(env::EXTRA_HOLIDAYS) {
            Some(list) => list.split(',').map(|d| d.trim().to_owned()).collect(),
            None => Vec::new(),
        };
        let extra_holidays = extra_holidays
            .iter()
            .filter(|d| !d.is_empty())
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    invalid(
                        env::EXTRA_HOLIDAYS,
                        format!("{d:?} is not a YYYY-MM-DD date"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let calendar = Calendar::new(region, time_zone).with_extra_holidays(extra_holidays);

        let auth = auth_config(
            var(env::JWT_SECRET),
            var(env::JWT_PUBLIC_KEY_FILE).map(PathBuf::from),
            var(env::JWT_PUBLIC_KEY_ALGORITHM),
            var(env::JWT_ISSUER),
            var(env::JWT_AUDIENCE),
        )?;
        let auth = identity_config(auth, &var)?;

        let timing = delivery_timing(&var)?;
        let delivery = DeliveryConfig {
            smtp_url: var(env::SMTP_URL),
            smtp_username: var(env::SMTP_USERNAME),
            smtp_password: var(env::SMTP_PASSWORD).map(Secret::new),
            mail_from: var(env::MAIL_FROM)
                .unwrap_or_else(|| "Customer Care <complaints@telecare.example>".to_owned()),
            staff_email_domain: var(env::STAFF_EMAIL_DOMAIN)
                .unwrap_or_else(|| "staff.telecare.example".to_owned()),
            outbox_dir: var(env::OUTBOX_DIR)
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("outbox")),
            templates_dir: var(env::TEMPLATES_DIR).map(PathBuf::from),
            smtp_timeout: timing.smtp_timeout,
            lease: timing.lease,
            claim_batch: timing.claim_batch,
            concurrency: timing.concurrency,
            retry_for: timing.retry_for,
            company_name: var(env::COMPANY_NAME)
                .unwrap_or_else(|| "Example Telecare Ltd".to_owned()),
            company_address: var(env::COMPANY_ADDRESS)
                .map(|a| a.split('|').map(|l| l.trim().to_owned()).collect())
                .unwrap_or_else(|| {
                    vec![
                        "1 Example Street".to_owned(),
                        "Leeds".to_owned(),
                        "LS1 1AA".to_owned(),
                    ]
                }),
            company_phone: var(env::COMPANY_PHONE).unwrap_or_else(|| "0800 000 0000".to_owned()),
            company_email: var(env::COMPANY_EMAIL)
                .unwrap_or_else(|| "complaints@telecare.example".to_owned()),
            company_website: var(env::COMPANY_WEBSITE)
                .unwrap_or_else(|| "https://telecare.example".to_owned()),
        };

        let log_format = var(env::LOG_FORMAT);
        let log_json = match log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(invalid(
                    env::LOG_FORMAT,
                    format!("{other:?}: expected text or json"),
                ));
            }
        };

        let retention_days = match var(env::RETENTION_DAYS) {
            Some(n) => Some(
                n.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=36_500).contains(n))
                    .ok_or_else(|| {
                        invalid(env::RETENTION_DAYS, format!("{n:?}: expected 1 to 36500"))
                    })?,
            ),
            None => None,
        };

        let evidence = evidence_config(
            &data_dir,
            var(env::EVIDENCE_URL),
            var(env::EVIDENCE_MAX_BYTES),
            var(env::EVIDENCE_MEDIA_TYPES),
        )?;

        let metrics_listen = match var(env::METRICS_LISTEN) {
            Some(address) => Some(
                address
                    .parse()
                    .map_err(|e| invalid(env::METRICS_LISTEN, format!("{address:?}: {e}")))?,
            ),
            None => None,
        };

        Ok(Settings {
            listen,
            database_url,
            data_dir,
            case_url,
            escalation_url,
            notification_url,
            redis_url,
            redis_prefix,
            redis_ca_pem,
            deadline_lease,
            delivery,
            auth,
            service_token: var(env::SERVICE_TOKEN).map(Secret::new),
            policy,
            calendar,
            retention_days,
            evidence,
            log_filter: var(env::RUST_LOG).unwrap_or_else(|| "info".to_owned()),
            trace_filter: var(env::TRACE_FILTER).unwrap_or_else(|| "info".to_owned()),
            log_json,
            metrics_listen,
            server: server::server_config(&var)?,
            allow_dev_key: match var(env::ALLOW_DEV_KEY).as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(invalid(
                        env::ALLOW_DEV_KEY,
                        format!("{other:?}: expected true or false"),
                    ));
                }
            },
            migrate_on_start: match var(env::MIGRATE_ON_START).as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    return Err(invalid(
                        env::MIGRATE_ON_START,
                        format!("{other:?}: expected true or false"),
                    ));
                }
            },
        })
    }
}

impl Settings {
    /// Production processes refuse the public development key unless
    /// `COMPLAINTS_ALLOW_DEV_KEY=true` says this is a test deployment.
    pub fn check_production_keys(&self) -> Result<(), ConfigError> {
        if self.auth.is_development() && !self.allow_dev_key {
            return Err(invalid(
                env::JWT_SECRET,
                "no signing key is configured, and the development key is refused outside `complaints dev`; \
                 set COMPLAINTS_JWT_JWKS_URL or COMPLAINTS_JWT_OIDC_DISCOVERY (with COMPLAINTS_JWT_ISSUER and \
                 COMPLAINTS_JWT_AUDIENCE), COMPLAINTS_JWT_PUBLIC_KEY_FILE or COMPLAINTS_JWT_SECRET, or \
                 COMPLAINTS_ALLOW_DEV_KEY=true for a test deployment",
            ));
        }
        if !self.auth.service_keys.is_empty() && self.auth.service_signing_key.is_none() {
            return Err(invalid(
                env::SERVICE_KEY,
                "required with COMPLAINTS_SERVICE_PUBLIC_KEYS_DIR: the other services accept only \
                 tokens signed with a service's own key (set COMPLAINTS_SERVICE_KEY_FILE)",
            ));
        }
        Ok(())
    }
}

/// The evidence settings: the store's URL (default `<data dir>/evidence`),
/// the size limit (1 byte to 4 GiB) and the media types (each `type/subtype`
/// or `type/*`).
fn evidence_config(
    data_dir: &Path,
    url: Option<String>,
    max_bytes: Option<String>,
    media_types: Option<String>,
) -> Result<EvidenceConfig, ConfigError> {
    const MOST_BYTES: u64 = 4 * 1024 * 1024 * 1024;
    let url = url
        .map(|url| url.trim().to_owned())
        .unwrap_or_else(|| data_dir.join("evidence").display().to_string());
    let max_bytes = match max_bytes {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MOST_BYTES).contains(n))
            .ok_or_else(|| {
                invalid(
                    env::EVIDENCE_MAX_BYTES,
                    format!("{n:?}: expected a number of bytes from 1 to {MOST_BYTES}"),
                )
            })?,
        None => complaints_blobs::DEFAULT_MAX_BYTES,
    };
    let media_types = match media_types {
        Some(list) => {
            let types: Vec<String> = list
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            for media_type in &types {
                let well_formed = media_type.split_once('/').is_some_and(|(kind, sub)| {
                    !kind.is_empty() && kind != "*" && !sub.is_empty() && !sub.contains('/')
                });
                if !well_formed {
                    return Err(invalid(
                        env::EVIDENCE_MEDIA_TYPES,
                        format!(
                            "{media_type:?} is not a media type such as application/pdf or image/*"
                        ),
                    ));
                }
            }
            if types.is_empty() {
                return Err(invalid(
                    env::EVIDENCE_MEDIA_TYPES,
                    "names no media type; unset it for the defaults",
                ));
            }
            types
        }
        None => complaints_blobs::DEFAULT_ALLOWED_MEDIA_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
    };
    Ok(EvidenceConfig {
        url,
        max_bytes,
        media_types,
    })
}

/// The notification service's delivery timing.
struct DeliveryTiming {
    smtp_timeout: std::time::Duration,
    lease: std::time::Duration,
    claim_batch: u32,
    concurrency: u32,
    retry_for: std::time::Duration,
}

fn delivery_timing(var: &impl Fn(&str) -> Option<String>) -> Result<DeliveryTiming, ConfigError> {
    use std::time::Duration;
    let seconds = |name: &str, default: u64, most: u64| match var(name) {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=most).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| invalid(name, format!("{n:?}: expected 1 to {most} seconds"))),
        None => Ok(Duration::from_secs(default)),
    };
    let smtp_timeout = seconds(env::SMTP_TIMEOUT_SECONDS, 300, 1800)?;
    let lease = seconds(env::NOTIFICATION_LEASE_SECONDS, 60, 3600)?;
    let count = |name: &str, default: u32, most: u32| match var(name) {
        Some(n) => n
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| invalid(name, format!("{n:?}: expected 1 to {most}"))),
        None => Ok(default),
    };
    let claim_batch = count(env::NOTIFICATION_CLAIM_BATCH, 3, 100)?;
    // Each send in flight is one SMTP connection: 8 is well inside the
    // connections per client that relays allow, and each uses at most one
    // database connection at a time.
    let concurrency = count(env::NOTIFICATION_CONCURRENCY, 8, 64)?;
    let retry_for = match var(env::NOTIFICATION_RETRY_FOR) {
        Some(text) => parse_span(&text)
            .filter(|span| (60..=30 * 24 * 3600).contains(&span.as_secs()))
            .ok_or_else(|| {
                invalid(
                    env::NOTIFICATION_RETRY_FOR,
                    format!("{text:?}: expected a span from 1m to 30d, such as 24h, 90m or 2d"),
                )
            })?,
        None => Duration::from_secs(24 * 3600),
    };
    Ok(DeliveryTiming {
        smtp_timeout,
        lease,
        claim_batch,
        concurrency,
        retry_for,
    })
}

/// A span such as `90s`, `45m`, `24h` or `2d` (a bare number is seconds).
fn parse_span(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => return None,
    };
    let seconds = number.parse::<u64>().ok()?.checked_mul(scale)?;
    Some(std::time::Duration::from_secs(seconds))
}

/// The embedded database under the data folder.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("complaints.db").display()
    )
}

/// The CA bundle `COMPLAINTS_REDIS_CA_FILE` names, read at start: only for
/// a `rediss://` Redis, and holding at least one certificate, so a mistake
/// stops the start rather than leaving the deadline index unreachable.
fn redis_ca(redis_url: Option<&str>, file: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(file) = file else {
        return Ok(None);
    };
    match redis_url {
        Some(url) if url.trim_start().starts_with("rediss://") => {}
        Some(_) => {
            return Err(invalid(
                env::REDIS_CA_FILE,
                "set for a REDIS_URL that is not rediss://: the CA verifies a TLS Redis only",
            ));
        }
        None => {
            return Err(invalid(
                env::REDIS_CA_FILE,
                "set without REDIS_URL: the CA verifies a rediss:// Redis",
            ));
        }
    }
    let path = PathBuf::from(file);
    let pem = read(&path).map_err(|e| invalid(env::REDIS_CA_FILE, e.to_string()))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            env::REDIS_CA_FILE,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(Some(pem))
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// With no key configured at all, the development key: the embedded suite
/// works out of the box, and production binaries refuse it at start.
fn auth_config(
    secret: Option<String>,
    public_key_file: Option<PathBuf>,
    algorithm: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
) -> Result<AuthConfig, ConfigError> {
    if secret.is_none() && public_key_file.is_none() {
        let mut config = AuthConfig::development();
        if let Some(issuer) = issuer {
            config.issuer = issuer;
        }
        if let Some(audience) = audience {
            config.audience = audience;
        }
        return Ok(config);
    }
    let mut config = AuthConfig::new(
        issuer.ok_or_else(|| invalid(env::JWT_ISSUER, "required when a key is configured"))?,
        audience.ok_or_else(|| invalid(env::JWT_AUDIENCE, "required when a key is configured"))?,
    );
    if let Some(secret) = secret {
        config = config.with_hs256_secret(secret);
    }
    if let Some(path) = public_key_file {
        let algorithm = match algorithm.as_deref().unwrap_or("RS256") {
            "RS256" => KeyAlgorithm::Rs256,
            "ES256" => KeyAlgorithm::Es256,
            "EdDSA" => KeyAlgorithm::EdDsa,
            other => {
                return Err(invalid(
                    env::JWT_PUBLIC_KEY_ALGORITHM,
                    format!("{other:?}: expected RS256, ES256 or EdDSA"),
                ));
            }
        };
        config = config.with_public_key(PublicKey::new(algorithm, read(&path)?));
    }
    Ok(config)
}

/// The identity settings beyond the keys `auth_config` reads: the identity
/// provider's published keys and role claim, the services' own keys, and the
/// refusal of example and short secrets. The whole result is checked as the
/// verifier will use it, so a bad value stops the start naming its setting.
fn identity_config(
    mut auth: AuthConfig,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<AuthConfig, ConfigError> {
    if let Some(reason) = var(env::JWT_SECRET).and_then(|s| weak_secret_reason(&s)) {
        return Err(invalid(env::JWT_SECRET, reason));
    }
    let discovery = match var(env::JWT_OIDC_DISCOVERY).as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(
                env::JWT_OIDC_DISCOVERY,
                format!("{other:?}: expected true or false"),
            ));
        }
    };
    let keys = match (var(env::JWT_JWKS_URL), discovery) {
        (Some(_), true) => {
            return Err(invalid(
                env::JWT_JWKS_URL,
                format!("set it or {}, not both", env::JWT_OIDC_DISCOVERY),
            ));
        }
        (Some(url), false) => Some(KeySource::JwksUrl(url.trim().to_owned())),
        (None, true) => Some(KeySource::Discovery),
        (None, false) => None,
    };
    if let Some(keys) = keys {
        let setting = match keys {
            KeySource::Discovery => env::JWT_OIDC_DISCOVERY,
            KeySource::JwksUrl(_) => env::JWT_JWKS_URL,
        };
        if var(env::JWT_SECRET).is_none() && var(env::JWT_PUBLIC_KEY_FILE).is_none() {
            // Only the provider's keys: not the development default.
            auth.hs256_secret = None;
            for required in [env::JWT_ISSUER, env::JWT_AUDIENCE] {
                if var(required).is_none() {
                    return Err(invalid(
                        required,
                        format!(
                            "required with {setting}: the provider's issuer and this API's audience"
                        ),
                    ));
                }
            }
        }
        let mut provider = ProviderConfig::new(keys);
        if let Some(seconds) = var(env::JWT_KEYS_REFRESH_SECONDS) {
            provider.refresh_seconds = seconds
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (60..=86_400).contains(n))
                .ok_or_else(|| {
                    invalid(
                        env::JWT_KEYS_REFRESH_SECONDS,
                        format!("{seconds:?}: expected 60 to 86400"),
                    )
                })?;
        }
        auth.provider = Some(provider);
    }
    if let Some(claim) = var(env::JWT_ROLES_CLAIM) {
        auth.role_claim.claim = claim.trim().to_owned();
    }
    if let Some(map) = var(env::JWT_ROLE_MAP) {
        for entry in map
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            // Group names may hold `=` (an LDAP DN); role names never do.
            let (name, role) = entry.rsplit_once('=').ok_or_else(|| {
                invalid(
                    env::JWT_ROLE_MAP,
                    format!("{entry:?}: expected provider-name=platform_role"),
                )
            })?;
            auth.role_claim
                .map
                .insert(name.trim().to_owned(), role.trim().to_owned());
        }
    }
    if let Some(pem) = var(env::SERVICE_KEY) {
        auth.service_signing_key = Some(Secret::new(pem));
    }
    if let Some(dir) = var(env::SERVICE_PUBLIC_KEYS_DIR) {
        let dir = PathBuf::from(dir);
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            invalid(
                env::SERVICE_PUBLIC_KEYS_DIR,
                format!("{}: {e}", dir.display()),
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default()
                .to_owned();
            auth.service_keys.push(ServiceKey::new(name, read(&path)?));
        }
        if auth.service_keys.is_empty() {
            return Err(invalid(
                env::SERVICE_PUBLIC_KEYS_DIR,
                format!("{} holds no <service>.pem file", dir.display()),
            ));
        }
    }
    if auth.service_signing_key.is_some() {
        ServiceSigner::own_key(&auth, "intake").map_err(|e| invalid(env::SERVICE_KEY, e))?;
    }
    TokenVerifier::new(&auth).map_err(|error| {
        let setting = match &error {
            AuthConfigError::WeakSecret { .. } => env::JWT_SECRET,
            AuthConfigError::RoleMapping(_) if var(env::JWT_ROLE_MAP).is_some() => {
                env::JWT_ROLE_MAP
            }
            AuthConfigError::RoleMapping(_) => env::JWT_ROLES_CLAIM,
            AuthConfigError::ProviderUrl { .. } if var(env::JWT_JWKS_URL).is_some() => {
                env::JWT_JWKS_URL
            }
            AuthConfigError::ProviderUrl { .. } => env::JWT_ISSUER,
            AuthConfigError::InvalidServiceKey { .. } => env::SERVICE_PUBLIC_KEYS_DIR,
            AuthConfigError::Empty("audience") => env::JWT_AUDIENCE,
            AuthConfigError::InvalidPublicKey { .. } => env::JWT_PUBLIC_KEY_FILE,
            _ => env::JWT_ISSUER,
        };
        invalid(setting, error)
    })?;
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_defaults_run_embedded_with_the_development_key() {
        let settings = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(
            settings.database_url,
            "sqlite://data/complaints.db?mode=rwc"
        );
        assert!(settings.auth.is_development());
        assert_eq!(settings.policy, Policy::default());
        assert_eq!(settings.calendar, Calendar::default());
        assert_eq!(settings.metrics_listen, None);
        assert_eq!(settings.retention_days, None);
    }

    #[test]
    fn evidence_is_kept_under_the_data_dir_up_to_25_mebibytes_of_the_default_types() {
        let settings =
            Settings::from_vars(&vars(&[(env::DATA_DIR, "/var/lib/complaints")])).unwrap();
        assert_eq!(settings.evidence.url, "/var/lib/complaints/evidence");
        assert_eq!(settings.evidence.max_bytes, 26_214_400);
        assert!(
            settings
                .evidence
                .media_types
                .contains(&"application/pdf".to_owned())
        );
        assert!(
            settings
                .evidence
                .limits()
                .check_media_type("image/png")
                .is_ok()
        );
    }

    #[test]
    fn evidence_settings_are_read_and_checked() {
        let settings = Settings::from_vars(&vars(&[
            (
                env::EVIDENCE_URL,
                "s3://evidence/complaints?region=eu-west-2",
            ),
            (env::EVIDENCE_MAX_BYTES, "1048576"),
            (env::EVIDENCE_MEDIA_TYPES, "application/pdf, Image/*"),
        ]))
        .unwrap();
        assert_eq!(
            settings.evidence.url,
            "s3://evidence/complaints?region=eu-west-2"
        );
        assert_eq!(settings.evidence.max_bytes, 1_048_576);
        let shown = format!(
            "{:?}",
            Settings::from_vars(&vars(&[(
                env::EVIDENCE_URL,
                "s3://evidence?access_key_id=AKIA&secret_access_key=hunter2",
            )]))
            .unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            settings.evidence.media_types,
            ["application/pdf", "image/*"]
        );
        for (name, bad) in [
            (env::EVIDENCE_MAX_BYTES, "0"),
            (env::EVIDENCE_MAX_BYTES, "25MiB"),
            (env::EVIDENCE_MEDIA_TYPES, "pdf"),
            (env::EVIDENCE_MEDIA_TYPES, "*/*"),
            (env::EVIDENCE_MEDIA_TYPES, " , "),
        ] {
            let err = Settings::from_vars(&vars(&[(name, bad)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{bad}: {err}");
        }
    }

    #[test]
    fn the_retention_period_is_a_number_of_days_when_set() {
        let settings = Settings::from_vars(&vars(&[(env::RETENTION_DAYS, "2190")])).unwrap();
        assert_eq!(settings.retention_days, Some(2190));
        for bad in ["0", "six years", "36501"] {
            let err = Settings::from_vars(&vars(&[(env::RETENTION_DAYS, bad)])).unwrap_err();
            assert!(
                err.to_string().starts_with(env::RETENTION_DAYS),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn environment_variables_override_and_are_checked() {
        let settings = Settings::from_vars(&vars(&[
            (env::REGION, "scotland"),
            (env::EXTRA_HOLIDAYS, "2026-12-29, 2026-12-30"),
            (env::DATABASE_URL, "postgres://db/complaints"),
        ]))
        .unwrap();
        assert_eq!(settings.calendar.region(), Region::Scotland);
        assert_eq!(settings.database_url, "postgres://db/complaints");
        let day = NaiveDate::from_ymd_opt(2026, 12, 29).unwrap();
        assert!(!settings.calendar.is_working_day(day));
    }

    #[test]
    fn the_redis_ca_is_read_for_a_rediss_url_and_refused_with_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("redis-ca.pem");
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(&ca, pem).unwrap();
        let ca = ca.to_str().unwrap();
        let settings = Settings::from_vars(&vars(&[
            (env::REDIS_URL, "rediss://redis.internal:6380"),
            (env::REDIS_CA_FILE, ca),
        ]))
        .unwrap();
        assert_eq!(settings.redis_ca_pem.as_deref(), Some(pem));
        let unset = Settings::from_vars(&vars(&[(env::REDIS_URL, "rediss://redis:6380")]));
        assert_eq!(unset.unwrap().redis_ca_pem, None);

        let not_a_cert = dir.path().join("not-a-cert.pem");
        std::fs::write(&not_a_cert, "hello").unwrap();
        for (pairs, why) in [
            (
                vec![
                    (env::REDIS_URL, "redis://:hunter2@redis:6379"),
                    (env::REDIS_CA_FILE, ca),
                ],
                "not rediss://",
            ),
            (vec![(env::REDIS_CA_FILE, ca)], "without REDIS_URL"),
            (
                vec![
                    (env::REDIS_URL, "rediss://redis:6380"),
                    (env::REDIS_CA_FILE, "/nonexistent/redis-ca.pem"),
                ],
                "/nonexistent/redis-ca.pem",
            ),
            (
                vec![
                    (env::REDIS_URL, "rediss://redis:6380"),
                    (env::REDIS_CA_FILE, not_a_cert.to_str().unwrap()),
                ],
                "holds no PEM certificate",
            ),
        ] {
            let message = Settings::from_vars(&vars(&pairs)).unwrap_err().to_string();
            assert!(message.starts_with(env::REDIS_CA_FILE), "{message}");
            assert!(message.contains(why), "{why}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_bad_setting_is_named_in_the_error() {
        for (name, value) in [
            (env::LISTEN, "not-an-address"),
            (env::REGION, "wales"),
            (env::TIME_ZONE, "Mars/Olympus"),
            (env::EXTRA_HOLIDAYS, "29/12/2026"),
            (env::LOG_FORMAT, "xml"),
            (env::METRICS_LISTEN, "9090"),
            (
                env::JWT_SECRET,
                "a-secret-without-issuer-and-audience-set-alongside",
            ),
        ] {
            let err = Settings::from_vars(&vars(&[(name, value)])).unwrap_err();
            let message = err.to_string();
            let named = match name {
                n if n == env::JWT_SECRET => env::JWT_ISSUER,
                n => n,
            };
            assert!(message.starts_with(named), "{name}: {message}");
        }
    }

    #[test]
    fn a_policy_file_with_a_zero_target_or_a_missing_stage_stops_the_start_naming_the_setting() {
        let dir = std::env::temp_dir().join(format!("complaints-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = complaints_domain::policy::DEFAULT_POLICY_TOML;
        let path = dir.join("policy.toml");
        std::fs::write(&path, good).unwrap();
        let loaded =
            Settings::from_vars(&vars(&[(env::POLICY_FILE, path.to_str().unwrap())])).unwrap();
        assert_eq!(loaded.policy, Policy::default());

        let zero = good.replacen("respond_days = 10", "respond_days = 0", 1);
        assert_ne!(zero, good, "the example policy names respond_days");
        std::fs::write(&path, &zero).unwrap();
        let err = Settings::from_vars(&vars(&[(env::POLICY_FILE, path.to_str().unwrap())]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(env::POLICY_FILE), "{err}");
        assert!(err.contains("respond_days"), "{err}");

        let start = good.find("[stages.stage_3]").unwrap();
        let end = good[start + 1..]
            .find("\n[")
            .map_or(good.len(), |i| start + 1 + i + 1);
        let missing = format!("{}{}", &good[..start], &good[end..]);
        std::fs::write(&path, &missing).unwrap();
        let err = Settings::from_vars(&vars(&[(env::POLICY_FILE, path.to_str().unwrap())]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("stage_3"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn delivery_timing_defaults_and_settings() {
        let defaults = Settings::from_vars(&HashMap::new()).unwrap().delivery;
        assert_eq!(defaults.smtp_timeout.as_secs(), 300);
        assert_eq!(defaults.lease.as_secs(), 60);
        assert_eq!(defaults.claim_batch, 3);
        assert_eq!(defaults.concurrency, 8);
        assert_eq!(defaults.retry_for.as_secs(), 86_400);

        let set = Settings::from_vars(&vars(&[
            (env::SMTP_TIMEOUT_SECONDS, "10"),
            (env::NOTIFICATION_LEASE_SECONDS, "11"),
            (env::NOTIFICATION_CLAIM_BATCH, "1"),
            (env::NOTIFICATION_CONCURRENCY, "64"),
            (env::NOTIFICATION_RETRY_FOR, "90m"),
        ]))
        .unwrap()
        .delivery;
        assert_eq!(set.lease.as_secs(), 11);
        assert_eq!(set.claim_batch, 1);
        assert_eq!(set.concurrency, 64);
        assert_eq!(set.retry_for.as_secs(), 5_400);
        for (span, seconds) in [("2d", 172_800), ("3600", 3_600), ("45s", 45)] {
            assert_eq!(parse_span(span).map(|d| d.as_secs()), Some(seconds));
        }

        for (name, value) in [
            (env::NOTIFICATION_RETRY_FOR, "forever"),
            (env::NOTIFICATION_RETRY_FOR, "10s"),
            (env::NOTIFICATION_CLAIM_BATCH, "0"),
            (env::NOTIFICATION_CONCURRENCY, "0"),
            (env::NOTIFICATION_CONCURRENCY, "65"),
            (env::SMTP_TIMEOUT_SECONDS, "-1"),
        ] {
            let err = Settings::from_vars(&vars(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn example_short_and_misplaced_identity_settings_stop_the_start_naming_them() {
        let with_issuer = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                (env::JWT_ISSUER, "https://idp.test"),
                (env::JWT_AUDIENCE, "complaints"),
            ];
            all.extend_from_slice(pairs);
            Settings::from_vars(&vars(&all))
        };
        for (name, value) in [
            // The value in the deployment's example Secrets.
            (
                env::JWT_SECRET,
                "CHANGE-ME-to-at-least-32-random-bytes-0000000000",
            ),
            (
                env::JWT_SECRET,
                "a-placeholder-secret-long-enough-for-hs256",
            ),
            (env::JWT_SECRET, "short-secret"),
            (env::JWT_JWKS_URL, "http://idp.test/jwks.json"),
            (env::JWT_OIDC_DISCOVERY, "yes"),
            (env::JWT_ROLE_MAP, "staff=root"),
            (env::JWT_ROLE_MAP, "robots=service"),
            (env::JWT_KEYS_REFRESH_SECONDS, "5"),
            (env::SERVICE_KEY, "-----BEGIN PRIVATE KEY-----"),
            (env::SERVICE_PUBLIC_KEYS_DIR, "/nonexistent/service-keys"),
        ] {
            let mut pairs = vec![(name, value)];
            if name == env::JWT_ROLE_MAP || name == env::JWT_KEYS_REFRESH_SECONDS {
                pairs.push((env::JWT_JWKS_URL, "https://idp.test/jwks.json"));
            }
            let message = with_issuer(&pairs).unwrap_err().to_string();
            assert!(message.starts_with(name), "{name}={value}: {message}");
            assert!(
                !message.contains(value) || name != env::JWT_SECRET,
                "{message}"
            );
        }
    }

    #[test]
    fn a_provider_alone_replaces_the_development_key() {
        let settings = Settings::from_vars(&vars(&[
            (env::JWT_OIDC_DISCOVERY, "true"),
            (env::JWT_ISSUER, "https://idp.test/realms/staff"),
            (env::JWT_AUDIENCE, "complaints"),
            (env::JWT_ROLES_CLAIM, "realm_access.roles"),
            (
                env::JWT_ROLE_MAP,
                "handlers=complaints_handler; cn=directors,ou=groups=director",
            ),
        ]))
        .unwrap();
        assert!(!settings.auth.is_development());
        assert_eq!(settings.auth.hs256_secret, None);
        assert_eq!(
            settings.auth.provider,
            Some(ProviderConfig::new(KeySource::Discovery))
        );
        assert_eq!(settings.auth.role_claim.claim, "realm_access.roles");
        assert_eq!(
            settings.auth.role_claim.map["cn=directors,ou=groups"],
            "director"
        );
        let missing =
            Settings::from_vars(&vars(&[(env::JWT_JWKS_URL, "https://idp.test/jwks.json")]))
                .unwrap_err()
                .to_string();
        assert!(missing.starts_with(env::JWT_ISSUER), "{missing}");
    }
}
