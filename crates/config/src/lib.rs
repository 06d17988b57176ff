//! Settings for every complaints process.
//!
//! Layered: built-in defaults (which run the embedded suite on a laptop),
//! then an optional TOML file named by `COMPLAINTS_CONFIG`, then environment
//! variables. Every setting is checked here, at start-up, and a bad one
//! stops the process with a message naming it. This crate reads files and
//! the environment; it must not open connections or start anything.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use complaints_auth::{AuthConfig, KeyAlgorithm, PublicKey, Secret};
use complaints_domain::calendar::{Calendar, Region};
use complaints_domain::policy::Policy;
use serde::Deserialize;

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
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
    /// Log as JSON lines (`COMPLAINTS_LOG_FORMAT=json`), for log collectors.
    pub log_json: bool,
    /// Where Prometheus scrapes `/metrics` (`COMPLAINTS_METRICS_LISTEN`).
    /// Unset by default, so several processes on one machine do not fight
    /// over a port; the Kubernetes config sets it.
    pub metrics_listen: Option<SocketAddr>,
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
    /// Attempts before a notification is FAILED (`COMPLAINTS_DELIVERY_ATTEMPTS`).
    pub max_attempts: u32,
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

/// The file layout, every field optional; environment variables override it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    case_url: Option<String>,
    escalation_url: Option<String>,
    notification_url: Option<String>,
    redis_url: Option<String>,
    policy_file: Option<PathBuf>,
    region: Option<String>,
    time_zone: Option<String>,
    #[serde(default)]
    extra_holidays: Vec<String>,
    jwt_secret: Option<String>,
    jwt_public_key_file: Option<PathBuf>,
    jwt_public_key_algorithm: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    service_token: Option<String>,
    log_format: Option<String>,
    metrics_listen: Option<String>,
}

/// The names of the environment variables, as the README's table lists them.
pub mod env {
    pub const CONFIG: &str = "COMPLAINTS_CONFIG";
    pub const LISTEN: &str = "COMPLAINTS_LISTEN";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DATA_DIR: &str = "COMPLAINTS_DATA_DIR";
    pub const CASE_URL: &str = "COMPLAINTS_CASE_URL";
    pub const ESCALATION_URL: &str = "COMPLAINTS_ESCALATION_URL";
    pub const NOTIFICATION_URL: &str = "COMPLAINTS_NOTIFICATION_URL";
    pub const REDIS_URL: &str = "REDIS_URL";
    pub const REDIS_PREFIX: &str = "COMPLAINTS_REDIS_PREFIX";
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
    pub const LOG_FORMAT: &str = "COMPLAINTS_LOG_FORMAT";
    pub const METRICS_LISTEN: &str = "COMPLAINTS_METRICS_LISTEN";
    pub const RUST_LOG: &str = "RUST_LOG";
    pub const ALLOW_DEV_KEY: &str = "COMPLAINTS_ALLOW_DEV_KEY";
    pub const SMTP_URL: &str = "COMPLAINTS_SMTP_URL";
    pub const SMTP_USERNAME: &str = "COMPLAINTS_SMTP_USERNAME";
    pub const SMTP_PASSWORD: &str = "COMPLAINTS_SMTP_PASSWORD";
    pub const MAIL_FROM: &str = "COMPLAINTS_MAIL_FROM";
    pub const STAFF_EMAIL_DOMAIN: &str = "COMPLAINTS_STAFF_EMAIL_DOMAIN";
    pub const OUTBOX_DIR: &str = "COMPLAINTS_OUTBOX_DIR";
    pub const TEMPLATES_DIR: &str = "COMPLAINTS_TEMPLATES_DIR";
    pub const DELIVERY_ATTEMPTS: &str = "COMPLAINTS_DELIVERY_ATTEMPTS";
    pub const COMPANY_NAME: &str = "COMPLAINTS_COMPANY_NAME";
    pub const COMPANY_ADDRESS: &str = "COMPLAINTS_COMPANY_ADDRESS";
    pub const COMPANY_PHONE: &str = "COMPLAINTS_COMPANY_PHONE";
    pub const COMPANY_EMAIL: &str = "COMPLAINTS_COMPANY_EMAIL";
    pub const COMPANY_WEBSITE: &str = "COMPLAINTS_COMPANY_WEBSITE";
    pub const RETENTION_DAYS: &str = "COMPLAINTS_RETENTION_DAYS";
    pub const EVIDENCE_URL: &str = "COMPLAINTS_EVIDENCE_URL";
    pub const EVIDENCE_MAX_BYTES: &str = "COMPLAINTS_EVIDENCE_MAX_BYTES";
    pub const EVIDENCE_MEDIA_TYPES: &str = "COMPLAINTS_EVIDENCE_MEDIA_TYPES";
}

