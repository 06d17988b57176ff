//! Erasure reaches every copy: after `EraseComplainant`, no call returns
//! the person's name, email address, phone number or postal address, and
//! no file the platform wrote under its data folder holds them, the SQLite
//! database and the evidence kept from the email's attachment included.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use complaints_auth::BearerToken;
use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, channel, clean_command};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_proto::complaints::notification::v1::notification_service_client::NotificationServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{case, intake, timestamp, yesterday};

type Notifications = NotificationServiceClient<InterceptedService<Channel, BearerToken>>;

/// What identifies the person, in every form the platform may store it.
const PERSONAL: [&str; 8] = [
    "Priya Raman",
    "Raman",
    "priya.raman@example.net",
    "07700 900123",
    "+447700900123",
    "14 Acacia Avenue",
    "Headingley",
    "LS6 2AB",
];

/// A complaint by email from Priya Raman, naming herself in the subject and
/// giving her telephone number and address in the text, with a PDF
/// attached whose bytes name her too ([`ATTACHMENT_BASE64`]).
fn raw_email() -> Vec<u8> {
    format!(
        "From: Priya Raman <priya.raman@example.net>\r\n\
         To: complaints@telecare.example\r\n\
         Subject: Priya Raman - pendant alarm not answered\r\n\
         Message-ID: <erasure-e2e-1@mail.example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         I pressed my pendant and nobody answered.\r\n\
         Please ring me on 07700 900123 or write to 14 Acacia Avenue,\r\n\
         Headingley, Leeds LS6 2AB.\r\n\
         --b1\r\n\
         Content-Type: application/pdf; name=\"alarm-log.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"alarm-log.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {ATTACHMENT_BASE64}\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

/// The attached PDF, as the email carries it: the base64 of
/// `%PDF-1.4\n1 0 obj << /Type /Catalog /Author (Priya Raman) >> endobj\n
/// trailer << /Root 1 0 R >>\n%%EOF\n`, so only the stored evidence (not
/// the email's text) holds her name in these bytes.
const ATTACHMENT_BASE64: &str = "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyAvQXV0aG9yIChQcml5YSBSYW1hbikgPj4gZW5kb2JqCnRyYWlsZXIgPDwgL1Jvb3QgMSAwIFIgPj4KJSVFT0YK";

/// Polls `check` every 100 ms until it holds, failing after `limit`.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn notifications_of(
    client: &mut Notifications,
    case_id: &str,
) -> Vec<notification_pb::Notification> {
    client
        .list_notifications(notification_pb::ListNotificationsRequest {
            case_id: case_id.to_owned(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .notifications
}

async fn evidence_of(cases: &mut crate::support::Case, case_id: &str) -> Vec<case_pb::Evidence> {
    cases
        .list_evidence(case_pb::ListEvidenceRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .evidence
}

/// The evidence's bytes by `GetEvidence`, or the status that refused them
/// (at the call or in the stream).
async fn read_evidence(
    cases: &mut crate::support::Case,
    evidence_id: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = cases
        .get_evidence(case_pb::GetEvidenceRequest {
            evidence_id: evidence_id.to_owned(),
        })
        .await?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await? {
        if let Some(case_pb::get_evidence_response::Part::Chunk(chunk)) = message.part {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

/// Every file under `dir`, however deep.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The pieces of personal data `text` still holds.
fn personal_data_in(text: &[u8]) -> Vec<&'static str> {
    PERSONAL
        .into_iter()
        .filter(|needle| {
            let needle = needle.as_bytes();
            text.windows(needle.len()).any(|window| window == needle)
        })
        .collect()
}

fn assert_no_personal_data(what: &str, text: &str) {
    let found = personal_data_in(text.as_bytes());
    assert!(found.is_empty(), "{what} still holds {found:?}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erasure_no_call_and_no_file_holds_the_complainants_personal_data() {
    let data = TempDir::new("complaints-e2e-erasure").unwrap();
    let data_dir = data.path().join("data");
    let mut command = clean_command(&binaries().complaints);
    command
        .current_dir(data.path())
        .arg("dev")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data_dir);
    let mut suite = Process::spawn("complaints dev", command).unwrap();
    let address = suite
        .wait_for_line("ready: listening on ", START_TIMEOUT)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let channel = channel(address).unwrap();
    let handler_token = complaints_e2e::dev_token("complaints_handler", "hana");
    let mut integration = intake(
        &channel,
        &complaints_e2e::dev_token("integration", "gateway"),
    );
    let mut cases = case(&channel, &handler_token);
    let mut notifications = NotificationServiceClient::with_interceptor(
        channel.clone(),
        BearerToken::new(&handler_token).unwrap(),
    );

    let submitted = integration
        .submit_email(
            complaints_proto::complaints::intake::v1::SubmitEmailRequest {
                raw_message: raw_email(),
                received_at: Some(timestamp(yesterday())),
                request_id: String::new(),
            },
        )
        .await
        .unwrap()
        .into_inner();
    let case_id = submitted.case_id.clone();
    // The person is on record, and the acknowledgement goes to them (R10).
    let recorded = cases
        .get_case(case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::CaseId(case_id.clone())),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(recorded.complainant.unwrap().full_name, "Priya Raman");
    assert!(
        recorded.details.contains("07700 900123"),
        "{}",
        recorded.details
    );
    wait_for(
        "the acknowledgement to be sent",
        Duration::from_secs(30),
        || {
            let mut client = notifications.clone();
            let case_id = case_id.clone();
            async move {
                notifications_of(&mut client, &case_id)
                    .await
                    .iter()
                    .any(|n| n.state == notification_pb::NotificationState::Sent as i32)
            }
        },
    )
    .await;
    let sent = notifications_of(&mut notifications, &case_id).await;
    assert!(
        sent[0].recipient.contains("priya.raman@example.net"),
        "{sent:?}"
    );
    let emails: Vec<_> = files_under(&data_dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(!personal_data_in(&std::fs::read(&emails[0]).unwrap()).is_empty());
    // The attachment is kept as evidence, its bytes (naming her) in the
    // evidence store under the data folder.
    let evidence = evidence_of(&mut cases, &case_id).await;
    assert_eq!(evidence.len(), 1, "{evidence:#?}");
    assert_eq!(evidence[0].filename, "alarm-log.pdf");
    assert_eq!(evidence[0].media_type, "application/pdf");
    let evidence_id = evidence[0].evidence_id.clone();
    let kept = read_evidence(&mut cases, &evidence_id)
        .await
        .expect("the evidence reads back before erasure");
    assert_eq!(personal_data_in(&kept), ["Priya Raman", "Raman"]);
    let evidence_files: Vec<_> = files_under(&data_dir.join("evidence"))
        .into_iter()
        .filter(|path| std::fs::read(path).unwrap() == kept)
        .collect();
    assert_eq!(
        evidence_files.len(),
        1,
        "its bytes are a file under the data folder"
    );

    cases
        .erase_complainant(case_pb::EraseComplainantRequest {
            case_id: case_id.clone(),
            request_id: "erasure-e2e-1".to_owned(),
            reason: "Data-subject request".to_owned(),
        })
        .await
        .unwrap();
    // The notification service hears of it through the case service's
    // outbox.
    wait_for(
        "the notifications to be erased",
        Duration::from_secs(30),
        || {
            let mut client = notifications.clone();
            let case_id = case_id.clone();
            async move {
                notifications_of(&mut client, &case_id)
                    .await
                    .iter()
                    .all(|n| n.recipient.is_empty())
            }
        },
    )
    .await;

    // No call returns the person.
    let got = cases
        .get_case(case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::CaseId(case_id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_no_personal_data("GetCase", &format!("{got:?}"));
    let listed = cases
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases.len(), 1);
    assert_no_personal_data("ListCases", &format!("{listed:?}"));
    let timeline = cases
        .get_timeline(case_pb::GetTimelineRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(timeline.verified, "the timeline still verifies");
    assert_no_personal_data("GetTimeline", &format!("{timeline:?}"));
    let listed = notifications_of(&mut notifications, &case_id).await;
    assert_no_personal_data("ListNotifications", &format!("{listed:?}"));
    // The evidence went with her: no record, and its bytes are gone.
    assert!(
        evidence_of(&mut cases, &case_id).await.is_empty(),
        "ListEvidence after erasure"
    );
    let status = read_evidence(&mut cases, &evidence_id)
        .await
        .expect_err("GetEvidence after erasure");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    assert!(
        !evidence_files[0].exists(),
        "{} is still there",
        evidence_files[0].display()
    );
    for notification in &listed {
        match notifications
            .get_notification_content(notification_pb::GetNotificationContentRequest {
                notification_id: notification.notification_id.clone(),
            })
            .await
        {
            Ok(content) => assert_no_personal_data(
                "GetNotificationContent",
                &String::from_utf8_lossy(&content.into_inner().body),
            ),
            Err(status) => assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}"),
        }
    }

    // Nor does any file, once the suite has stopped and closed its database.
    let status = suite.stop(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit {status}\n{}", suite.output());
    let files = files_under(&data_dir);
    assert!(
        files.iter().any(|path| path.ends_with("complaints.db")),
        "{files:?}"
    );
    let holding: Vec<_> = files
        .iter()
        .map(|path| (path, personal_data_in(&std::fs::read(path).unwrap())))
        .filter(|(_, found)| !found.is_empty())
        .collect();
    assert!(
        holding.is_empty(),
        "files still holding personal data: {holding:?}"
    );
}
