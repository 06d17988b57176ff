//! The notification service, built: its gRPC handler, the delivery worker
//! and the relay to the case timeline, from settings checked at start. Its
//! binary and the embedded suite both build it here.

use std::sync::Arc;

use anyhow::Context;
use complaints_config::{DeliveryConfig, Settings};
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::Clock;
use complaints_domain::policy::Policy;
use complaints_notify::{
    CompanyDetails, EmailSettings, FileMailer, LetterWriter, Mailer, Renderer, SmtpCredentials,
    SmtpMailer, SmtpSecurity, SmtpSettings, TemplateSource,
};
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationServiceServer;
use complaints_rpc::peers::{CasePeer, LocalHandle};
use complaints_rpc::service::{Application, BoxFuture, Pass, Service, ServiceParts, Stop, Worker};
use complaints_store::relay::Relay;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{CASE_TOPIC, Delivery, NoticeRelay, NotificationGrpc, OutboxDirs, SERVICE_NAME};

/// Renderer, mailer and letter printer, built and checked at start: a
/// template that names a missing value stops the process here.
pub struct DeliverySettings {
    pub renderer: Arc<Renderer>,
    pub email: EmailSettings,
    pub mailer: Arc<dyn Mailer>,
    pub letters: LetterWriter,
    pub staff_domain: String,
    /// How long a claim holds a notification; longer than the SMTP timeout
    /// (the settings check it).
    pub lease: chrono::Duration,
    pub claim_batch: u64,
    /// Notifications in flight at once, at least one.
    pub concurrency: usize,
    pub retry_for: chrono::Duration,
}

impl std::fmt::Debug for DeliverySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverySettings")
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

impl DeliverySettings {
    pub fn from_config(config: &DeliveryConfig) -> anyhow::Result<Self> {
        let templates = match &config.templates_dir {
            Some(dir) => TemplateSource::Directory(dir.clone()),
            None => TemplateSource::Bundled,
        };
        let company = CompanyDetails {
            name: config.company_name.clone(),
            address_lines: config.company_address.clone(),
            phone: config.company_phone.clone(),
            email: config.company_email.clone(),
            website: config.company_website.clone(),
        };
        let renderer = Renderer::new(templates, company).context("notification templates")?;
        let email = EmailSettings::new(&config.mail_from, None).context("COMPLAINTS_MAIL_FROM")?;
        let mailer: Arc<dyn Mailer> = match &config.smtp_url {
            Some(url) => {
                let mut smtp = smtp_settings(url)?;
                smtp.timeout = config.smtp_timeout;
                smtp.credentials = match (&config.smtp_username, &config.smtp_password) {
                    (Some(username), Some(password)) => Some(SmtpCredentials {
                        username: username.clone(),
                        password: password.expose().to_owned(),
                    }),
                    (None, None) => None,
                    _ => anyhow::bail!(
                        "COMPLAINTS_SMTP_USERNAME and COMPLAINTS_SMTP_PASSWORD go together"
                    ),
                };
                Arc::new(SmtpMailer::new(smtp).context("COMPLAINTS_SMTP_URL")?)
            }
            None => Arc::new(FileMailer::new(config.outbox_dir.join("email"))),
        };
        Ok(Self {
            renderer: Arc::new(renderer),
            email,
            mailer,
            letters: LetterWriter::new(config.outbox_dir.join("letters")),
            staff_domain: config.staff_email_domain.clone(),
            lease: chrono::Duration::from_std(config.lease).context("the notification lease")?,
            claim_batch: u64::from(config.claim_batch),
            concurrency: usize::try_from(config.concurrency).unwrap_or(1).max(1),
            retry_for: chrono::Duration::from_std(config.retry_for)
                .context("the notification retry window")?,
        })
    }

