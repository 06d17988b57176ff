//! `complaints attach` and `complaints evidence`: add a file to a case as evidence, and list a case's evidence.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use complaints_proto::complaints::case::v1::{self as case_pb, EvidenceSource};

use super::{Connection, case_client, explain, fetch, format};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The case: its register number or case id.
    case: String,
    /// The file to add as evidence.
    file: PathBuf,
    /// What the file shows, for example "the invoice charging twice".
    #[arg(long)]
    description: Option<String>,
    /// Its media type, for example application/pdf; guessed from the file's
    /// extension when not given.
    #[arg(long)]
    media_type: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints attach`: streams the file to the case's evidence, in chunks
/// of the size the service documents, and says what was kept.
pub async fn attach(args: AttachArgs) -> anyhow::Result<()> {
    let media_type = match &args.media_type {
        Some(given) => given.clone(),
        None => guess_media_type(&args.file)
            .with_context(|| {
                format!(
                    "cannot tell the media type of {} from its extension; give --media-type",
                    args.file.display()
                )
            })?
            .to_owned(),
    };
    let filename = args
        .file
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{} does not name a file", args.file.display()))?
        .to_owned();
    let bytes = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut client = case_client(&args.connection).await?;
    let found = fetch(&mut client, &args.case).await?;
    let mut messages = vec![case_pb::UploadEvidenceRequest {
        part: Some(case_pb::upload_evidence_request::Part::Metadata(
            case_pb::EvidenceMetadata {
                case_id: found.case_id.clone(),
                filename: filename.clone(),
                media_type: media_type.clone(),
                description: args.description.clone().unwrap_or_default(),
            },
        )),
    }];
    messages.extend(
        bytes
            .chunks(complaints_case::EVIDENCE_CHUNK_BYTES)
            .map(|chunk| case_pb::UploadEvidenceRequest {
                part: Some(case_pb::upload_evidence_request::Part::Chunk(
                    chunk.to_vec(),
                )),
            }),
    );
    let reply = client
        .upload_evidence(tokio_stream::iter(messages))
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "Added {filename} ({media_type}, {}) to {} as evidence {}.",
        size(u64::try_from(reply.size_bytes).unwrap_or_default()),
        found.register_number,
        reply.evidence_id
    );
    println!("  sha256: {}", reply.sha256);
    Ok(())
}

/// `complaints evidence`: the case's evidence, oldest first.
pub async fn evidence(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
    let found = fetch(&mut client, case).await?;
    let listed = client
        .list_evidence(case_pb::ListEvidenceRequest {
            case_id: found.case_id.clone(),
        })
        .await
        .map_err(explain)?
        .into_inner()
        .evidence;
    if listed.is_empty() {
        println!("{} has no evidence yet.", found.register_number);
        return Ok(());
    }
    println!("Evidence on {}, oldest first:", found.register_number);
    for piece in &listed {
        println!("  {}", line(piece));
    }
    Ok(())
}

/// One piece of evidence on one line: name, type, size, the start of its
/// SHA-256, where it came from, who added it and when.
fn line(piece: &case_pb::Evidence) -> String {
    let mut text = format!(
        "{}  {}  {}  sha256 {}…  {} by {} {}",
        piece.filename,
        piece.media_type,
        size(u64::try_from(piece.size_bytes).unwrap_or_default()),
        piece.sha256.get(..12).unwrap_or(&piece.sha256),
        source(piece.source),
        piece.added_by,
        format::instant(piece.added_at.as_ref()),
    );
    if !piece.description.is_empty() {
        text.push_str(&format!("\n      {}", piece.description));
    }
    text
}

fn source(value: i32) -> &'static str {
    match EvidenceSource::try_from(value) {
        Ok(EvidenceSource::Upload) => "uploaded",
        Ok(EvidenceSource::EmailAttachment) => "attached to the email",
        Ok(EvidenceSource::ScannedLetter) => "scanned from the letter",
        _ => "added",
    }
}

/// A size as a person reads it: bytes, KiB or MiB.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// The media type a file's extension usually means, for the kinds of
/// evidence the service accepts by default.
fn guess_media_type(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        "webp" => "image/webp",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "txt" => "text/plain",
        "eml" => "message/rfc822",
        "rtf" => "application/rtf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_media_type_is_guessed_from_the_extension_whatever_its_case() {
        assert_eq!(
            guess_media_type(Path::new("Invoice.PDF")),
            Some("application/pdf")
        );
        assert_eq!(
            guess_media_type(Path::new("photos/pendant.jpeg")),
            Some("image/jpeg")
        );
        assert_eq!(guess_media_type(Path::new("call.mp3")), Some("audio/mpeg"));
        assert_eq!(guess_media_type(Path::new("setup.exe")), None);
        assert_eq!(guess_media_type(Path::new("README")), None);
    }

    #[test]
    fn sizes_read_in_bytes_kibibytes_or_mebibytes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(26_214_400), "25.0 MiB");
    }

    #[test]
    fn a_piece_of_evidence_reads_on_one_line_with_its_description_below() {
        let piece = case_pb::Evidence {
            filename: "invoice.pdf".to_owned(),
            media_type: "application/pdf".to_owned(),
            size_bytes: 2048,
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned(),
            source: EvidenceSource::EmailAttachment as i32,
            added_by: "intake".to_owned(),
            description: "Charged twice".to_owned(),
            ..Default::default()
        };
        let text = line(&piece);
        assert!(
            text.starts_with(
                "invoice.pdf  application/pdf  2.0 KiB  sha256 e3b0c44298fc…  attached to the email by intake"
            ),
            "{text}"
        );
        assert!(text.ends_with("\n      Charged twice"), "{text}");
    }
}
