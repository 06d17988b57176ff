//! A complaint's whole correspondence over gRPC on `complaints dev
//! --test-clock`: the complainant answers the acknowledgement as a mail
//! client does, and the reply joins their case (no new case, no second
//! acknowledgement); the acknowledgement itself answers the complaint's
//! email, so the complainant's mail client threads them (R10,
//! docs/policy.md).

use chrono::Duration;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::intake::v1::{EmailOutcome, SubmitEmailRequest};

use complaints_e2e::{START_TIMEOUT, binaries, clean_command, run};

use crate::clock_suite::{Clients, NotificationKind, Suite};

/// The complaint as the complainant's mail client sent it.
const COMPLAINT: &str = concat!(
    "From: Grace Hall <grace.hall@example.com>\r\n",
    "To: complaints@telecare.example\r\n",
    "Subject: Alarm unit beeping all night\r\n",
    "Message-ID: <complaint-77@mail.example.com>\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "\r\n",
    "The base unit beeped every minute from midnight and nobody came.\r\n",
);

/// A header's value in a written `.eml`, its folded lines joined.
fn header(eml: &str, name: &str) -> String {
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .split("\r\n")
        .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} header in:\n{eml}"))
}

fn email(raw: String) -> SubmitEmailRequest {
    SubmitEmailRequest {
        raw_message: raw.into_bytes(),
        received_at: None,
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_the_acknowledgement_joins_its_case_and_the_emails_thread() {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    let mut gateway = suite.intake("integration", "mail-gateway");

    let opened = gateway
        .submit_email(email(COMPLAINT.to_owned()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.outcome, EmailOutcome::NewCase as i32);
    c.advance(Duration::minutes(1)).await;

    // The acknowledgement the platform wrote, as the complainant receives it.
    let notices = c.notifications(&opened.case_id).await;
    let acks: Vec<_> = notices
        .iter()
        .filter(|n| n.kind == NotificationKind::Acknowledgement as i32)
        .collect();
    assert_eq!(acks.len(), 1, "{notices:#?}");
    let path = suite
        .email_outbox()
        .join(format!("{}.eml", acks[0].notification_id));
    let eml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ack_id = header(&eml, "Message-ID");
    let subject = header(&eml, "Subject");
    assert!(subject.contains(&opened.register_number), "{subject}");
    assert_eq!(
        header(&eml, "In-Reply-To"),
        "<complaint-77@mail.example.com>"
    );
    assert_eq!(
        header(&eml, "References"),
        "<complaint-77@mail.example.com>"
    );

    // The complainant presses Reply.
    let reply = format!(
        "From: Grace Hall <grace.hall@example.com>\r\n\
         To: complaints@telecare.example\r\n\
         Subject: Re: {subject}\r\n\
         Message-ID: <reply-78@mail.example.com>\r\n\
         In-Reply-To: {ack_id}\r\n\
         References: <complaint-77@mail.example.com> {ack_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Thank you. It beeped again last night.\r\n"
    );
    let filed = gateway
        .submit_email(email(reply))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
    assert_eq!(filed.register_number, opened.register_number);
    c.advance(Duration::minutes(1)).await;

    let notices = c.notifications(&opened.case_id).await;
    let acks = notices
        .iter()
        .filter(|n| n.kind == NotificationKind::Acknowledgement as i32)
        .count();
    assert_eq!(acks, 1, "one acknowledgement on the case: {notices:#?}");
    assert!(
        notices
            .iter()
            .any(|n| n.kind == NotificationKind::InternalAlert as i32
                && n.subject
                    == format!(
                        "The complainant wrote again about {}",
                        opened.register_number
                    )),
        "the handler was told: {notices:#?}"
    );
    let all_cases = c
        .handler
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all_cases.total_size, 1, "no new case");

    let messages = c
        .handler
        .list_correspondence(case_pb::ListCorrespondenceRequest {
            case_id: opened.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .messages;
    let listed: Vec<(i32, String)> = messages
        .iter()
        .map(|m| (m.direction, format!("<{}>", m.message_id)))
        .collect();
    let inbound = case_pb::CorrespondenceDirection::Inbound as i32;
    let outbound = case_pb::CorrespondenceDirection::Outbound as i32;
    assert_eq!(
        listed,
        [
            (inbound, "<complaint-77@mail.example.com>".to_owned()),
            (outbound, ack_id.clone()),
            (inbound, "<reply-78@mail.example.com>".to_owned()),
        ]
    );

    // The same thread as a person at a terminal reads it.
    let mut command = clean_command(&binaries().complaints);
    command.args([
        "correspondence",
        &opened.register_number,
        "--server",
        &format!("http://{}", suite.address),
    ]);
    let output = run(command, START_TIMEOUT).unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 6, "{printed}");
    assert!(
        lines[1].ends_with("from the complainant: Alarm unit beeping all night"),
        "{printed}"
    );
    assert!(lines[2].contains("to the complainant: "), "{printed}");
    assert!(lines[2].contains(&opened.register_number), "{printed}");
    assert_eq!(
        lines[3].trim(),
        "in reply to <complaint-77@mail.example.com>"
    );
    assert!(lines[4].contains("from the complainant: Re: "), "{printed}");
    assert_eq!(lines[5].trim(), format!("in reply to {ack_id}"));

    let kinds: Vec<String> = c
        .timeline(&opened.case_id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "correspondence.received")
            .count(),
        1,
        "{kinds:?}"
    );
}