    /// The delivery worker over these settings.
    pub fn delivery(
        self,
        db: DatabaseConnection,
        case: CasePeer,
        clock: Arc<dyn Clock>,
        calendar: Calendar,
        policy: Policy,
    ) -> Delivery {
        let outbox_wake = Arc::new(Notify::new());
        let worker = format!("notification-{}", uuid::Uuid::new_v4().simple());
        Delivery {
            records: crate::delivery::record::records(&db, outbox_wake.clone()),
            fences: crate::delivery::fence::fences(&db, clock.clone(), &worker, self.lease),
            db,
            case,
            renderer: self.renderer,
            email: self.email,
            mailer: self.mailer,
            letters: self.letters,
            clock,
            calendar,
            policy,
            staff_domain: self.staff_domain,
            lease: self.lease,
            claim_batch: self.claim_batch,
            concurrency: self.concurrency,
            retry_for: self.retry_for,
            worker,
            outbox_wake,
        }
    }
}

/// `smtp://host:port` (plain, for a relay on the local network) or
/// `smtps://host:port` (TLS) or `smtp+starttls://host:port`.
fn smtp_settings(url: &str) -> anyhow::Result<SmtpSettings> {
    let (security, rest) = if let Some(rest) = url.strip_prefix("smtp+starttls://") {
        (SmtpSecurity::StartTls, rest)
    } else if let Some(rest) = url.strip_prefix("smtps://") {
        (SmtpSecurity::Tls, rest)
    } else if let Some(rest) = url.strip_prefix("smtp://") {
        (SmtpSecurity::None, rest)
    } else {
        anyhow::bail!(
            "COMPLAINTS_SMTP_URL {url:?}: expected smtp://, smtps:// or smtp+starttls://"
        );
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .with_context(|| format!("COMPLAINTS_SMTP_URL {url:?}: bad port"))?,
        ),
        None => (
            rest,
            if security == SmtpSecurity::Tls {
                465
            } else {
                25
            },
        ),
    };
    let mut settings = SmtpSettings::plain(host, port);
    settings.security = security;
    Ok(settings)
}

/// The subject of the notification service's own credentials.
pub const SUBJECT: &str = "notification";

/// Builds the service: checks the templates and the mail settings first
/// (a template that names a missing value stops the process here), then the
/// handler, the delivery worker and the relay that reports sent notices to
/// the case timeline.
pub async fn build(parts: ServiceParts) -> anyhow::Result<Service> {
    let ServiceParts {
        settings,
        clock,
        db,
        peers,
    } = parts;
    let outbox = OutboxDirs::of(&settings.delivery);
    let delivery = DeliverySettings::from_config(&settings.delivery)?.delivery(
        db.clone(),
        peers.case.clone(),
        clock.clone(),
        settings.calendar,
        settings.policy,
    );
    let wake = Arc::new(Notify::new());
    let handler =
        NotificationGrpc::new(db.clone(), clock.clone(), wake.clone()).with_outbox(outbox);
    let backlog = crate::metrics::register(db.clone(), clock.clone());
    let relay = Relay::new(
        db,
        CASE_TOPIC,
        Arc::new(NoticeRelay { case: peers.case }),
        clock,
        delivery.outbox_wake.clone(),
    );
    let local = LocalHandle::Notification(Arc::new(handler.clone()));
    Ok(Service::new(SERVICE_NAME, move |routes| {
        routes.add_service(NotificationServiceServer::new(handler));
    })
    .with_local(local)
    .with_worker(DeliveryWorker { delivery, wake })
    .with_worker(relay)
    .with_worker(backlog))
}

/// The service as the `notification` binary runs it, on `clock`. The
/// templates and mail settings are checked before anything is opened.
pub async fn application(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
    DeliverySettings::from_config(&settings.delivery)?;
    Application::production(settings, SUBJECT, clock, build).await
}

/// Delivery of queued notifications: at once when one is queued, and when
/// a retry falls due.
#[derive(Debug)]
struct DeliveryWorker {
    delivery: Delivery,
    wake: Arc<Notify>,
}

impl Worker for DeliveryWorker {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(crate::run_delivery(&self.delivery, &self.wake, stop))
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async { Ok(Pass::work(self.delivery.deliver_due().await?)) })
    }

    fn next_due(&self) -> BoxFuture<'_, anyhow::Result<Option<chrono::DateTime<chrono::Utc>>>> {
        Box::pin(async { Ok(self.delivery.next_due().await?) })
    }
}
