//! The intake application: what each call does, independent of gRPC
//! plumbing. One function per RPC; handlers only decode and encode.

use std::sync::Arc;

use complaints_domain::case::{NewComplaint, RawComplaint, Step, authorize};
use complaints_domain::clock::Clock;
use complaints_domain::complainant::ContactMethod;
use complaints_domain::role::{Actor, Role};
use complaints_domain::values::MessageId;
use complaints_domain::{DomainError, FieldViolation};
use complaints_proto::complaints::case::v1::{
    AddCorrespondenceRequest, EvidenceFile, FindCaseByMessageRequest, OpenCaseRequest,
    OpenCaseResponse,
};
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::{
    EmailOutcome, SubmitComplaintRequest, SubmitComplaintResponse, SubmitEmailRequest,
    SubmitEmailResponse,
};
use complaints_rpc::AppError;
use complaints_rpc::mapping::{
    channel_from_proto, channel_to_proto, complainant_to_proto, contact_to_proto, raw_complainant,
    role_to_proto,
};
use tonic::Status;

use crate::email::{self, InboundEmail};
use crate::gateway::CaseGateway;
pub use crate::request_id::RequestId;

/// Roles that may pass on a raw email, as the contract lists them: mail
/// gateways (`integration`), the platform, and the complaints department.
/// Each must also be allowed to submit by the domain's permission table.
const EMAIL_ROLES: [Role; 3] = [Role::Integration, Role::Service, Role::ComplaintsHandler];

/// Takes complaints in, checks them, and has the case service open them,
/// at most once per idempotency key.
///
/// Intake keeps no table. The key travels to the case service's `OpenCase`
/// as its `request_id`, and the case service records it in the transaction
/// that opens the case: so a key is taken exactly when its case exists,
/// whichever intake replica took the call, and erasing the complainant
/// reaches the only fingerprint of the request. `SubmitComplaint` and
/// `SubmitEmail` share the keys: a key names one complaint, however it
/// arrived.
#[derive(Debug, Clone)]
pub struct IntakeApp {
    gateway: CaseGateway,
    /// "Now" for a receipt time left unset and for the future-time check;
    /// the test clock in test mode.
    clock: Arc<dyn Clock>,
}

impl IntakeApp {
    pub fn new(gateway: CaseGateway, clock: Arc<dyn Clock>) -> Self {
        Self { gateway, clock }
    }

    /// Records a complaint from any channel and opens its case.
    ///
    /// In order: the role may submit (`PERMISSION_DENIED`); `request_id` is
    /// well formed; every field is checked at once (`INVALID_ARGUMENT`,
    /// nothing written); the case service opens the case under the key. A
    /// key seen before with the same content (the normalised complaint, its
    /// receipt time if the caller gave one, its files) returns that case
    /// with `replayed` set, whoever calls; with other content it is
    /// `ALREADY_EXISTS`, as it is after the complainant was erased.
    ///
    /// If the case service fails nothing is taken, so a retry with the same
    /// `request_id` opens the case.
    pub async fn submit_complaint(
        &self,
        actor: &Actor,
        request: SubmitComplaintRequest,
    ) -> Result<SubmitComplaintResponse, AppError> {
        authorize(actor.role, Step::Submit)?;
        let request_id = RequestId::parse(&request.request_id)?;
        self.submit(actor, request_id, request, |violations| violations)
            .await
    }

