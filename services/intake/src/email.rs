//! Raw inbound email (RFC 5322) to the parts of a complaint (R10).
//!
//! A mail gateway passes the message as it arrived. This module reads the
//! complainant from `From`, the summary from `Subject` (or, without one, the
//! first line of the body), and the details from the text body (HTML is
//! converted to text by `mail-parser`). Attachments are listed in the
//! details by name, type and size, and the first [`MAX_KEPT_ATTACHMENTS`]
//! are passed on with their bytes for the case to keep as evidence.
//!
//! What it turns out is plain strings, cleaned of what an email often
//! carries and the domain refuses (stray control characters, invisible
//! formatting, folded header lines) and cut to the domain's length limits,
//! so that a real complaint is not lost to a formatting quirk. The domain
//! still validates the result like any other complaint.
//!
//! Pure: no I/O, no clock.

use complaints_domain::FieldViolation;
use complaints_domain::values::{EmailAddress, MessageId, PersonName, Text};
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

/// The request field every problem with the message is reported on.
pub const FIELD: &str = "raw_message";

/// The largest message accepted, in bytes. The gRPC server's decoding limit
/// for intake is set a little above it, so a larger message is refused here
/// with a field violation rather than by the transport.
pub const MAX_RAW_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// Attachments listed by name in the details; the rest are counted.
const MAX_LISTED_ATTACHMENTS: usize = 50;

/// Longest attachment name kept in the list, in characters.
const MAX_ATTACHMENT_NAME_CHARS: usize = 100;

/// Attachments passed on to be kept as evidence: the first 20 (the case
/// service takes no more with one complaint); the rest are only listed in
/// the details. Their bytes are bounded by [`MAX_RAW_MESSAGE_BYTES`].
pub const MAX_KEPT_ATTACHMENTS: usize = 20;

/// An attachment of the message, to keep as evidence. Only the message's
/// own attachments are taken: a forwarded email is one `message/rfc822`
/// file, never opened for the attachments inside it, so nesting goes no
/// deeper than one level here (and `mail-parser` itself decodes at most
/// three levels of encoded nested messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    /// The name it came with, cleaned to one line; `(unnamed)` without one.
    /// The case service checks it (no path separators, at most 255
    /// characters) and notes a refusal on the timeline.
    pub filename: String,
    /// Its media type, lowercase, without parameters.
    pub media_type: String,
    /// Its bytes, decoded from their transfer encoding.
    pub content: Vec<u8>,
}

/// What intake takes from an inbound email: the fields of a complaint, not
/// yet validated by the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The `From` display name, or a stand-in from the address without one.
    pub full_name: String,
    /// The `From` address.
    pub email: String,
    /// The `Subject`, or the body's first line; at most
    /// [`Text::SUMMARY_MAX`] characters.
    pub summary: String,
    /// The text body and the list of attachments; empty when there is
    /// neither. At most [`Text::DETAILS_MAX`] characters.
    pub details: String,
    /// The `Message-ID` header as written, cleaned to one line, if any:
    /// what the idempotency key is made of ([`Self::request_id`]).
    pub message_id_header: Option<String>,
    /// The `Message-ID` when it is a usable one ([`MessageId`]'s rule),
    /// which the case files as its correspondence so that replies thread
    /// onto it. `None` without one, or when it is malformed: the message is
    /// still taken.
    pub message_id: Option<MessageId>,
    /// The Message-IDs the message answers, without angle brackets: the
    /// last [`MAX_THREAD_IDS`] of `References`, then `In-Reply-To` (the
    /// nearest parent last), each once.
    pub thread_ids: Vec<String>,
    /// The `In-Reply-To` header's (last) Message-ID, if any.
    pub in_reply_to: Option<String>,
    /// The `Subject`, cleaned to one line; empty without one.
    pub subject: String,
    /// The first register number (`CMP-YYYY-NNNNNN`) quoted in the subject.
    pub subject_register_number: Option<String>,
    /// The first [`MAX_KEPT_ATTACHMENTS`] attachments, with their bytes.
    pub attachments: Vec<AttachedFile>,
}

