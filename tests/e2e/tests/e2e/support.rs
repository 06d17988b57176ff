//! What both end-to-end tests do through the public contracts: submit a
//! complaint on every channel and read each one back from the case service.

use chrono::{DateTime, NaiveDate, Utc};
use complaints_auth::BearerToken;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::intake_service_client::IntakeServiceClient;
use complaints_proto::complaints::intake::v1::{
    SubmitComplaintRequest, SubmitComplaintResponse, SubmitEmailRequest,
};
use complaints_proto::google::r#type::Date;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::bank_holidays;

pub type Intake = IntakeServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Case = CaseServiceClient<InterceptedService<Channel, BearerToken>>;

pub fn intake(channel: &Channel, token: &str) -> Intake {
    IntakeServiceClient::with_interceptor(channel.clone(), BearerToken::new(token).unwrap())
}

pub fn case(channel: &Channel, token: &str) -> Case {
    CaseServiceClient::with_interceptor(channel.clone(), BearerToken::new(token).unwrap())
}

/// Yesterday, to the second: a receipt time that is always accepted (not
/// in the future, well within a year) whatever day the tests run.
pub fn yesterday() -> DateTime<Utc> {
    let at = Utc::now() - chrono::Duration::days(1);
    DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

pub use complaints_test_support::time::timestamp;

fn person(name: &str, email: &str) -> common::Complainant {
    common::Complainant {
        full_name: name.to_owned(),
        email: email.to_owned(),
        phone: "0113 496 0000".to_owned(),
        postal_address: None,
        preferred_contact: common::ContactMethod::Unspecified as i32,
        customer_ref: String::new(),
    }
}

/// One complaint for each channel, received at `received_at`, with request
/// ids starting `prefix`: telephone (R8, the adviser recorded), post (R9,
/// the scan and the address), email and web.
pub fn one_on_each_channel(
    prefix: &str,
    received_at: DateTime<Utc>,
) -> Vec<SubmitComplaintRequest> {
    let base =
        |n: &str, channel: common::Channel, who: common::Complainant| SubmitComplaintRequest {
            request_id: format!("{prefix}-{n}"),
            channel: channel as i32,
            received_at: Some(timestamp(received_at)),
            complainant: Some(who),
            summary: format!("{n}: pendant alarm call not answered"),
            details: "Pressed the pendant on Saturday night.\nNobody answered.".to_owned(),
            recorded_by: String::new(),
            scan_reference: String::new(),
            scanned_letter: None,
        };
    let telephone = SubmitComplaintRequest {
        recorded_by: "Adviser 4471".to_owned(),
        ..base(
            "telephone",
            common::Channel::Telephone,
            person("Tom Hughes", "tom.hughes@example.org"),
        )
    };
    let mut writer = person("Pat Evans", "");
    writer.postal_address = Some(common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "LS1 5HD".to_owned(),
    });
    let post = SubmitComplaintRequest {
        scan_reference: "SCAN-2026-0042".to_owned(),
        ..base("post", common::Channel::Post, writer)
    };
    let email = base(
        "email",
        common::Channel::Email,
        person("Eve Morgan", "eve.morgan@example.org"),
    );
    let web = base(
        "web",
        common::Channel::Web,
        person("Will Price", "will.price@example.org"),
    );
    vec![telephone, post, email, web]
}

/// An inbound email as a mail gateway passes it on (R10).
pub fn raw_email(message_id: &str) -> Vec<u8> {
    format!(
        "From: Kim Lee <kim.lee@example.com>\r\n\
         To: complaints@telecare.example\r\n\
         Subject: Engineer did not turn up\r\n\
         Message-ID: <{message_id}@mail.example.com>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         The engineer booked for Tuesday never came.\r\n\
         Nobody rang to say why.\r\n"
    )
    .into_bytes()
}

