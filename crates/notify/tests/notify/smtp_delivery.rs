//! Email through a real SMTP server (aiosmtpd, from `complaints_test_support::smtp`).

use std::time::{Duration, Instant};

use complaints_notify::{Delivered, Mailer, SendError, SmtpMailer, SmtpSettings};

use crate::smtp::{SmtpServer, free_port, received_in};
use crate::support::{REFERENCE, email_to, parse_email};

fn mailer(port: u16) -> SmtpMailer {
    SmtpMailer::new(SmtpSettings {
        timeout: Duration::from_secs(5),
        hello_name: Some("complaints.test".to_owned()),
        ..SmtpSettings::plain("127.0.0.1", port)
    })
    .unwrap()
}

#[tokio::test]
async fn an_email_arrives_with_its_message_id_and_the_register_number() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), &dir.path().join("inbox")).unwrap();
    let email = email_to("ack-smtp-1", "margaret@example.com");

    let delivered = mailer(server.port).send(&email).await.unwrap();
    let Delivered::Smtp { reply } = delivered else {
        panic!("expected an SMTP reply, got {delivered:?}");
    };
    assert!(reply.starts_with("250"), "{reply}");

    let received = server.received();
    assert_eq!(received.len(), 1);
    let message = parse_email(&received[0].raw);
    assert_eq!(message.message_id(), Some("ack-smtp-1@example.org"));
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("complaints@example.org")
    );
    let body = message.body_text(0).unwrap();
    assert!(body.contains(REFERENCE), "{body}");
    assert!(body.contains("0113 496 0000"), "{body}");
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_failure_with_the_servers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), &dir.path().join("inbox")).unwrap();
    let email = email_to("ack-smtp-2", "refuse-me@example.com");

    let err = mailer(server.port).send(&email).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(err.reason().starts_with("550"), "{}", err.reason());
    assert!(
        err.reason()
            .contains("recipient refused by the test server"),
        "{}",
        err.reason()
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_server_asking_to_try_later_is_a_transient_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), &dir.path().join("inbox")).unwrap();
    let email = email_to("ack-smtp-3", "later@example.com");

    let err = mailer(server.port).send(&email).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.reason().starts_with("451"), "{}", err.reason());
    assert!(err.reason().contains("try again later"), "{}", err.reason());
}

#[tokio::test]
async fn a_server_that_is_down_is_transient_and_a_retry_gets_through_once_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let port = free_port();
    let mailer = mailer(port);
    let email = email_to("ack-smtp-4", "margaret@example.com");

    let err = mailer.send(&email).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    let _server = SmtpServer::start(port, &inbox).unwrap();
    mailer.send(&email).await.unwrap();
    let received = received_in(&inbox);
    assert_eq!(received.len(), 1);
    assert_eq!(
        parse_email(&received[0].raw).message_id(),
        Some("ack-smtp-4@example.org")
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    // Accepts the connection and then says nothing: no greeting ever comes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mailer = SmtpMailer::new(SmtpSettings {
        timeout: Duration::from_millis(500),
        ..SmtpSettings::plain("127.0.0.1", port)
    })
    .unwrap();

    let started = Instant::now();
    let err = mailer
        .send(&email_to("ack-smtp-5", "margaret@example.com"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    silent.abort();
}
