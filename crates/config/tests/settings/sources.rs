//! One configuration road: every setting from the file or the environment,
//! the environment winning, secrets from files, and errors that say where
//! the bad value came from.

use std::collections::HashMap;
use std::path::Path;

use complaints_config::{Settings, env, file_key};

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_file_key_is_the_variable_in_lower_case_without_the_prefix() {
    assert_eq!(file_key(env::MAIL_FROM), "mail_from");
    assert_eq!(file_key(env::DATABASE_URL), "database_url");
    assert_eq!(file_key(env::RUST_LOG), "rust_log");
    assert_eq!(
        file_key(env::DEADLINE_LEASE_SECONDS),
        "deadline_lease_seconds"
    );
}

#[test]
fn the_settings_the_readme_once_refused_in_the_file_are_read_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "complaints.toml",
        r#"
mail_from = "Care Team <care@example.org>"
smtp_url = "smtp://relay.example.org:25"
company_name = "Acme Telecare"
company_address = ["2 High Street", "York", "YO1 1AA"]
redis_prefix = "acme:{deadlines}:"
deadline_lease_seconds = 30
extra_holidays = ["2026-12-29", "2026-12-30"]
retention_days = 2190
reflection = false
max_message_bytes = 524288
"#,
    );
    let settings = Settings::from_vars(&vars(&[(env::CONFIG, &config)])).unwrap();
    assert_eq!(settings.delivery.mail_from, "Care Team <care@example.org>");
    assert_eq!(
        settings.delivery.smtp_url.as_deref(),
        Some("smtp://relay.example.org:25")
    );
    assert_eq!(settings.delivery.company_name, "Acme Telecare");
    assert_eq!(
        settings.delivery.company_address,
        ["2 High Street", "York", "YO1 1AA"]
    );
    assert_eq!(settings.redis_prefix, "acme:{deadlines}:");
    assert_eq!(settings.deadline_lease.as_secs(), 30);
    assert_eq!(settings.retention_days, Some(2190));
    assert!(!settings.server.reflection);
    assert_eq!(settings.server.limits.max_message_bytes, 524_288);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 30).unwrap();
    assert!(!settings.calendar.is_working_day(day));
}

#[test]
fn the_environment_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "complaints.toml",
        "mail_from = \"from the file <file@example.org>\"\nlisten = \"127.0.0.1:7000\"\n",
    );
    let settings = Settings::from_vars(&vars(&[
        (env::CONFIG, &config),
        (env::MAIL_FROM, "from the environment <env@example.org>"),
    ]))
    .unwrap();
    assert_eq!(
        settings.delivery.mail_from,
        "from the environment <env@example.org>"
    );
    assert_eq!(settings.listen.to_string(), "127.0.0.1:7000");
}

#[test]
fn an_unknown_key_in_the_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "complaints.toml", "mail_form = \"typo\"\n");
    let err = Settings::from_vars(&vars(&[(env::CONFIG, &config)]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(env::CONFIG), "{err}");
    assert!(err.contains("mail_form"), "{err}");
}