    /// Records a complaint from a raw inbound email (R10) and opens its case:
    /// the email becomes a `CHANNEL_EMAIL` complaint whose complainant
    /// prefers email, then follows [`Self::submit_complaint`].
    ///
    /// The idempotency key is `request_id`, else `email:<Message-ID>`, else a
    /// hash of the raw bytes. The key's content is the complaint read from
    /// the message, so a gateway redelivering the same message (with other
    /// `Received` headers, say) gets the same case back.
    ///
    /// Every problem with the message is reported on `raw_message`, saying
    /// which part (From, Subject, body) is at fault.
    pub async fn submit_email(
        &self,
        actor: &Actor,
        request: SubmitEmailRequest,
    ) -> Result<SubmitEmailResponse, AppError> {
        authorize(actor.role, Step::Submit)?;
        if !EMAIL_ROLES.contains(&actor.role) {
            return Err(DomainError::PermissionDenied(format!(
                "role {} may not submit raw email",
                actor.role
            ))
            .into());
        }
        let request_id = if request.request_id.is_empty() {
            None
        } else {
            Some(RequestId::parse(&request.request_id)?)
        };
        let inbound = InboundEmail::parse(&request.raw_message)?;
        let request_id = match request_id {
            Some(request_id) => request_id,
            None => RequestId::parse(&inbound.request_id(&request.raw_message))?,
        };
        if let Some(filed) = self.file_follow_up(&inbound, &request, &request_id).await? {
            return Ok(filed);
        }
        let message_id = inbound.message_id.clone();
        // The attachments the message carries (at most
        // `email::MAX_KEPT_ATTACHMENTS`), kept as the case's evidence.
        let attachments = inbound
            .attachments
            .into_iter()
            .map(|file| EvidenceFile {
                filename: file.filename,
                media_type: file.media_type,
                content: file.content,
            })
            .collect();
        let complaint = SubmitComplaintRequest {
            request_id: String::new(),
            channel: common::Channel::Email as i32,
            received_at: request.received_at,
            complainant: Some(common::Complainant {
                full_name: inbound.full_name,
                email: inbound.email,
                preferred_contact: contact_to_proto(ContactMethod::Email),
                ..Default::default()
            }),
            summary: inbound.summary,
            details: inbound.details,
            recorded_by: String::new(),
            scan_reference: String::new(),
            scanned_letter: None,
        };
        let response = self
            .submit_with_message(
                actor,
                request_id,
                complaint,
                message_id.as_ref().map(MessageId::as_str),
                attachments,
                email_violations,
            )
            .await?;
        Ok(SubmitEmailResponse {
            outcome: EmailOutcome::NewCase as i32,
            case_id: response.case_id,
            register_number: response.register_number,
            acknowledge_by: response.acknowledge_by,
            resolve_by: response.resolve_by,
            acknowledge_by_at: response.acknowledge_by_at,
            resolve_by_at: response.resolve_by_at,
            replayed: response.replayed,
        })
    }

    /// A follow-up email files itself on its case (docs/policy.md, R10): one
    /// that answers a message of a case (`In-Reply-To`, the last
    /// `References`) or quotes its register number in the subject, from the
    /// case's complainant. `None` when it is no follow-up, or names a case
    /// whose complainant is someone else: then it is a new complaint, never
    /// filed silently on another person's case.
    async fn file_follow_up(
        &self,
        inbound: &InboundEmail,
        request: &SubmitEmailRequest,
        request_id: &RequestId,
    ) -> Result<Option<SubmitEmailResponse>, AppError> {
        if inbound.thread_ids.is_empty() && inbound.subject_register_number.is_none() {
            return Ok(None);
        }
        let received_at = match request.received_at.as_ref() {
            None => None,
            Some(at) => {
                let at = complaints_rpc::timestamp_from_proto("received_at", at)?;
                if at > self.clock.now() {
                    return Err(
                        FieldViolation::new("received_at", "must not be in the future").into(),
                    );
                }
                Some(complaints_rpc::timestamp_to_proto(at))
            }
        };
        let found = self
            .gateway
            .find_case_by_message(FindCaseByMessageRequest {
                message_ids: inbound.thread_ids.clone(),
                subject_register_number: inbound
                    .subject_register_number
                    .clone()
                    .unwrap_or_default(),
                sender: inbound.email.clone(),
            })
            .await?;
        let Some(case) = found.case else {
            if found.sender_mismatch {
                tracing::info!(
                    request_id = request_id.as_str(),
                    "an email naming another person's case opens a case of its own"
                );
            }
            return Ok(None);
        };
        // Without a usable Message-ID the email is filed under its
        // idempotency key, the same for every delivery of it.
        let message_id = match &inbound.message_id {
            Some(id) => id.as_str().to_owned(),
            None => format!("{}@intake.invalid", request_id.as_str()),
        };
        let filed = self
            .gateway
            .add_correspondence(AddCorrespondenceRequest {
                case_id: case.case_id.clone(),
                message_id,
                in_reply_to: inbound.in_reply_to.clone().unwrap_or_default(),
                sender: inbound.email.clone(),
                subject: inbound.subject.clone(),
                received_at,
            })
            .await?;
        tracing::info!(
            request_id = request_id.as_str(),
            case_id = case.case_id,
            register_number = case.register_number,
            added = filed.added,
            "follow-up email filed on its case"
        );
        Ok(Some(SubmitEmailResponse {
            case_id: case.case_id,
            register_number: case.register_number,
            replayed: !filed.added,
            outcome: EmailOutcome::AddedToCase as i32,
            ..SubmitEmailResponse::default()
        }))
    }