/// Submits `request` (telephone complaints as an adviser, the rest as
/// `integration`) and checks its due dates against the independent
/// working-day table ([`DueDates::counted`]).
pub async fn submit(
    adviser: &mut Intake,
    integration: &mut Intake,
    request: SubmitComplaintRequest,
) -> SubmitComplaintResponse {
    let client = if request.channel == common::Channel::Telephone as i32 {
        adviser
    } else {
        integration
    };
    let response = client
        .submit_complaint(request.clone())
        .await
        .unwrap_or_else(|status| panic!("{} refused: {status:?}", request.request_id))
        .into_inner();
    let received_at = DateTime::from_timestamp(request.received_at.unwrap().seconds, 0).unwrap();
    assert_due_dates(&response, &DueDates::counted(received_at));
    assert!(!response.replayed);
    response
}

/// What a submission's answer must say: the date to acknowledge by (R1, 3
/// working days) and to resolve by (R2, 10 working days), each with the
/// instant it ends, as `YYYY-MM-DD` and RFC 3339 UTC text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDates {
    pub acknowledge_by: String,
    pub acknowledge_by_at: String,
    pub resolve_by: String,
    pub resolve_by_at: String,
}

impl DueDates {
    /// Due dates written down, worked out by hand.
    pub fn literal(
        acknowledge_by: &str,
        acknowledge_by_at: &str,
        resolve_by: &str,
        resolve_by_at: &str,
    ) -> DueDates {
        DueDates {
            acknowledge_by: acknowledge_by.to_owned(),
            acknowledge_by_at: acknowledge_by_at.to_owned(),
            resolve_by: resolve_by.to_owned(),
            resolve_by_at: resolve_by_at.to_owned(),
        }
    }

    /// For a receipt at the real time, which cannot be written down:
    /// counted with the end-to-end tests' own table of England and Wales
    /// bank holidays and London clock changes ([`crate::bank_holidays`]),
    /// never with the calendar under test.
    pub fn counted(received_at: DateTime<Utc>) -> DueDates {
        let (acknowledge_by, acknowledge_by_at) = bank_holidays::due(received_at, 3);
        let (resolve_by, resolve_by_at) = bank_holidays::due(received_at, 10);
        DueDates {
            acknowledge_by: date_text(acknowledge_by),
            acknowledge_by_at: instant_text(acknowledge_by_at),
            resolve_by: date_text(resolve_by),
            resolve_by_at: instant_text(resolve_by_at),
        }
    }

    /// What `response` says, in the same form.
    pub fn of(response: &SubmitComplaintResponse) -> DueDates {
        DueDates::answered(
            response.acknowledge_by.as_ref(),
            response.acknowledge_by_at.as_ref(),
            response.resolve_by.as_ref(),
            response.resolve_by_at.as_ref(),
        )
    }

    /// What a submission's answer says, in the same form.
    fn answered(
        acknowledge_by: Option<&Date>,
        acknowledge_by_at: Option<&prost_types::Timestamp>,
        resolve_by: Option<&Date>,
        resolve_by_at: Option<&prost_types::Timestamp>,
    ) -> DueDates {
        DueDates {
            acknowledge_by: proto_date_text(acknowledge_by),
            acknowledge_by_at: proto_instant_text(acknowledge_by_at),
            resolve_by: proto_date_text(resolve_by),
            resolve_by_at: proto_instant_text(resolve_by_at),
        }
    }
}

/// R1 and R2: the due dates and instants `response` gives are `expected`
/// (England and Wales, London time, due at the end of the day).
pub fn assert_due_dates(response: &SubmitComplaintResponse, expected: &DueDates) {
    assert_eq!(
        DueDates::of(response),
        *expected,
        "the due dates of {}",
        response.register_number
    );
}

fn date_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn instant_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A protobuf date as `YYYY-MM-DD` (`(none)` if absent).
pub fn proto_date_text(date: Option<&Date>) -> String {
    match date {
        Some(date) => format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
        None => "(none)".to_owned(),
    }
}

