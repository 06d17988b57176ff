//! Evidence: UploadEvidence (client-streamed), ListEvidence, GetEvidence
//! (server-streamed), the files OpenCase brings, and every refusal storing
//! nothing.

use std::path::Path;
use std::time::Duration;

use complaints_domain::calendar::Calendar;
use complaints_domain::case::{CaseId, Command};
use complaints_domain::clock::Clock as _;
use complaints_domain::policy::Policy;
use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_store::entity::evidence;
use complaints_test_support::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::{
    Client, TestApp, complaint, on_every_backend, refused, spawn_app, spawn_app_with,
    violated_fields,
};

on_every_backend!(
    an_upload_is_read_back_byte_for_byte_with_its_sha256,
    evidence_is_listed_oldest_first_and_read_in_chunks_of_at_most_a_mebibyte,
    each_refused_upload_stores_nothing,
    an_upload_over_the_size_limit_stores_nothing,
    an_upload_cut_off_by_the_client_stores_nothing,
    roles_that_may_not_add_notes_may_not_upload_evidence,
    an_opened_case_keeps_its_attachments_and_names_those_refused,
    a_posted_complaint_keeps_its_scanned_letter,
    erasing_the_complainant_removes_the_evidence_records_and_their_bytes,
    an_erasure_reports_a_file_added_after_its_read_of_the_case,
);

const LETTER: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn metadata(case_id: &str, filename: &str, media_type: &str) -> pb::UploadEvidenceRequest {
    pb::UploadEvidenceRequest {
        part: Some(pb::upload_evidence_request::Part::Metadata(
            pb::EvidenceMetadata {
                case_id: case_id.to_owned(),
                filename: filename.to_owned(),
                media_type: media_type.to_owned(),
                description: "The letter the complainant sent with their complaint".to_owned(),
            },
        )),
    }
}

fn chunk(bytes: &[u8]) -> pb::UploadEvidenceRequest {
    pb::UploadEvidenceRequest {
        part: Some(pb::upload_evidence_request::Part::Chunk(bytes.to_vec())),
    }
}

async fn upload(
    client: &mut Client,
    messages: Vec<pb::UploadEvidenceRequest>,
) -> Result<tonic::Response<pb::UploadEvidenceResponse>, tonic::Status> {
    client.upload_evidence(tokio_stream::iter(messages)).await
}

