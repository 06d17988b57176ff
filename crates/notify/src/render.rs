//! Templates plus a [`MessageContext`] make a [`Rendered`] message.

use complaints_domain::case::NotifyKind;
use complaints_domain::values::RegisterNumber;
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::NotifyError;
use crate::context::MessageContext;
use crate::template::{ALL_KINDS, TemplateSource, body_file, subject_file};

/// Who the messages come from: printed on every letterhead and available to
/// every template (`company.phone`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyDetails {
    pub name: String,
    /// The postal address, one line each, postcode last.
    pub address_lines: Vec<String>,
    /// The number a complainant calls; every complainant message gives it.
    pub phone: String,
    pub email: String,
    pub website: String,
}

impl CompanyDetails {
    /// Placeholder details for development and tests. A letter printed with
    /// them must never be posted.
    pub fn example() -> Self {
        Self {
            name: "Example Telecare Ltd".to_owned(),
            address_lines: vec![
                "Complaints Team".to_owned(),
                "1 Example Street".to_owned(),
                "Leeds".to_owned(),
                "LS1 4AP".to_owned(),
            ],
            phone: "0113 496 0000".to_owned(),
            email: "complaints@example.org".to_owned(),
            website: "www.example.org".to_owned(),
        }
    }

    /// Every field filled and on one line: they are printed as they are.
    fn validate(&self) -> Result<(), NotifyError> {
        let one_line = |field: &'static str, value: &str| {
            if value.trim().is_empty() {
                Err(NotifyError::InvalidCompany {
                    field,
                    problem: "must not be empty".to_owned(),
                })
            } else if value.contains(['\n', '\r']) {
                Err(NotifyError::InvalidCompany {
                    field,
                    problem: "must be a single line".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        one_line("name", &self.name)?;
        one_line("phone", &self.phone)?;
        one_line("email", &self.email)?;
        one_line("website", &self.website)?;
        if self.address_lines.is_empty() {
            return Err(NotifyError::InvalidCompany {
                field: "address_lines",
                problem: "must have at least one line".to_owned(),
            });
        }
        for line in &self.address_lines {
            one_line("address_lines", line)?;
        }
        Ok(())
    }

    fn to_value(&self) -> Value {
        Value::from_pairs([
            ("name", Value::from(self.name.as_str())),
            (
                "address_lines",
                self.address_lines.iter().map(String::as_str).collect(),
            ),
            ("address", Value::from(self.address_lines.join(", "))),
            ("phone", Value::from(self.phone.as_str())),
            ("email", Value::from(self.email.as_str())),
            ("website", Value::from(self.website.as_str())),
        ])
    }
}

/// A message ready to be carried: the same text goes into an email body or
/// onto a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: NotifyKind,
    /// One line: the email subject, the letter's heading.
    pub subject: String,
    /// Plain text, `\n` line endings, paragraphs separated by one blank
    /// line, ending with a single newline. Starts with the salutation for
    /// complainant messages.
    pub text: String,
    /// For the letter's "Our reference" line.
    pub register_number: RegisterNumber,
    /// For the letterhead.
    pub company: CompanyDetails,
}

/// Renders notifications from a checked set of templates.
///
/// Built once at start. Building checks every template against a complete
/// sample in strict mode, so a template that names a value the renderer does
/// not provide stops the start, not a letter that is due.
pub struct Renderer {
    env: Environment<'static>,
    company: CompanyDetails,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("company", &self.company.name)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Loads, parses and checks every template.
    pub fn new(templates: TemplateSource, company: CompanyDetails) -> Result<Self, NotifyError> {
        company.validate()?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Letters and emails are plain text: nothing to escape.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // `{% if %}` on a line of its own leaves no blank line behind.
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|error| NotifyError::TemplateInvalid {
                template: "(syntax settings)".to_owned(),
                message: error.to_string(),
            })?;
        env.set_syntax(syntax);
        for template in templates.load()? {
            let name = template.name.clone();
            env.add_template_owned(template.name, template.source)
                .map_err(|error| invalid(&name, &error))?;
        }
        let renderer = Self { env, company };
        renderer.check_templates()?;
        Ok(renderer)
    }

    pub fn company(&self) -> &CompanyDetails {
        &self.company
    }

    /// Renders one message. Fails if the context lacks what `kind` needs
    /// ([`MessageContext::check`]).
    pub fn render(
        &self,
        kind: NotifyKind,
        context: &MessageContext,
    ) -> Result<Rendered, NotifyError> {
        context.check(kind)?;
        self.render_checked(kind, context)
            .map_err(|error| match error {
                RenderFailure::Template { message, .. } => NotifyError::Render {
                    kind: kind.as_str(),
                    message,
                },
                RenderFailure::Subject { template, rendered } => {
                    NotifyError::SubjectNotOneLine { template, rendered }
                }
            })
    }

    /// Every kind, rendered with the full sample.
    fn check_templates(&self) -> Result<(), NotifyError> {
        let number =
            RegisterNumber::new(2026, 123).map_err(|violation| NotifyError::TemplateInvalid {
                template: "(sample)".to_owned(),
                message: violation.to_string(),
            })?;
        let sample = MessageContext::sample(number);
        for kind in ALL_KINDS {
            self.render_checked(kind, &sample)
                .map_err(|error| match error {
                    RenderFailure::Template { template, message } => {
                        NotifyError::TemplateInvalid { template, message }
                    }
                    RenderFailure::Subject { template, rendered } => {
                        NotifyError::SubjectNotOneLine { template, rendered }
                    }
                })?;
        }
        Ok(())
    }

    fn render_checked(
        &self,
        kind: NotifyKind,
        context: &MessageContext,
    ) -> Result<Rendered, RenderFailure> {
        let values = context.to_value(kind, self.company.to_value());
        let subject_name = subject_file(kind);
        let subject = self.render_one(&subject_name, &values)?;
        let subject = subject.trim();
        if subject.is_empty() || subject.contains(['\n', '\r']) {
            return Err(RenderFailure::Subject {
                template: subject_name,
                rendered: subject.to_owned(),
            });
        }
        let text = self.render_one(&body_file(kind), &values)?;
        Ok(Rendered {
            kind,
            subject: subject.to_owned(),
            text: tidy(&text),
            register_number: context.register_number.clone(),
            company: self.company.clone(),
        })
    }

    fn render_one(&self, name: &str, values: &Value) -> Result<String, RenderFailure> {
        self.env
            .get_template(name)
            .and_then(|template| template.render(values))
            .map_err(|error| RenderFailure::Template {
                template: name.to_owned(),
                message: describe(&error),
            })
    }
}

enum RenderFailure {
    Template { template: String, message: String },
    Subject { template: String, rendered: String },
}

fn invalid(template: &str, error: &minijinja::Error) -> NotifyError {
    NotifyError::TemplateInvalid {
        template: template.to_owned(),
        message: describe(error),
    }
}

/// The error and where it is (`undefined value (in acknowledgement.txt:7)`),
/// with its causes.
fn describe(error: &minijinja::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Trailing spaces off every line, at most one blank line in a row, no
/// blank lines at either end, one final newline: a template edited by hand
/// or with an absent optional section still reads cleanly.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut blank_run = 0;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() && blank_run > 0 {
            out.push('\n');
        }
        blank_run = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_blank_runs_and_trims() {
        assert_eq!(
            tidy("\n\nDear A,  \n\n\n\nHello.\n  \nBye\n\n"),
            "Dear A,\n\nHello.\n\nBye\n"
        );
        assert_eq!(tidy("  indented\n"), "  indented\n");
        assert_eq!(tidy(""), "");
    }

    #[test]
    fn company_details_must_be_complete() {
        let company = CompanyDetails {
            phone: " ".to_owned(),
            ..CompanyDetails::example()
        };
        let err = Renderer::new(TemplateSource::Bundled, company).unwrap_err();
        assert_eq!(err.to_string(), "company details: phone must not be empty");
        let company = CompanyDetails {
            address_lines: vec![],
            ..CompanyDetails::example()
        };
        assert!(Renderer::new(TemplateSource::Bundled, company).is_err());
    }
}
