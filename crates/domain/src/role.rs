//! Who acts on a case. The role comes from a verified token; the domain's
//! permission table (in [`crate::case`]) decides what each role may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldViolation;

/// A principal's role, as named in the bearer token's `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Call-centre adviser: logs complaints and reads cases; resolves nothing.
    Adviser,
    /// Complaints department: owns stage 1.
    ComplaintsHandler,
    /// Customer Experience Manager: owns the stage 2 review.
    CxManager,
    /// Customer Service Operations Lead: escalation within stage 2.
    OpsLead,
    /// Director of the Senior Management Team: answers stage 3.
    Director,
    /// A CRM, telephony or mail-gateway integration: submits complaints.
    Integration,
    /// Another service of this platform.
    Service,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Adviser,
        Role::ComplaintsHandler,
        Role::CxManager,
        Role::OpsLead,
        Role::Director,
        Role::Integration,
        Role::Service,
    ];

    /// The role's name as it appears in tokens and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Adviser => "adviser",
            Role::ComplaintsHandler => "complaints_handler",
            Role::CxManager => "cx_manager",
            Role::OpsLead => "ops_lead",
            Role::Director => "director",
            Role::Integration => "integration",
            Role::Service => "service",
        }
    }

    /// A human title, for letters and alerts.
    pub fn title(self) -> &'static str {
        match self {
            Role::Adviser => "Customer Adviser",
            Role::ComplaintsHandler => "Complaints Department",
            Role::CxManager => "Customer Experience Manager",
            Role::OpsLead => "Customer Service Operations Lead",
            Role::Director => "Director, Senior Management Team",
            Role::Integration => "Integration",
            Role::Service => "Complaints platform",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "role",
                    format!(
                        "unknown role {s:?}; expected one of {}",
                        Role::ALL.map(Role::as_str).join(", ")
                    ),
                )
            })
    }
}

/// The person or system doing something, recorded on every timeline event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// Stable identity of the principal (the token's `sub`).
    pub subject: String,
    pub role: Role,
}

impl Actor {
    pub fn new(subject: impl Into<String>, role: Role) -> Self {
        Self {
            subject: subject.into(),
            role,
        }
    }

    /// The platform itself, for steps no person took (deadline firing).
    pub fn system() -> Self {
        Self::new("system", Role::Service)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.subject, self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn an_unknown_role_is_refused_with_the_choices() {
        let err = "root".parse::<Role>().unwrap_err();
        assert_eq!(err.field, "role");
        assert!(err.description.contains("complaints_handler"));
    }
}
