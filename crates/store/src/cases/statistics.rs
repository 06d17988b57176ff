//! Reporting over the cases received in a range of local dates, aggregated
//! by the database: a handful of statements whatever the size of the range,
//! each returning rows in the size of the answer (a row per stage, channel,
//! root cause, deadline kind or lesson), never a row per case.
//!
//! The figures are read from the `cases.snapshot` JSON the writer keeps,
//! so they need no column or table of their own: erasure (which leaves the
//! snapshot without personal data already) and replay stay as they are.
//!
//! Instants in the snapshot are chrono's RFC 3339 (`…T09:00:00Z`, or with
//! 3, 6 or 9 fractional digits): the queries turn them into whole
//! nanoseconds since the epoch before comparing or subtracting them, so no
//! precision is lost on either database and no instant is compared as text.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use complaints_domain::case::{DeadlineKind, Finding};
use complaints_domain::complainant::Channel;
use complaints_domain::policy::Stage;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, IsolationLevel, QueryResult, Statement,
    TransactionSession, TransactionTrait, Value,
};

use crate::StoreError;

/// Met, breached and still-pending promises of one deadline kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaCounts {
    pub met: u64,
    pub breached: u64,
    pub pending: u64,
}

/// One lesson learned under a root cause, with the register numbers of the
/// cases whose stage responses recorded it: each case once, oldest receipt
/// first (then by case id), the order of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonCases {
    pub text: String,
    pub register_numbers: Vec<String>,
}

/// The aggregates of the cases received in a range of local dates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseStatistics {
    pub total: u64,
    pub by_stage: BTreeMap<Stage, u64>,
    pub by_channel: BTreeMap<Channel, u64>,
    /// Stage responses by root cause: every stage's response counts, not
    /// only a case's latest.
    pub by_root_cause: BTreeMap<String, u64>,
    /// Cases by the finding of their latest stage response (cases without
    /// one are not counted).
    pub by_finding: Vec<(Finding, u64)>,
    /// The lessons of every stage response that recorded one, by root
    /// cause; under each, in the order the report first meets them (oldest
    /// receipt first, then by case id, then stage response order).
    pub lessons_by_root_cause: BTreeMap<String, Vec<LessonCases>>,
    /// Promises by deadline kind, as of the report's `now`. A kind appears
    /// once a case holds a promise of it that the report weighs (see
    /// [`statistics_received_between`]), even when all its counts are zero.
    pub sla: BTreeMap<DeadlineKind, SlaCounts>,
    /// The median, over acknowledgement promises kept (in time or late), of
    /// the time from the case's receipt to keeping it.
    pub median_time_to_acknowledge: Option<Duration>,
    /// The same for stage 1 resolution promises.
    pub median_time_to_resolve: Option<Duration>,
    /// Cases with a stage 2 review request.
    pub review_count: u64,
    /// Cases with a director (stage 3) request.
    pub director_count: u64,
    /// Cases referred to the external body.
    pub tsa_count: u64,
}

