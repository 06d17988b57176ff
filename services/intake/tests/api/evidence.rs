//! An emailed complaint's attachments, and a posted complaint's scan, become its case's evidence.

use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::{
    ScannedLetter, SubmitComplaintRequest, SubmitEmailRequest,
};
use complaints_test_support::TestDb;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

use crate::helpers::{TestApp, on_every_backend, spawn_app, web_complaint};

on_every_backend!(
    #[tokio::test]
    an_emailed_pdf_attachment_is_kept_as_evidence_byte_for_byte,
    a_posted_complaint_keeps_its_scan_as_evidence,
    a_posted_scan_as_large_as_the_evidence_limit_allows_is_taken,
);

/// The bytes of the PDF the email below carries, base64-encoded in it.
const INVOICE: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

const WITH_INVOICE: &str = concat!(
    "From: Ann Jones <ann.jones@example.org>\r\n",
    "To: complaints@telecare.example\r\n",
    "Subject: Charged twice for the pendant\r\n",
    "Message-ID: <20260302.1001.invoice@example.org>\r\n",
    "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
    "\r\n",
    "--b1\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "\r\n",
    "The invoice attached charges me twice for March.\r\n",
    "--b1\r\n",
    "Content-Type: application/pdf; name=\"invoice.pdf\"\r\n",
    "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "\r\n",
    "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyA+PiBlbmRvYmoKdHJhaWxlciA8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo=\r\n",
    "--b1--\r\n",
);

fn as_handler<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .extensions_mut()
        .insert(Actor::new("hana", Role::ComplaintsHandler));
    request
}

async fn evidence_of(app: &TestApp, case_id: &str) -> Vec<case_pb::Evidence> {
    app.case
        .list_evidence(as_handler(case_pb::ListEvidenceRequest {
            case_id: case_id.to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .evidence
}

/// The metadata and the bytes GetEvidence streams.
async fn read_back(app: &TestApp, evidence_id: &str) -> (case_pb::Evidence, Vec<u8>) {
    let mut stream = app
        .case
        .get_evidence(as_handler(case_pb::GetEvidenceRequest {
            evidence_id: evidence_id.to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut metadata = None;
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        match message.unwrap().part {
            Some(case_pb::get_evidence_response::Part::Metadata(m)) => metadata = Some(m),
            Some(case_pb::get_evidence_response::Part::Chunk(chunk)) => bytes.extend(chunk),
            None => panic!("an empty message"),
        }
    }
    (metadata.expect("the metadata comes first"), bytes)
}

async fn an_emailed_pdf_attachment_is_kept_as_evidence_byte_for_byte(db: TestDb) {
    let app = spawn_app(db).await;
    let response = app
        .client()
        .await
        .submit_email(SubmitEmailRequest {
            raw_message: WITH_INVOICE.as_bytes().to_vec(),
            received_at: None,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let evidence = evidence_of(&app, &response.case_id).await;
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let invoice = &evidence[0];
    assert_eq!(invoice.filename, "invoice.pdf");
    assert_eq!(invoice.media_type, "application/pdf");
    assert_eq!(
        invoice.source,
        case_pb::EvidenceSource::EmailAttachment as i32
    );
    assert_eq!(invoice.size_bytes, 77);
    let expected_sha256 = hex::encode(Sha256::digest(INVOICE));
    assert_eq!(invoice.sha256, expected_sha256);

    let (metadata, bytes) = read_back(&app, &invoice.evidence_id).await;
    assert_eq!(metadata.evidence_id, invoice.evidence_id);
    assert_eq!(bytes, INVOICE);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), expected_sha256);
}

/// A complaint that came by post, as the post room keys it in: the letter's
/// scan `SCAN-2026-<number>`, a PDF of `content`, named `scan-<number>.pdf`.
fn posted_letter(request_id: &str, number: &str, content: Vec<u8>) -> SubmitComplaintRequest {
    let mut letter = web_complaint(request_id);
    letter.channel = common::Channel::Post as i32;
    letter.scan_reference = format!("SCAN-2026-{number}");
    letter.complainant.as_mut().unwrap().postal_address = Some(common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "LS1 5HD".to_owned(),
    });
    letter.scanned_letter = Some(ScannedLetter {
        filename: format!("scan-{number}.pdf"),
        media_type: "application/pdf".to_owned(),
        content,
    });
    letter
}

async fn a_posted_complaint_keeps_its_scan_as_evidence(db: TestDb) {
    let app = spawn_app(db).await;
    let letter = posted_letter("posted-with-scan", "0100", INVOICE.to_vec());
    let response = app
        .client()
        .await
        .submit_complaint(letter)
        .await
        .unwrap()
        .into_inner();
    let evidence = evidence_of(&app, &response.case_id).await;
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(evidence[0].filename, "scan-0100.pdf");
    assert_eq!(
        evidence[0].source,
        case_pb::EvidenceSource::ScannedLetter as i32
    );
    let (_, bytes) = read_back(&app, &evidence[0].evidence_id).await;
    assert_eq!(bytes, INVOICE);
}

/// A scan of 16 MiB: over the 10 MiB a raw email may be, within the 25 MiB
/// the evidence limit allows. The server decodes what the settings allow
/// for the call, so it reaches the case as evidence.
async fn a_posted_scan_as_large_as_the_evidence_limit_allows_is_taken(db: TestDb) {
    const SCAN_BYTES: usize = 16 * 1024 * 1024;
    let app = spawn_app(db).await;
    let mut scan = INVOICE.to_vec();
    scan.resize(SCAN_BYTES, b' ');
    let letter = posted_letter("posted-with-a-large-scan", "0101", scan.clone());
    let response = app
        .client()
        .await
        .submit_complaint(letter)
        .await
        .unwrap()
        .into_inner();
    let evidence = evidence_of(&app, &response.case_id).await;
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let (_, bytes) = read_back(&app, &evidence[0].evidence_id).await;
    assert_eq!(bytes.len(), SCAN_BYTES);
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&scan));
}
