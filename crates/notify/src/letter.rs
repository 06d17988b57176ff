//! Letters: a rendered notification laid out as an A4 PDF, ready to print
//! and post.
//!
//! The layout is a plain UK business letter: the company's letterhead, the
//! address block where a window envelope shows it, "Our reference" and the
//! date, the subject as a heading, then the text, wrapped to the page and
//! carried on to further pages with the reference at the top of each. Text
//! is set in Helvetica 12 pt (one of the fonts every PDF reader has, so
//! nothing is embedded); characters outside Windows-1252 print as `?`.

use std::path::PathBuf;

use chrono::NaiveDate;
use complaints_domain::complainant::PostalAddress;
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

use crate::outbox::write_atomically;
use crate::{NotificationId, NotifyError, Rendered};

/// Where a letter goes: the addressee's name over their postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterAddress {
    /// The name on the envelope (the complainant's full name).
    pub name: String,
    /// The address lines, town and postcode, in order.
    pub lines: Vec<String>,
}

impl LetterAddress {
    pub fn new(name: impl Into<String>, address: &PostalAddress) -> Self {
        let mut lines: Vec<String> = address
            .lines()
            .iter()
            .map(|line| line.as_str().to_owned())
            .collect();
        lines.push(address.town().as_str().to_owned());
        lines.push(address.postcode().as_str().to_owned());
        Self {
            name: name.into(),
            lines,
        }
    }
}

// Geometry, in millimetres from the bottom-left corner of an A4 page.
const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
const LEFT: f32 = 25.0;
const RIGHT: f32 = 190.0;
const TEXT_WIDTH: f32 = RIGHT - LEFT;
/// The first line of the address block: inside a DL window envelope's
/// window (about 45 to 85 mm from the top).
const ADDRESS_TOP: f32 = PAGE_HEIGHT - 52.0;
const ADDRESS_WIDTH: f32 = 90.0;
/// No body line is set below this.
const BODY_BOTTOM: f32 = 25.0;
const CONTINUATION_TOP: f32 = PAGE_HEIGHT - 30.0;
const FOOTER_Y: f32 = 12.0;

const BODY_SIZE: f32 = 12.0;
const BODY_LEADING: f32 = 6.0;
const PARAGRAPH_GAP: f32 = 4.5;
const SMALL_SIZE: f32 = 9.5;
const SMALL_LEADING: f32 = 4.5;

/// One line of text placed on a page.
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    bold: bool,
    grey: bool,
    text: String,
}

/// A page's content before it becomes PDF operations.
#[derive(Debug, Default)]
struct PageLayout {
    lines: Vec<Placed>,
    /// Horizontal rules: (y, from x, to x).
    rules: Vec<(f32, f32, f32)>,
}

/// Lays out a letter and returns the PDF bytes.
///
/// `date` is the date printed on the letter (the day it is queued for
/// printing). The same input always gives the same pages; the bytes may
/// differ in internal ids.
pub fn render_letter(rendered: &Rendered, to: &LetterAddress, date: NaiveDate) -> Vec<u8> {
    let pages = layout(rendered, to, date);
    let total = pages.len();
    let pdf_pages = pages
        .into_iter()
        .enumerate()
        .map(|(index, mut page)| {
            page.lines.push(Placed {
                x: LEFT,
                y: FOOTER_Y,
                size: SMALL_SIZE,
                bold: false,
                grey: true,
                text: format!(
                    "Our reference: {}    Page {} of {total}    {}    {}",
                    rendered.register_number,
                    index + 1,
                    rendered.company.name,
                    rendered.company.phone
                ),
            });
            PdfPage::new(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), operations(&page))
        })
        .collect();
    let mut document = PdfDocument::new(&rendered.subject);
    document.metadata.info.author = rendered.company.name.clone();
    document.metadata.info.subject = format!("Our reference: {}", rendered.register_number);
    let mut warnings = Vec::new();
    document
        .with_pages(pdf_pages)
        .save(&PdfSaveOptions::default(), &mut warnings)
}

