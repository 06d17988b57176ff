//! Finding a new complaint's possible duplicates: the complainant's other
//! open cases.
//!
//! Another case is a possible duplicate when it is not closed and its
//! complainant (not erased) has the same email address (ignoring case), the
//! same phone number, the same customer reference, or the same name
//! (ignoring case and repeated spaces) and postcode. Contact details are
//! compared as ListCases compares them ([`super::filters`]): phones as
//! E.164, postcodes as `UkPostcode` writes them, both normalised when
//! stored.
//!
//! [`super::open_case`] runs this in the transaction that opens the case.
//! Two complaints opened at the same moment may still not flag each other
//! (each transaction sees only committed cases); that is accepted: the flag
//! is a hint for staff, who can link the cases later (`LinkCases`).

use complaints_domain::case::{CaseId, CaseStatus};
use complaints_domain::complainant::Complainant;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::filters::{CaseFilter, person_conditions};
use crate::StoreError;
use crate::entity::{cases, complainants};

/// The most possible duplicates one case is flagged with: the oldest ones.
pub const MAX_POSSIBLE_DUPLICATES: u64 = 20;

/// The ids of the open cases whose complainant may be `complainant`,
/// oldest receipt first, at most [`MAX_POSSIBLE_DUPLICATES`].
pub async fn possible_duplicates(
    db: &impl ConnectionTrait,
    complainant: &Complainant,
) -> Result<Vec<CaseId>, StoreError> {
    if complainant.is_erased() {
        return Ok(Vec::new());
    }
    let postcode = complainant
        .postal_address()
        .map(|address| address.postcode().clone());
    let keys = [
        CaseFilter {
            email: complainant.email().cloned(),
            ..CaseFilter::default()
        },
        CaseFilter {
            phone: complainant.phone().cloned(),
            ..CaseFilter::default()
        },
        CaseFilter {
            customer_ref: complainant
                .customer_ref()
                .map(|reference| reference.as_str().to_owned()),
            ..CaseFilter::default()
        },
        // The name is compared below, ignoring case as Unicode does.
        CaseFilter {
            postcode: postcode.clone(),
            ..CaseFilter::default()
        },
    ];
    let mut any = Condition::any();
    for key in &keys {
        let condition = person_conditions(key);
        if !condition.is_empty() {
            any = any.add(condition);
        }
    }
    if any.is_empty() {
        return Ok(Vec::new());
    }
    let people = complainants::Entity::find()
        .filter(any)
        .filter(complainants::Column::ErasedAt.is_null())
        .filter(
            complainants::Column::CaseId.in_subquery(
                Query::select()
                    .column(cases::Column::Id)
                    .from(cases::Entity)
                    .and_where(cases::Column::Status.ne(CaseStatus::Closed.as_str()))
                    .to_owned(),
            ),
        )
        .all(db)
        .await?;
    let name = comparable_name(complainant.full_name().as_str());
    let email = complainant
        .email()
        .map(|email| email.as_str().to_lowercase());
    let matching: Vec<_> = people
        .into_iter()
        .filter(|person| {
            let same_email =
                email.is_some() && person.email.as_deref().map(str::to_lowercase) == email;
            let same_phone = complainant
                .phone()
                .is_some_and(|phone| person.phone.as_deref() == Some(phone.e164()));
            let same_reference = complainant.customer_ref().is_some_and(|reference| {
                person.customer_ref.as_deref() == Some(reference.as_str())
            });
            let same_name_and_postcode = postcode.as_ref().is_some_and(|postcode| {
                person.postcode.as_deref() == Some(postcode.as_str())
                    && comparable_name(&person.full_name) == name
            });
            same_email || same_phone || same_reference || same_name_and_postcode
        })
        .map(|person| person.case_id)
        .collect();
    if matching.is_empty() {
        return Ok(Vec::new());
    }
    let oldest_first = cases::Entity::find()
        .select_only()
        .column(cases::Column::Id)
        .filter(cases::Column::Id.is_in(matching))
        .order_by_asc(cases::Column::ReceivedAt)
        .order_by_asc(cases::Column::Id)
        .limit(MAX_POSSIBLE_DUPLICATES)
        .into_tuple::<uuid::Uuid>()
        .all(db)
        .await?;
    Ok(oldest_first.into_iter().map(CaseId).collect())
}

/// A name as compared: lower case, single spaces.
fn comparable_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