    /// The path both calls share, once the caller and key are known.
    /// `relabel` rewrites field violations into the caller's request's terms.
    async fn submit(
        &self,
        actor: &Actor,
        request_id: RequestId,
        request: SubmitComplaintRequest,
        relabel: impl FnOnce(Vec<FieldViolation>) -> Vec<FieldViolation>,
    ) -> Result<SubmitComplaintResponse, AppError> {
        self.submit_with_message(actor, request_id, request, None, Vec::new(), relabel)
            .await
    }

    /// [`Self::submit`] for a complaint that came as an email with
    /// `message_id`, which the case records as its first correspondence,
    /// and its `attachments`, which the case keeps as evidence (as it keeps
    /// a posted complaint's `scanned_letter`).
    async fn submit_with_message(
        &self,
        actor: &Actor,
        request_id: RequestId,
        mut request: SubmitComplaintRequest,
        message_id: Option<&str>,
        attachments: Vec<EvidenceFile>,
        relabel: impl FnOnce(Vec<FieldViolation>) -> Vec<FieldViolation>,
    ) -> Result<SubmitComplaintResponse, AppError> {
        let complaint = match NewComplaint::validate(raw_complaint(&request)?, self.clock.now()) {
            Ok(complaint) => complaint,
            Err(DomainError::InvalidArgument(violations)) => {
                return Err(DomainError::InvalidArgument(relabel(violations)).into());
            }
            Err(other) => return Err(other.into()),
        };

        let scanned_letter = request.scanned_letter.take().map(|letter| EvidenceFile {
            filename: letter.filename,
            media_type: letter.media_type,
            content: letter.content,
        });
        let opened = self
            .gateway
            .open_case(OpenCaseRequest {
                // Only the receipt time the caller gave: one left unset is
                // "now" to the case service, and is no part of the key, so
                // a retry of the same request is the same content.
                received_at: request
                    .received_at
                    .is_some()
                    .then(|| complaints_rpc::timestamp_to_proto(complaint.received_at())),
                message_id: message_id.unwrap_or_default().to_owned(),
                attachments,
                scanned_letter,
                ..open_case_request(&request_id, &complaint, actor)
            })
            .await?;
        let response = response_from(opened)?;
        if response.replayed {
            tracing::info!(
                request_id = request_id.as_str(),
                case_id = response.case_id,
                "replayed an earlier submission"
            );
        } else {
            tracing::info!(
                request_id = request_id.as_str(),
                case_id = response.case_id,
                register_number = response.register_number,
                channel = complaint.channel().as_str(),
                actor = %actor,
                "complaint submitted"
            );
        }
        Ok(response)
    }
}

/// The request as the domain validates it. Only a timestamp out of range is
/// refused here; the domain reports everything else.
fn raw_complaint(request: &SubmitComplaintRequest) -> Result<RawComplaint, AppError> {
    let received_at = request
        .received_at
        .as_ref()
        .map(|at| complaints_rpc::timestamp_from_proto("received_at", at))
        .transpose()?;
    Ok(RawComplaint {
        channel: channel_from_proto(request.channel),
        received_at,
        complainant: raw_complainant(request.complainant.as_ref()),
        summary: request.summary.clone(),
        details: request.details.clone(),
        recorded_by: request.recorded_by.clone(),
        scan_reference: request.scan_reference.clone(),
    })
}

