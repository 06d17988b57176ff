//! Domain enums and the complainant, to and from their protobuf forms.
//! Proto enums arrive as `i32`; `UNSPECIFIED` and unknown numbers map to
//! `None`, and the caller decides whether that is an error.

use complaints_domain::case::{
    AcknowledgementMethod, CaseStatus, DeadlineKind, Finding, NotifyKind,
};
use complaints_domain::complainant::{
    Channel, Complainant, ContactMethod, RawComplainant, RawPostalAddress,
};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as pb;
use complaints_proto::complaints::notification::v1 as notification_pb;

/// Pairs a domain enum with its proto enum both ways.
macro_rules! enum_mapping {
    ($to:ident, $from:ident, $domain:ty, $proto:ty, [$($d:path => $p:path),* $(,)?]) => {
        pub fn $to(value: $domain) -> i32 {
            let proto: $proto = match value { $($d => $p,)* };
            proto as i32
        }

        pub fn $from(value: i32) -> Option<$domain> {
            match <$proto>::try_from(value).ok()? {
                $($p => Some($d),)*
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
    };
}

enum_mapping!(channel_to_proto, channel_from_proto, Channel, pb::Channel, [
    Channel::Telephone => pb::Channel::Telephone,
    Channel::Post => pb::Channel::Post,
    Channel::Email => pb::Channel::Email,
    Channel::Web => pb::Channel::Web,
]);

enum_mapping!(contact_to_proto, contact_from_proto, ContactMethod, pb::ContactMethod, [
    ContactMethod::Email => pb::ContactMethod::Email,
    ContactMethod::Post => pb::ContactMethod::Post,
    ContactMethod::Phone => pb::ContactMethod::Phone,
]);

enum_mapping!(stage_to_proto, stage_from_proto, Stage, pb::Stage, [
    Stage::Stage1 => pb::Stage::Stage1,
    Stage::Stage2 => pb::Stage::Stage2,
    Stage::Stage3 => pb::Stage::Stage3,
    Stage::External => pb::Stage::External,
]);

enum_mapping!(role_to_proto, role_from_proto, Role, pb::Role, [
    Role::Adviser => pb::Role::Adviser,
    Role::ComplaintsHandler => pb::Role::ComplaintsHandler,
    Role::CxManager => pb::Role::CxManager,
    Role::OpsLead => pb::Role::OpsLead,
    Role::Director => pb::Role::Director,
    Role::Integration => pb::Role::Integration,
    Role::Service => pb::Role::Service,
]);

enum_mapping!(deadline_kind_to_proto, deadline_kind_from_proto, DeadlineKind, pb::DeadlineKind, [
    DeadlineKind::Acknowledge => pb::DeadlineKind::Acknowledge,
    DeadlineKind::Resolve => pb::DeadlineKind::Resolve,
    DeadlineKind::ReferralUpdate => pb::DeadlineKind::ReferralUpdate,
    DeadlineKind::Stage2Acknowledge => pb::DeadlineKind::Stage2Acknowledge,
    DeadlineKind::Stage2Respond => pb::DeadlineKind::Stage2Respond,
    DeadlineKind::Stage3Acknowledge => pb::DeadlineKind::Stage3Acknowledge,
    DeadlineKind::Stage3Respond => pb::DeadlineKind::Stage3Respond,
]);

enum_mapping!(finding_to_proto, finding_from_proto, Finding, case_pb::Finding, [
    Finding::Upheld => case_pb::Finding::Upheld,
    Finding::PartlyUpheld => case_pb::Finding::PartlyUpheld,
    Finding::NotUpheld => case_pb::Finding::NotUpheld,
]);

enum_mapping!(
    acknowledgement_method_to_proto,
    acknowledgement_method_from_proto,
    AcknowledgementMethod,
    case_pb::AcknowledgementMethod,
    [
        AcknowledgementMethod::Telephone => case_pb::AcknowledgementMethod::Telephone,
        AcknowledgementMethod::Letter => case_pb::AcknowledgementMethod::Letter,
        AcknowledgementMethod::Email => case_pb::AcknowledgementMethod::Email,
        AcknowledgementMethod::InPerson => case_pb::AcknowledgementMethod::InPerson,
    ]
);

enum_mapping!(status_to_proto, status_from_proto, CaseStatus, case_pb::CaseStatus, [
    CaseStatus::Open => case_pb::CaseStatus::Open,
    CaseStatus::Responded => case_pb::CaseStatus::Responded,
    CaseStatus::Closed => case_pb::CaseStatus::Closed,
]);

enum_mapping!(notify_kind_to_proto, notify_kind_from_proto, NotifyKind, notification_pb::NotificationKind, [
    NotifyKind::Acknowledgement => notification_pb::NotificationKind::Acknowledgement,
    NotifyKind::ReferralUpdate => notification_pb::NotificationKind::ReferralUpdate,
    NotifyKind::StageResponse => notification_pb::NotificationKind::StageResponse,
    NotifyKind::ReviewAcknowledgement => notification_pb::NotificationKind::ReviewAcknowledgement,
    NotifyKind::FinalResponse => notification_pb::NotificationKind::FinalResponse,
    NotifyKind::InternalAlert => notification_pb::NotificationKind::InternalAlert,
    NotifyKind::Extension => notification_pb::NotificationKind::Extension,
    NotifyKind::HoldingUpdate => notification_pb::NotificationKind::HoldingUpdate,
]);

/// A notification kind by its enum value name (`NOTIFICATION_KIND_ACKNOWLEDGEMENT`).
pub fn notify_kind_from_name(name: &str) -> Option<NotifyKind> {
    notify_kind_from_proto(notification_pb::NotificationKind::from_str_name(name)? as i32)
}

/// A notification kind's enum value name, as `RecordNotice` carries it.
pub fn notify_kind_name(kind: NotifyKind) -> &'static str {
    notification_pb::NotificationKind::try_from(notify_kind_to_proto(kind))
        .map_or("NOTIFICATION_KIND_UNSPECIFIED", |k| k.as_str_name())
}

/// A complainant as received, for the domain to validate.
pub fn raw_complainant(complainant: Option<&pb::Complainant>) -> RawComplainant {
    let Some(c) = complainant else {
        return RawComplainant::default();
    };
    RawComplainant {
        full_name: c.full_name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        postal_address: c.postal_address.as_ref().map(|a| RawPostalAddress {
            lines: a.lines.clone(),
            town: a.town.clone(),
            postcode: a.postcode.clone(),
        }),
        preferred_contact: contact_from_proto(c.preferred_contact),
        customer_ref: c.customer_ref.clone(),
    }
}

/// A validated complainant, for replies and for passing between services.
pub fn complainant_to_proto(complainant: &Complainant) -> pb::Complainant {
    pb::Complainant {
        full_name: complainant.full_name().as_str().to_owned(),
        email: complainant
            .email()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        phone: complainant
            .phone()
            .map(|p| p.e164().to_owned())
            .unwrap_or_default(),
        postal_address: complainant.postal_address().map(|a| pb::PostalAddress {
            lines: a.lines().iter().map(|l| l.as_str().to_owned()).collect(),
            town: a.town().as_str().to_owned(),
            postcode: a.postcode().as_str().to_owned(),
        }),
        preferred_contact: contact_to_proto(complainant.preferred_contact()),
        customer_ref: complainant
            .customer_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_value_round_trips_and_unspecified_is_none() {
        for stage in [Stage::Stage1, Stage::Stage2, Stage::Stage3, Stage::External] {
            assert_eq!(stage_from_proto(stage_to_proto(stage)), Some(stage));
        }
        for role in Role::ALL {
            assert_eq!(role_from_proto(role_to_proto(role)), Some(role));
        }
        for kind in DeadlineKind::ALL {
            assert_eq!(
                deadline_kind_from_proto(deadline_kind_to_proto(kind)),
                Some(kind)
            );
        }
        for kind in [
            NotifyKind::Acknowledgement,
            NotifyKind::ReferralUpdate,
            NotifyKind::StageResponse,
            NotifyKind::ReviewAcknowledgement,
            NotifyKind::FinalResponse,
            NotifyKind::InternalAlert,
            NotifyKind::Extension,
            NotifyKind::HoldingUpdate,
        ] {
            assert_eq!(
                notify_kind_from_proto(notify_kind_to_proto(kind)),
                Some(kind)
            );
            assert_eq!(notify_kind_from_name(notify_kind_name(kind)), Some(kind));
        }
        assert_eq!(notify_kind_from_name("NOTIFICATION_KIND_UNSPECIFIED"), None);
        for finding in Finding::ALL {
            assert_eq!(finding_from_proto(finding_to_proto(finding)), Some(finding));
        }
        for method in AcknowledgementMethod::ALL {
            assert_eq!(
                acknowledgement_method_from_proto(acknowledgement_method_to_proto(method)),
                Some(method)
            );
        }
        assert_eq!(acknowledgement_method_from_proto(0), None);
        assert_eq!(channel_from_proto(0), None);
        assert_eq!(channel_from_proto(99), None);
        assert_eq!(role_from_proto(0), None);
    }
}