impl InboundEmail {
    /// Reads a raw message. Every refusal is a violation on
    /// [`FIELD`] naming the problem: empty, too large, not a message, no
    /// `From` address, an unusable address, nothing to summarise.
    pub fn parse(raw: &[u8]) -> Result<InboundEmail, FieldViolation> {
        let refuse = |description: String| FieldViolation::new(FIELD, description);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Err(refuse(
                "is required: the whole email as received, headers and body".into(),
            ));
        }
        if raw.len() > MAX_RAW_MESSAGE_BYTES {
            return Err(refuse(format!(
                "must be at most {MAX_RAW_MESSAGE_BYTES} bytes (got {})",
                raw.len()
            )));
        }
        let message = MessageParser::default()
            .parse(raw)
            .ok_or_else(|| refuse("cannot be read as an RFC 5322 email message".into()))?;

        let sender = message
            .from()
            .and_then(|from| from.first())
            .filter(|sender| sender.address().is_some_and(|a| !a.trim().is_empty()))
            .ok_or_else(|| {
                refuse(
                    "has no From address: the complainant's email address is taken from the From header"
                        .into(),
                )
            })?;
        let address = EmailAddress::parse(sender.address().unwrap_or_default()).map_err(|e| {
            refuse(format!(
                "has a From address that cannot be used: it {}",
                e.description
            ))
        })?;
        let full_name = complainant_name(sender.name(), &address)
            .ok_or_else(|| refuse("has no usable complainant name in its From header".into()))?;

        let body = (0..message.text_body_count())
            .filter_map(|index| message.body_text(index))
            .map(|text| clean_text(&text))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");

        let subject = message.subject().map(clean_line).unwrap_or_default();
        let subject_line = shorten(&subject, Text::SUMMARY_MAX);
        let summary = if subject.is_empty() {
            body.lines()
                .map(clean_line)
                .find(|line| !line.is_empty())
                .unwrap_or_default()
        } else {
            subject
        };
        if summary.is_empty() {
            return Err(refuse(
                "has no Subject and no text body: there is nothing to take as the complaint's summary"
                    .into(),
            ));
        }

        let attachments: Vec<Attachment> = message
            .attachments()
            .map(|part| Attachment {
                name: part
                    .attachment_name()
                    .map(clean_line)
                    .filter(|name| !name.is_empty())
                    .map(|name| truncate_chars(&name, MAX_ATTACHMENT_NAME_CHARS))
                    .unwrap_or_else(|| "(unnamed)".to_owned()),
                content_type: part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(subtype) => format!("{}/{subtype}", ct.ctype()),
                        None => ct.ctype().to_owned(),
                    })
                    .map(|ct| clean_line(&ct).to_ascii_lowercase())
                    .filter(|ct| !ct.is_empty())
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                size: part.len(),
            })
            .collect();
        let files = message
            .attachments()
            .zip(&attachments)
            .take(MAX_KEPT_ATTACHMENTS)
            .map(|(part, listed)| AttachedFile {
                filename: part
                    .attachment_name()
                    .map(clean_line)
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| "(unnamed)".to_owned()),
                media_type: listed.content_type.clone(),
                content: part.contents().to_vec(),
            })
            .collect();

        Ok(InboundEmail {
            full_name,
            email: address.as_str().to_owned(),
            summary: shorten(&summary, Text::SUMMARY_MAX),
            details: details(&body, &attachments),
            message_id_header: message
                .message_id()
                .map(clean_line)
                .filter(|id| !id.is_empty()),
            message_id: message.message_id().and_then(MessageId::usable),
            thread_ids: thread_ids(message.references(), message.in_reply_to()),
            in_reply_to: message
                .in_reply_to()
                .as_text()
                .and_then(MessageId::usable)
                .map(String::from),
            subject_register_number: register_number_in(&subject_line),
            subject: subject_line,
            attachments: files,
        })
    }

    /// The idempotency key for this message when the caller gave none: the
    /// `Message-ID`, so a gateway that delivers one message twice opens one
    /// case; else a hash of the raw bytes.
    ///
    /// A `Message-ID` that cannot be a request id as it is (too long, or not
    /// printable ASCII) is hashed; the key is still the same for every
    /// delivery of the message.
    pub fn request_id(&self, raw: &[u8]) -> String {
        match &self.message_id_header {
            Some(id) => {
                let key = format!("email:{id}");
                if crate::request_id::RequestId::parse(&key).is_ok() {
                    key
                } else {
                    format!("email-id-sha256:{}", hex::encode(Sha256::digest(id)))
                }
            }
            None => format!("email-sha256:{}", hex::encode(Sha256::digest(raw))),
        }
    }
}

