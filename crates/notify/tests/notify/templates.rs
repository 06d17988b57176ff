//! Templates: every kind renders, and a broken template stops the start.

use std::path::Path;

use complaints_domain::case::{DeadlineKind, Finding, NotifyKind};
use complaints_domain::policy::{Policy, Stage};
use complaints_domain::role::Role;
use complaints_notify::{
    ALL_KINDS, Addressee, AlertDetails, AlertLevel, CompanyDetails, DateChange, MessageContext,
    NotifyError, Renderer, ResponseDetails, ReviewInvitation, TemplateSource, bundled_templates,
};

use crate::support::{REFERENCE, date, register_number, renderer, sample};

/// A folder holding a copy of the bundled templates, with `edit` applied
/// to the file called `name`.
fn edited_templates(dir: &Path, name: &str, edit: impl Fn(&str) -> String) {
    for (file, text) in bundled_templates() {
        let text = if file == name {
            edit(text)
        } else {
            text.to_owned()
        };
        std::fs::write(dir.join(file), text).unwrap();
    }
}

#[test]
fn every_kind_renders_with_the_register_number_in_subject_and_text() {
    let renderer = renderer();
    for kind in ALL_KINDS {
        let rendered = renderer.render(kind, &sample()).unwrap();
        assert_eq!(rendered.kind, kind);
        assert!(
            rendered.subject.contains(REFERENCE),
            "{kind:?}: {}",
            rendered.subject
        );
        assert!(rendered.text.contains(REFERENCE), "{kind:?}");
        assert!(!rendered.subject.contains('\n'));
        assert!(rendered.text.ends_with('\n') && !rendered.text.ends_with("\n\n"));
        assert!(
            !rendered.text.contains("\n\n\n"),
            "{kind:?}:\n{}",
            rendered.text
        );
        assert!(
            !rendered.text.contains("none"),
            "{kind:?}:\n{}",
            rendered.text
        );
    }
}

#[test]
fn every_message_to_the_complainant_greets_them_and_gives_a_number_to_call() {
    let renderer = renderer();
    for kind in ALL_KINDS
        .into_iter()
        .filter(|kind| *kind != NotifyKind::InternalAlert)
    {
        let rendered = renderer.render(kind, &sample()).unwrap();
        assert!(
            rendered.text.starts_with("Dear Mrs Smith,\n"),
            "{kind:?}:\n{}",
            rendered.text
        );
        assert!(rendered.text.contains("0113 496 0000"), "{kind:?}");
    }
}

#[test]
fn the_acknowledgement_quotes_the_date_we_will_resolve_by() {
    let text = renderer()
        .render(NotifyKind::Acknowledgement, &sample())
        .unwrap()
        .text;
    assert!(text.contains("    CMP-2026-000123\n"), "{text}");
    assert!(text.contains("by Wednesday 2 December 2026"), "{text}");
}

#[test]
fn the_stage_response_gives_the_finding_and_how_and_when_to_ask_for_a_review() {
    let text = renderer()
        .render(NotifyKind::StageResponse, &sample())
        .unwrap()
        .text;
    assert!(text.contains("We have partly upheld it."), "{text}");
    assert!(text.contains("refunded one month's charge"));
    assert!(text.contains("main cause was: Faulty equipment."));
    assert!(text.contains("Customer Experience Manager will review it"));
    assert!(text.contains("by Wednesday 30 December 2026"));
    assert!(text.contains("what you are unhappy with"));
    assert!(text.contains("what you would like us to do"));
}

#[test]
fn the_review_acknowledgement_says_who_owns_it_and_when_we_will_answer() {
    let text = renderer()
        .render(NotifyKind::ReviewAcknowledgement, &sample())
        .unwrap()
        .text;
    assert!(text.contains("now at stage 2"), "{text}");
    assert!(text.contains("The Customer Experience Manager is now responsible"));
    assert!(text.contains("by Wednesday 2 December 2026"));
}

#[test]
fn the_final_response_names_the_external_body_and_how_to_refer() {
    let policy = Policy::default();
    let context = MessageContext {
        external_body: Some(policy.external_body.clone()),
        ..sample()
    };
    let text = renderer()
        .render(NotifyKind::FinalResponse, &context)
        .unwrap()
        .text;
    assert!(
        text.contains("take your complaint to the Telecare Services Association (TSA)"),
        "{text}"
    );
    assert!(text.contains(&policy.external_body.how_to_refer));
}

