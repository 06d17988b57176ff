//! 100,000 deadlines fired by two "processes" sharing Postgres and Redis:
//! each with its own connection pool, Redis connection and workers; one
//! completes deadline by deadline, the other a claimed batch at once. Runs
//! only where both are present (always in CI).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use complaints_deadlines::{DeadlineQueue, FireOutcome, RedisQueue, WorkerId};
use complaints_test_support::TestDb;

use crate::support::*;

const DEADLINES: usize = 100_000;
const WORKERS_PER_PROCESS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_deadlines_fire_exactly_once_across_two_processes() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let Some(redis_url) = complaints_test_support::redis_url() else {
        return;
    };
    let keys = RedisKeys::unique(&redis_url);
    let mut processes: Vec<Arc<RedisQueue>> = Vec::new();
    for _ in 0..2 {
        let pool = complaints_store::db::connect(&test.url).await.unwrap();
        processes.push(Arc::new(
            RedisQueue::connect(pool, &redis_url, keys.config())
                .await
                .unwrap(),
        ));
    }

    // Due over the last 1,000 seconds, scheduled half through each process.
    let started = std::time::Instant::now();
    let now = t0();
    let all = many(DEADLINES, |i| {
        now - chrono::TimeDelta::milliseconds((i * 10) as i64)
    });
    for (n, batch) in all.chunks(2_000).enumerate() {
        processes[n % 2]
            .schedule_many(batch.to_vec())
            .await
            .unwrap();
    }
    assert_eq!(
        processes[0].count_pending().await.unwrap(),
        DEADLINES as u64
    );
    eprintln!("scheduled {DEADLINES} in {:?}", started.elapsed());
    let started = std::time::Instant::now();

    let mut workers = Vec::new();
    for (p, process) in processes.iter().enumerate() {
        for w in 0..WORKERS_PER_PROCESS {
            let queue = process.clone();
            let worker = WorkerId::new(format!("process-{p}-worker-{w}")).unwrap();
            workers.push(tokio::spawn(async move {
                let mut fired = Vec::new();
                loop {
                    let claimed = queue
                        .claim_due(now, 250, &worker, Duration::from_secs(300))
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return fired;
                    }
                    if p == 0 {
                        // One deadline at a time.
                        for claim in claimed {
                            let id = claim.deadline.deadline_id;
                            if queue
                                .complete_fire(id, &worker, FireOutcome::Breached, now)
                                .await
                                .unwrap()
                            {
                                fired.push(id);
                            }
                        }
                    } else {
                        // The claimed batch at once.
                        let batch: Vec<_> = claimed
                            .iter()
                            .map(|claim| (claim.deadline.deadline_id, FireOutcome::Breached))
                            .collect();
                        fired.extend(
                            queue
                                .complete_fire_many(&batch, &worker, now)
                                .await
                                .unwrap(),
                        );
                    }
                }
            }));
        }
    }
    let mut fired = Vec::with_capacity(DEADLINES);
    let mut per_process = [0_usize; 2];
    for (n, worker) in workers.into_iter().enumerate() {
        let got = worker.await.unwrap();
        per_process[n / WORKERS_PER_PROCESS] += got.len();
        fired.extend(got);
    }

    eprintln!(
        "fired {} in {:?}: {per_process:?}",
        fired.len(),
        started.elapsed()
    );
    let unique: HashSet<_> = fired.iter().collect();
    assert_eq!(unique.len(), fired.len(), "a deadline fired twice");
    assert_eq!(fired.len(), DEADLINES, "every deadline fired");
    assert!(
        per_process.iter().all(|&n| n > 0),
        "both processes fired: {per_process:?}"
    );
    for process in &processes {
        assert_eq!(process.count_pending().await.unwrap(), 0);
        assert_eq!(process.next_due_at().await.unwrap(), None);
    }
}
