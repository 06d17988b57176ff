//! The production `notification` process, and the delivery set-up that the
//! embedded suite shares.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use complaints_auth::TokenVerifier;
use complaints_config::{DeliveryConfig, Settings};
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::Clock;
use complaints_domain::policy::Policy;
use complaints_notify::{
    CompanyDetails, EmailSettings, FileMailer, LetterWriter, Mailer, Renderer, SmtpCredentials,
    SmtpMailer, SmtpSecurity, SmtpSettings, TemplateSource,
};
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationServiceServer;
use complaints_rpc::peers::{self, CasePeer};
use complaints_store::relay::Relay;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::{CASE_TOPIC, Delivery, NoticeRelay, NotificationGrpc, SERVICE_NAME};

/// Renderer, mailer and letter printer, built and checked at start: a
/// template that names a missing value stops the process here.
pub struct DeliverySettings {
    pub renderer: Arc<Renderer>,
    pub email: EmailSettings,
    pub mailer: Arc<dyn Mailer>,
    pub letters: LetterWriter,
    pub staff_domain: String,
    pub max_attempts: i32,
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
            max_attempts: i32::try_from(config.max_attempts).unwrap_or(5),
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
        Delivery {
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
            max_attempts: self.max_attempts,
            worker: format!("notification-{}", uuid::Uuid::new_v4().simple()),
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

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    grpc: NotificationGrpc,
    delivery: Delivery,
    relay: Relay,
    wake: Arc<Notify>,
    verifier: TokenVerifier,
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        settings.check_production_keys()?;
        let verifier = TokenVerifier::new(&settings.auth)?;
        let parts = DeliverySettings::from_config(&settings.delivery)?;
        let db = complaints_store::db::connect(&settings.database_url).await?;
        let token = peers::service_token(&settings, "notification")?;
        let case = CasePeer::remote(
            "notification",
            peers::channel("COMPLAINTS_CASE_URL", &settings.case_url)?,
            token,
        );
        let wake = Arc::new(Notify::new());
        let outbox_wake = Arc::new(Notify::new());
        let grpc = NotificationGrpc::new(db.clone(), clock.clone(), wake.clone());
        let delivery = parts.delivery(
            db.clone(),
            case.clone(),
            clock.clone(),
            settings.calendar,
            settings.policy,
        );
        let relay = Relay::new(
            db,
            CASE_TOPIC,
            Arc::new(NoticeRelay { case }),
            clock,
            outbox_wake,
        );
        let listener = TcpListener::bind(settings.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            port,
            grpc,
            delivery,
            relay,
            wake,
            verifier,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(NotificationServiceServer::new(self.grpc));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let delivery = self.delivery;
        let wake = self.wake;
        let done = wait(stopped.clone());
        let worker = tokio::spawn(async move { crate::run_delivery(&delivery, &wake, done).await });
        let relay = self.relay;
        let done = wait(stopped.clone());
        let relaying = tokio::spawn(async move { relay.run(done).await });
        tracing::info!(port = self.port, "notification service listening");
        complaints_rpc::serve(
            self.listener,
            self.verifier,
            routes,
            &[SERVICE_NAME],
            shutdown,
        )
        .await?;
        let _ = stop.send(true);
        let _ = worker.await;
        let _ = relaying.await;
        tracing::info!("notification service stopped");
        Ok(())
    }
}
