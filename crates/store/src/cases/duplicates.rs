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
//! (each transaction sees only committed cases, and cases opened together
//! in one transaction are compared with the others, not with each other);
//! that is accepted: the flag
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
    Ok(possible_duplicates_of_each(db, &[complainant])
        .await?
        .pop()
        .unwrap_or_default())
}

/// [`possible_duplicates`] of each of `complainants` (cases opened
/// together), in two statements at most whatever their number: one finds
/// the people any of them may be, one orders the cases found.
pub(super) async fn possible_duplicates_of_each(
    db: &impl ConnectionTrait,
    complainants: &[&Complainant],
) -> Result<Vec<Vec<CaseId>>, StoreError> {
    let keys: Vec<Keys> = complainants.iter().map(|c| Keys::of(c)).collect();
    let mut any = Condition::any();
    for filter in keys.iter().flat_map(|keys| &keys.filters) {
        let condition = person_conditions(filter);
        if !condition.is_empty() {
            any = any.add(condition);
        }
    }
    let mut found = vec![Vec::new(); keys.len()];
    if any.is_empty() {
        return Ok(found);
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
    let matching: Vec<Vec<uuid::Uuid>> = keys
        .iter()
        .map(|keys| {
            people
                .iter()
                .filter(|person| keys.match_person(person))
                .map(|person| person.case_id)
                .collect()
        })
        .collect();
    let mut all: Vec<uuid::Uuid> = matching.iter().flatten().copied().collect();
    if all.is_empty() {
        return Ok(found);
    }
    all.sort_unstable();
    all.dedup();
    let oldest_first = cases::Entity::find()
        .select_only()
        .column(cases::Column::Id)
        .filter(cases::Column::Id.is_in(all))
        .order_by_asc(cases::Column::ReceivedAt)
        .order_by_asc(cases::Column::Id)
        .into_tuple::<uuid::Uuid>()
        .all(db)
        .await?;
    for (matching, found) in matching.iter().zip(&mut found) {
        *found = oldest_first
            .iter()
            .filter(|id| matching.contains(id))
            .take(usize::try_from(MAX_POSSIBLE_DUPLICATES).unwrap_or(usize::MAX))
            .map(|id| CaseId(*id))
            .collect();
    }
    Ok(found)
}

/// What one complainant is compared by.
struct Keys<'a> {
    complainant: &'a Complainant,
    /// Conditions that find the candidates: the email, phone, customer
    /// reference, postcode (the name is compared below, ignoring case as
    /// Unicode does). Empty for an erased complainant.
    filters: Vec<CaseFilter>,
    name: String,
    email: Option<String>,
    postcode: Option<String>,
}

impl<'a> Keys<'a> {
    fn of(complainant: &'a Complainant) -> Self {
        let postcode = complainant
            .postal_address()
            .map(|address| address.postcode().clone());
        let filters = if complainant.is_erased() {
            Vec::new()
        } else {
            vec![
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
                CaseFilter {
                    postcode: postcode.clone(),
                    ..CaseFilter::default()
                },
            ]
        };
        Self {
            complainant,
            filters,
            name: comparable_name(complainant.full_name().as_str()),
            email: complainant
                .email()
                .map(|email| email.as_str().to_lowercase()),
            postcode: postcode.map(|postcode| postcode.as_str().to_owned()),
        }
    }

    /// Whether `person` may be this complainant.
    fn match_person(&self, person: &complainants::Model) -> bool {
        if self.filters.is_empty() {
            return false;
        }
        let complainant = self.complainant;
        let same_email =
            self.email.is_some() && person.email.as_deref().map(str::to_lowercase) == self.email;
        let same_phone = complainant
            .phone()
            .is_some_and(|phone| person.phone.as_deref() == Some(phone.e164()));
        let same_reference = complainant
            .customer_ref()
            .is_some_and(|reference| person.customer_ref.as_deref() == Some(reference.as_str()));
        let same_name_and_postcode = self.postcode.as_ref().is_some_and(|postcode| {
            person.postcode.as_deref() == Some(postcode.as_str())
                && comparable_name(&person.full_name) == self.name
        });
        same_email || same_phone || same_reference || same_name_and_postcode
    }
}

/// A name as compared: lower case, single spaces.
fn comparable_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
