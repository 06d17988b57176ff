//! Email: building the RFC 5322 message and handing it to a carrier.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complaints_domain::values::{EmailAddress, MessageId};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::outbox::write_atomically;
use crate::{NotificationId, NotifyError, Rendered};

/// Who emails come from and how their ids are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    from: Mailbox,
    message_id_domain: String,
}

impl EmailSettings {
    /// `from` as in a header: `Example Telecare <complaints@example.org>`
    /// or a bare address. `message_id_domain` is the right-hand side of
    /// every `Message-ID`; by default the domain of `from`.
    pub fn new(from: &str, message_id_domain: Option<&str>) -> Result<Self, NotifyError> {
        let from: Mailbox = from
            .parse()
            .map_err(|error| NotifyError::Email(format!("from address {from:?}: {error}")))?;
        let domain = message_id_domain
            .map(str::to_owned)
            .unwrap_or_else(|| from.email.domain().to_owned());
        let valid_domain = !domain.is_empty()
            && domain
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.'));
        if !valid_domain {
            return Err(NotifyError::Email(format!(
                "message id domain {domain:?} must be a domain name (letters, digits, '-' and '.')"
            )));
        }
        Ok(Self {
            from,
            message_id_domain: domain,
        })
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The `Message-ID` of a notification: `<id@domain>`, the same on every
    /// attempt, so a repeat delivery can be recognised as one.
    pub fn message_id(&self, id: &NotificationId) -> String {
        format!("<{id}@{}>", self.message_id_domain)
    }
}

/// One email, ready to send: the message and the notification it carries.
#[derive(Debug, Clone)]
pub struct Email {
    id: NotificationId,
    message: Message,
}

impl Email {
    pub fn id(&self) -> &NotificationId {
        &self.id
    }

    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The full RFC 5322 message, as sent and as stored for
    /// `GetNotificationContent`.
    pub fn formatted(&self) -> Vec<u8> {
        self.message.formatted()
    }
}

/// Builds the plain-text email for a rendered notification.
///
/// `to_name` is the display name (the complainant's full name, or the role
/// title of an alert's mailbox); `at` becomes the `Date` header.
pub fn build_email(
    settings: &EmailSettings,
    id: &NotificationId,
    to_name: &str,
    to: &EmailAddress,
    rendered: &Rendered,
    at: DateTime<Utc>,
) -> Result<Email, NotifyError> {
    build_email_in_thread(settings, id, to_name, to, rendered, at, None)
}

/// [`build_email`] for a message that answers `thread`: the Message-ID
/// (with or without angle brackets) of the complainant's email the case
/// came from. The message then carries `In-Reply-To` and `References`
/// naming it, so mail clients show the case's emails as one conversation.
/// A `thread` that is blank or not a Message-ID ([`MessageId`]'s rule:
/// spaces, control characters, non-ASCII) is left out rather than written
/// into a header.
pub fn build_email_in_thread(
    settings: &EmailSettings,
    id: &NotificationId,
    to_name: &str,
    to: &EmailAddress,
    rendered: &Rendered,
    at: DateTime<Utc>,
    thread: Option<&str>,
) -> Result<Email, NotifyError> {
    let address: Address = to
        .as_str()
        .parse()
        .map_err(|error| NotifyError::Email(format!("recipient address: {error}")))?;
    let name = to_name.trim();
    let recipient = Mailbox::new((!name.is_empty()).then(|| name.to_owned()), address);
    let message = Message::builder()
        .from(settings.from.clone())
        .to(recipient)
        .subject(rendered.subject.as_str())
        .message_id(Some(settings.message_id(id)));
    let message = match thread.and_then(MessageId::usable) {
        Some(parent) => message
            .in_reply_to(parent.bracketed())
            .references(parent.bracketed()),
        None => message,
    };
    let message = message
        .date(SystemTime::from(at))
        .header(ContentType::TEXT_PLAIN)
        .body(rendered.text.clone())
        .map_err(|error| NotifyError::Email(error.to_string()))?;
    Ok(Email {
        id: id.clone(),
        message,
    })
}

/// How a delivery attempt failed, and so whether to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused this message for good (an SMTP 5xx reply, such as
    /// an unknown recipient), or it can never be sent as configured. Retrying
    /// sends the same refusal: record the failure with `reason`.
    #[error("delivery failed permanently: {reason}")]
    Permanent { reason: String },
    /// Worth another attempt later, with back-off: the server could not be
    /// reached, timed out, or answered 4xx (try again later).
    #[error("delivery failed for now: {reason}")]
    Transient { reason: String },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient { .. })
    }

    /// What went wrong; for an SMTP refusal, the server's code and words.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Permanent { reason } | SendError::Transient { reason } => reason,
        }
    }
}