/// The most Message-IDs of a `References` header read: a reply's nearest
/// ancestors are last, and a header with thousands is not worth a lookup.
pub const MAX_THREAD_IDS: usize = 20;

/// The Message-IDs a message answers, nearest parent last, each once, at
/// most [`MAX_THREAD_IDS`]: the last ones of `References`, then
/// `In-Reply-To`.
fn thread_ids(
    references: &mail_parser::HeaderValue<'_>,
    in_reply_to: &mail_parser::HeaderValue<'_>,
) -> Vec<String> {
    let listed = |value: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        value
            .as_text_list()
            .unwrap_or_default()
            .iter()
            .filter_map(|id| MessageId::usable(id))
            .map(String::from)
            .collect()
    };
    let mut ids: Vec<String> = Vec::new();
    for id in listed(references).into_iter().chain(listed(in_reply_to)) {
        ids.retain(|seen| seen != &id);
        ids.push(id);
    }
    let excess = ids.len().saturating_sub(MAX_THREAD_IDS);
    ids.drain(..excess);
    ids
}

/// The first register number (`CMP-YYYY-NNNNNN`, any case) in `subject`.
fn register_number_in(subject: &str) -> Option<String> {
    let upper = subject.to_ascii_uppercase();
    upper.match_indices("CMP-").find_map(|(at, _)| {
        let candidate = upper.get(at..at + 15)?;
        let followed_by_digit = upper
            .get(at + 15..)
            .and_then(|rest| rest.chars().next())
            .is_some_and(|c| c.is_ascii_digit());
        if followed_by_digit {
            return None;
        }
        complaints_domain::values::RegisterNumber::parse(candidate)
            .ok()
            .map(|number| number.as_str().to_owned())
    })
}

/// One attachment as listed in the details.
#[derive(Debug)]
struct Attachment {
    name: String,
    content_type: String,
    size: usize,
}

/// The display name if the domain accepts it as a name, else the address's
/// local part, else the whole address.
fn complainant_name(display: Option<&str>, address: &EmailAddress) -> Option<String> {
    let display = display.map(clean_line).unwrap_or_default();
    [
        display.trim_matches(['"', '\'']).trim().to_owned(),
        address.local_part().to_owned(),
        address.as_str().to_owned(),
    ]
    .into_iter()
    .map(|candidate| shorten(&candidate, PersonName::MAX_CHARS))
    .find_map(|candidate| PersonName::parse(&candidate).ok())
    .map(|name| name.as_str().to_owned())
}

/// The body with the attachments listed after it, within
/// [`Text::DETAILS_MAX`]: a body too long for the rest is cut, saying so.
fn details(body: &str, attachments: &[Attachment]) -> String {
    let listing = attachment_listing(attachments);
    let separator = if body.is_empty() || listing.is_empty() {
        ""
    } else {
        "\n\n"
    };
    let total = body.chars().count() + separator.len() + listing.chars().count();
    if total <= Text::DETAILS_MAX {
        return format!("{body}{separator}{listing}");
    }
    let body_chars = body.chars().count();
    // The note's own length depends on the figures in it; allow for the
    // longest they can be.
    let note_allowance = 120;
    let budget = Text::DETAILS_MAX
        .saturating_sub(listing.chars().count() + 2 + note_allowance)
        .min(body_chars);
    let kept = truncate_chars(body, budget);
    let kept_chars = kept.chars().count();
    let note = format!(
        "[The email was shortened here: its text has {body_chars} characters; the first {kept_chars} are kept.]"
    );
    let listing_part = if listing.is_empty() {
        String::new()
    } else {
        format!("\n\n{listing}")
    };
    format!("{}\n\n{note}{listing_part}", kept.trim_end())
}

