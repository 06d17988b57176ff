//! Postgres over TLS, as `DATABASE_URL` asks for it: a cluster of the
//! test's own that admits TLS connections only (`hostssl`), with a
//! certificate from a CA made for the test. Skipped, visibly, where
//! PostgreSQL's binaries are missing; a failure in CI.

use complaints_store::{db, register};
use complaints_test_support::servers::{self, Postgres, PostgresOptions, ServerTls};
use complaints_test_support::tls::Authority;
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_uses_a_tls_only_postgres_verified_by_its_ca_and_is_refused_without_tls_or_with_another_ca()
 {
    if !servers::postgres_available() {
        return;
    }
    let authority = Authority::new("complaints store test CA");
    let issued = authority.issue("postgres");
    let postgres = Postgres::start_temporary(PostgresOptions {
        tls: Some(ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            ca_pem: authority.ca_pem().to_owned(),
        }),
        ..PostgresOptions::default()
    })
    .await
    .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let ca_file = folder.path().join("postgres-ca.pem");
    std::fs::write(&ca_file, authority.ca_pem()).unwrap();
    let other_ca_file = folder.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, Authority::new("another CA").ca_pem()).unwrap();
    let verified = |ca: &std::path::Path| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            postgres.url(),
            ca.display()
        )
    };

    // Verified against the CA: migrates, writes and reads, over TLS.
    let store = db::connect(&verified(&ca_file)).await.unwrap();
    let first = register::next_register_number(&store, 2026).await.unwrap();
    let second = register::next_register_number(&store, 2026).await.unwrap();
    assert_eq!(first.as_str(), "CMP-2026-000001");
    assert_eq!(second.as_str(), "CMP-2026-000002");
    let session = store
        .query_one_raw(Statement::from_string(
            store.get_database_backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(session.try_get::<bool>("", "ssl").unwrap());
    store.close().await.unwrap();

    // Encrypted without checking the certificate, as `require` does.
    let unchecked = db::open(&format!("{}?sslmode=require", postgres.url()))
        .await
        .unwrap();
    let third = register::next_register_number(&unchecked, 2026)
        .await
        .unwrap();
    assert_eq!(third.as_str(), "CMP-2026-000003");
    unchecked.close().await.unwrap();

    // Without TLS: the server has no pg_hba.conf line for it.
    let plaintext = db::open(&format!("{}?sslmode=disable", postgres.url()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        plaintext.contains("no pg_hba.conf entry") && plaintext.contains("no encryption"),
        "{plaintext}"
    );

    // A certificate that does not chain to the CA the client trusts.
    let stranger = db::open(&verified(&other_ca_file))
        .await
        .unwrap_err()
        .to_string();
    assert!(stranger.contains("UnknownIssuer"), "{stranger}");
}
