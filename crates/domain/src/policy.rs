//! The complaints policy as data (docs/policy.md).
//!
//! Targets, owners and the root-cause taxonomy are configuration, not code:
//! a [`Policy`] is loaded from TOML (the caller reads the file; this crate
//! does no I/O) and every case records the [`Policy::version`] it was opened
//! under, so a later change of policy never rewrites an old case's deadlines.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldViolation;
use crate::role::Role;

/// A rung of the complaints ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stage {
    /// Complaints department.
    #[serde(rename = "stage_1")]
    Stage1,
    /// Review by the Customer Experience Manager (escalation: Operations Lead).
    #[serde(rename = "stage_2")]
    Stage2,
    /// Senior management: a director.
    #[serde(rename = "stage_3")]
    Stage3,
    /// Referred to the external body (the TSA); nothing more to decide here.
    #[serde(rename = "external")]
    External,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Stage1, Stage::Stage2, Stage::Stage3, Stage::External];

    /// The internal stages, the ones the policy gives targets and owners.
    pub const INTERNAL: [Stage; 3] = [Stage::Stage1, Stage::Stage2, Stage::Stage3];

    /// The rung's position on the ladder: 1, 2, 3, and 4 for [`Stage::External`].
    pub fn number(self) -> u8 {
        match self {
            Stage::Stage1 => 1,
            Stage::Stage2 => 2,
            Stage::Stage3 => 3,
            Stage::External => 4,
        }
    }

    /// The rung above, or `None` at the top.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Stage1 => Some(Stage::Stage2),
            Stage::Stage2 => Some(Stage::Stage3),
            Stage::Stage3 => Some(Stage::External),
            Stage::External => None,
        }
    }

    /// The name used in configuration, events and storage (`stage_1`, ..., `external`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Stage1 => "stage_1",
            Stage::Stage2 => "stage_2",
            Stage::Stage3 => "stage_3",
            Stage::External => "external",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "stage",
                    format!(
                        "unknown stage {s:?}; expected one of {}",
                        Stage::ALL.map(Stage::as_str).join(", ")
                    ),
                )
            })
    }
}

/// Who owns an internal stage and how long they have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePolicy {
    /// The role that owns the stage's cases and is alerted about them.
    pub owner: Role,
    /// Where the stage escalates to on a breach (within stage 2: the
    /// Operations Lead).
    pub escalation: Role,
    /// The roles that may issue the stage's response.
    pub responders: Vec<Role>,
    /// Working days, counted from the stage's start, to acknowledge.
    pub acknowledge_days: u32,
    /// Working days, counted from the stage's start, to respond (stage 1:
    /// to resolve).
    pub respond_days: u32,
}

/// The body an unsatisfied complainant can refer the complaint to after the
/// final response (R7). The final response must name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalBody {
    pub name: String,
    pub short_name: String,
    /// The paragraph the final response carries about referring.
    pub how_to_refer: String,
}

/// One code of the root-cause taxonomy, so lessons can be counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCause {
    /// Stable kebab-case code, stored on stage responses (`faulty-equipment`).
    pub code: String,
    /// What people read (`Faulty equipment`).
    pub label: String,
}

impl RootCause {
    pub fn new(code: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            label: label.into(),
        }
    }
}

/// The policy in force. Build it with [`Policy::default`] or
/// [`Policy::from_toml`]; both give a value that passed the same validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy", into = "RawPolicy")]
pub struct Policy {
    /// Recorded on every case opened under this policy.
    pub version: String,
    pub stage_1: StagePolicy,
    pub stage_2: StagePolicy,
    pub stage_3: StagePolicy,
    /// R3: working days after receipt at which a complainant whose complaint
    /// was referred to another department is told so.
    pub referral_update_days: u32,
    /// How many working days before a deadline its owner is warned (0: no
    /// warning).
    pub warn_before_working_days: u32,
    /// R4, R6: working days after a stage response in which the complainant
    /// may ask for the next stage, as the response letter states (default
    /// 20; at least 1). Optional in TOML, so older policy files keep the
    /// default.
    pub review_window_working_days: u32,
    /// Who may move a deadline and by how much, and when a complainant whose
    /// resolution date passed hears next (docs/policy.md, Working days,
    /// Extensions and pauses). Optional in TOML (`[extensions]`), so older
    /// policy files keep the defaults.
    pub extensions: ExtensionPolicy,
    pub external_body: ExternalBody,
    pub root_causes: Vec<RootCause>,
}

