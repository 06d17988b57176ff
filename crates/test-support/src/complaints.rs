//! Complaints the tests share (feature `complaints`).

use complaints_domain::case::{NewComplaint, RawComplaint};
use complaints_domain::complainant::{Channel, RawComplainant};

use crate::time::monday_morning;

/// The `n`th test complaint: by web at [`monday_morning`], from "Person
/// `n`" (`person-n@example.org`), so that complaints with different `n`
/// name different people.
pub fn web_complaint(n: u32) -> NewComplaint {
    let received = monday_morning();
    NewComplaint::validate(
        RawComplaint {
            channel: Some(Channel::Web),
            received_at: Some(received),
            complainant: RawComplainant {
                full_name: format!("Person {n}"),
                email: format!("person-{n}@example.org"),
                phone: String::new(),
                postal_address: None,
                preferred_contact: None,
                customer_ref: String::new(),
            },
            summary: "The pendant alarm did not connect".into(),
            details: String::new(),
            recorded_by: String::new(),
            scan_reference: String::new(),
        },
        received,
    )
    .expect("a valid test complaint")
}
