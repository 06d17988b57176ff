//! Listing cases: the filters, their translation to SQL, and keyset paging
//! newest receipt first.
//!
//! Every filter is written with expressions SQLite and Postgres both run.
//! The filters on the complainant look in `complainants`, where the
//! personal data lives, and never match an erased complainant.

use chrono::{DateTime, NaiveDate, Utc};
use complaints_domain::policy::Stage;
use complaints_domain::values::{EmailAddress, RegisterNumber, UkPhone, UkPostcode};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::StoredCase;
use super::read::assemble;
use crate::StoreError;
use crate::entity::{cases, complainants};

/// Filters for [`list`]; every one set must match.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub stage: Option<Stage>,
    pub status: Option<complaints_domain::case::CaseStatus>,
    pub channel: Option<complaints_domain::complainant::Channel>,
    /// Only open cases whose current stage's response is past due at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Local receipt dates, inclusive.
    pub received_from: Option<NaiveDate>,
    pub received_to: Option<NaiveDate>,
    pub register_number: Option<RegisterNumber>,
    /// Case-insensitive substring of the complainant's name.
    pub complainant_name: Option<String>,
    /// The person the case is assigned to, exactly.
    pub assignee: Option<String>,
    /// The complainant's customer reference, exactly.
    pub customer_ref: Option<String>,
    /// The complainant's email address, ignoring case.
    pub email: Option<EmailAddress>,
    /// The complainant's phone number: stored, and so compared, in E.164.
    pub phone: Option<UkPhone>,
    /// The complainant's postcode, as [`UkPostcode`] writes it.
    pub postcode: Option<UkPostcode>,
    /// Words that must each occur somewhere in the summary, ignoring case.
    pub summary_words: Vec<String>,
}

/// Where the previous page ended: newest first by receipt, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of cases, newest receipt first, and the cursor of the next page.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &CaseFilter,
    after: Option<PageCursor>,
    page_size: u64,
) -> Result<(Vec<StoredCase>, Option<PageCursor>), StoreError> {
    let mut query = cases::Entity::find().filter(conditions(filter));
    if let Some(cursor) = after {
        query = query.filter(
            Condition::any()
                .add(cases::Column::ReceivedAt.lt(cursor.received_at))
                .add(
                    Condition::all()
                        .add(cases::Column::ReceivedAt.eq(cursor.received_at))
                        .add(cases::Column::Id.lt(cursor.id)),
                ),
        );
    }
    let rows = query
        .order_by_desc(cases::Column::ReceivedAt)
        .order_by_desc(cases::Column::Id)
        .limit(page_size + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > page_size;
    let mut page = Vec::with_capacity(rows.len());
    for row in rows
        .into_iter()
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
    {
        page.push(assemble(db, row).await?);
    }
    let next = if more {
        page.last().map(|last| PageCursor {
            received_at: last.case.received_at,
            id: last.case.id.as_uuid(),
        })
    } else {
        None
    };
    Ok((page, next))
}

/// How many cases match `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &CaseFilter) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(cases::Entity::find()
        .filter(conditions(filter))
        .count(db)
        .await?)
}

fn conditions(filter: &CaseFilter) -> Condition {
    let mut all = Condition::all();
    if let Some(stage) = filter.stage {
        all = all.add(cases::Column::Stage.eq(stage.as_str()));
    }
    if let Some(status) = filter.status {
        all = all.add(cases::Column::Status.eq(status.as_str()));
    }
    if let Some(channel) = filter.channel {
        all = all.add(cases::Column::Channel.eq(channel.as_str()));
    }
    if let Some(at) = filter.overdue_at {
        all = all
            .add(cases::Column::Status.eq(complaints_domain::case::CaseStatus::Open.as_str()))
            .add(cases::Column::RespondDueAt.lt(at));
    }
    if let Some(from) = filter.received_from {
        all = all.add(cases::Column::ReceivedOn.gte(from.to_string()));
    }
    if let Some(to) = filter.received_to {
        all = all.add(cases::Column::ReceivedOn.lte(to.to_string()));
    }
    if let Some(number) = &filter.register_number {
        all = all.add(cases::Column::RegisterNumber.eq(number.as_str()));
    }
    if let Some(assignee) = &filter.assignee {
        all = all.add(cases::Column::Assignee.eq(assignee.as_str()));
    }
    for word in &filter.summary_words {
        all = all.add(contains_ignoring_case(cases::Column::Summary, word));
    }
    let person = person_conditions(filter);
    if !person.is_empty() {
        all = all.add(
            cases::Column::Id.in_subquery(
                Query::select()
                    .column(complainants::Column::CaseId)
                    .from(complainants::Entity)
                    .cond_where(person.add(complainants::Column::ErasedAt.is_null()))
                    .to_owned(),
            ),
        );
    }
    all
}

/// The filters on the complainant's personal data; empty when none is set.
pub(super) fn person_conditions(filter: &CaseFilter) -> Condition {
    let mut person = Condition::all();
    if let Some(name) = &filter.complainant_name {
        person = person.add(contains_ignoring_case(complainants::Column::FullName, name));
    }
    if let Some(reference) = &filter.customer_ref {
        person = person.add(complainants::Column::CustomerRef.eq(reference.as_str()));
    }
    if let Some(email) = &filter.email {
        person = person.add(
            Expr::expr(Func::lower(Expr::col(complainants::Column::Email)))
                .eq(email.as_str().to_lowercase()),
        );
    }
    if let Some(phone) = &filter.phone {
        person = person.add(complainants::Column::Phone.eq(phone.e164()));
    }
    if let Some(postcode) = &filter.postcode {
        person = person.add(complainants::Column::Postcode.eq(postcode.as_str()));
    }
    person
}

/// `column` contains `text` anywhere, ignoring case; `%` and `_` in `text`
/// are themselves, not wildcards.
fn contains_ignoring_case(column: impl sea_orm::sea_query::IntoColumnRef, text: &str) -> Expr {
    let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
    Expr::expr(Func::lower(Expr::col(column)))
        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\'))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