/// Moving clocks: extensions of a deadline, and the holding notice sent
/// when a resolution date passes (docs/policy.md, Working days, Extensions
/// and pauses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionPolicy {
    /// The roles that may extend a deadline, or pause and resume a case's
    /// clocks. Default: complaints handler, CX manager, Operations Lead,
    /// director.
    pub roles: Vec<Role>,
    /// The most working days one extension may add (default 20; at least 1).
    pub max_working_days: u32,
    /// When a stage 1 resolution date passes without an extension, the
    /// complainant is told they will hear from us by this many working days
    /// after the breach (default 5; at least 1).
    pub holding_update_working_days: u32,
}

impl Default for ExtensionPolicy {
    fn default() -> Self {
        Self {
            roles: vec![
                Role::ComplaintsHandler,
                Role::CxManager,
                Role::OpsLead,
                Role::Director,
            ],
            max_working_days: 20,
            holding_update_working_days: 5,
        }
    }
}

impl ExtensionPolicy {
    /// The longest reason an extension, pause or resume may give.
    pub const REASON_MAX: usize = 2_000;

    /// The longest request id an extension may carry.
    pub const REQUEST_ID_MAX: usize = 100;

    /// Whether `role` may extend a deadline or pause and resume a case's
    /// clocks: `PermissionDenied` naming the role unless the policy lists it.
    pub fn authorize(&self, role: Role) -> Result<(), crate::DomainError> {
        if self.roles.contains(&role) {
            Ok(())
        } else {
            Err(crate::DomainError::PermissionDenied(format!(
                "role {role} may not move a case's clocks"
            )))
        }
    }

    /// Checks an extension's working days (1 to [`Self::max_working_days`])
    /// and answers them; every problem is reported.
    pub fn check_extension(
        &self,
        extra_working_days: i32,
        reason: &str,
        request_id: &str,
    ) -> Result<u32, Vec<FieldViolation>> {
        let mut violations = Self::check_reason(reason).err().unwrap_or_default();
        let request_id = request_id.trim();
        if request_id.is_empty() || request_id.chars().count() > Self::REQUEST_ID_MAX {
            violations.push(FieldViolation::new(
                "request_id",
                format!("must be 1 to {} characters", Self::REQUEST_ID_MAX),
            ));
        }
        let days = u32::try_from(extra_working_days)
            .ok()
            .filter(|days| (1..=self.max_working_days).contains(days));
        if days.is_none() {
            violations.push(FieldViolation::new(
                "extra_working_days",
                format!("must be 1 to {}", self.max_working_days),
            ));
        }
        match days {
            Some(days) if violations.is_empty() => Ok(days),
            _ => Err(violations),
        }
    }

    /// A reason for moving clocks is required: 1 to [`Self::REASON_MAX`]
    /// characters, not blank.
    pub fn check_reason(reason: &str) -> Result<(), Vec<FieldViolation>> {
        let length = reason.trim().chars().count();
        if length == 0 || length > Self::REASON_MAX {
            return Err(vec![FieldViolation::new(
                "reason",
                format!("is required, at most {} characters", Self::REASON_MAX),
            )]);
        }
        Ok(())
    }

