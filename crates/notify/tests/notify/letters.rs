//! Letters: a real PDF, read back with lopdf.

use complaints_domain::case::NotifyKind;
use complaints_domain::complainant::{PostalAddress, RawPostalAddress};
use complaints_notify::{
    LetterAddress, LetterWriter, MessageContext, NotificationId, ResponseDetails, render_letter,
};

use crate::support::{acknowledgement, date, renderer, sample};

fn address() -> LetterAddress {
    let postal = PostalAddress::parse(RawPostalAddress {
        lines: vec!["Flat 2".into(), "14 Rosemary Court".into()],
        town: "Harrogate".into(),
        postcode: "hg1 2ab".into(),
    })
    .unwrap();
    LetterAddress::new("Margaret Smith", &postal)
}

/// The text of every page, in order.
fn pages_text(pdf: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(pdf).expect("a PDF lopdf can read");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    pages
        .iter()
        .map(|page| document.extract_text(&[*page]).unwrap())
        .collect()
}

/// Extracted text with each run of whitespace as one space, so a check
/// does not depend on how the extractor breaks lines.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_letter_is_an_a4_pdf_with_the_reference_the_address_and_the_text() {
    let pdf = render_letter(&acknowledgement(), &address(), date(2026, 11, 17));
    assert!(pdf.starts_with(b"%PDF-"));

    let document = lopdf::Document::load_mem(&pdf).unwrap();
    let (_, page_id) = document.get_pages().into_iter().next().unwrap();
    let media_box = document
        .get_dictionary(page_id)
        .unwrap()
        .get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_float().unwrap())
        .collect::<Vec<f32>>();
    assert!((media_box[2] - 595.28).abs() < 0.5, "{media_box:?}");
    assert!((media_box[3] - 841.89).abs() < 0.5, "{media_box:?}");

    let pages = pages_text(&pdf);
    assert_eq!(pages.len(), 1);
    let text = squeezed(&pages[0]);
    assert!(text.contains("Our reference: CMP-2026-000123"), "{text}");
    for line in [
        "Margaret Smith",
        "Flat 2",
        "14 Rosemary Court",
        "Harrogate",
        "HG1 2AB",
    ] {
        assert!(text.contains(line), "{line} missing from {text}");
    }
    assert!(text.contains("Date: 17 November 2026"), "{text}");
    assert!(text.contains("Example Telecare Ltd"), "letterhead: {text}");
    assert!(text.contains("0113 496 0000"), "{text}");
    assert!(text.contains("Dear Mrs Smith,"), "{text}");
    assert!(text.contains("Your complaint CMP-2026-000123: we have received it"));
    assert!(
        text.contains("We aim to give you our answer by Wednesday 2 December 2026."),
        "{text}"
    );
    assert!(text.contains("Page 1 of 1"));
}

#[test]
fn a_long_letter_breaks_onto_more_pages_and_loses_nothing() {
    let paragraphs: Vec<String> = (1..=40)
        .map(|n| {
            format!(
                "Paragraph {n}. We looked at the call records, the engineer's notes and \
                 the equipment history to understand what went wrong on each visit."
            )
        })
        .collect();
    let context = MessageContext {
        response: Some(ResponseDetails {
            outcome: paragraphs.join("\n\n"),
            ..sample().response.unwrap()
        }),
        ..sample()
    };
    let rendered = renderer()
        .render(NotifyKind::StageResponse, &context)
        .unwrap();
    let pdf = render_letter(&rendered, &address(), date(2026, 12, 3));
    let pages = pages_text(&pdf);
    assert!(pages.len() >= 3, "{} pages", pages.len());
    let all = squeezed(&pages.join(" "));
    for n in 1..=40 {
        assert!(
            all.contains(&format!("Paragraph {n}. We looked")),
            "paragraph {n} lost"
        );
    }
    assert!(all.contains("The Complaints Team"), "the sign-off is lost");
    let total = pages.len();
    for (index, page) in pages.iter().enumerate() {
        let page = squeezed(page);
        assert!(
            page.contains("CMP-2026-000123"),
            "page {} has no reference",
            index + 1
        );
        assert!(
            page.contains(&format!("Page {} of {total}", index + 1)),
            "{page}"
        );
    }
    assert!(squeezed(&pages[1]).contains("(continued)"));
}

#[tokio::test]
async fn the_letter_writer_queues_the_pdf_under_the_notification_id() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("letters");
    let writer = LetterWriter::new(&outbox);
    let id = NotificationId::parse("letter-1").unwrap();
    let pdf = render_letter(&acknowledgement(), &address(), date(2026, 11, 17));

    let path = writer.write(&id, &pdf).await.unwrap();
    assert_eq!(path, outbox.join("letter-1.pdf"));
    assert_eq!(std::fs::read(&path).unwrap(), pdf);

    // A retry replaces the letter rather than queuing a second copy.
    writer.write(&id, &pdf).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
    assert_eq!(files.len(), 1);
}