/// Where a delivered email went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Accepted by the SMTP server, with its reply (`250 ...`).
    Smtp { reply: String },
    /// Written to the outbox folder.
    Outbox { path: PathBuf },
}

/// Something that delivers email.
///
/// Delivery is at least once: the caller may send the same [`Email`] again
/// after a transient failure or a crash, and the fixed `Message-ID` lets the
/// receiving side tell it is a repeat.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    async fn send(&self, email: &Email) -> Result<Delivered, SendError>;
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text, for a relay on the same machine or network (and tests).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// A login for the SMTP server. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where and how to reach the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Sent only over TLS: refused with [`SmtpSecurity::None`].
    pub credentials: Option<SmtpCredentials>,
    /// The longest one attempt may take, connecting included; past it the
    /// attempt is abandoned as a transient failure. (lettre's own timeout
    /// covers only the connect, so a server that accepts and then says
    /// nothing would otherwise hold the sender for ever.)
    pub timeout: Duration,
    /// The name given in `EHLO`; by default this machine's host name.
    pub hello_name: Option<String>,
}

impl SmtpSettings {
    /// An unencrypted relay without login, e.g. on loopback.
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            timeout: Duration::from_secs(30),
            hello_name: None,
        }
    }
}

/// Sends email through an SMTP server, one connection per message (no pool:
/// a server that went away and came back is simply reconnected to).
#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
}

impl SmtpMailer {
    pub fn new(settings: SmtpSettings) -> Result<Self, NotifyError> {
        let tls_parameters = || {
            TlsParameters::new(settings.host.clone())
                .map_err(|error| NotifyError::Email(format!("TLS settings: {error}")))
        };
        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                .port(settings.port)
                .tls(tls)
                .timeout(Some(settings.timeout));
        if let Some(credentials) = settings.credentials {
            if settings.security == SmtpSecurity::None {
                return Err(NotifyError::Email(
                    "SMTP credentials need STARTTLS or TLS; they would be sent in clear".to_owned(),
                ));
            }
            builder =
                builder.credentials(Credentials::new(credentials.username, credentials.password));
        }
        if let Some(name) = settings.hello_name {
            builder = builder.hello_name(ClientId::Domain(name));
        }
        Ok(Self {
            transport: builder.build(),
            timeout: settings.timeout,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<Delivered, SendError> {
        let message = email.message();
        let formatted = message.formatted();
        let attempt = self.transport.send_raw(message.envelope(), &formatted);
        let response = tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| SendError::Transient {
                reason: format!("the SMTP server did not finish within {:?}", self.timeout),
            })?
            .map_err(|error| classify(&error))?;
        let words: Vec<&str> = response.message().collect();
        Ok(Delivered::Smtp {
            reply: format!("{} {}", response.code(), words.join(" ")),
        })
    }
}

/// Permanent: a 5xx reply, or a message this server can never take as
/// configured (lettre's client errors: no STARTTLS offered, no common login
/// mechanism, 8-bit content the server does not accept). Everything else
/// (4xx, refused or dropped connections, time-outs, TLS handshakes) is
/// transient.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(code) = error.status() {
        let reason = format!("{code} {detail}").trim_end().to_owned();
        return if error.is_permanent() {
            SendError::Permanent { reason }
        } else {
            SendError::Transient { reason }
        };
    }
    let reason = error.to_string();
    if error.is_client() {
        SendError::Permanent { reason }
    } else {
        SendError::Transient { reason }
    }
}