/// The statistics of the cases received in the local date range `from` to
/// `to` (inclusive), as of `now`, computed by the database.
///
/// The rules, for each due date of each case:
/// - a promise pending after its due instant, or kept after it, is
///   breached; one kept in time is met; one pending before its due instant
///   is pending; a cancelled one counts in none of them;
/// - a referral-update promise is weighed only if a stage 1 referral was
///   open at its due instant (opened at or before it and not answered by
///   then); otherwise there was nothing to keep or break, and only a kept
///   one is counted, as met;
/// - the times to acknowledge and to resolve run from the case's receipt to
///   the keeping of each kept `acknowledge` and `resolve` promise; the
///   median of an even count is the midpoint of the middle two, rounded
///   down to the nanosecond.
///
/// Read in one transaction (on Postgres a read-only, repeatable-read one,
/// so that every statement sees the same snapshot) so that the parts agree.
pub async fn statistics_received_between(
    db: &(impl ConnectionTrait + TransactionTrait),
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<CaseStatistics, StoreError> {
    let backend = db.get_database_backend();
    let now_ns = now
        .timestamp_nanos_opt()
        .ok_or_else(|| StoreError::corrupt(format!("the instant {now} is out of range")))?;
    let read = match backend {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    let sql = Sql::new(backend);
    let range = [Value::from(from.to_string()), Value::from(to.to_string())];
    let mut stats = CaseStatistics::default();

    let mut findings: BTreeMap<&'static str, (Finding, u64)> = BTreeMap::new();
    for row in read
        .query_all_raw(sql.statement(sql.cases_query(), range.clone()))
        .await?
    {
        let cases = count(&row, "cases")?;
        let stage: String = row.try_get("", "stage")?;
        let stage: Stage = stage
            .parse()
            .map_err(|_| StoreError::corrupt(format!("unknown stage {stage:?}")))?;
        let channel: String = row.try_get("", "channel")?;
        let channel: Channel = channel
            .parse()
            .map_err(|_| StoreError::corrupt(format!("unknown channel {channel:?}")))?;
        stats.total += cases;
        *stats.by_stage.entry(stage).or_default() += cases;
        *stats.by_channel.entry(channel).or_default() += cases;
        if let Some(finding) = row.try_get::<Option<String>>("", "finding")? {
            let finding = Finding::ALL
                .into_iter()
                .find(|known| known.as_str() == finding)
                .ok_or_else(|| StoreError::corrupt(format!("unknown finding {finding:?}")))?;
            findings.entry(finding.as_str()).or_insert((finding, 0)).1 += cases;
        }
        stats.review_count += count(&row, "reviews")?;
        stats.director_count += count(&row, "directors")?;
        stats.tsa_count += count(&row, "tsa_referrals")?;
    }
    stats.by_finding = findings.into_values().collect();

    for row in read
        .query_all_raw(sql.statement(sql.root_causes_query(), range.clone()))
        .await?
    {
        stats
            .by_root_cause
            .insert(row.try_get("", "root_cause")?, count(&row, "responses")?);
    }

    let mut values = range.to_vec();
    values.push(Value::from(now_ns));
    for row in read
        .query_all_raw(sql.statement(sql.due_dates_query(), values))
        .await?
    {
        let kind: String = row.try_get("", "kind")?;
        let kind = DeadlineKind::ALL
            .into_iter()
            .find(|known| known.as_str() == kind)
            .ok_or_else(|| StoreError::corrupt(format!("unknown deadline kind {kind:?}")))?;
        stats.sla.insert(
            kind,
            SlaCounts {
                met: count(&row, "met")?,
                breached: count(&row, "breached")?,
                pending: count(&row, "pending")?,
            },
        );
        let median = row
            .try_get::<Option<i64>>("", "median_ns")?
            .map(Duration::nanoseconds);
        match kind {
            DeadlineKind::Acknowledge => stats.median_time_to_acknowledge = median,
            DeadlineKind::Resolve => stats.median_time_to_resolve = median,
            _ => {}
        }
    }

    // Rows come lesson by lesson, each lesson's cases in report order.
    for row in read
        .query_all_raw(sql.statement(sql.lessons_query(), range.to_vec()))
        .await?
    {
        let root_cause: String = row.try_get("", "root_cause")?;
        let text: String = row.try_get("", "lesson")?;
        let register_number: String = row.try_get("", "register_number")?;
        let lessons = stats.lessons_by_root_cause.entry(root_cause).or_default();
        match lessons.last_mut() {
            Some(last) if last.text == text => last.register_numbers.push(register_number),
            _ => lessons.push(LessonCases {
                text,
                register_numbers: vec![register_number],
            }),
        }
    }
    read.commit().await?;
    Ok(stats)
}

/// A non-negative count from a row.
fn count(row: &QueryResult, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get("", column)?;
    u64::try_from(value).map_err(StoreError::corrupt)
}

/// The statements, in the dialect of one backend. Postgres reads the
/// snapshot as `jsonb`; SQLite with its JSON functions.
struct Sql {
    backend: DatabaseBackend,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        Self { backend }
    }

    fn postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    fn statement(&self, sql: String, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, values)
    }

    /// The `n`th bound parameter (from 1).
    fn param(&self, n: usize) -> String {
        if self.postgres() {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    }

    /// `WITH report AS (…)`: the cases received in the range (parameters 1
    /// and 2), with their snapshot as `s`.
    fn report(&self) -> String {
        let snapshot = if self.postgres() {
            "snapshot::jsonb"
        } else {
            "snapshot"
        };
        format!(
            "report AS (SELECT id, register_number, stage, channel, received_at, \
             {snapshot} AS s FROM cases \
             WHERE received_on >= {} AND received_on <= {})",
            self.param(1),
            self.param(2)
        )
    }

    /// The JSON value at `path` (keys from the root) of the JSON in
    /// `json`, as SQL text; NULL when missing or JSON `null`.
    fn text(&self, json: &str, path: &[&str]) -> String {
        if self.postgres() {
            match path.split_last() {
                None => json.to_owned(),
                Some((last, init)) => {
                    let mut expr = json.to_owned();
                    for key in init {
                        expr.push_str(&format!(" -> '{key}'"));
                    }
                    format!("({expr} ->> '{last}')")
                }
            }
        } else {
            format!("json_extract({json}, '$.{}')", path.join("."))
        }
    }

    /// `FROM`-clause item: the elements of the array at `path` in `json`,
    /// as `alias.value`, with their position as `alias.key` (on SQLite a
    /// table-valued function: it takes no correlated subquery there).
    fn elements(&self, json: &str, path: &[&str], alias: &str) -> String {
        if self.postgres() {
            let mut array = json.to_owned();
            for key in path {
                array.push_str(&format!(" -> '{key}'"));
            }
            format!("jsonb_array_elements({array}) WITH ORDINALITY AS {alias}(value, key)")
        } else {
            format!("json_each({json}, '$.{}') AS {alias}", path.join("."))
        }
    }

    /// The instant in the RFC 3339 text `t` (as chrono writes a UTC
    /// instant: seconds, then optionally `.` and up to 9 digits, then `Z`)
    /// as whole nanoseconds since the epoch; NULL when `t` is.
    fn nanos(&self, t: &str) -> String {
        let (seconds, digits) = if self.postgres() {
            (
                format!("extract(epoch FROM substr({t}, 1, 19)::timestamp)::bigint"),
                format!("rpad(substr({t}, 21, greatest(length({t}) - 21, 0)), 9, '0')::bigint"),
            )
        } else {
            (
                format!("unixepoch(substr({t}, 1, 19))"),
                format!(
                    "CAST(substr(substr({t}, 21, max(length({t}) - 21, 0)) || '000000000', 1, 9) \
                     AS INTEGER)"
                ),
            )
        };
        format!(
            "({seconds} * 1000000000 + CASE WHEN substr({t}, 20, 1) = '.' THEN {digits} ELSE 0 END)"
        )
    }

    /// Cases by stage, channel and latest finding, with how many of them
    /// asked for a review, asked for a director or went to the external
    /// body.
    fn cases_query(&self) -> String {
        let finding = if self.postgres() {
            "(s -> 'case' -> 'responses' -> (-1) ->> 'finding')".to_owned()
        } else {
            "json_extract(s, '$.case.responses[#-1].finding')".to_owned()
        };
        let present = |key: &str| {
            format!(
                "CASE WHEN {} IS NULL THEN 0 ELSE 1 END",
                self.text("s", &["case", key])
            )
        };
        format!(
            "WITH {report}, \
             each_case AS (SELECT stage, channel, {finding} AS finding, \
               {review} AS review, {director} AS director, {tsa} AS tsa FROM report) \
             SELECT stage, channel, finding, COUNT(*) AS cases, SUM(review) AS reviews, \
               SUM(director) AS directors, SUM(tsa) AS tsa_referrals \
             FROM each_case GROUP BY stage, channel, finding",
            report = self.report(),
            review = present("review_request"),
            director = present("director_request"),
            tsa = present("tsa_reference"),
        )
    }

    /// Stage responses by root cause.
    fn root_causes_query(&self) -> String {
        format!(
            "WITH {report}, \
             responses AS (SELECT {root_cause} AS root_cause \
               FROM report CROSS JOIN {responses}) \
             SELECT root_cause, COUNT(*) AS responses FROM responses GROUP BY root_cause",
            report = self.report(),
            root_cause = self.text("r.value", &["root_cause"]),
            responses = self.elements("report.s", &["case", "responses"], "r"),
        )
    }

    /// Promises by deadline kind (parameter 3: now, in nanoseconds since
    /// the epoch): met, breached, pending, and the median time from receipt
    /// to keeping of the kinds that have one.
    fn due_dates_query(&self) -> String {
        let field = |key: &str| self.text("d.value", &[key]);
        let referral = |key: &str| self.text("f.value", &[key]);
        let now = self.param(3);
        format!(
            "WITH {report}, \
             due AS (SELECT {kind} AS kind, {state} AS state, \
               {due_ns} AS due_ns, {settled_ns} AS settled_ns, {received_ns} AS received_ns, \
               report.s AS s \
               FROM report CROSS JOIN {due_dates}), \
             weighed AS (SELECT kind, state, settled_ns, received_ns, \
               CASE WHEN kind = 'referral_update' AND NOT EXISTS (\
                 SELECT 1 FROM {referrals} \
                 WHERE {referral_stage} = 'stage_1' AND {opened_ns} <= due.due_ns \
                   AND ({responded} IS NULL OR {responded_ns} > due.due_ns)\
               ) THEN 0 ELSE 1 END AS weighed, \
               CASE WHEN (state = 'pending' AND {now} > due_ns) \
                 OR (state = 'met' AND settled_ns > due_ns) THEN 1 ELSE 0 END AS late \
               FROM due), \
             counted AS (SELECT kind, \
               CASE WHEN state = 'met' AND (weighed = 0 OR late = 0) THEN 1 ELSE 0 END AS met, \
               CASE WHEN weighed = 1 AND late = 1 THEN 1 ELSE 0 END AS breached, \
               CASE WHEN weighed = 1 AND late = 0 AND state = 'pending' THEN 1 ELSE 0 END \
                 AS pending \
               FROM weighed WHERE weighed = 1 OR state = 'met'), \
             sla AS (SELECT kind, SUM(met) AS met, SUM(breached) AS breached, \
               SUM(pending) AS pending FROM counted GROUP BY kind), \
             took AS (SELECT kind, settled_ns - received_ns AS took FROM weighed \
               WHERE state = 'met' AND settled_ns IS NOT NULL \
                 AND kind IN ('acknowledge', 'resolve')), \
             ranked AS (SELECT kind, took, \
               ROW_NUMBER() OVER (PARTITION BY kind ORDER BY took) AS n, \
               COUNT(*) OVER (PARTITION BY kind) AS of_n FROM took), \
             medians AS (SELECT kind, MIN(took) + (MAX(took) - MIN(took)) / 2 AS median_ns \
               FROM ranked WHERE n = (of_n + 1) / 2 OR n = (of_n + 2) / 2 GROUP BY kind) \
             SELECT sla.kind, sla.met, sla.breached, sla.pending, medians.median_ns \
             FROM sla LEFT JOIN medians ON medians.kind = sla.kind",
            report = self.report(),
            kind = field("kind"),
            state = field("state"),
            due_ns = self.nanos(&field("due_at")),
            settled_ns = self.nanos(&field("settled_at")),
            received_ns = self.nanos(&self.text("report.s", &["case", "received_at"])),
            due_dates = self.elements("report.s", &["due_dates"], "d"),
            referrals = self.elements("due.s", &["case", "referrals"], "f"),
            referral_stage = referral("stage"),
            opened_ns = self.nanos(&referral("opened_at")),
            responded = referral("responded_at"),
            responded_ns = self.nanos(&referral("responded_at")),
        )
    }

    /// Each (root cause, lesson, case) once, lesson by lesson in the order
    /// the report first meets them, each lesson's cases in report order.
    fn lessons_query(&self) -> String {
        let field = |key: &str| self.text("r.value", &[key]);
        format!(
            "WITH {report}, \
             said AS (SELECT report.register_number, {root_cause} AS root_cause, \
               {lesson} AS lesson, \
               ROW_NUMBER() OVER (ORDER BY report.received_at, report.id, r.key) AS said_at \
               FROM report CROSS JOIN {responses} WHERE {lesson} IS NOT NULL), \
             in_case AS (SELECT root_cause, lesson, register_number, \
               MIN(said_at) AS first_in_case \
               FROM said GROUP BY root_cause, lesson, register_number), \
             lessons AS (SELECT root_cause, lesson, register_number, first_in_case, \
               MIN(first_in_case) OVER (PARTITION BY root_cause, lesson) AS first_said \
               FROM in_case) \
             SELECT root_cause, lesson, register_number FROM lessons \
             ORDER BY root_cause, first_said, first_in_case",
            report = self.report(),
            root_cause = field("root_cause"),
            lesson = field("lessons_learned"),
            responses = self.elements("report.s", &["case", "responses"], "r"),
        )
    }
}