/// The validated complaint, normalised (trimmed text, E.164 phone, formatted
/// postcode, resolved contact preference), for the case service, with the
/// submitter as its first event's actor. The receipt time is the caller's
/// to set (see [`IntakeApp::submit_complaint`]).
fn open_case_request(
    request_id: &RequestId,
    complaint: &NewComplaint,
    actor: &Actor,
) -> OpenCaseRequest {
    let text = |value: Option<&complaints_domain::values::Text>| {
        value.map(|v| v.as_str().to_owned()).unwrap_or_default()
    };
    OpenCaseRequest {
        request_id: request_id.as_str().to_owned(),
        channel: channel_to_proto(complaint.channel()),
        complainant: Some(complainant_to_proto(complaint.complainant())),
        summary: complaint.summary().as_str().to_owned(),
        details: text(complaint.details()),
        recorded_by: text(complaint.recorded_by()),
        scan_reference: text(complaint.scan_reference()),
        submitted_by: actor.subject.clone(),
        submitted_by_role: role_to_proto(actor.role),
        ..OpenCaseRequest::default()
    }
}

fn response_from(opened: OpenCaseResponse) -> Result<SubmitComplaintResponse, AppError> {
    let case = opened.case.ok_or_else(|| {
        tracing::error!("the case service answered OpenCase without the case");
        Status::internal("the case service gave an incomplete answer")
    })?;
    Ok(SubmitComplaintResponse {
        case_id: case.case_id,
        register_number: case.register_number,
        acknowledge_by: opened.acknowledge_by,
        resolve_by: opened.resolve_by,
        acknowledge_by_at: opened.acknowledge_by_at,
        resolve_by_at: opened.resolve_by_at,
        replayed: opened.replayed,
        // Passed through: the case service found them when it opened the
        // case, and replays them with it.
        possible_duplicate_of: case.possible_duplicate_of,
    })
}

/// Violations of the complaint read from an email, in `SubmitEmail`'s
/// terms: `received_at` is the request's own field; everything else came
/// out of `raw_message`, and the description says from which part.
fn email_violations(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    violations
        .into_iter()
        .map(|violation| {
            let part = match violation.field.as_str() {
                "received_at" => return violation,
                "summary" => "the summary taken from its Subject (or first line)",
                "details" => "the details taken from its body",
                "complainant.full_name" => "the name taken from its From header",
                "complainant.email" => "the address taken from its From header",
                _ => "a value taken from it",
            };
            FieldViolation::new(
                email::FIELD,
                format!("{part} ({}) {}", violation.field, violation.description),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_request_id_is_one_to_128_printable_ascii_characters() {
        assert!(RequestId::parse("3f2c9a4e-1b7d-4c1e-9a0b-2d9e8f7a6b5c").is_ok());
        assert!(RequestId::parse(&"a".repeat(128)).is_ok());
        assert!(RequestId::parse("email:abc@example.org").is_ok());
        for bad in [
            "",
            "   ",
            "caf\u{e9}",
            "tab\there",
            "new\nline",
            "two words",
        ] {
            let violation = RequestId::parse(bad).unwrap_err();
            assert_eq!(violation.field, "request_id", "{bad:?}");
        }
        let long = RequestId::parse(&"a".repeat(129)).unwrap_err();
        assert!(long.description.contains("at most 128"), "{long}");
    }

    #[test]
    fn email_violations_name_the_raw_message_and_the_part_at_fault() {
        let relabelled = email_violations(vec![
            FieldViolation::new("summary", "must not be empty"),
            FieldViolation::new("received_at", "must not be in the future"),
        ]);
        assert_eq!(relabelled[0].field, "raw_message");
        assert!(relabelled[0].description.contains("Subject"));
        assert_eq!(relabelled[1].field, "received_at");
    }
}