#[test]
fn a_bad_value_names_its_setting_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "complaints.toml",
        "deadline_lease_seconds = 0\n",
    );
    let err = Settings::from_vars(&vars(&[(env::CONFIG, &config)]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(env::DEADLINE_LEASE_SECONDS), "{err}");
    assert!(err.contains("key `deadline_lease_seconds`"), "{err}");
    assert!(err.contains(&config), "{err}");

    let err = Settings::from_vars(&vars(&[
        (env::CONFIG, &config),
        (env::DEADLINE_LEASE_SECONDS, "soon"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("COMPLAINTS_DEADLINE_LEASE_SECONDS (from environment variable COMPLAINTS_DEADLINE_LEASE_SECONDS)"),
        "{err}"
    );
}

#[test]
fn a_secret_is_read_trimmed_from_the_file_its_file_variable_names() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(
        dir.path(),
        "jwt",
        "a-secret-of-at-least-thirty-two-bytes-long\n",
    );
    let database = write(
        dir.path(),
        "database_url",
        "postgres://complaints@db/complaints?sslmode=require\n",
    );
    let settings = Settings::from_vars(&vars(&[
        ("COMPLAINTS_JWT_SECRET_FILE", &secret),
        ("DATABASE_URL_FILE", &database),
        (env::JWT_ISSUER, "complaints"),
        (env::JWT_AUDIENCE, "complaints"),
    ]))
    .unwrap();
    assert_eq!(
        settings.database_url,
        "postgres://complaints@db/complaints?sslmode=require"
    );
    assert!(!settings.auth.is_development());

    // The file form from the configuration file too.
    let config = write(
        dir.path(),
        "complaints.toml",
        &format!("database_url_file = {database:?}\n"),
    );
    let settings = Settings::from_vars(&vars(&[(env::CONFIG, &config)])).unwrap();
    assert_eq!(
        settings.database_url,
        "postgres://complaints@db/complaints?sslmode=require"
    );
}

#[test]
fn a_secret_given_twice_in_one_place_or_in_a_missing_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let database = write(dir.path(), "database_url", "postgres://db/complaints");
    let err = Settings::from_vars(&vars(&[
        ("DATABASE_URL_FILE", &database),
        (env::DATABASE_URL, "postgres://other/complaints"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with(env::DATABASE_URL), "{err}");
    assert!(err.contains("set one"), "{err}");

    let missing = dir.path().join("absent").display().to_string();
    let err = Settings::from_vars(&vars(&[("COMPLAINTS_SMTP_PASSWORD_FILE", &missing)]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("COMPLAINTS_SMTP_PASSWORD_FILE"), "{err}");

    // The environment's plain value wins over the file's `_file` key.
    let config = write(
        dir.path(),
        "complaints.toml",
        &format!("database_url_file = {database:?}\n"),
    );
    let settings = Settings::from_vars(&vars(&[
        (env::CONFIG, &config),
        (env::DATABASE_URL, "postgres://env/complaints"),
    ]))
    .unwrap();
    assert_eq!(settings.database_url, "postgres://env/complaints");
}

#[test]
fn tls_files_are_read_at_start_and_come_in_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "cert.pem", "-----BEGIN CERTIFICATE-----\n");
    let key = write(dir.path(), "key.pem", "-----BEGIN PRIVATE KEY-----\n");
    let settings = Settings::from_vars(&vars(&[
        (env::TLS_CERT_FILE, &cert),
        (env::TLS_KEY_FILE, &key),
        (env::TLS_CA_FILE, &cert),
    ]))
    .unwrap();
    let tls = settings.server.tls.unwrap();
    assert!(tls.cert_pem.starts_with("-----BEGIN CERTIFICATE"));
    assert!(!format!("{:?}", tls.key_pem).contains("PRIVATE"));
    assert!(settings.server.client_tls.ca_pem.is_some());

    for (pairs, named) in [
        (vec![(env::TLS_CERT_FILE, cert.as_str())], env::TLS_KEY_FILE),
        (
            vec![(env::TLS_CLIENT_CA_FILE, cert.as_str())],
            env::TLS_CLIENT_CA_FILE,
        ),
        (
            vec![(env::TLS_CLIENT_KEY_FILE, key.as_str())],
            env::TLS_CLIENT_CERT_FILE,
        ),
        (
            vec![(env::TLS_CA_FILE, "/nonexistent/ca.pem")],
            env::TLS_CA_FILE,
        ),
        (vec![(env::REFLECTION, "sometimes")], env::REFLECTION),
        (
            vec![(env::MAX_CONCURRENT_CALLS, "0")],
            env::MAX_CONCURRENT_CALLS,
        ),
        (
            vec![(env::CALL_TIMEOUT_SECONDS, "1h")],
            env::CALL_TIMEOUT_SECONDS,
        ),
    ] {
        let err = Settings::from_vars(&vars(&pairs)).unwrap_err().to_string();
        assert!(err.starts_with(named), "{pairs:?}: {err}");
    }
}
