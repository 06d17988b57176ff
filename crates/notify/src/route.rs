//! Which way a written message goes: email or post.

use complaints_domain::complainant::{Complainant, ContactMethod, PostalAddress};
use complaints_domain::values::{EmailAddress, UkPhone};

use crate::NotifyError;

/// Where a written message is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Email {
        to: EmailAddress,
    },
    /// A printed letter, queued in the outbox for printing and posting.
    Post {
        address: PostalAddress,
    },
}

impl Route {
    /// The contact method this route is.
    pub fn method(&self) -> ContactMethod {
        match self {
            Route::Email { .. } => ContactMethod::Email,
            Route::Post { .. } => ContactMethod::Post,
        }
    }
}

/// The route chosen and, when it is not the complainant's preference, why:
/// the caller records this on the timeline so staff can see how the
/// complainant was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChoice {
    pub route: Route,
    /// The preferred method when it could not be used.
    pub fell_back_from: Option<ContactMethod>,
    /// One sentence for the timeline.
    pub reason: String,
}

/// Chooses how to send a written message.
///
/// The preferred method is used when it can carry the message. Otherwise
/// the next usable one: email falls back to post, post to email, and phone
/// (which cannot carry a written response) to email, then post. With
/// neither an email address nor a postal address the message cannot be
/// sent: [`NotifyError::NoRoute`]. `phone` only shapes that explanation.
pub fn choose_route(
    preferred: ContactMethod,
    email: Option<&EmailAddress>,
    address: Option<&PostalAddress>,
    phone: Option<&UkPhone>,
) -> Result<RouteChoice, NotifyError> {
    let by_email = email.map(|to| Route::Email { to: to.clone() });
    let by_post = address.map(|address| Route::Post {
        address: address.clone(),
    });
    let candidates = match preferred {
        ContactMethod::Post => [by_post, by_email],
        ContactMethod::Email | ContactMethod::Phone => [by_email, by_post],
    };
    let Some(route) = candidates.into_iter().flatten().next() else {
        let reason = match phone {
            Some(_) => {
                "only a telephone number is held, and a written response cannot be sent by telephone"
            }
            None => "no email address or postal address is held",
        };
        return Err(NotifyError::NoRoute {
            reason: reason.to_owned(),
        });
    };
    let chosen = route.method();
    if chosen == preferred {
        return Ok(RouteChoice {
            route,
            fell_back_from: None,
            reason: format!("sent by {chosen}, the complainant's preferred contact method"),
        });
    }
    let why = match preferred {
        ContactMethod::Email => "no email address is held",
        ContactMethod::Post => "no postal address is held",
        ContactMethod::Phone => "a written response cannot be sent by telephone",
    };
    Ok(RouteChoice {
        route,
        fell_back_from: Some(preferred),
        reason: format!("sent by {chosen} instead of {preferred}: {why}"),
    })
}

/// [`choose_route`] for a complainant, refusing an erased one: erasure
/// leaves nobody to write to.
pub fn choose_route_for(complainant: &Complainant) -> Result<RouteChoice, NotifyError> {
    if complainant.is_erased() {
        return Err(NotifyError::NoRoute {
            reason: "the complainant's details have been erased".to_owned(),
        });
    }
    choose_route(
        complainant.preferred_contact(),
        complainant.email(),
        complainant.postal_address(),
        complainant.phone(),
    )
}

#[cfg(test)]
mod tests {
    use complaints_domain::complainant::{RawComplainant, RawPostalAddress};

    use super::*;

    fn email() -> EmailAddress {
        EmailAddress::parse("jane@example.com").unwrap()
    }

    fn address() -> PostalAddress {
        PostalAddress::parse(RawPostalAddress {
            lines: vec!["1 High Street".into()],
            town: "Leeds".into(),
            postcode: "LS1 4AP".into(),
        })
        .unwrap()
    }

    fn phone() -> UkPhone {
        UkPhone::parse("0113 496 0000").unwrap()
    }

    #[test]
    fn the_preferred_route_is_used_when_it_is_there() {
        let choice =
            choose_route(ContactMethod::Email, Some(&email()), Some(&address()), None).unwrap();
        assert_eq!(choice.route, Route::Email { to: email() });
        assert_eq!(choice.fell_back_from, None);

        let choice =
            choose_route(ContactMethod::Post, Some(&email()), Some(&address()), None).unwrap();
        assert_eq!(choice.route, Route::Post { address: address() });
        assert_eq!(choice.fell_back_from, None);
        assert!(choice.reason.contains("preferred"), "{}", choice.reason);
    }

    #[test]
    fn email_falls_back_to_post_and_post_to_email() {
        let choice = choose_route(ContactMethod::Email, None, Some(&address()), None).unwrap();
        assert_eq!(choice.route, Route::Post { address: address() });
        assert_eq!(choice.fell_back_from, Some(ContactMethod::Email));
        assert_eq!(
            choice.reason,
            "sent by post instead of email: no email address is held"
        );

        let choice = choose_route(ContactMethod::Post, Some(&email()), None, None).unwrap();
        assert_eq!(choice.route, Route::Email { to: email() });
        assert_eq!(choice.fell_back_from, Some(ContactMethod::Post));
    }

    #[test]
    fn phone_falls_back_to_email_then_post() {
        let both = choose_route(
            ContactMethod::Phone,
            Some(&email()),
            Some(&address()),
            Some(&phone()),
        )
        .unwrap();
        assert_eq!(both.route, Route::Email { to: email() });
        assert_eq!(both.fell_back_from, Some(ContactMethod::Phone));
        assert!(both.reason.contains("cannot be sent by telephone"));

        let post_only =
            choose_route(ContactMethod::Phone, None, Some(&address()), Some(&phone())).unwrap();
        assert_eq!(post_only.route, Route::Post { address: address() });
        assert_eq!(post_only.fell_back_from, Some(ContactMethod::Phone));
    }

    #[test]
    fn no_written_route_is_an_error_that_says_why() {
        let err = choose_route(ContactMethod::Phone, None, None, Some(&phone())).unwrap_err();
        assert!(matches!(err, NotifyError::NoRoute { .. }));
        assert!(err.to_string().contains("only a telephone number"), "{err}");
        let err = choose_route(ContactMethod::Email, None, None, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("no email address or postal address")
        );
    }

    #[test]
    fn a_complainants_details_choose_the_route_and_an_erased_one_has_none() {
        let complainant = Complainant::parse(RawComplainant {
            full_name: "Jane Doe".into(),
            phone: "0113 496 0000".into(),
            postal_address: Some(RawPostalAddress {
                lines: vec!["1 High Street".into()],
                town: "Leeds".into(),
                postcode: "LS1 4AP".into(),
            }),
            preferred_contact: Some(ContactMethod::Phone),
            ..RawComplainant::default()
        })
        .unwrap();
        let choice = choose_route_for(&complainant).unwrap();
        assert_eq!(choice.route, Route::Post { address: address() });
        assert_eq!(choice.fell_back_from, Some(ContactMethod::Phone));

        let err = choose_route_for(&Complainant::anonymised()).unwrap_err();
        assert!(err.to_string().contains("erased"));
    }
}