/// A protobuf timestamp as RFC 3339 UTC text, with a fraction only if it
/// has one (`(none)` if absent).
pub fn proto_instant_text(at: Option<&prost_types::Timestamp>) -> String {
    match at {
        Some(at) => match u32::try_from(at.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
        {
            Some(at) => instant_text(at),
            None => format!("(out of range: {at:?})"),
        },
        None => "(none)".to_owned(),
    }
}

/// Reads the case back by its register number and checks it holds what was
/// submitted, and that its timeline starts with the receipt and verifies.
pub async fn assert_recorded(
    cases: &mut Case,
    submitted: &SubmitComplaintRequest,
    case_id: &str,
    register_number: &str,
) -> case_pb::Case {
    let case = cases
        .get_case(case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::RegisterNumber(
                register_number.to_owned(),
            )),
        })
        .await
        .unwrap_or_else(|status| panic!("GetCase {register_number}: {status:?}"))
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.case_id, case_id);
    assert_eq!(case.register_number, register_number);
    assert_eq!(case.channel, submitted.channel);
    assert_eq!(case.summary, submitted.summary);
    assert_eq!(case.received_at, submitted.received_at);
    assert_eq!(case.stage, common::Stage::Stage1 as i32);
    assert_eq!(case.status, case_pb::CaseStatus::Open as i32);
    assert_eq!(case.recorded_by, submitted.recorded_by);
    assert_eq!(case.scan_reference, submitted.scan_reference);
    let (given, stored) = (
        submitted.complainant.as_ref().unwrap(),
        case.complainant.as_ref().unwrap(),
    );
    assert_eq!(stored.full_name, given.full_name);
    assert_eq!(stored.email, given.email);
    if let Some(address) = &given.postal_address {
        assert_eq!(
            stored.postal_address.as_ref().unwrap().postcode,
            address.postcode
        );
    }
    assert_timeline_verifies(cases, case_id).await;
    case
}

pub async fn assert_timeline_verifies(cases: &mut Case, case_id: &str) {
    let timeline = cases
        .get_timeline(case_pb::GetTimelineRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        timeline.verified,
        "the timeline of {case_id} does not verify"
    );
    assert_eq!(timeline.events[0].kind, "case.received");
}

/// Submits the raw email and checks the case it opened (R10).
pub async fn submit_raw_email(integration: &mut Intake, cases: &mut Case, message_id: &str) {
    let received_at = yesterday();
    let request = SubmitEmailRequest {
        raw_message: raw_email(message_id),
        received_at: Some(timestamp(received_at)),
        request_id: String::new(),
    };
    let response = integration
        .submit_email(request.clone())
        .await
        .unwrap_or_else(|status| panic!("SubmitEmail refused: {status:?}"))
        .into_inner();
    let answered = DueDates::answered(
        response.acknowledge_by.as_ref(),
        response.acknowledge_by_at.as_ref(),
        response.resolve_by.as_ref(),
        response.resolve_by_at.as_ref(),
    );
    assert_eq!(
        answered,
        DueDates::counted(received_at),
        "R1, R2: the due dates of the emailed complaint"
    );
    let case = cases
        .get_case(case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::RegisterNumber(
                response.register_number.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.case_id, response.case_id);
    assert_eq!(case.channel, common::Channel::Email as i32);
    assert_eq!(case.summary, "Engineer did not turn up");
    let person = case.complainant.unwrap();
    assert_eq!(person.full_name, "Kim Lee");
    assert_eq!(person.email, "kim.lee@example.com");
    assert_timeline_verifies(cases, &response.case_id).await;

    // The gateway delivers the same message again: the same case.
    let again = integration
        .submit_email(request)
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.case_id, response.case_id);
}

/// The fully-qualified service names server reflection lists.
pub async fn reflected_services(channel: &Channel) -> Vec<String> {
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("reflection answered {other:?}"),
    }
}

/// Waits, up to `patience`, until the case's timeline has an event of
/// `kind` (an acknowledgement sent and recorded back, say); false if it
/// never came.
pub async fn wait_for_event(
    cases: &mut Case,
    case_id: &str,
    kind: &str,
    patience: std::time::Duration,
) -> bool {
    tokio::time::timeout(patience, async {
        loop {
            let timeline = cases
                .get_timeline(case_pb::GetTimelineRequest {
                    case_id: case_id.to_owned(),
                })
                .await
                .unwrap()
                .into_inner();
            if timeline.events.iter().any(|e| e.kind == kind) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .is_ok()
}

/// Every process's output, one after another, for a failure message.
pub fn outputs(processes: &[complaints_e2e::Process]) -> String {
    processes
        .iter()
        .map(complaints_e2e::Process::output)
        .collect::<Vec<_>>()
        .join("\n")
}
