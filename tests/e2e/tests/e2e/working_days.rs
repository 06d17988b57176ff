//! Working days, as R1 and R2 count them: a complaint's acknowledge-by date
//! is the 3rd and its resolve-by date the 10th working day strictly after
//! the London date of receipt, a working day being Monday to Friday except
//! an England and Wales bank holiday (substitute days included), and each
//! falls due at the next London midnight after it (23:00 UTC in summer
//! time). Complaints received at awkward instants (by Christmas, Easter and
//! the May and August bank holidays, around London midnight, and across both
//! clock changes) are submitted, and the due dates each answer gives are
//! compared with dates worked out by hand. The rule in full:
//! `docs/policy.md`.

use complaints_proto::complaints::common::v1 as common;

use crate::clock_suite::{Clients, Suite};
use crate::policy_support::{RECEIVED_AT, at, complaint, move_clock_to};
use crate::support::DueDates;

/// Receipt instants (UTC), what they are, and their due dates: acknowledge
/// by (date, instant), resolve by (date, instant).
const CASES: [(&str, &str, [&str; 4]); 9] = [
    (
        "2031-12-24T12:00:00Z",
        "Wednesday 24 December 2031: past Christmas Day and Boxing Day (Thursday, \
         Friday) and the weekend to Monday 29-Wednesday 31 December; then New Year's Day \
         (Thursday 1 January 2032)",
        [
            "2031-12-31",
            "2032-01-01T00:00:00Z",
            "2032-01-12",
            "2032-01-13T00:00:00Z",
        ],
    ),
    (
        "2032-03-25T12:00:00Z",
        "Thursday 25 March 2032, GMT: Good Friday 26, Easter Monday 29 March, so Tuesday 30 \
         March-Thursday 1 April; summer time began on Sunday 28 March, so the due dates end \
         at 23:00 UTC",
        [
            "2032-04-01",
            "2032-04-01T23:00:00Z",
            "2032-04-12",
            "2032-04-12T23:00:00Z",
        ],
    ),
    (
        "2032-05-02T11:00:00Z",
        "Sunday 2 May 2032: the Early May bank holiday (Monday 3) is skipped too",
        [
            "2032-05-06",
            "2032-05-06T23:00:00Z",
            "2032-05-17",
            "2032-05-17T23:00:00Z",
        ],
    ),
    (
        "2032-06-30T22:59:59Z",
        "23:59:59 on Wednesday 30 June 2032 in London (BST): still the 30th",
        [
            "2032-07-05",
            "2032-07-05T23:00:00Z",
            "2032-07-14",
            "2032-07-14T23:00:00Z",
        ],
    ),
    (
        "2032-06-30T23:00:00Z",
        "a second later, midnight in London: Thursday 1 July",
        [
            "2032-07-06",
            "2032-07-06T23:00:00Z",
            "2032-07-15",
            "2032-07-15T23:00:00Z",
        ],
    ),
    (
        "2032-08-27T23:30:00Z",
        "23:30 UTC on Friday 27 August 2032 is 00:30 on Saturday 28 in London; the summer \
         bank holiday (Monday 30) is skipped",
        [
            "2032-09-02",
            "2032-09-02T23:00:00Z",
            "2032-09-13",
            "2032-09-13T23:00:00Z",
        ],
    ),
    (
        "2032-10-22T09:00:00Z",
        "Friday 22 October 2032: acknowledged by Wednesday 27 (BST, ends 23:00 UTC); summer \
         time ends on Sunday 31, so the resolve-by date, Friday 5 November, ends at midnight \
         UTC",
        [
            "2032-10-27",
            "2032-10-27T23:00:00Z",
            "2032-11-05",
            "2032-11-06T00:00:00Z",
        ],
    ),
    (
        "2032-11-30T23:59:59Z",
        "23:59:59 on Tuesday 30 November 2032 (GMT): still the 30th",
        [
            "2032-12-03",
            "2032-12-04T00:00:00Z",
            "2032-12-14",
            "2032-12-15T00:00:00Z",
        ],
    ),
    (
        "2032-12-01T00:00:00Z",
        "a second later: Wednesday 1 December",
        [
            "2032-12-06",
            "2032-12-07T00:00:00Z",
            "2032-12-15",
            "2032-12-16T00:00:00Z",
        ],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_dates_skip_weekends_and_bank_holidays_and_count_from_the_london_date() {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    // Every receipt above is in the year before the story's receipt, the
    // furthest a receipt may be back-dated.
    move_clock_to(&mut c, RECEIVED_AT).await;
    for (n, (received_at, what, [ack, ack_at, resolve, resolve_at])) in
        CASES.into_iter().enumerate()
    {
        let request = complaint(
            &format!("working-days-{n}"),
            common::Channel::Web,
            at(received_at),
        );
        let response = c
            .integration
            .submit_complaint(request)
            .await
            .unwrap_or_else(|status| panic!("received {what}: refused: {status:?}"))
            .into_inner();
        assert_eq!(
            DueDates::of(&response),
            DueDates::literal(ack, ack_at, resolve, resolve_at),
            "received {received_at}, {what}"
        );
    }
    suite.process.ensure_running().unwrap();
}