/// The complainant's letter, uploaded whole by the handler.
async fn upload_letter(app: &TestApp, case_id: &str) -> pb::UploadEvidenceResponse {
    upload(
        &mut app.handler(),
        vec![
            metadata(case_id, "letter from Ann.pdf", "application/pdf"),
            chunk(LETTER),
        ],
    )
    .await
    .unwrap()
    .into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The metadata and the chunks GetEvidence streams.
async fn read_back(app: &TestApp, evidence_id: &str) -> (pb::Evidence, Vec<Vec<u8>>) {
    let mut stream = app
        .handler()
        .get_evidence(pb::GetEvidenceRequest {
            evidence_id: evidence_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    let Some(pb::get_evidence_response::Part::Metadata(metadata)) = first.part else {
        panic!("the first message was not the metadata: {first:?}");
    };
    let mut chunks = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        match message.part {
            Some(pb::get_evidence_response::Part::Chunk(bytes)) => chunks.push(bytes),
            other => panic!("expected a chunk, got {other:?}"),
        }
    }
    (metadata, chunks)
}

async fn listed(app: &TestApp, case_id: &str) -> Vec<pb::Evidence> {
    app.handler()
        .list_evidence(pb::ListEvidenceRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .evidence
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// No evidence record and no stored byte anywhere.
async fn nothing_stored(app: &TestApp) {
    let rows = evidence::Entity::find().count(&app.db.db).await.unwrap();
    assert_eq!(rows, 0, "evidence rows were written");
    assert_eq!(
        files_under(app.evidence_dir.path()),
        Vec::<std::path::PathBuf>::new(),
        "evidence bytes were left behind"
    );
}

async fn an_upload_is_read_back_byte_for_byte_with_its_sha256(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let response = upload(
        &mut app.handler(),
        vec![
            metadata(&case.case_id, "letter from Ann.pdf", "application/pdf"),
            chunk(&LETTER[..10]),
            chunk(&LETTER[10..40]),
            chunk(&LETTER[40..]),
        ],
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(response.sha256, sha256_hex(LETTER));
    assert_eq!(response.size_bytes, 77);

    let (metadata, chunks) = read_back(&app, &response.evidence_id).await;
    assert_eq!(chunks.concat(), LETTER);
    assert_eq!(sha256_hex(&chunks.concat()), response.sha256);
    assert_eq!(metadata.evidence_id, response.evidence_id);
    assert_eq!(metadata.case_id, case.case_id);
    assert_eq!(metadata.filename, "letter from Ann.pdf");
    assert_eq!(metadata.media_type, "application/pdf");
    assert_eq!(
        metadata.description,
        "The letter the complainant sent with their complaint"
    );
    assert_eq!(metadata.sha256, response.sha256);
    assert_eq!(metadata.size_bytes, 77);
    assert_eq!(metadata.source, pb::EvidenceSource::Upload as i32);
    assert_eq!(metadata.added_by, "hana");

    let timeline = app.timeline(&case.case_id).await;
    assert!(timeline.verified);
    let added = timeline.events.last().unwrap();
    assert_eq!(added.kind, "evidence.added");
    assert_eq!(added.actor, "hana");
    let details: serde_json::Value = serde_json::from_str(&added.details_json).unwrap();
    assert_eq!(details["evidence_id"], response.evidence_id.as_str());
    assert_eq!(details["filename"], "letter from Ann.pdf");
    assert_eq!(details["media_type"], "application/pdf");
    assert_eq!(details["sha256"], response.sha256.as_str());
    assert_eq!(details["size_bytes"], 77);
}

async fn evidence_is_listed_oldest_first_and_read_in_chunks_of_at_most_a_mebibyte(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let photo: Vec<u8> = (0..2_621_440u32).map(|i| (i % 251) as u8).collect();
    let first = upload(
        &mut app.handler(),
        vec![
            metadata(&case.case_id, "pendant.jpg", "image/jpeg"),
            chunk(&photo[..1_048_576]),
            chunk(&photo[1_048_576..2_097_152]),
            chunk(&photo[2_097_152..]),
        ],
    )
    .await
    .unwrap()
    .into_inner();
    app.advance(chrono::Duration::minutes(1));
    let second = upload(
        &mut app.client("sam", Role::Adviser),
        vec![
            metadata(&case.case_id, "call notes.txt", "text/plain; charset=utf-8"),
            chunk(b"Called at 10:02; the pendant was tested and worked."),
        ],
    )
    .await
    .unwrap()
    .into_inner();

    let list = listed(&app, &case.case_id).await;
    let names: Vec<(&str, &str, i64, &str)> = list
        .iter()
        .map(|e| {
            (
                e.filename.as_str(),
                e.media_type.as_str(),
                e.size_bytes,
                e.added_by.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("pendant.jpg", "image/jpeg", 2_621_440, "hana"),
            ("call notes.txt", "text/plain; charset=utf-8", 51, "sam"),
        ]
    );
    assert_eq!(list[0].evidence_id, first.evidence_id);
    assert_eq!(list[1].evidence_id, second.evidence_id);

    let (_, chunks) = read_back(&app, &first.evidence_id).await;
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|&size| size <= 1_048_576), "{sizes:?}");
    assert_eq!(chunks.concat(), photo);
    assert_eq!(first.sha256, sha256_hex(&photo));
}

async fn each_refused_upload_stores_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id.as_str();
    let mut handler = app.handler();

    let unknown = "0190f5e4-7a8b-7c3d-9e0f-123456789abc";
    refused(
        upload(
            &mut handler,
            vec![metadata(unknown, "a.pdf", "application/pdf"), chunk(LETTER)],
        )
        .await,
        Code::NotFound,
    );
    assert_eq!(
        violated_fields(
            upload(
                &mut handler,
                vec![
                    metadata(id, "setup.exe", "application/x-msdownload"),
                    chunk(LETTER)
                ]
            )
            .await
        ),
        ["metadata.media_type"]
    );
    assert_eq!(
        violated_fields(upload(&mut handler, vec![chunk(LETTER)]).await),
        ["metadata"]
    );
    assert_eq!(
        violated_fields(upload(&mut handler, Vec::new()).await),
        ["metadata"]
    );
    assert_eq!(
        violated_fields(
            upload(
                &mut handler,
                vec![
                    metadata(id, "a.pdf", "application/pdf"),
                    chunk(LETTER),
                    metadata(id, "b.pdf", "application/pdf"),
                ]
            )
            .await
        ),
        ["metadata"]
    );
    let oversized_message = vec![b'x'; 4 * 1024 * 1024 + 1];
    assert_eq!(
        violated_fields(
            upload(
                &mut handler,
                vec![
                    metadata(id, "a.pdf", "application/pdf"),
                    chunk(&oversized_message)
                ]
            )
            .await
        ),
        ["chunk"]
    );
    let too_long = format!("{}.pdf", "a".repeat(252));
    for bad in [
        "",
        "  ",
        "../../etc/passwd",
        "reports\\march.pdf",
        "bell\u{7}.pdf",
        "two\nlines.pdf",
        "..",
        too_long.as_str(),
    ] {
        assert_eq!(
            violated_fields(
                upload(
                    &mut handler,
                    vec![metadata(id, bad, "application/pdf"), chunk(LETTER)]
                )
                .await
            ),
            ["metadata.filename"],
            "{bad:?}"
        );
    }

    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: case.case_id.clone(),
            request_id: String::new(),
            reason: "Withdrawn by the complainant".to_owned(),
        })
        .await
        .unwrap();
    refused(
        upload(
            &mut handler,
            vec![metadata(id, "a.pdf", "application/pdf"), chunk(LETTER)],
        )
        .await,
        Code::FailedPrecondition,
    );

    nothing_stored(&app).await;
    assert!(listed(&app, id).await.is_empty());
    assert!(
        !app.event_kinds(id)
            .await
            .iter()
            .any(|kind| kind.starts_with("evidence."))
    );
}

async fn an_upload_over_the_size_limit_stores_nothing(db: TestDb) {
    let app = spawn_app_with(db, &[("COMPLAINTS_EVIDENCE_MAX_BYTES", "64")]).await;
    let case = app.open_case().await;
    assert_eq!(
        violated_fields(
            upload(
                &mut app.handler(),
                vec![
                    metadata(&case.case_id, "letter.pdf", "application/pdf"),
                    chunk(&LETTER[..40]),
                    chunk(&LETTER[40..]),
                ]
            )
            .await
        ),
        ["chunk"]
    );
    nothing_stored(&app).await;

    // At the limit is within it.
    let within = upload(
        &mut app.handler(),
        vec![
            metadata(&case.case_id, "letter.pdf", "application/pdf"),
            chunk(&LETTER[..64]),
        ],
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(within.size_bytes, 64);
}

async fn an_upload_cut_off_by_the_client_stores_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let (send, receive) = tokio::sync::mpsc::channel(4);
    send.send(metadata(&case.case_id, "letter.pdf", "application/pdf"))
        .await
        .unwrap();
    send.send(chunk(LETTER)).await.unwrap();
    let mut client = app.handler();
    let call = tokio::spawn(async move {
        client
            .upload_evidence(tokio_stream::wrappers::ReceiverStream::new(receive))
            .await
    });
    // The server has taken the metadata and begun storing the bytes.
    wait_for(|| !files_under(app.evidence_dir.path()).is_empty()).await;
    // The client gives up mid-stream: the call is cancelled (the stream is
    // reset) while its body is still open. Closing the body first would be
    // a complete upload, not a cut-off one.
    call.abort();
    wait_for(|| files_under(app.evidence_dir.path()).is_empty()).await;
    nothing_stored(&app).await;
    assert!(listed(&app, &case.case_id).await.is_empty());
    drop(send);
}

/// Waits (up to ten seconds) until `done`.
async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the state never came");
}

