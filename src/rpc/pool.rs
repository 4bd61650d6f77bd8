//! Handler pools and the threads ("execution streams") that drain them.
//!
//! A pool is a lock-free crossbeam channel of jobs. An execution stream is
//! one OS thread that serves its pools in priority order (the first listed
//! pool first). This is the Margo `argobots.pools` / `argobots.xstreams`
//! config made real.
//!
//! One stream per engine also drives network progress: the one serving the
//! engine's `progress_pool` (as in Margo, where the progress loop is a
//! thread of that pool). It alternates between its jobs and the endpoint,
//! and when both are idle it sleeps on the endpoint's waiter ([`Driver`]),
//! which jobs pushed to its pools ring too. With Margo's default layout
//! (progress and handlers on `__primary__`) a request is read and handled
//! by the same thread, with no hand-off. The other streams block on their
//! pools' channels.

use super::spin::Spinner;
use crossbeam_channel::{unbounded, Receiver, Select, Sender};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an execution stream polls after its last job (see `spin.rs`).
const POLL: Duration = Duration::from_micros(50);

/// The endpoint side of the stream that drives progress.
pub(crate) trait Driver: Send + Sync {
    /// Drives the endpoint once and dispatches what it found; true if
    /// anything moved.
    fn drive(&self) -> bool;
    /// Sleeps until rung (a peer, a job for `pools`, a stop), `until` (if
    /// given) or a spurious wake-up; returns at once if work is there or
    /// `stopping` is raised.
    fn sleep(&self, pools: &[Arc<Pool>], until: Option<Instant>, stopping: &AtomicBool);
    /// Wakes the sleeping stream whether it announced itself or not.
    fn wake(&self);
    /// Wakes the stream if it sleeps (a job was queued for it).
    fn notify(&self);
    /// Identifies the endpoint waiter this driver sleeps on.
    fn waiter_id(&self) -> usize;
}

/// One queue of jobs. Its address is what C sees as an `ABT_pool`.
pub struct Pool {
    name: Mutex<String>,
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Set when the progress-driving stream serves this pool: it sleeps
    /// on the endpoint, not on this channel, so a push must ring it.
    driver: OnceLock<Arc<dyn Driver>>,
}