impl Settings {
    /// Settings from the process environment (and the file it names).
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::from_vars(&std::env::vars().collect())
    }

    /// Settings from the given variables; `load` passes the environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let var = |name: &str| vars.get(name).filter(|v| !v.trim().is_empty()).cloned();
        let file = match var(env::CONFIG) {
            Some(path) => {
                let text = read(Path::new(&path))?;
                toml::from_str::<FileSettings>(&text)
                    .map_err(|e| invalid(env::CONFIG, format!("{path}: {e}")))?
            }
            None => FileSettings::default(),
        };

        let data_dir = var(env::DATA_DIR)
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let listen = var(env::LISTEN)
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:50051".to_owned());
        let listen = listen
            .parse()
            .map_err(|e| invalid(env::LISTEN, format!("{listen:?}: {e}")))?;
        let database_url = var(env::DATABASE_URL)
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url(&data_dir));
        let case_url = var(env::CASE_URL)
            .or(file.case_url)
            .unwrap_or_else(|| "http://127.0.0.1:50052".to_owned());

        let escalation_url = var(env::ESCALATION_URL)
            .or(file.escalation_url)
            .unwrap_or_else(|| "http://127.0.0.1:50053".to_owned());
        let notification_url = var(env::NOTIFICATION_URL)
            .or(file.notification_url)
            .unwrap_or_else(|| "http://127.0.0.1:50054".to_owned());
        let redis_url = var(env::REDIS_URL).or(file.redis_url);
        let redis_prefix =
            var(env::REDIS_PREFIX).unwrap_or_else(|| "complaints:{deadlines}:".to_owned());
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

        let policy = match var(env::POLICY_FILE)
            .map(PathBuf::from)
            .or(file.policy_file)
        {
            Some(path) => Policy::from_toml(&read(&path)?)
                .map_err(|e| invalid(env::POLICY_FILE, format!("{}: {e}", path.display())))?,
            None => Policy::default(),
        };

        let region = var(env::REGION).or(file.region);
        let region = match region {
            Some(name) => name
                .parse::<Region>()
                .map_err(|e| invalid(env::REGION, e.description))?,
            None => Region::default(),
        };
        let time_zone = var(env::TIME_ZONE)
            .or(file.time_zone)
            .unwrap_or_else(|| "Europe/London".to_owned());
        let time_zone: Tz = time_zone
            .parse()
            .map_err(|_| invalid(env::TIME_ZONE, format!("unknown time zone {time_zone:?}")))?;
        let extra_holidays = match var(env::EXTRA_HOLIDAYS) {
            Some(list) => list.split(',').map(|d| d.trim().to_owned()).collect(),
            None => file.extra_holidays,
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
            var(env::JWT_SECRET).or(file.jwt_secret),
            var(env::JWT_PUBLIC_KEY_FILE)
                .map(PathBuf::from)
                .or(file.jwt_public_key_file),
            var(env::JWT_PUBLIC_KEY_ALGORITHM).or(file.jwt_public_key_algorithm),
            var(env::JWT_ISSUER).or(file.jwt_issuer),
            var(env::JWT_AUDIENCE).or(file.jwt_audience),
        )?;

        let max_attempts = match var(env::DELIVERY_ATTEMPTS) {
            Some(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=50).contains(n))
                .ok_or_else(|| {
                    invalid(env::DELIVERY_ATTEMPTS, format!("{n:?}: expected 1 to 50"))
                })?,
            None => 5,
        };
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
            max_attempts,
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

        let log_format = var(env::LOG_FORMAT).or(file.log_format);
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

        let metrics_listen = match var(env::METRICS_LISTEN).or(file.metrics_listen) {
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
            deadline_lease,
            delivery,
            auth,
            service_token: var(env::SERVICE_TOKEN)
                .or(file.service_token)
                .map(Secret::new),
            policy,
            calendar,
            retention_days,
            evidence,
            log_filter: var(env::RUST_LOG).unwrap_or_else(|| "info".to_owned()),
            log_json,
            metrics_listen,
        })
    }
}

impl Settings {
    /// Production processes refuse the public development key unless
    /// `COMPLAINTS_ALLOW_DEV_KEY=true` says this is a test deployment.
    pub fn check_production_keys(&self) -> Result<(), ConfigError> {
        let allowed = std::env::var(env::ALLOW_DEV_KEY).is_ok_and(|v| v == "true");
        if self.auth.is_development() && !allowed {
            return Err(invalid(
                env::JWT_SECRET,
                "no signing key is configured, and the development key is refused outside `complaints dev`; \
                 set COMPLAINTS_JWT_SECRET (with COMPLAINTS_JWT_ISSUER and COMPLAINTS_JWT_AUDIENCE) or \
                 COMPLAINTS_JWT_PUBLIC_KEY_FILE, or COMPLAINTS_ALLOW_DEV_KEY=true for a test deployment",
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

/// The embedded database under the data folder.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("complaints.db").display()
    )
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
}