    /// How many working days later a paused deadline falls due on resume:
    /// the working days after the local date of the pause up to and
    /// including the local date of the resume (0 within one day; Friday to
    /// Monday is 1). docs/policy.md, Working days, Extensions and pauses.
    pub fn paused_working_days(
        calendar: &crate::calendar::Calendar,
        paused_at: chrono::DateTime<chrono::Utc>,
        resumed_at: chrono::DateTime<chrono::Utc>,
    ) -> u32 {
        let days = calendar.working_days_between(
            calendar.local_date(paused_at),
            calendar.local_date(resumed_at),
        );
        u32::try_from(days.max(0)).unwrap_or(u32::MAX)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.roles.is_empty() {
            return Err(PolicyError::Empty {
                setting: "extensions.roles".to_owned(),
            });
        }
        if let Some(role) = self.roles.iter().find(|role| !is_deciding_role(**role)) {
            return Err(PolicyError::NotADecidingRole {
                setting: "extensions.roles".to_owned(),
                role: *role,
            });
        }
        for (setting, value) in [
            ("extensions.max_working_days", self.max_working_days),
            (
                "extensions.holding_update_working_days",
                self.holding_update_working_days,
            ),
        ] {
            if value == 0 {
                return Err(PolicyError::ZeroTarget {
                    setting: setting.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The default policy as TOML: the shape [`Policy::from_toml`] reads, and
/// equal to [`Policy::default`] (tested).
pub const DEFAULT_POLICY_TOML: &str = r#"
version = "2026-01"
referral_update_days = 5
warn_before_working_days = 1
review_window_working_days = 20

[extensions]
roles = ["complaints_handler", "cx_manager", "ops_lead", "director"]
max_working_days = 20
holding_update_working_days = 5

[stages.stage_1]
owner = "complaints_handler"
escalation = "cx_manager"
responders = ["complaints_handler"]
acknowledge_days = 3
respond_days = 10

[stages.stage_2]
owner = "cx_manager"
escalation = "ops_lead"
responders = ["cx_manager", "ops_lead"]
acknowledge_days = 3
respond_days = 10

[stages.stage_3]
owner = "director"
escalation = "director"
responders = ["director"]
acknowledge_days = 3
respond_days = 10

[external_body]
name = "Telecare Services Association"
short_name = "TSA"
how_to_refer = "If you remain unhappy with our final response, you can refer your complaint to the Telecare Services Association (TSA). Please quote your complaint's register number and include a copy of this letter."

[[root_causes]]
code = "faulty-equipment"
label = "Faulty equipment"

[[root_causes]]
code = "missed-alarm-call"
label = "Missed alarm call"

[[root_causes]]
code = "late-response"
label = "Late response"

[[root_causes]]
code = "installation"
label = "Installation"

[[root_causes]]
code = "billing-error"
label = "Billing error"

[[root_causes]]
code = "staff-conduct"
label = "Staff conduct"

[[root_causes]]
code = "communication"
label = "Communication"

[[root_causes]]
code = "policy"
label = "Policy"

[[root_causes]]
code = "other"
label = "Other"
"#;

impl Default for Policy {
    /// docs/policy.md as written.
    fn default() -> Self {
        let stage = |owner, escalation, responders: &[Role]| StagePolicy {
            owner,
            escalation,
            responders: responders.to_vec(),
            acknowledge_days: 3,
            respond_days: 10,
        };
        Self {
            version: "2026-01".to_owned(),
            stage_1: stage(
                Role::ComplaintsHandler,
                Role::CxManager,
                &[Role::ComplaintsHandler],
            ),
            stage_2: stage(
                Role::CxManager,
                Role::OpsLead,
                &[Role::CxManager, Role::OpsLead],
            ),
            stage_3: stage(Role::Director, Role::Director, &[Role::Director]),
            referral_update_days: 5,
            warn_before_working_days: 1,
            review_window_working_days: Self::REVIEW_WINDOW_WORKING_DAYS,
            extensions: ExtensionPolicy::default(),
            external_body: ExternalBody {
                name: "Telecare Services Association".to_owned(),
                short_name: "TSA".to_owned(),
                how_to_refer: "If you remain unhappy with our final response, you can refer your \
                               complaint to the Telecare Services Association (TSA). Please quote \
                               your complaint's register number and include a copy of this letter."
                    .to_owned(),
            },
            root_causes: [
                ("faulty-equipment", "Faulty equipment"),
                ("missed-alarm-call", "Missed alarm call"),
                ("late-response", "Late response"),
                ("installation", "Installation"),
                ("billing-error", "Billing error"),
                ("staff-conduct", "Staff conduct"),
                ("communication", "Communication"),
                ("policy", "Policy"),
                ("other", "Other"),
            ]
            .into_iter()
            .map(|(code, label)| RootCause::new(code, label))
            .collect(),
        }
    }
}

impl Policy {
    /// The review window when the policy data does not set one.
    pub const REVIEW_WINDOW_WORKING_DAYS: u32 = 20;

    /// Reads and validates a policy. Unknown settings are refused, so a typo
    /// cannot silently fall back to nothing.
    pub fn from_toml(source: &str) -> Result<Policy, PolicyError> {
        toml::from_str::<RawPolicy>(source)
            .map_err(|error| PolicyError::Syntax(error.message().to_owned()))
            .and_then(Policy::try_from)
    }

    /// The targets and roles of an internal stage; `None` for
    /// [`Stage::External`], which has no clock and nothing to decide.
    pub fn stage(&self, stage: Stage) -> Option<&StagePolicy> {
        match stage {
            Stage::Stage1 => Some(&self.stage_1),
            Stage::Stage2 => Some(&self.stage_2),
            Stage::Stage3 => Some(&self.stage_3),
            Stage::External => None,
        }
    }

    /// The taxonomy entry for `code`, if the taxonomy has it.
    pub fn root_cause(&self, code: &str) -> Option<&RootCause> {
        self.root_causes.iter().find(|cause| cause.code == code)
    }

    /// Checks everything [`Policy::from_toml`] checks; useful for a policy
    /// built in code.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version.trim().is_empty() {
            return Err(PolicyError::Empty {
                setting: "version".to_owned(),
            });
        }
        for stage in Stage::INTERNAL {
            if let Some(stage_policy) = self.stage(stage) {
                stage_policy.validate(stage)?;
            }
        }
        if self.referral_update_days == 0 {
            return Err(PolicyError::ZeroTarget {
                setting: "referral_update_days".to_owned(),
            });
        }
        self.extensions.validate()?;
        if self.review_window_working_days == 0 {
            return Err(PolicyError::ZeroTarget {
                setting: "review_window_working_days".to_owned(),
            });
        }
        for (setting, value) in [
            ("external_body.name", &self.external_body.name),
            ("external_body.short_name", &self.external_body.short_name),
            (
                "external_body.how_to_refer",
                &self.external_body.how_to_refer,
            ),
        ] {
            if value.trim().is_empty() {
                return Err(PolicyError::Empty {
                    setting: setting.to_owned(),
                });
            }
        }
        if self.root_causes.is_empty() {
            return Err(PolicyError::Empty {
                setting: "root_causes".to_owned(),
            });
        }
        let mut seen = BTreeSet::new();
        for (index, cause) in self.root_causes.iter().enumerate() {
            if !is_kebab_case(&cause.code) {
                return Err(PolicyError::RootCauseCode {
                    index,
                    code: cause.code.clone(),
                });
            }
            if !seen.insert(cause.code.as_str()) {
                return Err(PolicyError::DuplicateRootCause {
                    index,
                    code: cause.code.clone(),
                });
            }
            if cause.label.trim().is_empty() {
                return Err(PolicyError::Empty {
                    setting: format!("root_causes[{index}].label"),
                });
            }
        }
        Ok(())
    }
}

impl StagePolicy {
    fn validate(&self, stage: Stage) -> Result<(), PolicyError> {
        let setting = |name: &str| format!("stages.{stage}.{name}");
        if self.acknowledge_days == 0 {
            return Err(PolicyError::ZeroTarget {
                setting: setting("acknowledge_days"),
            });
        }
        if self.respond_days == 0 {
            return Err(PolicyError::ZeroTarget {
                setting: setting("respond_days"),
            });
        }
        if self.responders.is_empty() {
            return Err(PolicyError::Empty {
                setting: setting("responders"),
            });
        }
        for (name, role) in [("owner", self.owner), ("escalation", self.escalation)]
            .into_iter()
            .chain(self.responders.iter().map(|role| ("responders", *role)))
        {
            if !is_deciding_role(role) {
                return Err(PolicyError::NotADecidingRole {
                    setting: setting(name),
                    role,
                });
            }
        }
        Ok(())
    }
}

/// Roles that can own or decide a stage: people in the complaints chain, not
/// advisers, integrations or the platform itself.
fn is_deciding_role(role: Role) -> bool {
    matches!(
        role,
        Role::ComplaintsHandler | Role::CxManager | Role::OpsLead | Role::Director
    )
}

/// `faulty-equipment`: lowercase ASCII letters and digits in words joined by
/// single hyphens.
fn is_kebab_case(code: &str) -> bool {
    !code.is_empty()
        && code.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        })
}

/// Why a policy was refused. Each message names the setting to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not valid TOML: {0}")]
    Syntax(String),
    #[error("missing stage {0}")]
    MissingStage(Stage),
    #[error("missing setting {setting}")]
    MissingSetting { setting: String },
    #[error("{setting} must be at least 1")]
    ZeroTarget { setting: String },
    #[error("{setting} must not be empty")]
    Empty { setting: String },
    #[error(
        "{setting} must be one of complaints_handler, cx_manager, ops_lead, director, not {role}"
    )]
    NotADecidingRole { setting: String, role: Role },
    #[error(
        "root_causes[{index}].code {code:?} must be kebab-case (lowercase letters and digits joined by single hyphens)"
    )]
    RootCauseCode { index: usize, code: String },
    #[error("root_causes[{index}].code {code:?} appears more than once")]
    DuplicateRootCause { index: usize, code: String },
}

