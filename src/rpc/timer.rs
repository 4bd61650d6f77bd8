//! Timed jobs: [`schedule`] queues a job onto a pool at a given instant.
//!
//! Work that must happen later (a protocol period, the deadline of a call
//! whose answer may never come) is a job like any other, run by the
//! execution streams of the pool it belongs to: nothing sleeps in a pool
//! waiting for its time. One thread of the process (`mochi-timer`) keeps
//! the pending entries in a heap and blocks on a condition variable until
//! the earliest is due (no polling, no naps), then pushes the job onto its
//! pool. The thread starts with the first entry and exits once no entry
//! has been pending for [`LINGER`], so a process that schedules nothing has
//! no such thread, and one that stopped scheduling loses it.
//!
//! Entries hold their pool weakly: a timer never keeps a pool alive, and
//! the job of a pool that is gone when its time comes is dropped.
//!
//! `finalize` does not join the thread: it is shared by every engine of the
//! process, holds nothing of an engine (pools weakly, jobs that answer to
//! dead pools are dropped unrun) and is blocked on its condition variable
//! until it leaves by itself, [`LINGER`] after its last entry.

use super::pool::{Job, Pool};
use parking_lot::{Condvar, Mutex};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the timer thread stays once nothing is pending.
const LINGER: Duration = Duration::from_secs(2);

/// Identifies a scheduled job, to [`cancel`] it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

#[derive(Default)]
struct Queue {
    /// Due times; an id no longer in `jobs` was cancelled.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    jobs: HashMap<u64, (Weak<Pool>, Job)>,
    next_id: u64,
    /// True while the timer thread runs (it clears this as it exits).
    running: bool,
    /// The last timer thread started, joined before the next starts.
    thread: Option<JoinHandle<()>>,
}

struct Timers {
    queue: Mutex<Queue>,
    cv: Condvar,
}

fn timers() -> &'static Timers {
    static TIMERS: OnceLock<Timers> = OnceLock::new();
    TIMERS.get_or_init(|| Timers { queue: Mutex::new(Queue::default()), cv: Condvar::new() })
}

/// Pushes `job` onto `pool` at `at` (at once if `at` has passed). Returns
/// `None` only if the timer thread cannot be started; the job is then
/// dropped.
pub fn schedule(at: Instant, pool: &Arc<Pool>, job: Job) -> Option<TimerId> {
    let t = timers();
    let mut q = t.queue.lock();
    let id = q.next_id;
    q.next_id += 1;
    q.heap.push(Reverse((at, id)));
    q.jobs.insert(id, (Arc::downgrade(pool), job));
    if !q.running {
        // The previous thread has cleared `running` under this lock and
        // returns at once: joining it is quick.
        if let Some(old) = q.thread.take() {
            let _ = old.join();
        }
        match std::thread::Builder::new().name("mochi-timer".into()).spawn(run) {
            Ok(h) => {
                q.thread = Some(h);
                q.running = true;
            }
            Err(e) => {
                q.jobs.remove(&id);
                crate::error!("cannot start the timer thread: {e}");
                return None;
            }
        }
    }
    // Wake the thread if this entry is now the earliest (cheap otherwise).
    if q.heap.peek().is_some_and(|Reverse((_, first))| *first == id) {
        t.cv.notify_one();
    }
    Some(TimerId(id))
}

/// Removes a job that has not been pushed onto its pool yet; true if it
/// was (the job is dropped here).
pub fn cancel(id: TimerId) -> bool {
    let removed = timers().queue.lock().jobs.remove(&id.0);
    // Dropped outside the lock: a job may own anything.
    removed.is_some()
}

/// The timer thread: pushes due jobs, sleeps until the next one is due.
fn run() {
    let t = timers();
    let mut q = t.queue.lock();
    let mut idle_since: Option<Instant> = None;
    loop {
        // Cancelled entries at the front are dropped as we meet them.
        while let Some(Reverse((_, id))) = q.heap.peek() {
            if q.jobs.contains_key(id) {
                break;
            }
            q.heap.pop();
        }
        let now = Instant::now();
        match q.heap.peek().map(|Reverse(e)| *e) {
            Some((at, id)) if at <= now => {
                q.heap.pop();
                idle_since = None;
                if let Some((pool, job)) = q.jobs.remove(&id) {
                    // Pushed (or dropped) outside the lock.
                    drop(q);
                    if let Some(pool) = pool.upgrade() {
                        pool.push(job);
                    }
                    q = t.queue.lock();
                }
            }
            Some((at, _)) => {
                idle_since = None;
                t.cv.wait_until(&mut q, at);
            }
            None => {
                let since = *idle_since.get_or_insert(now);
                if now.duration_since(since) >= LINGER {
                    q.running = false;
                    // Cancelled entries' ids may linger in the heap only
                    // while jobs exist; both are empty here.
                    q.heap.clear();
                    return;
                }
                t.cv.wait_until(&mut q, since + LINGER);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pool::Xstream;
    use crossbeam_channel::unbounded;

    #[test]
    fn jobs_run_in_time_order_and_cancelled_ones_never() {
        let pool = Pool::new("timers");
        let _xs = Xstream::spawn("timers", vec![pool.clone()]).unwrap();
        let (tx, rx) = unbounded();
        let start = Instant::now();
        let mut ids = Vec::new();
        for (i, ms) in [(0, 120u64), (1, 40), (2, 80), (3, 60)] {
            let tx = tx.clone();
            let id = schedule(start + Duration::from_millis(ms), &pool, Box::new(move || tx.send(i).unwrap())).unwrap();
            ids.push(id);
        }
        assert!(cancel(ids[3]));
        assert!(!cancel(ids[3]), "a job is cancelled once");
        let got: Vec<i32> = (0..3).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(got, vec![1, 2, 0]);
        assert!(start.elapsed() >= Duration::from_millis(120));
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "the cancelled job did not run");
        assert!(!cancel(ids[0]), "a job that ran cannot be cancelled");
    }

    #[test]
    fn a_job_for_a_pool_that_is_gone_is_dropped() {
        let (tx, rx) = unbounded::<()>();
        let pool = Pool::new("gone");
        schedule(Instant::now() + Duration::from_millis(20), &pool, Box::new(move || drop(tx))).unwrap();
        drop(pool);
        // The job (and the sender it owns) is dropped when due, unrun.
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(crossbeam_channel::RecvTimeoutError::Disconnected));
    }
}
