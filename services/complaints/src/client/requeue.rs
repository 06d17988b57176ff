//! `complaints requeue`: puts FAILED notifications back in the queue, as
//! the operations lead does once an outage that outlasted the retry window
//! (the SMTP relay, the case service) is over.

use clap::Args;
use complaints_proto::complaints::notification::v1::RequeueNotificationsRequest;
use complaints_proto::complaints::notification::v1::notification_service_client::NotificationServiceClient;

use super::steps::local_instant;
use super::{Connection, Service, case_client, connect, explain, fetch, format};

/// Which FAILED notifications to requeue: every selector given must hold.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("which")
        .args(["case", "failed_since", "ids"])
        .required(true)
        .multiple(true)
))]
pub struct RequeueArgs {
    /// The notifications of this case: its register number or case id.
    #[arg(long)]
    case: Option<String>,
    /// The notifications that failed at or after this local date and time
    /// (`2026-12-03T14:05`), for example when the outage began.
    #[arg(long, value_parser = local_instant)]
    failed_since: Option<prost_types::Timestamp>,
    /// This notification, by id (as `complaints notices` lists them); may
    /// be given up to 500 times.
    #[arg(long = "id", value_name = "NOTIFICATION_ID")]
    ids: Vec<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints requeue`: sends the request, and says how many went back.
/// Only FAILED notifications move (a repeat requeues nothing more); each
/// gets a fresh retry window, and staff are alerted again if it fails for
/// good again. Roles: ops_lead, cx_manager.
pub async fn requeue(args: RequeueArgs) -> anyhow::Result<()> {
    let case = match &args.case {
        Some(case) => Some(fetch(&mut case_client(&args.connection).await?, case).await?),
        None => None,
    };
    let requeued =
        NotificationServiceClient::new(connect(&args.connection, Service::Notification).await?)
            .requeue_notifications(RequeueNotificationsRequest {
                notification_ids: args.ids.clone(),
                case_id: case
                    .as_ref()
                    .map(|case| case.case_id.clone())
                    .unwrap_or_default(),
                failed_since: args.failed_since,
            })
            .await
            .map_err(explain)?
            .into_inner()
            .requeued;
    println!(
        "{}",
        sentence(
            requeued,
            case.as_ref().map(|c| c.register_number.as_str()),
            args.failed_since.as_ref()
        )
    );
    Ok(())
}

/// What a requeue did, in words.
fn sentence(
    requeued: i64,
    case: Option<&str>,
    failed_since: Option<&prost_types::Timestamp>,
) -> String {
    let mut which = String::new();
    if let Some(case) = case {
        which.push_str(&format!(" of {case}"));
    }
    if let Some(since) = failed_since {
        which.push_str(&format!(
            " that failed since {}",
            format::instant(Some(since))
        ));
    }
    match requeued {
        0 => format!(
            "Nothing requeued: no failed notification{which} (one already queued or sent is left alone)."
        ),
        1 => format!("Requeued 1 failed notification{which}: it is sent again at once."),
        n => format!("Requeued {n} failed notifications{which}: they are sent again at once."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_says_how_many_and_which() {
        assert_eq!(
            sentence(0, Some("CMP-2026-000007"), None),
            "Nothing requeued: no failed notification of CMP-2026-000007 (one already queued or sent is left alone)."
        );
        assert_eq!(
            sentence(1, None, None),
            "Requeued 1 failed notification: it is sent again at once."
        );
        assert!(sentence(3, None, None).starts_with("Requeued 3 failed notifications:"));
    }
}
