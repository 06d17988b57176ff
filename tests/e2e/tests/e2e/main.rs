//! End-to-end tests: the platform's real binaries as separate processes,
//! driven over gRPC the way integrations and operators use them.
//!
//! - `embedded`: `complaints dev`, the one-process suite on SQLite.
//! - `production`: the `case` and `intake` processes on Postgres, talking to
//!   each other over gRPC (only when `DATABASE_URL` names a Postgres server;
//!   always in CI).
//! - The policy (`docs/policy.md`) on `complaints dev --test-clock`, time
//!   moved over gRPC from fixed instants, every due date written down
//!   (`policy_support` holds the shared journey and its timetable), one file
//!   per rule:
//!   - `r1_acknowledge`: acknowledged within 3 working days, by the route the
//!     complaint came in; the stage 1 clocks start;
//!   - `r2_resolve`: resolved within 10 working days, or warned, breached
//!     and alerted; a late response still goes;
//!   - `r3_referral_update`: a complaint waiting on another department is
//!     reported at day 5;
//!   - `stage2_review`: the review (R4), escalated to the Operations Lead
//!     when unanswered (R5);
//!   - `stage3_director`: a director's stage 3 and final response (R6);
//!   - `tsa`: the final response names the TSA; the referral is recorded
//!     (R7);
//!   - `closing`: a closed case keeps no clock running;
//!   - `extensions`: an extension and a pause move due dates by working
//!     days and tell the complainant; a breached resolution date without an
//!     extension brings one holding notice;
//!   - `correspondence`: every message in the policy's order, by the right
//!     route (R8-R10), in the outbox folder;
//!   - `working_days`: due dates from awkward receipt instants (holidays,
//!     London midnight, clock changes);
//!   - `test_clock`: the clock service the policy tests move time with;
//!   - `threading`: a reply to the acknowledgement joins its case, and the
//!     platform's emails answer the complaint's, so they thread.
//! - `cli_steps`: the `complaints` client commands, as a person runs them,
//!   take one complaint from logging to the TSA, printing words (no raw
//!   enum names) and dates on the policy tests' timetable.
//! - `escalation_processes`: several `escalation` processes on one Postgres
//!   and one Redis fire every deadline once in effect, through lost
//!   indexes and SIGKILLs (only when `DATABASE_URL` and `REDIS_URL` are set;
//!   always in CI).
//!
//! - `assignment`: a case assigned to a handler is the one in their list,
//!   is found by its complainant's phone, postcode or customer reference,
//!   and its warning goes to the handler's own staff mailbox.
//!
//! - `erasure`: after `EraseComplainant` no call and no file under the
//!   data folder (the SQLite database included) holds the person's name,
//!   email address, phone number or postal address.
//!
//! - `one_trace`: the four production processes on Postgres: one
//!   complaint is one trace across all of them (outbox, delivery and the
//!   notice recorded back on the case included), and every process's first
//!   `/metrics` scrape carries the families dashboards and alerts use.
//!
//! - `tls`: the four production processes with mutual TLS on every hop
//!   carry a complaint to its acknowledgement; a plaintext client is refused.
//!
//! - `watch_events`: a CRM following `WatchCaseEvents` that reconnects from
//!   its last cursor gets every event once, in order.
//!
//! `bank_holidays` is the tests' own working-day table, for the tests whose
//! receipt is the real time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bank_holidays;
mod clock_suite;
mod policy_support;
mod support;

mod assignment;
mod cli_steps;
mod embedded;
mod erasure;
mod escalation_processes;
mod one_trace;
mod production;
mod tls;

mod closing;
mod correspondence;
mod extensions;
mod r1_acknowledge;
mod r2_resolve;
mod r3_referral_update;
mod stage2_review;
mod stage3_director;
mod test_clock;
mod threading;
mod tsa;
mod watch_events;
mod working_days;
