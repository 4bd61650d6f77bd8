//! Handler pools and the threads ("execution streams") that drain them.
//!
//! A pool is a lock-free crossbeam channel of jobs. An execution stream is
//! one OS thread that serves its pools in priority order (the first listed
//! pool first), blocking on all of them at once when they are empty. This is
//! the Margo `argobots.pools` / `argobots.xstreams` config made real.

use crossbeam_channel::{unbounded, Receiver, Select, Sender};
use parking_lot::Mutex;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// One queue of jobs. Its address is what C sees as an `ABT_pool`.
pub struct Pool {
    name: Mutex<String>,
    tx: Sender<Job>,
    rx: Receiver<Job>,
}

impl Pool {
    pub fn new(name: &str) -> Arc<Pool> {
        let (tx, rx) = unbounded();
        Arc::new(Pool { name: Mutex::new(name.to_string()), tx, rx })
    }

    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Queues a job; it runs on one of the execution streams serving this pool.
    pub fn push(&self, job: Job) {
        // Both ends live in `self`, so the channel cannot be disconnected.
        let _ = self.tx.send(job);
    }

    /// Jobs waiting to run.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

/// A running execution stream.
pub struct Xstream {
    pub name: String,
    pub pools: Vec<Arc<Pool>>,
    stopping: Arc<AtomicBool>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Xstream {
    pub fn spawn(name: &str, pools: Vec<Arc<Pool>>) -> std::io::Result<Xstream> {
        let (stop_tx, stop_rx) = unbounded::<()>();
        let served = pools.clone();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let thread =
            std::thread::Builder::new().name(format!("mochi-{name}")).spawn(move || serve(served, &flag, stop_rx))?;
        let thread_id = thread.thread().id();
        Ok(Xstream { name: name.to_string(), pools, stopping, stop: Some(stop_tx), thread: Some(thread), thread_id })
    }

    /// Asks the thread to stop: it runs the jobs already queued on its
    /// pools, then exits (under steady load too: jobs queued after the
    /// request are left to the pools' other streams). Joins it unless it is
    /// the calling thread (a handler may finalize its own engine; that
    /// thread then exits on its own once the handler returns).
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.take();
        if let Some(t) = self.thread.take() {
            if std::thread::current().id() != self.thread_id {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Xstream {
    fn drop(&mut self) {
        self.stop();
    }
}

thread_local! {
    /// True on execution-stream threads (handlers run there).
    static ON_XSTREAM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when called from a handler (an execution-stream thread).
pub fn on_xstream() -> bool {
    ON_XSTREAM.with(|f| f.get())
}

fn run(job: Job) {
    // A panicking handler must not take the execution stream down with it.
    if catch_unwind(AssertUnwindSafe(job)).is_err() {
        crate::error!("an RPC handler panicked; the execution stream keeps running");
    }
}

/// How long an idle execution stream polls its pools before it blocks on
/// them: a request that follows soon after the last one skips the wake-up.
/// Polling, not yielding: a yielding thread loses its core to busy
/// neighbours for a whole scheduler tick.
const POLL: Duration = Duration::from_micros(10);

fn next_job(pools: &[Arc<Pool>]) -> Option<Job> {
    pools.iter().find_map(|p| p.rx.try_recv().ok())
}

fn serve(pools: Vec<Arc<Pool>>, stopping: &AtomicBool, stop: Receiver<()>) {
    ON_XSTREAM.with(|f| f.set(true));
    let mut last_job = Instant::now();
    loop {
        if stopping.load(Ordering::SeqCst) {
            return finish(&pools);
        }
        // Serve pools in priority order before blocking.
        if let Some(job) = next_job(&pools) {
            run(job);
            last_job = Instant::now();
            continue;
        }
        if last_job.elapsed() < POLL {
            std::hint::spin_loop();
            continue;
        }
        let mut sel = Select::new();
        for p in &pools {
            sel.recv(&p.rx);
        }
        let stop_index = sel.recv(&stop);
        let op = sel.select();
        let index = op.index();
        if index == stop_index {
            // Disconnected (or a message): either way, time to go.
            let _ = op.recv(&stop);
            return finish(&pools);
        }
        if let Ok(job) = op.recv(&pools[index].rx) {
            run(job);
            last_job = Instant::now();
        }
    }
}

/// Runs what is queued on `pools` at the time of the stop request (so no
/// caller waits for its timeout), and no more.
fn finish(pools: &[Arc<Pool>]) {
    let queued: usize = pools.iter().map(|p| p.len()).sum();
    for _ in 0..queued {
        match next_job(pools) {
            Some(job) => run(job),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn jobs_run_and_streams_stop() {
        let a = Pool::new("a");
        let b = Pool::new("b");
        let mut xs = Xstream::spawn("x", vec![a.clone(), b.clone()]).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = unbounded();
        for i in 0..100 {
            let c = count.clone();
            let d = done_tx.clone();
            let job: Job = Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
                let _ = d.send(());
            });
            if i % 2 == 0 {
                a.push(job)
            } else {
                b.push(job)
            }
        }
        b.push(Box::new(|| panic!("handler panic must be contained")));
        for _ in 0..100 {
            done_rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 100);
        xs.stop();
    }

    #[test]
    fn stop_runs_queued_jobs_then_returns_under_load() {
        let pool = Pool::new("p");
        let started = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let mut xs = Xstream::spawn("x", vec![pool.clone()]).unwrap();
        // A slow first job, so that the others are queued when stop comes.
        let s = started.clone();
        pool.push(Box::new(move || {
            s.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }));
        for _ in 0..50 {
            let r = ran.clone();
            pool.push(Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }));
        }
        while started.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // A producer that never stops must not keep the stream alive.
        let feeding = Arc::new(AtomicBool::new(true));
        let feeder = {
            let (pool, feeding) = (pool.clone(), feeding.clone());
            std::thread::spawn(move || {
                while feeding.load(Ordering::SeqCst) {
                    pool.push(Box::new(|| std::thread::sleep(std::time::Duration::from_micros(50))));
                    std::thread::sleep(std::time::Duration::from_micros(20));
                }
            })
        };
        xs.stop();
        feeding.store(false, Ordering::SeqCst);
        feeder.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 50, "every job queued before the stop ran");
    }
}
