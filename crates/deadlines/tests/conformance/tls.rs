//! The Redis index over TLS with a private CA: a TLS-only Redis of the
//! test's own, with a certificate from a CA made for the test, reached at
//! `rediss://` with that CA (`COMPLAINTS_REDIS_CA_FILE` in the escalation
//! service). The rows are on SQLite: what is under test is the road to
//! Redis. Skipped, visibly, where redis-server is missing; a failure in CI.

use complaints_deadlines::{
    DeadlineQueue, FailoverQueue, QueueError, Reconciled, RedisQueue, RedisQueueConfig,
};
use complaints_domain::case::DeadlineKind;
use complaints_test_support::TestDb;
use complaints_test_support::servers::{self, Redis, RedisOptions, ServerTls};
use complaints_test_support::tls::Authority;

use crate::support::*;

/// A TLS-only Redis with a certificate from `authority`.
async fn tls_redis(authority: &Authority) -> Redis {
    let issued = authority.issue("redis");
    Redis::start_temporary(RedisOptions {
        tls: Some(ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            ca_pem: authority.ca_pem().to_owned(),
        }),
    })
    .await
    .unwrap()
}

/// The default keys (the Redis is the test's own), verified against
/// `ca_pem` if given.
fn with_ca(ca_pem: Option<&str>) -> RedisQueueConfig {
    RedisQueueConfig {
        ca_pem: ca_pem.map(str::to_owned),
        ..RedisQueueConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rediss_with_its_ca_a_deadline_is_indexed_and_claimed_when_due() {
    if !servers::redis_available() {
        return;
    }
    let authority = Authority::new("complaints redis test CA");
    let redis = tls_redis(&authority).await;
    assert!(redis.url().starts_with("rediss://127.0.0.1:"));
    let test = TestDb::sqlite().await;
    let config = with_ca(Some(authority.ca_pem()));
    let queue = RedisQueue::connect(test.db.clone(), &redis.url(), config)
        .await
        .unwrap();

    let due_at = t0() + minutes(30);
    let scheduled = queue
        .schedule(deadline(new_case(), DeadlineKind::Acknowledge, due_at))
        .await
        .unwrap();
    // The member is in the Redis index, not only in the rows.
    assert_eq!(
        queue.reconcile().await.unwrap(),
        Reconciled::InLine {
            pending: 1,
            indexed: 1
        }
    );
    let worker = worker("tls");
    let early = queue
        .claim_due(due_at - minutes(1), 10, &worker, LEASE)
        .await
        .unwrap();
    assert!(early.is_empty());
    let due = queue.claim_due(due_at, 10, &worker, LEASE).await.unwrap();
    assert_eq!(ids(&due), vec![scheduled.deadline_id]);

    // The failover queue, as the escalation service runs it, uses the index.
    let failover = FailoverQueue::connect(
        test.db.clone(),
        &redis.url(),
        with_ca(Some(authority.ca_pem())),
    )
    .await
    .unwrap();
    assert!(!failover.is_degraded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_is_refused_without_its_ca_or_over_plaintext() {
    if !servers::redis_available() {
        return;
    }
    let authority = Authority::new("complaints redis test CA");
    let redis = tls_redis(&authority).await;
    let test = TestDb::sqlite().await;

    // The system's roots do not know the test's CA.
    let error = RedisQueue::connect(test.db.clone(), &redis.url(), with_ca(None))
        .await
        .unwrap_err();
    assert!(matches!(error, QueueError::Redis(_)), "{error:?}");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    // The escalation service still starts, serving deadlines from the rows
    // alone until Redis can be reached.
    let failover = FailoverQueue::connect(test.db.clone(), &redis.url(), with_ca(None))
        .await
        .unwrap();
    assert!(failover.is_degraded());

    // Plaintext to the TLS port: the server drops the connection.
    let plaintext = format!("redis://127.0.0.1:{}", redis.port);
    let error = RedisQueue::connect(test.db.clone(), &plaintext, with_ca(None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, QueueError::Redis(cause) if cause.is_connection_dropped()),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_ca_for_a_plaintext_redis_url_is_refused_before_connecting() {
    let test = TestDb::sqlite().await;
    let authority = Authority::new("complaints redis test CA");
    // Nothing needs to listen: the settings are refused first.
    let error = FailoverQueue::connect(
        test.db.clone(),
        &format!(
            "redis://127.0.0.1:{}",
            complaints_test_support::net::free_port()
        ),
        with_ca(Some(authority.ca_pem())),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("rediss://"), "{error}");
}
