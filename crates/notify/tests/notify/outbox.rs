//! The file mailer: emails written to an outbox folder.

use complaints_notify::{Delivered, FileMailer, Mailer};

use crate::support::{REFERENCE, email_to, parse_email};

#[tokio::test]
async fn the_file_mailer_writes_a_parseable_eml_named_by_the_notification_id() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = FileMailer::new(&outbox);
    let email = email_to("ack-1", "margaret@example.com");

    let delivered = mailer.send(&email).await.unwrap();
    let path = outbox.join("ack-1.eml");
    assert_eq!(delivered, Delivered::Outbox { path: path.clone() });

    let raw = std::fs::read(&path).unwrap();
    assert_eq!(raw, email.formatted());
    let message = parse_email(&raw);
    assert_eq!(message.message_id(), Some("ack-1@example.org"));
    assert_eq!(
        message.subject(),
        Some("Your complaint CMP-2026-000123: we have received it")
    );
    let to = message.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("margaret@example.com"));
    assert_eq!(to.name(), Some("Margaret Smith"));
    let body = message.body_text(0).unwrap();
    assert!(body.contains(REFERENCE), "{body}");
    assert!(body.starts_with("Dear Mrs Smith,"), "{body}");
}

#[tokio::test]
async fn sending_the_same_notification_again_leaves_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::new(dir.path());
    let email = email_to("ack-2", "margaret@example.com");
    mailer.send(&email).await.unwrap();
    mailer.send(&email).await.unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ack-2.eml"]);
}