fn attachment_listing(attachments: &[Attachment]) -> String {
    if attachments.is_empty() {
        return String::new();
    }
    let mut listing = format!(
        "Attachments (the first {MAX_KEPT_ATTACHMENTS} are kept as evidence, within the evidence limits):"
    );
    for attachment in attachments.iter().take(MAX_LISTED_ATTACHMENTS) {
        listing.push_str(&format!(
            "\n- {} ({}, {} bytes)",
            attachment.name, attachment.content_type, attachment.size
        ));
    }
    if attachments.len() > MAX_LISTED_ATTACHMENTS {
        listing.push_str(&format!(
            "\n- and {} more",
            attachments.len() - MAX_LISTED_ATTACHMENTS
        ));
    }
    listing
}

/// Invisible characters the domain's `Text` refuses (bidirectional
/// overrides and isolates, zero-width space, word joiner, byte-order mark).
/// Emails carry them innocently (HTML mail, right-to-left signatures), so
/// they are dropped rather than refused; the words stay.
fn is_hidden_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// One line: every run of whitespace, line breaks and control characters
/// becomes one space (a folded header reads as one line); invisible
/// formatting is dropped.
fn clean_line(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || c.is_control())
        .map(|word| {
            word.chars()
                .filter(|c| !is_hidden_formatting(*c))
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text over several lines: any line ending becomes `\n`, other control
/// characters but tab and invisible formatting are dropped, trailing spaces
/// go, and runs of blank lines (common in converted HTML) shrink to one.
fn clean_text(raw: &str) -> String {
    let unified = raw.replace("\r\n", "\n").replace(
        [
            '\r', '\u{0085}', '\u{2028}', '\u{2029}', '\u{000B}', '\u{000C}',
        ],
        "\n",
    );
    let mut cleaned = String::with_capacity(unified.len());
    let mut blank_run = 0;
    for line in unified.split('\n') {
        let line: String = line
            .chars()
            .filter(|c| (*c == '\t' || !c.is_control()) && !is_hidden_formatting(*c))
            .collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        cleaned.push_str(line);
        cleaned.push('\n');
    }
    cleaned.trim().to_owned()
}

/// At most `max` characters, ending in an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short = truncate_chars(text, max.saturating_sub(1))
        .trim_end()
        .to_owned();
    short.push('…');
    short
}

/// The first `max` characters.
fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn parse(raw: &str) -> InboundEmail {
        InboundEmail::parse(raw.as_bytes()).unwrap()
    }

    fn refusal(raw: &[u8]) -> String {
        let violation = InboundEmail::parse(raw).unwrap_err();
        assert_eq!(violation.field, FIELD);
        violation.description
    }

    #[test]
    fn attachments_are_passed_on_with_their_decoded_bytes_the_first_twenty_only() {
        let mut raw = String::from(concat!(
            "From: Ann Jones <ann.jones@example.org>\r\n",
            "Subject: Photos of the pendant\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
            "\r\n",
            "--b1\r\n",
            "Content-Type: text/plain\r\n",
            "\r\n",
            "Twenty-two photos attached.\r\n",
        ));
        for n in 1..=22 {
            raw.push_str(&format!(
                "--b1\r\nContent-Type: image/png\r\n\
                 Content-Disposition: attachment; filename=\"photo-{n}.png\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
            ));
        }
        raw.push_str("--b1--\r\n");
        let email = parse(&raw);
        assert_eq!(email.attachments.len(), MAX_KEPT_ATTACHMENTS);
        assert_eq!(
            email.attachments[0],
            AttachedFile {
                filename: "photo-1.png".to_owned(),
                media_type: "image/png".to_owned(),
                content: b"hello".to_vec(),
            }
        );
        assert_eq!(email.attachments[19].filename, "photo-20.png");
        assert!(email.details.contains("photo-22.png"), "{}", email.details);
    }

    /// A multipart email with `parts` tiny attachments.
    fn with_attachments(parts: usize) -> String {
        let mut raw = String::from(concat!(
            "From: Ann Jones <ann.jones@example.org>\r\n",
            "Subject: Many files\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
            "\r\n",
            "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n",
        ));
        for n in 1..=parts {
            raw.push_str(&format!(
                "--b1\r\nContent-Type: text/plain\r\n\
                 Content-Disposition: attachment; filename=\"f-{n}.txt\"\r\n\r\nx\r\n"
            ));
        }
        raw.push_str("--b1--\r\n");
        raw
    }

    #[test]
    fn an_email_of_thousands_of_parts_keeps_twenty_and_lists_a_bounded_few() {
        let email = parse(&with_attachments(5_000));
        assert_eq!(email.attachments.len(), MAX_KEPT_ATTACHMENTS);
        assert!(email.details.chars().count() <= Text::DETAILS_MAX);
        assert!(
            email
                .details
                .contains(&format!("and {} more", 5_000 - MAX_LISTED_ATTACHMENTS)),
            "{}",
            email.details
        );
    }

    #[test]
    fn a_deeply_nested_email_is_read_without_opening_every_level() {
        let depth = 2_000;
        let mut raw = String::from(
            "From: Ann Jones <ann.jones@example.org>\r\nSubject: Nested\r\nMIME-Version: 1.0\r\n",
        );
        for level in 0..depth {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"l{level}\"\r\n\r\n--l{level}\r\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\nThe innermost text.\r\n");
        for level in (0..depth).rev() {
            raw.push_str(&format!("--l{level}--\r\n"));
        }
        // Read or refused with a reason; never a crash or a runaway.
        match InboundEmail::parse(raw.as_bytes()) {
            Ok(email) => assert!(email.attachments.len() <= MAX_KEPT_ATTACHMENTS),
            Err(violation) => assert_eq!(violation.field, FIELD),
        }
    }

    #[test]
    fn a_declared_size_is_not_believed_only_the_bytes_that_came() {
        let email = parse(concat!(
            "From: Ann Jones <ann.jones@example.org>\r\n",
            "Subject: A big file\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
            "\r\n",
            "--b1\r\nContent-Type: text/plain\r\n\r\nA recording.\r\n",
            "--b1\r\n",
            "Content-Type: audio/mpeg\r\n",
            "Content-Length: 99999999999\r\n",
            "Content-Disposition: attachment; filename=\"call.mp3\"; size=99999999999\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "aGVsbG8=\r\n",
            "--b1--\r\n",
        ));
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].content, b"hello");
        assert!(
            email.details.contains("call.mp3 (audio/mpeg, 5 bytes)"),
            "{}",
            email.details
        );
    }

    #[test]
    fn a_forwarded_email_is_one_attachment_never_opened_for_its_own() {
        let email = parse(concat!(
            "From: Ann Jones <ann.jones@example.org>\r\n",
            "Subject: Fwd: your letter\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"outer\"\r\n",
            "\r\n",
            "--outer\r\n",
            "Content-Type: text/plain\r\n",
            "\r\n",
            "See the letter you sent me, forwarded.\r\n",
            "--outer\r\n",
            "Content-Type: message/rfc822\r\n",
            "Content-Disposition: attachment; filename=\"letter.eml\"\r\n",
            "\r\n",
            "From: Customer Care <complaints@telecare.example>\r\n",
            "Subject: Your letter\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"inner\"\r\n",
            "\r\n",
            "--inner\r\n",
            "Content-Type: text/plain\r\n",
            "\r\n",
            "Please find our letter attached.\r\n",
            "--inner\r\n",
            "Content-Type: application/pdf\r\n",
            "Content-Disposition: attachment; filename=\"inner.pdf\"\r\n",
            "\r\n",
            "%PDF-1.4\r\n",
            "--inner--\r\n",
            "--outer--\r\n",
        ));
        let files: Vec<(&str, &str)> = email
            .attachments
            .iter()
            .map(|file| (file.filename.as_str(), file.media_type.as_str()))
            .collect();
        assert_eq!(files, [("letter.eml", "message/rfc822")]);
        let kept = String::from_utf8_lossy(&email.attachments[0].content);
        assert!(kept.contains("inner.pdf"), "{kept}");
    }

    #[test]
    fn a_plain_text_email_gives_the_sender_subject_and_body() {
        let email = parse(concat!(
            "From: Ann Jones <ann.jones@example.org>\r\n",
            "To: complaints@telecare.example\r\n",
            "Subject: Pendant alarm not answered\r\n",
            "Message-ID: <abc123@mail.example.org>\r\n",
            "Date: Mon, 2 Mar 2026 09:15:00 +0000\r\n",
            "\r\n",
            "My mother pressed her pendant on Saturday.\r\n",
            "Nobody answered for 40 minutes.\r\n",
        ));
        assert_eq!(email.full_name, "Ann Jones");
        assert_eq!(email.email, "ann.jones@example.org");
        assert_eq!(email.summary, "Pendant alarm not answered");
        assert_eq!(
            email.details,
            "My mother pressed her pendant on Saturday.\nNobody answered for 40 minutes."
        );
        assert_eq!(
            email.message_id.as_ref().map(MessageId::as_str),
            Some("abc123@mail.example.org")
        );
        assert_eq!(
            email.request_id(b"ignored"),
            "email:abc123@mail.example.org"
        );
    }

    #[test]
    fn a_multipart_email_lists_its_attachments_without_their_bytes() {
        let email = parse(concat!(
            "From: \"Bob Smith\" <bob@example.com>\r\n",
            "Subject: Billing error\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n",
            "\r\n",
            "--XYZ\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "\r\n",
            "I was charged twice, see the invoice.\r\n",
            "--XYZ\r\n",
            "Content-Type: application/pdf; name=\"invoice.pdf\"\r\n",
            "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "JVBERi0xLjQKU0VDUkVUIENPTlRFTlQ=\r\n",
            "--XYZ--\r\n",
        ));
        assert_eq!(email.full_name, "Bob Smith");
        assert_eq!(email.summary, "Billing error");
        assert!(
            email
                .details
                .starts_with("I was charged twice, see the invoice.\n\nAttachments"),
            "{}",
            email.details
        );
        assert!(
            email
                .details
                .contains("- invoice.pdf (application/pdf, 23 bytes)"),
            "{}",
            email.details
        );
        assert!(!email.details.contains("SECRET"), "{}", email.details);
        assert!(!email.details.contains("JVBER"), "{}", email.details);
    }

    #[test]
    fn an_html_only_email_is_read_as_text() {
        let email = parse(concat!(
            "From: carol@example.net\r\n",
            "Subject: Engineer did not arrive\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "\r\n",
            "<html><body><p>The engineer <b>never</b> came.</p>",
            "<p>Please call me.</p></body></html>\r\n",
        ));
        assert!(!email.details.contains('<'), "{}", email.details);
        assert!(
            email.details.contains("The engineer never came."),
            "{}",
            email.details
        );
        assert!(
            email.details.contains("Please call me."),
            "{}",
            email.details
        );
    }

    #[test]
    fn an_encoded_word_subject_and_name_are_decoded() {
        let email = parse(concat!(
            "From: =?UTF-8?Q?Ren=C3=A9e_O=E2=80=99Brien?= <renee@example.ie>\r\n",
            "Subject: =?UTF-8?B?TWlzc2VkIGFsYXJtIGNhbGwg4oCTIHVyZ2VudA==?=\r\n",
            "\r\n",
            "Details here.\r\n",
        ));
        assert_eq!(email.full_name, "Renée O’Brien");
        assert_eq!(email.summary, "Missed alarm call – urgent");
    }

    #[test]
    fn a_sender_without_a_display_name_is_named_by_the_local_part() {
        let email = parse("From: dave.price@example.com\r\nSubject: Hi\r\n\r\nBody\r\n");
        assert_eq!(email.full_name, "dave.price");
        assert_eq!(email.email, "dave.price@example.com");
    }

    #[test]
    fn a_missing_subject_takes_the_first_line_of_the_body_cut_to_the_summary_limit() {
        let long_line = "word ".repeat(100);
        let email = parse(&format!(
            "From: erin@example.com\r\n\r\n\r\n   \r\n{long_line}\r\nsecond line\r\n"
        ));
        assert_eq!(email.summary.chars().count(), Text::SUMMARY_MAX);
        assert!(email.summary.starts_with("word word"));
        assert!(email.summary.ends_with('…'));
        assert!(email.details.contains("second line"));
    }

    #[test]
    fn a_message_without_a_from_address_is_refused_naming_the_problem() {
        let description =
            refusal(b"To: complaints@telecare.example\r\nSubject: Hello\r\n\r\nBody\r\n");
        assert!(description.contains("no From address"), "{description}");
    }

    #[test]
    fn an_unusable_from_address_is_refused() {
        let description = refusal(b"From: Frank <not-an-address>\r\nSubject: x\r\n\r\nBody\r\n");
        assert!(description.contains("From"), "{description}");
    }

    #[test]
    fn garbage_bytes_are_refused_not_guessed_at() {
        let garbage: Vec<u8> = (0..2048u32).map(|i| (i * 7919 % 251) as u8).collect();
        let description = refusal(&garbage);
        assert!(
            description.contains("From") || description.contains("RFC 5322"),
            "{description}"
        );
    }

    #[test]
    fn an_empty_message_is_refused() {
        assert!(refusal(b"").contains("is required"));
        assert!(refusal(b"  \r\n ").contains("is required"));
    }

    #[test]
    fn a_message_over_the_size_limit_is_refused() {
        let mut raw = b"From: a@example.com\r\nSubject: big\r\n\r\n".to_vec();
        raw.resize(MAX_RAW_MESSAGE_BYTES + 1, b'a');
        assert!(refusal(&raw).contains("at most"));
    }

    #[test]
    fn a_message_with_nothing_to_summarise_is_refused() {
        let description = refusal(b"From: gail@example.com\r\n\r\n\r\n");
        assert!(description.contains("no Subject"), "{description}");
    }

    #[test]
    fn control_and_invisible_characters_are_dropped_and_the_result_passes_the_domain() {
        let email = parse(
            "From: Hana <hana@example.com>\r\nSubject: Late\u{7} visit\u{202E}\r\n\r\nFirst\u{0}line\rsecond\u{200B}line\u{FEFF}\r\n",
        );
        assert_eq!(email.summary, "Late visit");
        assert_eq!(email.details, "Firstline\nsecondline");
        assert!(Text::single_line("summary", &email.summary, Text::SUMMARY_MAX).is_ok());
        assert!(Text::multi_line("details", &email.details, Text::DETAILS_MAX).is_ok());
    }

    #[test]
    fn a_very_long_body_is_shortened_to_the_details_limit_and_says_so() {
        let body = "complaint text ".repeat(3_000);
        let email = parse(&format!(
            "From: ian@example.com\r\nSubject: Long\r\n\r\n{body}\r\n"
        ));
        assert!(email.details.chars().count() <= Text::DETAILS_MAX);
        assert!(email.details.contains("was shortened"), "tail");
        assert!(Text::multi_line("details", &email.details, Text::DETAILS_MAX).is_ok());
    }

    #[test]
    fn a_reply_names_the_messages_it_answers_nearest_last_and_the_register_number_in_its_subject() {
        let email = parse(concat!(
            "From: Jane Doe <jane@example.com>\r\n",
            "Subject: Re: Your complaint cmp-2026-000123: we have received it\r\n",
            "Message-ID: <reply-1@mail.example.com>\r\n",
            "In-Reply-To: <ack-1@complaints.example.org>\r\n",
            "References: <orig-1@mail.example.com>\r\n <ack-1@complaints.example.org>\r\n",
            "\r\n",
            "Thank you.\r\n",
        ));
        assert_eq!(
            email.thread_ids,
            ["orig-1@mail.example.com", "ack-1@complaints.example.org"]
        );
        assert_eq!(
            email.in_reply_to.as_deref(),
            Some("ack-1@complaints.example.org")
        );
        assert_eq!(
            email.subject_register_number.as_deref(),
            Some("CMP-2026-000123")
        );
    }

    #[test]
    fn an_absurd_references_header_is_cut_to_its_last_twenty_ids() {
        let references: Vec<String> = (0..5000).map(|i| format!("<r{i}@example.com>")).collect();
        let raw = format!(
            "From: jane@example.com\r\nSubject: x\r\nReferences: {}\r\n\r\nBody\r\n",
            references.join(" ")
        );
        let email = parse(&raw);
        assert_eq!(email.thread_ids.len(), 20);
        assert_eq!(email.thread_ids[0], "r4980@example.com");
        assert_eq!(email.thread_ids[19], "r4999@example.com");
    }

    #[test]
    fn a_number_that_only_looks_like_a_register_number_is_not_one() {
        for subject in [
            "CMP-2026-0001234",
            "CMP-26-000123",
            "CMP-2026-00012",
            "no number",
        ] {
            let email = parse(&format!(
                "From: a@example.com\r\nSubject: {subject}\r\n\r\nB\r\n"
            ));
            assert_eq!(email.subject_register_number, None, "{subject}");
        }
    }

    #[test]
    fn without_a_message_id_the_key_is_a_hash_of_the_bytes() {
        let raw = b"From: jo@example.com\r\nSubject: x\r\n\r\nBody\r\n";
        let email = InboundEmail::parse(raw).unwrap();
        assert_eq!(email.message_id, None);
        let key = email.request_id(raw);
        assert!(key.starts_with("email-sha256:"), "{key}");
        assert_eq!(key, email.request_id(raw));
        assert_ne!(key, email.request_id(b"other bytes"));
    }

    #[test]
    fn an_overlong_message_id_is_hashed_into_a_usable_key() {
        let id = "x".repeat(300);
        let email = parse(&format!(
            "From: kim@example.com\r\nMessage-ID: <{id}@example.com>\r\nSubject: x\r\n\r\nBody\r\n"
        ));
        let key = email.request_id(b"");
        assert!(key.starts_with("email-id-sha256:"), "{key}");
        assert!(crate::request_id::RequestId::parse(&key).is_ok());
    }

    #[test]
    fn a_malformed_message_id_still_keys_the_message_but_threads_nothing() {
        for id in [
            "<two words@example.com>".to_owned(),
            "<réponse@example.com>".to_owned(),
            format!("<{}@example.com>", "x".repeat(MessageId::MAX_CHARS)),
        ] {
            let email = parse(&format!(
                "From: kim@example.com\r\nMessage-ID: {id}\r\nIn-Reply-To: {id}\r\n\
                 References: <good@example.com> {id}\r\nSubject: x\r\n\r\nBody\r\n"
            ));
            assert_eq!(email.message_id, None, "{id}");
            assert_eq!(email.in_reply_to, None, "{id}");
            assert_eq!(email.thread_ids, ["good@example.com"], "{id}");
            let key = email.request_id(b"");
            assert!(key.starts_with("email"), "{key}");
            assert!(!key.starts_with("email-sha256:"), "{key}");
            assert_eq!(key, email.request_id(b"other bytes"));
        }
    }
}
