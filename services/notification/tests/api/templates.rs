//! A company's own template folder (`COMPLAINTS_TEMPLATES_DIR`): used for
//! what is sent, and checked in full when the service starts, so a broken
//! template stops the start rather than a letter that is due.

use std::path::Path;
use std::sync::Arc;

use complaints_config::env;
use complaints_domain::clock::{Clock, ManualClock};
use complaints_notification::{DeliverySettings, application};
use complaints_test_support::TestDb;

use crate::helpers::{
    email_complaint, monday_morning, on_every_backend, settings, smtp_server, spawn_app_with,
};
use crate::smtp::free_port;

on_every_backend!(
    wrap = crate::helpers::bounded;
    the_templates_in_a_company_folder_are_the_ones_sent
);

/// Writes the bundled templates into `dir`, as a company starts its own.
fn write_bundled_templates(dir: &Path) {
    for (name, text) in complaints_notify::bundled_templates() {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn append(path: &Path, line: &str) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(line);
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_template_naming_a_missing_value_stops_the_service_at_start() {
    crate::helpers::bounded(a_template_naming_a_missing_value_stops_the_start()).await;
}

async fn a_template_naming_a_missing_value_stops_the_start() {
    let templates = tempfile::tempdir().unwrap();
    write_bundled_templates(templates.path());
    append(
        &templates.path().join("acknowledgement.txt"),
        "\nYour shoe size: {{ complainant_shoe_size }}\n",
    );
    let data = tempfile::tempdir().unwrap();
    let folder = templates.path().display().to_string();
    let settings = settings(
        data.path(),
        free_port(),
        &[
            (env::TEMPLATES_DIR, folder.as_str()),
            (
                env::JWT_SECRET,
                "notification-template-tests-signing-secret",
            ),
            (env::JWT_ISSUER, "https://idp.test.example"),
            (env::JWT_AUDIENCE, "complaints-notification-tests"),
            // Never reached: the templates are checked first.
            (env::DATABASE_URL, "postgres://nobody@127.0.0.1:1/none"),
        ],
    );
    assert_eq!(
        settings.delivery.templates_dir.as_deref(),
        Some(templates.path())
    );

    let error = DeliverySettings::from_config(&settings.delivery).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("notification templates"), "{message}");
    assert!(message.contains("acknowledgement.txt"), "{message}");
    assert!(message.contains("undefined"), "{message}");

    // The process itself refuses to start, before it opens the database.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(monday_morning()));
    let error = application(settings, clock).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("acknowledgement.txt"), "{message}");
}

#[test]
fn a_template_folder_missing_a_template_stops_the_service_at_start() {
    let templates = tempfile::tempdir().unwrap();
    write_bundled_templates(templates.path());
    std::fs::remove_file(templates.path().join("internal_alert.subject")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let folder = templates.path().display().to_string();
    let settings = settings(
        data.path(),
        free_port(),
        &[(env::TEMPLATES_DIR, folder.as_str())],
    );

    let error = DeliverySettings::from_config(&settings.delivery).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("internal_alert.subject"), "{message}");
    assert!(message.contains("missing"), "{message}");
}

async fn the_templates_in_a_company_folder_are_the_ones_sent(db: TestDb) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let templates = tempfile::tempdir().unwrap();
    write_bundled_templates(templates.path());
    append(
        &templates.path().join("acknowledgement.txt"),
        "\nOur complaints line is open until 8pm. Reference {{ register_number }}.\n",
    );
    let folder = templates.path().display().to_string();
    let app = spawn_app_with(db, smtp.port, &[(env::TEMPLATES_DIR, folder.as_str())]).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    assert_eq!(app.deliver().await, 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let body = received[0].parsed().body_text(0).unwrap().into_owned();
    let line = format!(
        "Our complaints line is open until 8pm. Reference {}.",
        case.register_number
    );
    assert!(body.contains(&line), "{body}");
    let content = String::from_utf8(app.content(&id).await.unwrap().into_inner().body).unwrap();
    assert!(content.contains(&line), "{content}");
}