#[test]
fn an_internal_alert_says_what_is_due_when_and_what_to_do_without_personal_data() {
    let context = MessageContext {
        alert: Some(AlertDetails {
            level: AlertLevel::Warning,
            deadline_kind: DeadlineKind::Acknowledge,
            due: date(2026, 11, 19),
            role: Role::ComplaintsHandler,
            reason: "the stage 1 acknowledgement is due tomorrow".to_owned(),
        }),
        ..sample()
    };
    let rendered = renderer()
        .render(NotifyKind::InternalAlert, &context)
        .unwrap();
    assert_eq!(
        rendered.subject,
        "Due soon: Acknowledge the complaint (stage 1) for CMP-2026-000123 (due Thursday 19 November 2026)"
    );
    let text = rendered.text;
    assert!(
        text.starts_with("For the attention of: Complaints Department\n"),
        "{text}"
    );
    assert!(
        text.contains("Acknowledge the complaint in writing"),
        "{text}"
    );
    assert!(text.contains("the stage 1 acknowledgement is due tomorrow"));
    assert!(
        !text.contains("Smith"),
        "an alert must not name the complainant"
    );

    let breach = renderer()
        .render(NotifyKind::InternalAlert, &sample())
        .unwrap();
    assert!(
        breach
            .subject
            .starts_with("MISSED: Respond to the review (stage 2)"),
        "{}",
        breach.subject
    );
    assert!(breach.text.contains("has been MISSED"));
    assert!(breach.text.contains("Issue the stage response"));
}

#[test]
fn an_alert_that_the_complainant_wrote_again_asks_for_the_email_to_be_read_and_answered() {
    let context = MessageContext {
        alert: Some(AlertDetails {
            level: AlertLevel::Correspondence,
            deadline_kind: DeadlineKind::Resolve,
            due: date(2026, 11, 19),
            role: Role::ComplaintsHandler,
            reason: "the complainant wrote again about case CMP-2026-000123".to_owned(),
        }),
        ..sample()
    };
    let rendered = renderer()
        .render(NotifyKind::InternalAlert, &context)
        .unwrap();
    assert_eq!(
        rendered.subject,
        "The complainant wrote again about CMP-2026-000123"
    );
    let text = rendered.text;
    assert!(
        text.contains("The complainant wrote again about complaint CMP-2026-000123."),
        "{text}"
    );
    assert!(text.contains("Read the complainant's email"), "{text}");
    assert!(!text.contains("Issue the stage response"), "{text}");
    assert!(
        !text.contains("Smith"),
        "an alert must not name the complainant"
    );
}

#[test]
fn each_kind_renders_with_only_the_fields_it_needs() {
    let renderer = renderer();
    let bare = || MessageContext::new(register_number(), Stage::Stage1);
    let addressed = || MessageContext {
        complainant: Some(Addressee::new("Jane Doe")),
        ..bare()
    };
    let response = ResponseDetails {
        finding: Finding::NotUpheld,
        outcome: "We checked the alarm logs.".to_owned(),
        root_cause: "Other".to_owned(),
    };
    let contexts = [
        (
            NotifyKind::Acknowledgement,
            MessageContext {
                respond_by: Some(date(2026, 12, 2)),
                ..addressed()
            },
        ),
        (NotifyKind::ReferralUpdate, addressed()),
        (
            NotifyKind::StageResponse,
            MessageContext {
                response: Some(response.clone()),
                review: Some(ReviewInvitation {
                    request_by: date(2027, 1, 11),
                    window_working_days: 20,
                    reviewer: Role::CxManager,
                }),
                ..addressed()
            },
        ),
        (
            NotifyKind::ReviewAcknowledgement,
            MessageContext {
                stage: Stage::Stage2,
                received_on: Some(date(2026, 12, 7)),
                owner_role: Some(Role::CxManager),
                respond_by: Some(date(2026, 12, 21)),
                ..addressed()
            },
        ),
        (
            NotifyKind::FinalResponse,
            MessageContext {
                stage: Stage::Stage3,
                response: Some(response),
                external_body: Some(Policy::default().external_body),
                ..addressed()
            },
        ),
        (
            NotifyKind::InternalAlert,
            MessageContext {
                alert: sample().alert,
                ..bare()
            },
        ),
        (
            NotifyKind::Extension,
            MessageContext {
                change: Some(DateChange {
                    date: date(2026, 12, 16),
                    deadline_kind: DeadlineKind::Resolve,
                    reason: String::new(),
                }),
                ..addressed()
            },
        ),
        (
            NotifyKind::HoldingUpdate,
            MessageContext {
                change: Some(DateChange {
                    date: date(2026, 12, 23),
                    deadline_kind: DeadlineKind::Resolve,
                    reason: String::new(),
                }),
                ..addressed()
            },
        ),
    ];
    for (kind, context) in contexts {
        let rendered = renderer
            .render(kind, &context)
            .unwrap_or_else(|error| panic!("{kind:?}: {error}"));
        assert!(rendered.text.contains(REFERENCE));
    }
    let update = renderer
        .render(NotifyKind::ReferralUpdate, &addressed())
        .unwrap();
    assert!(update.text.contains("We will keep you updated."));
    assert!(!update.text.contains("still aim"), "{}", update.text);
}

