//! A refusal or failure from the suite, as sentences a person reads.

use tonic::Code;

/// `status` as a person reads it: what kind of refusal it was, the server's
/// message, and every field violation on its own line
/// ("  summary: must not be empty").
pub fn explain(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!(sentences(&status))
}

fn sentences(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let message = status.message().trim();
    let mut said = match status.code() {
        Code::InvalidArgument => "The request was refused".to_owned(),
        Code::NotFound => "Not found".to_owned(),
        Code::FailedPrecondition => "Not possible in the case's current state".to_owned(),
        Code::AlreadyExists => "That request id was already used for something else".to_owned(),
        Code::PermissionDenied => {
            "Not allowed for your role (choose another with --as or --token)".to_owned()
        }
        Code::Unauthenticated => "The suite did not accept the token".to_owned(),
        Code::Unavailable => "The suite could not do this now; try again".to_owned(),
        Code::DeadlineExceeded => "The suite did not answer in time; try again".to_owned(),
        Code::Unimplemented => "The address called does not serve this call: give each \
             service's own (--intake-server, --escalation-server, --notification-server; \
             --server is the case service's), or point --server at the whole suite (the \
             embedded suite, or a gateway in front of every service)"
            .to_owned(),
        other => format!("The suite failed ({})", code_words(other)),
    };
    let violations = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default();
    if violations.is_empty() {
        if !message.is_empty() {
            said.push_str(": ");
            said.push_str(message);
        }
        if !said.ends_with(['.', '!', '?']) {
            said.push('.');
        }
        return said;
    }
    said.push(':');
    for violation in violations {
        said.push_str(&format!(
            "\n  {}: {}",
            violation.field, violation.description
        ));
    }
    said
}

fn code_words(code: Code) -> String {
    code.description().trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn field_violations_are_listed_one_a_line() {
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "invalid argument",
            ErrorDetails::with_bad_request(vec![
                tonic_types::FieldViolation::new("summary", "must not be empty"),
                tonic_types::FieldViolation::new("desired_outcome", "is required"),
            ]),
        );
        assert_eq!(
            sentences(&status),
            "The request was refused:\n  summary: must not be empty\n  desired_outcome: is required"
        );
    }

    #[test]
    fn a_state_refusal_says_so_with_the_servers_reason() {
        let status = tonic::Status::failed_precondition("case CMP-2026-000001 is closed");
        assert_eq!(
            sentences(&status),
            "Not possible in the case's current state: case CMP-2026-000001 is closed."
        );
    }

    #[test]
    fn a_call_the_server_does_not_serve_points_at_the_address_options() {
        let said = sentences(&tonic::Status::unimplemented(""));
        assert!(
            said.starts_with("The address called does not serve this call")
                && said.contains("--intake-server"),
            "{said}"
        );
    }

    #[test]
    fn a_role_refusal_points_at_the_role_options() {
        let status = tonic::Status::permission_denied("only a director answers stage 3");
        assert_eq!(
            sentences(&status),
            "Not allowed for your role (choose another with --as or --token): only a director answers stage 3."
        );
    }
}
