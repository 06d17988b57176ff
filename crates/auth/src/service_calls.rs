//! Which calls each service makes of the others: the only calls its own
//! credential is good for.
//!
//! A service's key is held by every pod of that service; if one leaks, the
//! holder can do what that service does to the others and nothing more. No
//! service ever takes a person's step (closing a case, issuing a response,
//! extending a deadline): those need a person's token.

/// `(service, the gRPC paths it calls)`: from each service's peers and
/// outbox relays.
pub const SERVICE_CALLS: [(&str, &[&str]); 4] = [
    (
        "intake",
        &[
            "/complaints.case.v1.CaseService/OpenCase",
            "/complaints.case.v1.CaseService/FindCaseByMessage",
            "/complaints.case.v1.CaseService/AddCorrespondence",
        ],
    ),
    (
        "case",
        &[
            "/complaints.escalation.v1.EscalationService/ApplyCaseChange",
            "/complaints.notification.v1.NotificationService/RequestNotification",
            "/complaints.notification.v1.NotificationService/EraseCaseNotifications",
        ],
    ),
    (
        "escalation",
        &[
            "/complaints.case.v1.CaseService/GetCase",
            "/complaints.case.v1.CaseService/EscalateWithinStage",
            "/complaints.case.v1.CaseService/RecordClockChange",
            "/complaints.notification.v1.NotificationService/RequestNotification",
        ],
    ),
    (
        "notification",
        &[
            "/complaints.case.v1.CaseService/GetCase",
            "/complaints.case.v1.CaseService/RecordNotice",
        ],
    ),
];

/// The services that exist, by subject.
pub fn is_known_service(name: &str) -> bool {
    SERVICE_CALLS.iter().any(|(service, _)| *service == name)
}

/// Whether `service`'s credential may call the gRPC method at `path`.
pub fn service_may_call(service: &str, path: &str) -> bool {
    SERVICE_CALLS
        .iter()
        .find(|(name, _)| *name == service)
        .is_some_and(|(_, paths)| paths.contains(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_may_make_its_own_calls_only() {
        assert!(service_may_call(
            "intake",
            "/complaints.case.v1.CaseService/OpenCase"
        ));
        assert!(!service_may_call(
            "intake",
            "/complaints.escalation.v1.EscalationService/ApplyCaseChange"
        ));
        assert!(service_may_call(
            "case",
            "/complaints.escalation.v1.EscalationService/ApplyCaseChange"
        ));
        for service in ["intake", "case", "escalation", "notification"] {
            assert!(is_known_service(service));
            for human_step in [
                "/complaints.case.v1.CaseService/CloseCase",
                "/complaints.case.v1.CaseService/IssueStageResponse",
                "/complaints.escalation.v1.EscalationService/ExtendDeadline",
                "/complaints.case.v1.CaseService/EraseComplainant",
            ] {
                assert!(!service_may_call(service, human_step), "{service}");
            }
        }
        assert!(!is_known_service("mallory"));
        assert!(!service_may_call(
            "mallory",
            "/complaints.case.v1.CaseService/GetCase"
        ));
    }
}