#[test]
fn an_extension_notice_gives_the_new_date_and_why() {
    let context = MessageContext {
        change: Some(DateChange {
            date: date(2026, 12, 16),
            deadline_kind: DeadlineKind::Resolve,
            reason: "we are waiting for the engineer's report".to_owned(),
        }),
        ..sample()
    };
    let rendered = renderer().render(NotifyKind::Extension, &context).unwrap();
    assert_eq!(
        rendered.subject,
        format!("Your complaint {REFERENCE}: a new date")
    );
    assert!(
        rendered.text.contains(
            "We will now give you our answer to your complaint by Wednesday 16 December 2026."
        ),
        "{}",
        rendered.text
    );
    assert!(
        rendered
            .text
            .contains("This is why: we are waiting for the engineer's report"),
        "{}",
        rendered.text
    );
    let bare = MessageContext::new(register_number(), Stage::Stage1);
    assert!(
        renderer()
            .render(NotifyKind::Extension, &bare)
            .unwrap_err()
            .to_string()
            .contains("complainant")
    );
}

#[test]
fn a_holding_update_says_when_we_will_be_in_touch_again() {
    let context = MessageContext {
        change: Some(DateChange {
            date: date(2026, 12, 23),
            deadline_kind: DeadlineKind::Resolve,
            reason: String::new(),
        }),
        ..sample()
    };
    let rendered = renderer()
        .render(NotifyKind::HoldingUpdate, &context)
        .unwrap();
    assert!(
        rendered
            .text
            .contains("We will contact you again by Wednesday 23 December 2026."),
        "{}",
        rendered.text
    );
    let without = MessageContext {
        change: None,
        ..sample()
    };
    assert!(
        renderer()
            .render(NotifyKind::HoldingUpdate, &without)
            .unwrap_err()
            .to_string()
            .contains("needs change")
    );
}

#[test]
fn a_stage_response_states_the_review_window_it_is_given() {
    let mut context = sample();
    context.review = Some(ReviewInvitation {
        request_by: date(2027, 1, 25),
        window_working_days: 30,
        reviewer: Role::CxManager,
    });
    let rendered = renderer()
        .render(NotifyKind::StageResponse, &context)
        .unwrap();
    assert!(
        rendered
            .text
            .contains("within 30 working days, by Monday 25 January 2027"),
        "{}",
        rendered.text
    );
    assert!(
        !rendered.text.contains("20 working days"),
        "{}",
        rendered.text
    );
}

#[test]
fn a_context_missing_what_the_kind_needs_is_refused_by_name() {
    let context = MessageContext {
        response: None,
        ..sample()
    };
    let err = renderer()
        .render(NotifyKind::StageResponse, &context)
        .unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::MissingContext {
                kind: "stage_response",
                field: "response"
            }
        ),
        "{err}"
    );
}

#[test]
fn a_template_referring_to_a_missing_value_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "acknowledgement.txt", |text| {
        text.replace("{{ respond_by }}", "{{ resolve_date }}")
    });
    let err = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap_err();
    let NotifyError::TemplateInvalid { template, message } = &err else {
        panic!("expected an invalid template, got {err}");
    };
    assert_eq!(template, "acknowledgement.txt");
    assert!(message.contains("undefined"), "{message}");
    assert!(err.to_string().contains("acknowledgement.txt"), "{err}");
}

#[test]
fn a_misspelt_attribute_fails_at_start_too() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "final_response.txt", |text| {
        text.replace("external_body.how_to_refer", "external_body.how_to_apply")
    });
    let err = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NotifyError::TemplateInvalid { template, .. } if template == "final_response.txt"),
        "{err}"
    );
}

#[test]
fn a_template_that_does_not_parse_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "referral_update.txt", |text| {
        format!("{text}{{% if %}}")
    });
    let err = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NotifyError::TemplateInvalid { template, .. } if template == "referral_update.txt"),
        "{err}"
    );
}

#[test]
fn a_subject_over_two_lines_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "stage_response.subject", |text| {
        format!("{text}\nand more")
    });
    let err = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NotifyError::SubjectNotOneLine { template, .. } if template == "stage_response.subject"),
        "{err}"
    );
}

#[test]
fn a_template_folder_missing_a_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "", str::to_owned);
    std::fs::remove_file(dir.path().join("internal_alert.subject")).unwrap();
    let err = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NotifyError::TemplateMissing { file, .. } if file == "internal_alert.subject"),
        "{err}"
    );
}

#[test]
fn the_companys_own_wording_is_used() {
    let dir = tempfile::tempdir().unwrap();
    edited_templates(dir.path(), "acknowledgement.txt", |text| {
        text.replace(
            "Thank you for contacting us.",
            "Thank you for telling us about this.",
        )
        .replace('\n', "\r\n")
    });
    let renderer = Renderer::new(
        TemplateSource::Directory(dir.path().to_path_buf()),
        CompanyDetails::example(),
    )
    .unwrap();
    let text = renderer
        .render(NotifyKind::Acknowledgement, &sample())
        .unwrap()
        .text;
    assert!(
        text.contains("Thank you for telling us about this."),
        "{text}"
    );
    assert!(!text.contains('\r'));
}