fn layout(rendered: &Rendered, to: &LetterAddress, date: NaiveDate) -> Vec<PageLayout> {
    let company = &rendered.company;
    let mut first = PageLayout::default();

    // Letterhead.
    let mut y = PAGE_HEIGHT - 20.0;
    first.lines.push(Placed {
        x: LEFT,
        y,
        size: 18.0,
        bold: true,
        grey: false,
        text: company.name.clone(),
    });
    y -= 6.5;
    let contact = format!(
        "Telephone {}    Email {}    {}",
        company.phone, company.email, company.website
    );
    for source in [company.address_lines.join(", "), contact] {
        for line in wrap(&source, SMALL_SIZE, false, TEXT_WIDTH) {
            first.lines.push(small(LEFT, y, line));
            y -= SMALL_LEADING;
        }
    }
    y -= 1.0;
    first.rules.push((y, LEFT, RIGHT));

    // Address block, then reference and date.
    y = ADDRESS_TOP.min(y - 10.0);
    let address = std::iter::once(to.name.as_str()).chain(to.lines.iter().map(String::as_str));
    for source in address {
        for line in wrap(source, BODY_SIZE, false, ADDRESS_WIDTH) {
            first.lines.push(body(LEFT, y, line, false));
            y -= 5.5;
        }
    }
    y -= 10.0;
    first.lines.push(body(
        LEFT,
        y,
        format!("Our reference: {}", rendered.register_number),
        true,
    ));
    y -= BODY_LEADING;
    first.lines.push(body(
        LEFT,
        y,
        format!("Date: {}", date.format("%-d %B %Y")),
        false,
    ));
    y -= 2.0 * BODY_LEADING;
    for line in wrap(&rendered.subject, BODY_SIZE, true, TEXT_WIDTH) {
        first.lines.push(body(LEFT, y, line, true));
        y -= BODY_LEADING;
    }
    y -= BODY_LEADING / 2.0;

    // The text, paragraph by paragraph, page after page.
    let continued = format!(
        "{}    Our reference: {}    (continued)",
        company.name, rendered.register_number
    );
    let paragraphs = paragraphs(&rendered.text);
    let mut pages = Vec::new();
    let mut page = first;
    for (index, paragraph) in paragraphs.iter().enumerate() {
        // Lines that must start on the same page: a short paragraph whole,
        // the closing (the last two paragraphs) together, else no single
        // line left behind.
        let (keep_lines, keep_gaps) = if index + 2 == paragraphs.len() {
            (paragraph.len() + paragraphs.last().map_or(0, Vec::len), 1)
        } else if paragraph.len() <= 4 {
            (paragraph.len(), 0)
        } else {
            (2, 0)
        };
        let keep_height =
            keep_lines.saturating_sub(1) as f32 * BODY_LEADING + keep_gaps as f32 * PARAGRAPH_GAP;
        let after_gap = if index == 0 { y } else { y - PARAGRAPH_GAP };
        if index == 0 || after_gap - keep_height >= BODY_BOTTOM {
            y = after_gap;
        } else {
            pages.push(std::mem::take(&mut page));
            page.lines
                .push(small(LEFT, PAGE_HEIGHT - 18.0, continued.clone()));
            y = CONTINUATION_TOP;
        }
        for line in paragraph {
            if y < BODY_BOTTOM {
                pages.push(std::mem::take(&mut page));
                page.lines
                    .push(small(LEFT, PAGE_HEIGHT - 18.0, continued.clone()));
                y = CONTINUATION_TOP;
            }
            // The reference on a line of its own stands out, as on the letterhead.
            let emphasise = line.trim() == rendered.register_number.as_str();
            page.lines.push(body(LEFT, y, line.clone(), emphasise));
            y -= BODY_LEADING;
        }
    }
    pages.push(page);
    pages
}

/// The text's paragraphs (separated by blank lines), each wrapped to the
/// body width.
fn paragraphs(text: &str) -> Vec<Vec<String>> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for source in text.lines() {
        if source.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        current.extend(wrap(source, BODY_SIZE, false, TEXT_WIDTH));
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

fn body(x: f32, y: f32, text: String, bold: bool) -> Placed {
    Placed {
        x,
        y,
        size: BODY_SIZE,
        bold,
        grey: false,
        text,
    }
}

fn small(x: f32, y: f32, text: String) -> Placed {
    Placed {
        x,
        y,
        size: SMALL_SIZE,
        bold: false,
        grey: true,
        text,
    }
}

fn operations(page: &PageLayout) -> Vec<Op> {
    let black = Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    });
    let grey = Color::Rgb(Rgb {
        r: 0.35,
        g: 0.35,
        b: 0.35,
        icc_profile: None,
    });
    let mut ops = Vec::new();
    for &(y, from, to) in &page.rules {
        let point = |x: f32| LinePoint {
            p: Point::new(Mm(x), Mm(y)),
            bezier: false,
        };
        ops.push(Op::SetOutlineColor { col: grey.clone() });
        ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        ops.push(Op::DrawLine {
            line: Line {
                points: vec![point(from), point(to)],
                is_closed: false,
            },
        });
    }
    for line in &page.lines {
        let font = if line.bold {
            BuiltinFont::HelveticaBold
        } else {
            BuiltinFont::Helvetica
        };
        ops.extend([
            Op::StartTextSection,
            Op::SetFillColor {
                col: if line.grey {
                    grey.clone()
                } else {
                    black.clone()
                },
            },
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(line.size),
            },
            Op::SetTextCursor {
                pos: Point::new(Mm(line.x), Mm(line.y)),
            },
            Op::ShowText {
                items: vec![TextItem::Text(line.text.clone())],
            },
            Op::EndTextSection,
        ]);
    }
    ops
}

