//! The complaints platform's gRPC contracts as Rust: prost messages, tonic
//! clients and servers, generated at build time from the `.proto` files in
//! the workspace's `proto/` folder, plus the encoded descriptor set for
//! server reflection.
//!
//! The `.proto` files are the only source of truth for the APIs. This crate
//! must hold nothing but generated code and the glue that exposes it: no
//! hand-written logic, no validation, no conversions to domain types. Change
//! a contract by editing its `.proto` file and running `buf lint`.
//!
//! Modules mirror proto packages: `complaints.case.v1` is
//! [`complaints::case::v1`], `google.type` is
//! [`google::r#type`](google::type). Well-known types (`google.protobuf.*`)
//! are [`prost_types`].

/// The encoded `google.protobuf.FileDescriptorSet` of every contract and the
/// files they import, with source info (comments). Register it with
/// `tonic_reflection` so that clients such as grpcurl can discover the
/// services.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/complaints_descriptor.binpb"));

/// The complaints platform's own packages.
pub mod complaints {
    /// `complaints.common.v1`: types shared by every service.
    pub mod common {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.common.v1.rs"));
        }
    }

    /// `complaints.intake.v1`: `IntakeService`, the entry point for complaints.
    pub mod intake {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.intake.v1.rs"));
        }
    }

    /// `complaints.case.v1`: `CaseService`, the system of record.
    pub mod case {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.case.v1.rs"));
        }
    }

    /// `complaints.escalation.v1`: `EscalationService`, the policy's clocks.
    pub mod escalation {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.escalation.v1.rs"));
        }
    }

    /// `complaints.notification.v1`: `NotificationService`, the delivery log.
    pub mod notification {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.notification.v1.rs"));
        }
    }

    /// `complaints.testing.v1`: `ClockService`, the test-mode clock.
    pub mod testing {
        /// Version 1.
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/complaints.testing.v1.rs"));
        }
    }
}

/// Types vendored from googleapis.
pub mod google {
    /// `google.type`: `Date`, a calendar date without time zone.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::FILE_DESCRIPTOR_SET;

    /// Each service of the platform's contract, by full name, with the RPCs
    /// outside clients rely on.
    const REQUIRED: &[(&str, &[&str])] = &[
        (
            "complaints.intake.v1.IntakeService",
            &["SubmitComplaint", "SubmitEmail"],
        ),
        (
            "complaints.case.v1.CaseService",
            &[
                "GetCase",
                "ListCases",
                "GetTimeline",
                "AddNote",
                "ReferToDepartment",
                "RecordDepartmentResponse",
                "IssueStageResponse",
                "RequestReview",
                "EscalateWithinStage",
                "EscalateToDirector",
                "RecordTsaReferral",
                "CloseCase",
                "EraseComplainant",
                "GetStatistics",
            ],
        ),
        (
            "complaints.escalation.v1.EscalationService",
            &["GetDeadlines", "ListBreaches", "ListDueSoon"],
        ),
        (
            "complaints.notification.v1.NotificationService",
            &["ListNotifications", "GetNotificationContent"],
        ),
        ("complaints.testing.v1.ClockService", &["Advance", "Now"]),
    ];

    fn descriptor_set() -> FileDescriptorSet {
        FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
    }

    #[test]
    fn descriptor_set_has_every_required_service_and_rpc() {
        let set = descriptor_set();
        for (service_name, required_methods) in REQUIRED {
            let service = set
                .file
                .iter()
                .flat_map(|file| {
                    file.service
                        .iter()
                        .map(move |service| (file.package(), service))
                })
                .find(|(package, service)| format!("{package}.{}", service.name()) == *service_name)
                .map(|(_, service)| service)
                .unwrap_or_else(|| panic!("{service_name} is missing"));
            let methods: BTreeSet<&str> = service.method.iter().map(|m| m.name()).collect();
            let missing: Vec<&str> = required_methods
                .iter()
                .copied()
                .filter(|method| !methods.contains(method))
                .collect();
            assert!(missing.is_empty(), "{service_name} lacks {missing:?}");
        }
    }

    #[test]
    fn descriptor_set_resolves_every_import_for_reflection() {
        let set = descriptor_set();
        let files: BTreeSet<&str> = set.file.iter().map(|file| file.name()).collect();
        for file in &set.file {
            for dependency in &file.dependency {
                assert!(
                    files.contains(dependency.as_str()),
                    "{} imports {dependency}, which is not in the set",
                    file.name()
                );
            }
        }
    }

    #[test]
    fn descriptor_set_keeps_comments_for_reflection_clients() {
        let set = descriptor_set();
        let case_file = set
            .file
            .iter()
            .find(|file| file.name() == "complaints/case/v1/case.proto")
            .expect("case.proto is in the set");
        let has_comments = case_file
            .source_code_info
            .as_ref()
            .is_some_and(|info| info.location.iter().any(|l| l.leading_comments.is_some()));
        assert!(has_comments, "case.proto lost its comments");
    }
}