async fn roles_that_may_not_add_notes_may_not_upload_evidence(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let status = refused(
        upload(
            &mut app.client("crm", Role::Integration),
            vec![
                metadata(&case.case_id, "letter.pdf", "application/pdf"),
                chunk(LETTER),
            ],
        )
        .await,
        Code::PermissionDenied,
    );
    assert!(status.message().contains("add_evidence"), "{status:?}");
    nothing_stored(&app).await;
    // Reading is for every role.
    let listed = app
        .client("crm", Role::Integration)
        .list_evidence(pb::ListEvidenceRequest {
            case_id: case.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.evidence.is_empty());
    // The platform may upload (a scanning service, say).
    upload(
        &mut app.platform(),
        vec![
            metadata(&case.case_id, "letter.pdf", "application/pdf"),
            chunk(LETTER),
        ],
    )
    .await
    .unwrap();
}

fn file(filename: &str, media_type: &str, content: &[u8]) -> pb::EvidenceFile {
    pb::EvidenceFile {
        filename: filename.to_owned(),
        media_type: media_type.to_owned(),
        content: content.to_vec(),
    }
}

async fn an_opened_case_keeps_its_attachments_and_names_those_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = complaint("with-attachments");
    request.channel = common::Channel::Email as i32;
    request.attachments = vec![
        file("invoice.pdf", "application/pdf", LETTER),
        file("setup.exe", "application/x-msdownload", b"MZ\x90\x00"),
        file("photo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ];
    let opened = app.open(request.clone()).await;
    let case_id = opened.case.unwrap().case_id;

    let list = listed(&app, &case_id).await;
    let kept: Vec<(&str, &str, i32, &str)> = list
        .iter()
        .map(|e| {
            (
                e.filename.as_str(),
                e.sha256.as_str(),
                e.source,
                e.added_by.as_str(),
            )
        })
        .collect();
    let letter_sha = sha256_hex(LETTER);
    let png_sha = sha256_hex(b"\x89PNG\r\n\x1a\n");
    let attachment = pb::EvidenceSource::EmailAttachment as i32;
    assert_eq!(
        kept,
        [
            ("invoice.pdf", letter_sha.as_str(), attachment, "crm"),
            ("photo.png", png_sha.as_str(), attachment, "crm"),
        ]
    );
    let (_, chunks) = read_back(&app, &list[0].evidence_id).await;
    assert_eq!(chunks.concat(), LETTER);

    let timeline = app.timeline(&case_id).await;
    assert!(timeline.verified);
    let kinds: Vec<&str> = timeline.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case.received",
            "evidence.added",
            "evidence.added",
            "evidence.refused"
        ]
    );
    let refusal: serde_json::Value =
        serde_json::from_str(&timeline.events[3].details_json).unwrap();
    assert_eq!(refusal["filename"], "setup.exe");
    assert!(
        refusal["reason"]
            .as_str()
            .unwrap()
            .contains("application/x-msdownload"),
        "{refusal}"
    );

    // A retry opens nothing more and keeps nothing twice.
    let again = app.open(request).await;
    assert!(again.replayed);
    assert_eq!(listed(&app, &case_id).await.len(), 2);
    assert_eq!(files_under(app.evidence_dir.path()).len(), 2);
}