/// The TOML shape, with every setting optional so a missing one is reported
/// by name rather than by serde's generic message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<String>,
    referral_update_days: Option<u32>,
    warn_before_working_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    review_window_working_days: Option<u32>,
    #[serde(default)]
    extensions: Option<RawExtensions>,
    stages: Option<RawStages>,
    external_body: Option<RawExternalBody>,
    root_causes: Option<Vec<RawRootCause>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtensions {
    roles: Option<Vec<Role>>,
    max_working_days: Option<u32>,
    holding_update_working_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStages {
    stage_1: Option<RawStagePolicy>,
    stage_2: Option<RawStagePolicy>,
    stage_3: Option<RawStagePolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStagePolicy {
    owner: Option<Role>,
    escalation: Option<Role>,
    responders: Option<Vec<Role>>,
    acknowledge_days: Option<u32>,
    respond_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExternalBody {
    name: Option<String>,
    short_name: Option<String>,
    how_to_refer: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRootCause {
    code: Option<String>,
    label: Option<String>,
}

fn required<T>(value: Option<T>, setting: impl Into<String>) -> Result<T, PolicyError> {
    value.ok_or_else(|| PolicyError::MissingSetting {
        setting: setting.into(),
    })
}

impl RawStagePolicy {
    fn into_policy(self, stage: Stage) -> Result<StagePolicy, PolicyError> {
        let setting = |name: &str| format!("stages.{stage}.{name}");
        Ok(StagePolicy {
            owner: required(self.owner, setting("owner"))?,
            escalation: required(self.escalation, setting("escalation"))?,
            responders: required(self.responders, setting("responders"))?,
            acknowledge_days: required(self.acknowledge_days, setting("acknowledge_days"))?,
            respond_days: required(self.respond_days, setting("respond_days"))?,
        })
    }
}

impl TryFrom<RawPolicy> for Policy {
    type Error = PolicyError;

    fn try_from(raw: RawPolicy) -> Result<Self, Self::Error> {
        let version = required(raw.version, "version")?;
        let stages = raw.stages.ok_or(PolicyError::MissingStage(Stage::Stage1))?;
        let stage_1 = stages
            .stage_1
            .ok_or(PolicyError::MissingStage(Stage::Stage1))?
            .into_policy(Stage::Stage1)?;
        let stage_2 = stages
            .stage_2
            .ok_or(PolicyError::MissingStage(Stage::Stage2))?
            .into_policy(Stage::Stage2)?;
        let stage_3 = stages
            .stage_3
            .ok_or(PolicyError::MissingStage(Stage::Stage3))?
            .into_policy(Stage::Stage3)?;
        let external = required(raw.external_body, "external_body")?;
        let external_body = ExternalBody {
            name: required(external.name, "external_body.name")?,
            short_name: required(external.short_name, "external_body.short_name")?,
            how_to_refer: required(external.how_to_refer, "external_body.how_to_refer")?,
        };
        let root_causes = required(raw.root_causes, "root_causes")?
            .into_iter()
            .enumerate()
            .map(|(index, cause)| {
                Ok(RootCause {
                    code: required(cause.code, format!("root_causes[{index}].code"))?,
                    label: required(cause.label, format!("root_causes[{index}].label"))?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let policy = Policy {
            version,
            stage_1,
            stage_2,
            stage_3,
            referral_update_days: required(raw.referral_update_days, "referral_update_days")?,
            warn_before_working_days: required(
                raw.warn_before_working_days,
                "warn_before_working_days",
            )?,
            review_window_working_days: raw
                .review_window_working_days
                .unwrap_or(Policy::REVIEW_WINDOW_WORKING_DAYS),
            extensions: raw.extensions.map_or_else(ExtensionPolicy::default, |raw| {
                let defaults = ExtensionPolicy::default();
                ExtensionPolicy {
                    roles: raw.roles.unwrap_or(defaults.roles),
                    max_working_days: raw.max_working_days.unwrap_or(defaults.max_working_days),
                    holding_update_working_days: raw
                        .holding_update_working_days
                        .unwrap_or(defaults.holding_update_working_days),
                }
            }),
            external_body,
            root_causes,
        };
        policy.validate()?;
        Ok(policy)
    }
}

impl From<Policy> for RawPolicy {
    fn from(policy: Policy) -> Self {
        let stage = |stage: StagePolicy| RawStagePolicy {
            owner: Some(stage.owner),
            escalation: Some(stage.escalation),
            responders: Some(stage.responders),
            acknowledge_days: Some(stage.acknowledge_days),
            respond_days: Some(stage.respond_days),
        };
        RawPolicy {
            version: Some(policy.version),
            referral_update_days: Some(policy.referral_update_days),
            warn_before_working_days: Some(policy.warn_before_working_days),
            review_window_working_days: Some(policy.review_window_working_days),
            extensions: Some(RawExtensions {
                roles: Some(policy.extensions.roles),
                max_working_days: Some(policy.extensions.max_working_days),
                holding_update_working_days: Some(policy.extensions.holding_update_working_days),
            }),
            stages: Some(RawStages {
                stage_1: Some(stage(policy.stage_1)),
                stage_2: Some(stage(policy.stage_2)),
                stage_3: Some(stage(policy.stage_3)),
            }),
            external_body: Some(RawExternalBody {
                name: Some(policy.external_body.name),
                short_name: Some(policy.external_body.short_name),
                how_to_refer: Some(policy.external_body.how_to_refer),
            }),
            root_causes: Some(
                policy
                    .root_causes
                    .into_iter()
                    .map(|cause| RawRootCause {
                        code: Some(cause.code),
                        label: Some(cause.label),
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(from: &str, to: &str) -> String {
        assert!(
            DEFAULT_POLICY_TOML.contains(from),
            "{from:?} not in the example"
        );
        DEFAULT_POLICY_TOML.replacen(from, to, 1)
    }

    fn error_of(source: &str) -> String {
        Policy::from_toml(source).unwrap_err().to_string()
    }

    #[test]
    fn the_example_toml_is_the_default_policy() {
        assert_eq!(
            Policy::from_toml(DEFAULT_POLICY_TOML),
            Ok(Policy::default())
        );
        assert_eq!(Policy::default().validate(), Ok(()));
    }

    #[test]
    fn the_default_policy_is_section_2_of_the_spec() {
        let policy = Policy::default();
        let stage_1 = policy.stage(Stage::Stage1).unwrap();
        assert_eq!(stage_1.owner, Role::ComplaintsHandler);
        assert_eq!(stage_1.escalation, Role::CxManager);
        assert_eq!(stage_1.responders, [Role::ComplaintsHandler]);
        assert_eq!((stage_1.acknowledge_days, stage_1.respond_days), (3, 10));
        let stage_2 = policy.stage(Stage::Stage2).unwrap();
        assert_eq!(stage_2.owner, Role::CxManager);
        assert_eq!(stage_2.escalation, Role::OpsLead);
        assert_eq!(stage_2.responders, [Role::CxManager, Role::OpsLead]);
        assert_eq!((stage_2.acknowledge_days, stage_2.respond_days), (3, 10));
        let stage_3 = policy.stage(Stage::Stage3).unwrap();
        assert_eq!(stage_3.owner, Role::Director);
        assert_eq!(stage_3.responders, [Role::Director]);
        assert_eq!((stage_3.acknowledge_days, stage_3.respond_days), (3, 10));
        assert_eq!(policy.stage(Stage::External), None);
        assert_eq!(policy.referral_update_days, 5);
        assert_eq!(policy.warn_before_working_days, 1);
        assert_eq!(policy.external_body.name, "Telecare Services Association");
        assert_eq!(policy.external_body.short_name, "TSA");
        for code in [
            "faulty-equipment",
            "missed-alarm-call",
            "late-response",
            "installation",
            "billing-error",
            "staff-conduct",
            "communication",
            "policy",
            "other",
        ] {
            assert!(policy.root_cause(code).is_some(), "{code} missing");
        }
        assert_eq!(policy.root_cause("weather"), None);
    }

    #[test]
    fn stages_climb_the_ladder_in_order() {
        assert_eq!(Stage::ALL.map(Stage::number), [1, 2, 3, 4]);
        assert_eq!(Stage::Stage1.next(), Some(Stage::Stage2));
        assert_eq!(Stage::Stage2.next(), Some(Stage::Stage3));
        assert_eq!(Stage::Stage3.next(), Some(Stage::External));
        assert_eq!(Stage::External.next(), None);
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
            let json = deserialized_name(stage);
            assert_eq!(json, stage.as_str());
        }
    }

    /// The serde name, read back through TOML so no extra dependency is needed.
    fn deserialized_name(stage: Stage) -> String {
        #[derive(Deserialize)]
        struct Holder {
            stage: Stage,
        }
        let holder: Holder = toml::from_str(&format!("stage = {:?}", stage.as_str())).unwrap();
        holder.stage.as_str().to_owned()
    }

    /// The example with the lines from `start` up to (not including) `end` cut out.
    fn without(start: &str, end: &str) -> String {
        let from = DEFAULT_POLICY_TOML.find(start).unwrap();
        let to = DEFAULT_POLICY_TOML[from..].find(end).unwrap() + from;
        format!(
            "{}{}",
            &DEFAULT_POLICY_TOML[..from],
            &DEFAULT_POLICY_TOML[to..]
        )
    }

    #[test]
    fn a_missing_stage_is_named() {
        assert_eq!(
            error_of(&without("[stages.stage_3]", "[external_body]")),
            "missing stage stage_3"
        );
    }

    #[test]
    fn a_zero_target_is_named() {
        let source = DEFAULT_POLICY_TOML.replacen(
            "responders = [\"cx_manager\", \"ops_lead\"]\nacknowledge_days = 3\nrespond_days = 10",
            "responders = [\"cx_manager\", \"ops_lead\"]\nacknowledge_days = 3\nrespond_days = 0",
            1,
        );
        assert_ne!(source, DEFAULT_POLICY_TOML);
        assert_eq!(
            error_of(&source),
            "stages.stage_2.respond_days must be at least 1"
        );
        assert_eq!(
            error_of(&with("acknowledge_days = 3", "acknowledge_days = 0")),
            "stages.stage_1.acknowledge_days must be at least 1"
        );
        assert_eq!(
            error_of(&with(
                "referral_update_days = 5",
                "referral_update_days = 0"
            )),
            "referral_update_days must be at least 1"
        );
    }

    #[test]
    fn a_pause_moves_clocks_by_the_working_days_after_its_date_up_to_the_resume() {
        let calendar = crate::calendar::Calendar::default();
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let days = |from, to| ExtensionPolicy::paused_working_days(&calendar, at(from), at(to));
        // Monday to Wednesday.
        assert_eq!(days("2026-12-07T10:00:00Z", "2026-12-09T09:00:00Z"), 2);
        // Friday to Monday.
        assert_eq!(days("2026-12-04T16:00:00Z", "2026-12-07T09:00:00Z"), 1);
        // The same day.
        assert_eq!(days("2026-12-07T09:00:00Z", "2026-12-07T17:00:00Z"), 0);
        // Over Christmas: Christmas Day and the Boxing Day substitute do not count.
        assert_eq!(days("2026-12-23T09:00:00Z", "2026-12-29T09:00:00Z"), 2);
    }

    #[test]
    fn an_extension_needs_a_reason_a_request_id_and_days_within_the_policy() {
        let policy = ExtensionPolicy::default();
        assert_eq!(
            policy.check_extension(20, "waiting for engineer", "r-1"),
            Ok(20)
        );
        let fields = |days, reason, request| {
            policy
                .check_extension(days, reason, request)
                .unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(21, "why", "r-1"), vec!["extra_working_days"]);
        assert_eq!(
            fields(0, " ", ""),
            vec!["reason", "request_id", "extra_working_days"]
        );
        assert!(policy.authorize(Role::ComplaintsHandler).is_ok());
        assert!(policy.authorize(Role::Adviser).is_err());
    }

    #[test]
    fn extensions_are_policy_data_with_defaults_for_older_files() {
        let defaults = Policy::default().extensions;
        assert_eq!(
            defaults.roles,
            vec![
                Role::ComplaintsHandler,
                Role::CxManager,
                Role::OpsLead,
                Role::Director
            ]
        );
        assert_eq!(defaults.max_working_days, 20);
        assert_eq!(defaults.holding_update_working_days, 5);
        let narrower = Policy::from_toml(&with(
            r#"roles = ["complaints_handler", "cx_manager", "ops_lead", "director"]"#,
            r#"roles = ["cx_manager"]"#,
        ))
        .unwrap();
        assert_eq!(narrower.extensions.roles, vec![Role::CxManager]);
        let older = Policy::from_toml(&with(
            "[extensions]\nroles = [\"complaints_handler\", \"cx_manager\", \"ops_lead\", \"director\"]\nmax_working_days = 20\nholding_update_working_days = 5\n",
            "",
        ))
        .unwrap();
        assert_eq!(older.extensions, defaults);
        assert_eq!(
            error_of(&with("max_working_days = 20", "max_working_days = 0")),
            "extensions.max_working_days must be at least 1"
        );
        assert_eq!(
            error_of(&with(
                "holding_update_working_days = 5",
                "holding_update_working_days = 0"
            )),
            "extensions.holding_update_working_days must be at least 1"
        );
        assert_eq!(
            error_of(&with(
                r#"roles = ["complaints_handler", "cx_manager", "ops_lead", "director"]"#,
                "roles = []"
            )),
            "extensions.roles must not be empty"
        );
        assert!(
            error_of(&with(
                r#"roles = ["complaints_handler", "cx_manager", "ops_lead", "director"]"#,
                r#"roles = ["adviser"]"#
            ))
            .starts_with("extensions.roles must be one of")
        );
    }

    #[test]
    fn the_review_window_is_policy_data_defaulting_to_20_working_days() {
        assert_eq!(Policy::default().review_window_working_days, 20);
        let longer = Policy::from_toml(&with(
            "review_window_working_days = 20",
            "review_window_working_days = 30",
        ))
        .unwrap();
        assert_eq!(longer.review_window_working_days, 30);
        // A policy file written before the setting existed keeps 20.
        let older = Policy::from_toml(&with("review_window_working_days = 20\n", "")).unwrap();
        assert_eq!(older.review_window_working_days, 20);
        assert_eq!(
            error_of(&with(
                "review_window_working_days = 20",
                "review_window_working_days = 0"
            )),
            "review_window_working_days must be at least 1"
        );
    }

    #[test]
    fn a_missing_setting_is_named() {
        assert_eq!(
            error_of(&with(
                "respond_days = 10\n\n[stages.stage_2]",
                "\n[stages.stage_2]"
            )),
            "missing setting stages.stage_1.respond_days"
        );
        assert_eq!(
            error_of(&with("version = \"2026-01\"", "")),
            "missing setting version"
        );
    }

    #[test]
    fn an_empty_version_is_refused() {
        assert_eq!(
            error_of(&with("version = \"2026-01\"", "version = \"  \"")),
            "version must not be empty"
        );
    }

    #[test]
    fn root_cause_codes_must_be_unique_kebab_case() {
        assert_eq!(
            error_of(&with("code = \"other\"", "code = \"Other_Thing\"")),
            "root_causes[8].code \"Other_Thing\" must be kebab-case (lowercase letters and digits joined by single hyphens)"
        );
        assert_eq!(
            error_of(&with("code = \"other\"", "code = \"policy\"")),
            "root_causes[8].code \"policy\" appears more than once"
        );
        for bad in ["", "-a", "a-", "a--b", "A", "a b"] {
            assert!(!is_kebab_case(bad), "{bad:?}");
        }
        for good in ["a", "a-b", "missed-alarm-call", "tier-2"] {
            assert!(is_kebab_case(good), "{good:?}");
        }
    }

    #[test]
    fn an_empty_taxonomy_is_refused() {
        let source = format!(
            "root_causes = []\n{}",
            DEFAULT_POLICY_TOML.split("[[root_causes]]").next().unwrap()
        );
        assert_eq!(error_of(&source), "root_causes must not be empty");
    }

    #[test]
    fn an_unknown_setting_or_role_is_refused() {
        assert!(
            error_of(&with("warn_before_working_days", "warn_before_workingdays"))
                .contains("unknown field")
        );
        assert!(error_of(&with("owner = \"director\"", "owner = \"boss\"")).contains("boss"));
        assert_eq!(
            error_of(&with(
                "responders = [\"director\"]",
                "responders = [\"adviser\"]"
            )),
            "stages.stage_3.responders must be one of complaints_handler, cx_manager, ops_lead, director, not adviser"
        );
        assert_eq!(
            error_of(&with("responders = [\"director\"]", "responders = []")),
            "stages.stage_3.responders must not be empty"
        );
    }

    #[test]
    fn targets_are_data_not_code() {
        let source = with(
            "[stages.stage_2]\nowner = \"cx_manager\"\nescalation = \"ops_lead\"\nresponders = [\"cx_manager\", \"ops_lead\"]\nacknowledge_days = 3\nrespond_days = 10",
            "[stages.stage_2]\nowner = \"cx_manager\"\nescalation = \"ops_lead\"\nresponders = [\"cx_manager\", \"ops_lead\"]\nacknowledge_days = 2\nrespond_days = 20",
        );
        let policy = Policy::from_toml(&source).unwrap();
        let stage_2 = policy.stage(Stage::Stage2).unwrap();
        assert_eq!((stage_2.acknowledge_days, stage_2.respond_days), (2, 20));
    }
}