/// Writes each email as `<notification-id>.eml` (the full RFC 5322
/// message) into an outbox folder instead of sending it: the embedded mode
/// and `complaints dev`, where nothing is installed and a person reads the
/// outbox.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// The folder is created on first use.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<Delivered, SendError> {
        let file_name = format!("{}.eml", email.id());
        write_atomically(&self.dir, &file_name, &email.formatted())
            .await
            .map(|path| Delivered::Outbox { path })
            .map_err(|error| SendError::Transient {
                reason: format!(
                    "cannot write {file_name} in {}: {error}",
                    self.dir.display()
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use complaints_domain::case::NotifyKind;
    use complaints_domain::values::RegisterNumber;

    use super::*;
    use crate::CompanyDetails;

    fn rendered() -> Rendered {
        Rendered {
            kind: NotifyKind::Acknowledgement,
            subject: "Your complaint CMP-2026-000123: we have received it".to_owned(),
            text: "Dear Mrs Smith,\n\nYour reference is CMP-2026-000123.\n".to_owned(),
            register_number: RegisterNumber::new(2026, 123).unwrap(),
            company: CompanyDetails::example(),
        }
    }

    #[test]
    fn the_message_id_is_the_notification_id_at_the_configured_domain() {
        let settings =
            EmailSettings::new("Example Telecare <complaints@example.org>", None).unwrap();
        let id = NotificationId::parse("n-1").unwrap();
        assert_eq!(settings.message_id(&id), "<n-1@example.org>");
        let settings =
            EmailSettings::new("complaints@example.org", Some("mail.example.net")).unwrap();
        assert_eq!(settings.message_id(&id), "<n-1@mail.example.net>");
        assert!(EmailSettings::new("complaints@example.org", Some("a b")).is_err());
        assert!(EmailSettings::new("not an address", None).is_err());
    }

    #[test]
    fn an_email_has_the_headers_a_mail_client_needs() {
        let settings =
            EmailSettings::new("Example Telecare <complaints@example.org>", None).unwrap();
        let id = NotificationId::parse("n-1").unwrap();
        let to = EmailAddress::parse("jane@example.com").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap();
        let email = build_email(&settings, &id, "Jane Doe", &to, &rendered(), at).unwrap();
        let text = String::from_utf8(email.formatted()).unwrap();
        assert!(text.contains("Message-ID: <n-1@example.org>\r\n"), "{text}");
        assert!(
            text.contains("From: \"Example Telecare\" <complaints@example.org>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Jane Doe\" <jane@example.com>\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Your complaint CMP-2026-000123: we have received it\r\n"));
        assert!(
            text.contains("Date: Mon, 16 Nov 2026 09:30:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.contains("Your reference is CMP-2026-000123."));
    }

    fn threaded(thread: Option<&str>) -> String {
        let settings =
            EmailSettings::new("Example Telecare <complaints@example.org>", None).unwrap();
        let id = NotificationId::parse("n-1").unwrap();
        let to = EmailAddress::parse("jane@example.com").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap();
        let email = build_email_in_thread(&settings, &id, "Jane Doe", &to, &rendered(), at, thread)
            .unwrap();
        String::from_utf8(email.formatted()).unwrap()
    }

    #[test]
    fn an_email_about_a_case_that_came_by_email_answers_the_complainants_message() {
        for thread in ["CAF-1.abc@mail.example.com", "<CAF-1.abc@mail.example.com>"] {
            let text = threaded(Some(thread));
            assert!(
                text.contains("In-Reply-To: <CAF-1.abc@mail.example.com>\r\n"),
                "{text}"
            );
            assert!(
                text.contains("References: <CAF-1.abc@mail.example.com>\r\n"),
                "{text}"
            );
            assert!(text.contains("Message-ID: <n-1@example.org>\r\n"), "{text}");
        }
    }

    #[test]
    fn an_email_without_a_usable_thread_names_no_parent() {
        for thread in [
            None,
            Some(""),
            Some("  "),
            Some("a b@c"),
            Some("x\r\nBcc: y@z"),
            Some("réponse@c"),
        ] {
            let text = threaded(thread);
            assert!(!text.contains("In-Reply-To"), "{text}");
            assert!(!text.contains("References"), "{text}");
            assert!(!text.contains("Bcc"), "{text}");
        }
    }

    #[test]
    fn credentials_are_refused_without_tls_and_hidden_from_logs() {
        let credentials = SmtpCredentials {
            username: "user".to_owned(),
            password: "secret".to_owned(),
        };
        assert!(!format!("{credentials:?}").contains("secret"));
        let settings = SmtpSettings {
            credentials: Some(credentials),
            ..SmtpSettings::plain("127.0.0.1", 25)
        };
        let err = SmtpMailer::new(settings).unwrap_err();
        assert!(err.to_string().contains("sent in clear"), "{err}");
    }
}