async fn a_posted_complaint_keeps_its_scanned_letter(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = complaint("posted");
    request.channel = common::Channel::Post as i32;
    request.scan_reference = "SCAN-2026-0099".to_owned();
    request.complainant.as_mut().unwrap().postal_address = Some(common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "LS1 5HD".to_owned(),
    });
    request.scanned_letter = Some(file("scan-0099.pdf", "application/pdf", LETTER));
    let case_id = app.open(request).await.case.unwrap().case_id;
    let list = listed(&app, &case_id).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].filename, "scan-0099.pdf");
    assert_eq!(list[0].source, pb::EvidenceSource::ScannedLetter as i32);
    assert_eq!(list[0].sha256, sha256_hex(LETTER));
}

async fn erasing_the_complainant_removes_the_evidence_records_and_their_bytes(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let stored = upload_letter(&app, &case.case_id).await;
    assert_eq!(files_under(app.evidence_dir.path()).len(), 1);

    app.handler()
        .erase_complainant(pb::EraseComplainantRequest {
            case_id: case.case_id.clone(),
            request_id: "erase-evidence-1".to_owned(),
            reason: "Data-subject request".to_owned(),
        })
        .await
        .unwrap();

    assert!(listed(&app, &case.case_id).await.is_empty());
    let gone = app
        .handler()
        .get_evidence(pb::GetEvidenceRequest {
            evidence_id: stored.evidence_id.clone(),
        })
        .await;
    refused(gone, Code::NotFound);
    nothing_stored(&app).await;
    assert!(app.timeline(&case.case_id).await.verified);
}

/// The records an erasure removes, whose bytes the service then deletes,
/// are read in the erasure's own transaction: a file added after the
/// erasing step read the case (the step then finds the case changed, and
/// decides again on the case as it now is) is among them, so its bytes do
/// not outlive the erasure.
async fn an_erasure_reports_a_file_added_after_its_read_of_the_case(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let case_id: CaseId = case.case_id.parse().unwrap();
    let read_before = complaints_store::cases::load(&app.db.db, case_id)
        .await
        .unwrap();
    let added = upload_letter(&app, &case.case_id).await;

    let hana = Actor::new("hana", Role::ComplaintsHandler);
    let now = app.clock.now();
    let (policy, calendar) = (Policy::default(), Calendar::default());
    let outcome = complaints_store::cases::apply(
        &app.db.db,
        &calendar,
        read_before,
        &hana,
        now,
        complaints_store::cases::Alongside::default(),
        |current| {
            let erase = Command::EraseComplainant {
                reason: "Data-subject request".to_owned(),
            };
            let transition = current.case.apply(erase, &hana, now, &policy, &calendar)?;
            Ok((transition, case.case_id.clone()))
        },
    )
    .await
    .unwrap();

    let removed: Vec<String> = outcome
        .erased_evidence
        .iter()
        .map(|piece| piece.evidence_id.to_string())
        .collect();
    assert_eq!(removed, vec![added.evidence_id]);
    assert!(listed(&app, &case.case_id).await.is_empty());
}
