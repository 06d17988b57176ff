//! Turns a notification into a message that reaches a person.
//!
//! Given what to say ([`MessageContext`]) and which kind of message it is
//! ([`NotifyKind`](complaints_domain::case::NotifyKind)), this crate:
//! - renders it from editable templates ([`Renderer`], checked in full at
//!   start, so a broken template stops the start rather than a letter);
//! - chooses how to send it ([`choose_route`]: the complainant's preference,
//!   or the next written route, with the reason for the timeline);
//! - delivers an email ([`build_email`], then a [`Mailer`]: [`SmtpMailer`],
//!   or [`FileMailer`] writing `.eml` files to an outbox), reporting a
//!   failure as [`SendError::Permanent`] or [`SendError::Transient`] so only
//!   the second is retried;
//! - prints a letter ([`render_letter`] makes an A4 PDF; [`LetterWriter`]
//!   queues it in an outbox folder for printing).
//!
//! It must not keep state or decide policy: no database, no gRPC, no clock
//! of its own, no retries. The notification service owns the delivery log,
//! the ids, the timing and the retry schedule; this crate renders and
//! delivers one message when asked.

mod context;
mod email;
mod error;
mod id;
mod letter;
mod outbox;
mod render;
mod route;
mod template;

pub use context::{
    Addressee, AlertDetails, AlertLevel, DateChange, MessageContext, ResponseDetails,
    ReviewInvitation, human_date,
};
pub use email::{
    Delivered, Email, EmailSettings, FileMailer, Mailer, SendError, SmtpCredentials, SmtpMailer,
    SmtpSecurity, SmtpSettings, build_email, build_email_in_thread,
};
pub use error::NotifyError;
pub use id::NotificationId;
pub use letter::{LetterAddress, LetterWriter, render_letter};
pub use render::{CompanyDetails, Rendered, Renderer};
pub use route::{Route, RouteChoice, choose_route, choose_route_for};
pub use template::{ALL_KINDS, TemplateSource, body_file, bundled_templates, subject_file};