/// Breaks one line of text into lines no wider than `width` millimetres.
///
/// Leading spaces are kept on every piece, and a list item (`- ...`) hangs
/// its continuation lines under its text. A word wider than a whole line
/// (a long web address) is split where it must be.
fn wrap(source: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let content = source.trim_start();
    let indent = &source[..source.len() - content.len()];
    let hanging = if content.starts_with("- ") || content.starts_with("* ") {
        format!("{indent}  ")
    } else {
        indent.to_owned()
    };
    let fits = |text: &str| text_width(text, size, bold) <= width;
    let mut lines = Vec::new();
    let mut current = indent.to_owned();
    let mut current_has_word = false;
    for word in content.split_whitespace() {
        let candidate = if current_has_word {
            format!("{current} {word}")
        } else {
            format!("{current}{word}")
        };
        if fits(&candidate) {
            current = candidate;
            current_has_word = true;
            continue;
        }
        if current_has_word {
            lines.push(std::mem::replace(&mut current, hanging.clone()));
            let candidate = format!("{current}{word}");
            if fits(&candidate) {
                current = candidate;
                current_has_word = true;
                continue;
            }
        }
        // The word alone is too wide: split it.
        for ch in word.chars() {
            let mut candidate = current.clone();
            candidate.push(ch);
            if fits(&candidate) || current.trim().is_empty() {
                current = candidate;
            } else {
                lines.push(std::mem::replace(&mut current, format!("{hanging}{ch}")));
            }
        }
        current_has_word = true;
    }
    if current_has_word {
        lines.push(current);
    }
    lines
}

/// The printed width of `text` in millimetres.
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let units: u32 = text.chars().map(helvetica_width).sum();
    // Helvetica-Bold is at most about a tenth wider than Helvetica.
    let units = if bold {
        units as f32 * 1.1
    } else {
        units as f32
    };
    let points = units * size / 1000.0;
    points * 25.4 / 72.0
}

/// Helvetica's advance widths (Adobe's AFM, in thousandths of an em) for
/// printable ASCII; other characters are taken at the width of a digit,
/// which is wider than most.
fn helvetica_width(ch: char) -> u32 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
        278, // ' '..'/'
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
        556, // '0'..'?'
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
        778, // '@'..'O'
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
        556, // 'P'..'_'
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
        556, // '`'..'o'
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
    ];
    let code = ch as u32;
    match code {
        0x20..=0x7e => ASCII
            .get((code - 0x20) as usize)
            .map_or(556, |width| u32::from(*width)),
        _ => 556,
    }
}

/// Writes letters into an outbox folder as `<notification-id>.pdf`, where a
/// print run picks them up ("queued for printing").
#[derive(Debug, Clone)]
pub struct LetterWriter {
    dir: PathBuf,
}

impl LetterWriter {
    /// The folder is created on first use.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes the letter and returns its path. Writing the same id again
    /// replaces the file: a retried notification is printed once.
    pub async fn write(&self, id: &NotificationId, pdf: &[u8]) -> Result<PathBuf, NotifyError> {
        let file_name = format!("{id}.pdf");
        write_atomically(&self.dir, &file_name, pdf)
            .await
            .map_err(|source| NotifyError::Outbox {
                path: self.dir.join(&file_name),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_font() {
        // "Hello" in Helvetica: 722 + 556 + 222 + 222 + 556 = 2278 units.
        let expected = 2278.0 * 12.0 / 1000.0 * 25.4 / 72.0;
        assert!((text_width("Hello", 12.0, false) - expected).abs() < 1e-4);
        assert_eq!(helvetica_width(' '), 278);
        assert_eq!(helvetica_width('~'), 584);
        assert_eq!(helvetica_width('W'), 944);
        assert_eq!(helvetica_width('é'), 556);
    }

    #[test]
    fn long_lines_wrap_within_the_width_and_keep_every_word() {
        let source = "We are looking into your complaint now and we aim to give you our answer \
                      by Wednesday 2 December 2026, after which you can ask for a review.";
        let lines = wrap(source, BODY_SIZE, false, TEXT_WIDTH);
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert!(text_width(line, BODY_SIZE, false) <= TEXT_WIDTH, "{line}");
        }
        assert_eq!(lines.join(" "), source);
    }

    #[test]
    fn list_items_hang_and_long_words_are_split() {
        let item = format!("  - {}", "word ".repeat(40));
        let lines = wrap(&item, BODY_SIZE, false, TEXT_WIDTH);
        assert!(lines[0].starts_with("  - word"));
        assert!(lines[1].starts_with("    word"), "{:?}", lines[1]);

        let url = "x".repeat(200);
        let lines = wrap(&url, BODY_SIZE, false, TEXT_WIDTH);
        assert!(lines.len() >= 2);
        assert_eq!(lines.concat(), url);
        for line in &lines {
            assert!(text_width(line, BODY_SIZE, false) <= TEXT_WIDTH);
        }
    }

    #[test]
    fn a_blank_line_is_no_words() {
        assert!(wrap("   ", BODY_SIZE, false, TEXT_WIDTH).is_empty());
    }
}