impl Pool {
    pub fn new(name: &str) -> Arc<Pool> {
        let (tx, rx) = unbounded();
        Arc::new(Pool { name: Mutex::new(name.to_string()), tx, rx, driver: OnceLock::new() })
    }

    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Queues a job; it runs on one of the execution streams serving this pool.
    pub fn push(&self, job: Job) {
        // Both ends live in `self`, so the channel cannot be disconnected.
        let _ = self.tx.send(job);
        if let Some(d) = self.driver.get() {
            d.notify();
        }
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
    driver: Option<Arc<dyn Driver>>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Xstream {
    /// Starts a stream serving `pools`.
    pub fn spawn(name: &str, pools: Vec<Arc<Pool>>) -> std::io::Result<Xstream> {
        Self::start(name, pools, None)
    }

    /// Starts the stream that also drives progress through `driver`.
    pub(crate) fn spawn_driver(name: &str, pools: Vec<Arc<Pool>>, driver: Arc<dyn Driver>) -> std::io::Result<Xstream> {
        for p in &pools {
            // A pool is served by at most one driving stream (one engine).
            let _ = p.driver.set(driver.clone());
        }
        Self::start(name, pools, Some(driver))
    }

    fn start(name: &str, pools: Vec<Arc<Pool>>, driver: Option<Arc<dyn Driver>>) -> std::io::Result<Xstream> {
        let (stop_tx, stop_rx) = unbounded::<()>();
        let served = pools.clone();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let d = driver.clone();
        let thread = std::thread::Builder::new().name(format!("mochi-{name}")).spawn(move || match d {
            Some(d) => drive(served, &flag, d),
            None => serve(served, &flag, stop_rx),
        })?;
        let thread_id = thread.thread().id();
        Ok(Xstream { name: name.to_string(), pools, stopping, stop: Some(stop_tx), driver, thread: Some(thread), thread_id })
    }

    /// True for the stream that drives progress.
    pub fn drives_progress(&self) -> bool {
        self.driver.is_some()
    }

    /// Asks the thread to stop: it runs the jobs already queued on its
    /// pools, then exits (under steady load too: jobs queued after the
    /// request are left to the pools' other streams). Joins it unless it is
    /// the calling thread (a handler may finalize its own engine; that
    /// thread then exits on its own once the handler returns).
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.take();
        if let Some(d) = &self.driver {
            d.wake();
        }
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

/// What the current thread is, if it is an execution stream.
struct StreamContext {
    pools: Vec<Arc<Pool>>,
    driver: Option<Arc<dyn Driver>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Arc<StreamContext>>> = const { RefCell::new(None) };
}

/// True when called from a handler (an execution-stream thread).
pub fn on_xstream() -> bool {
    CONTEXT.with(|c| c.borrow().is_some())
}

/// A driving stream's pools and driver.
pub(crate) type DrivingStream = (Vec<Arc<Pool>>, Arc<dyn Driver>);

/// If the calling thread is the stream driving `driver`'s progress: its
/// pools, to keep serving while it waits (a handler waiting for a call must
/// not stop the progress its answer needs).
pub(crate) fn driving_pools(is_ours: impl Fn(&Arc<dyn Driver>) -> bool) -> Option<DrivingStream> {
    CONTEXT.with(|c| {
        let ctx = c.borrow();
        let ctx = ctx.as_ref()?;
        let d = ctx.driver.as_ref()?;
        is_ours(d).then(|| (ctx.pools.clone(), d.clone()))
    })
}

pub(crate) fn run(job: Job) {
    // A panicking handler must not take the execution stream down with it.
    if catch_unwind(AssertUnwindSafe(job)).is_err() {
        crate::error!("an RPC handler panicked; the execution stream keeps running");
    }
}

pub(crate) fn next_job(pools: &[Arc<Pool>]) -> Option<Job> {
    pools.iter().find_map(|p| p.rx.try_recv().ok())
}

fn enter(pools: &[Arc<Pool>], driver: Option<Arc<dyn Driver>>) {
    request_short_slice();
    let ctx = Arc::new(StreamContext { pools: pools.to_vec(), driver });
    CONTEXT.with(|c| *c.borrow_mut() = Some(ctx));
}

/// A plain stream: jobs, a short poll, then block on the pools' channels.
fn serve(pools: Vec<Arc<Pool>>, stopping: &AtomicBool, stop: Receiver<()>) {
    enter(&pools, None);
    let mut spin = Spinner::new(POLL);
    loop {
        if stopping.load(Ordering::SeqCst) {
            return finish(&pools);
        }
        // Serve pools in priority order before blocking.
        if let Some(job) = next_job(&pools) {
            run(job);
            spin.restart();
            continue;
        }
        if spin.keep_going() {
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
        }
        spin = Spinner::new(POLL);
    }
}

/// The progress-driving stream: jobs first, then the endpoint, a short
/// poll, then sleep on the endpoint's waiter.
fn drive(pools: Vec<Arc<Pool>>, stopping: &AtomicBool, driver: Arc<dyn Driver>) {
    enter(&pools, Some(driver.clone()));
    let mut spin = Spinner::new(POLL);
    loop {
        if stopping.load(Ordering::SeqCst) {
            return finish(&pools);
        }
        if let Some(job) = next_job(&pools) {
            run(job);
            spin.restart();
            continue;
        }
        if drive_guarded(&*driver) {
            spin.restart();
            continue;
        }
        if spin.keep_going() {
            std::hint::spin_loop();
            continue;
        }
        driver.sleep(&pools, None, stopping);
        spin = Spinner::new(POLL);
    }
}

/// One drive, guarded: nobody above this thread would catch a panic, and
/// a dead driving stream would stop all progress of the engine while the
/// process lives on. A panic costs that drive, with one log line.
fn drive_guarded(driver: &dyn Driver) -> bool {
    match catch_unwind(AssertUnwindSafe(|| driver.drive())) {
        Ok(did) => did,
        Err(_) => {
            crate::error!("driving network progress panicked; the stream goes on");
            true
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

/// Asks the kernel for short time slices on this thread (an execution
/// stream of ours). Linux's EEVDF scheduler (6.12 and later) gives a task
/// that asked for a short slice an early deadline, so when it wakes it
/// preempts a busy loop at once instead of waiting out the busy task's
/// slice (a few milliseconds): exactly what a thread that sleeps until a
/// message arrives and then works for microseconds needs. Older kernels
/// ignore the value. `MOCHI_SHORT_SLICE=0` leaves the default.
// Written for the pre-1.82 MSRV; `is_none_or` when the lead's rewrite of this file lands.
#[allow(clippy::unnecessary_map_or)]
fn request_short_slice() {
    /// The slice asked for (the kernel's minimum is 100 µs).
    const SLICE_NS: u64 = 100_000;
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("MOCHI_SHORT_SLICE").map_or(true, |v| v != "0")) {
        return;
    }
    /// `struct sched_attr` up to `sched_period` (SCHED_ATTR_SIZE_VER0).
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    // sched_setattr also sets the nice value: keep the thread's own.
    // SAFETY: errno is thread-local; getpriority has no memory arguments.
    let nice = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: 0,
        nice,
        priority: 0,
        runtime: SLICE_NS,
        deadline: 0,
        period: 0,
    };
    // SAFETY: attr is a valid sched_attr of the size it states, read only
    // for the duration of the call; tid 0 is the calling thread. A kernel
    // that refuses it leaves the thread as it was.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc != 0 {
        crate::debug!("short scheduler slice not set: {}", std::io::Error::last_os_error());
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
