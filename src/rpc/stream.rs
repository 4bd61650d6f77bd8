//! Execution streams: the threads that serve pools, and how a handler that
//! waits for a call lends its stream to a stand-in.
//!
//! An execution stream serves its pools in priority order (the first listed
//! pool first); the one serving the engine's `progress_pool` also drives
//! the endpoint (see `pool.rs`). Under Margo, handlers are Argobots
//! user-level threads: one that waits for an RPC yields, and its stream runs
//! other handlers meanwhile. Ours run on OS threads, so a stream is a small
//! relay of threads of which one at a time *owns* it (serves its pools,
//! sleeps on its channels or endpoint):
//!
//! * A handler that waits for a call marks its stream as lent. If work is
//!   queued for the stream meanwhile (when the wait starts, or later: the
//!   push looks), a stand-in thread (a parked spare, or a new one) becomes
//!   the owner and serves the stream. Nothing changes for a wait during
//!   which no work comes: no thread is woken, and the handler, once
//!   answered, takes its stream back with one atomic operation.
//! * A handler that blocks on something else (a Yokan `WAIT` request, on
//!   its database's condition variable) lends its stream the same way
//!   ([`begin_blocking_wait`]). Such a wait does not drive the endpoint as
//!   a waiting caller does, so the stream driving progress is lent at
//!   once: its stand-in reads the requests (the one the wait is for among
//!   them). Nothing bounds such a wait, so a stream that is asked to stop
//!   (removed, or its engine finalized) wakes its blocked handlers, which
//!   give up their wait ([`BlockingWait::stopping`]): stopping a stream
//!   waits for its threads, and would otherwise wait for as long as the
//!   awaited thing takes to come, perhaps for ever.
//! * The waiting handler keeps its own stack and resumes when its answer
//!   is there. Running the other handlers on its stack instead (what this
//!   engine did before) made it wait for all of them: a handler waiting
//!   out a silent peer's timeout held up every handler below it, and a
//!   member with a silent peer took 20–30 s to answer.
//! * One handler of a stream runs at a time, as on an Argobots stream: a
//!   thread holds the stream's `running` token while it runs handler code
//!   and gives it up while it waits. A resumed handler takes it back
//!   (blocking while a stand-in finishes a job) and, once its job is done,
//!   retires to the spares if its stream found another owner.

use super::pool::{next_job, run, Driver, Pool};
use super::spin::{Learner, Spinner};
use crossbeam_channel::{unbounded, Receiver, Select, Sender};
use parking_lot::{Condvar, Mutex};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an execution stream polls after its last job (see `spin.rs`).
const POLL: Duration = Duration::from_micros(50);
/// Stand-ins kept parked per stream once their loan is over; more exit.
const MAX_SPARES: usize = 4;
/// Set in [`Relay::owner`] while the owner waits for a call.
const WAITING: u64 = 1 << 63;

/// Argobots numbers execution streams from 0, the program's main thread
/// (its primary stream); ours take the next rank as they start.
static NEXT_RANK: AtomicI32 = AtomicI32::new(1);

/// Every running stream by key ([`Xstream::key`]), so that a handle C holds
/// can be told its rank and pools.
static LIVE: parking_lot::Mutex<Option<HashMap<usize, Weak<Relay>>>> = parking_lot::Mutex::new(None);

/// What is known of a running stream.
pub struct StreamInfo {
    pub rank: i32,
    pub pools: Vec<Arc<Pool>>,
}

/// The running stream `key` names, if any.
pub fn stream_info(key: usize) -> Option<StreamInfo> {
    let relay = LIVE.lock().as_ref()?.get(&key)?.upgrade()?;
    Some(StreamInfo { rank: relay.rank, pools: relay.pools.clone() })
}

/// The key and rank of the stream the calling thread serves (`None` off
/// execution streams).
pub fn current_stream() -> Option<(usize, i32)> {
    CONTEXT.with(|c| c.borrow().as_ref().map(|(relay, _)| (Arc::as_ptr(relay) as usize, relay.rank)))
}

/// A running execution stream.
pub struct Xstream {
    pub name: String,
    pub pools: Vec<Arc<Pool>>,
    relay: Arc<Relay>,
    stop: Option<Sender<()>>,
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
            p.set_driver(driver.clone());
        }
        Self::start(name, pools, Some(driver))
    }

    fn start(name: &str, pools: Vec<Arc<Pool>>, driver: Option<Arc<dyn Driver>>) -> std::io::Result<Xstream> {
        let (stop_tx, stop_rx) = unbounded::<()>();
        let relay = Arc::new(Relay {
            name: name.to_string(),
            pools: pools.clone(),
            driver,
            stopping: AtomicBool::new(false),
            stop_rx,
            owner: AtomicU64::new(0),
            running: Mutex::new(false),
            released: Condvar::new(),
            spares: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            next_token: AtomicU64::new(1),
            blocked: Mutex::new(Vec::new()),
            rank: NEXT_RANK.fetch_add(1, Ordering::Relaxed),
        });
        LIVE.lock().get_or_insert_with(HashMap::new).insert(Arc::as_ptr(&relay) as usize, Arc::downgrade(&relay));
        let first = relay.new_seat();
        relay.owner.store(first.token, Ordering::SeqCst);
        relay.start_thread(first, true)?;
        for p in &pools {
            p.add_stream(&relay);
        }
        Ok(Xstream { name: name.to_string(), pools, relay, stop: Some(stop_tx) })
    }

    /// A number naming this stream while it runs (what C sees as its
    /// `ABT_xstream`).
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.relay) as usize
    }

    /// Argobots' rank of the stream (0 is the program's main thread).
    pub fn rank(&self) -> i32 {
        self.relay.rank
    }

    /// True for the stream that drives progress.
    pub fn drives_progress(&self) -> bool {
        self.relay.driver.is_some()
    }

    /// Asks the stream to stop: its owner runs the jobs already queued on
    /// its pools, then exits (under steady load too: jobs queued after the
    /// request are left to the pools' other streams); stand-ins exit,
    /// handlers waiting for calls exit once answered (or timed out), and
    /// handlers blocked on anything else are woken to give up their wait
    /// ([`begin_blocking_wait`]). Joins its threads unless called from one
    /// of them (a handler may finalize its own engine; the threads then
    /// exit on their own).
    pub fn stop(&mut self) {
        self.relay.stopping.store(true, Ordering::SeqCst);
        self.relay.wake_blocked();
        self.stop.take();
        if let Some(d) = &self.relay.driver {
            d.wake();
        }
        for seat in self.relay.spares.lock().drain(..) {
            seat.give();
        }
        if CONTEXT.with(|c| c.borrow().as_ref().is_some_and(|(r, _)| Arc::ptr_eq(r, &self.relay))) {
            return;
        }
        loop {
            let threads = std::mem::take(&mut *self.relay.threads.lock());
            if threads.is_empty() {
                return;
            }
            for t in threads {
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

/// The threads of one execution stream (see the module comment).
pub(crate) struct Relay {
    name: String,
    pools: Vec<Arc<Pool>>,
    driver: Option<Arc<dyn Driver>>,
    stopping: AtomicBool,
    /// Disconnected when the stream is asked to stop.
    stop_rx: Receiver<()>,
    /// The owning thread's token, with [`WAITING`] set while it waits for
    /// a call (its stream may then be lent).
    owner: AtomicU64,
    /// True while a thread of the stream runs handler code.
    running: Mutex<bool>,
    released: Condvar,
    /// Stand-ins parked until the stream is lent again.
    spares: Mutex<Vec<Arc<Seat>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_token: AtomicU64,
    /// Handlers of the stream blocked on something other than a call
    /// ([`begin_blocking_wait`]): an id, and how to wake the handler.
    blocked: Mutex<Vec<(u64, Wake)>>,
    rank: i32,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let key = self as *const Relay as usize;
        if let Some(live) = LIVE.lock().as_mut() {
            live.remove(&key);
        }
    }
}

/// Wakes a handler blocked in a [`BlockingWait`] (it then looks at
/// [`BlockingWait::stopping`]).
pub(crate) type Wake = Arc<dyn Fn() + Send + Sync>;

/// Where a thread of a stream waits for its turn to own it.
struct Seat {
    token: u64,
    given: Mutex<bool>,
    turn: Condvar,
}

impl Seat {
    fn give(&self) {
        *self.given.lock() = true;
        self.turn.notify_one();
    }
}

thread_local! {
    /// The stream this thread belongs to, and its token.
    static CONTEXT: RefCell<Option<(Arc<Relay>, u64)>> = const { RefCell::new(None) };
    /// True while this thread runs a job holding its stream's token.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// How a thread's turn as owner ended.
enum Turn {
    Retired,
    Stopped,
}

impl Relay {
    fn new_seat(&self) -> Arc<Seat> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        Arc::new(Seat { token, given: Mutex::new(false), turn: Condvar::new() })
    }

    fn start_thread(self: &Arc<Self>, seat: Arc<Seat>, owner: bool) -> std::io::Result<()> {
        let relay = self.clone();
        let name = if owner { format!("mochi-{}", self.name) } else { format!("mochi-{}+", self.name) };
        let handle = std::thread::Builder::new().name(name).spawn(move || relay.thread_main(seat, owner))?;
        let mut threads = self.threads.lock();
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    fn thread_main(self: Arc<Self>, seat: Arc<Seat>, mut owner: bool) {
        request_short_slice();
        CONTEXT.with(|c| *c.borrow_mut() = Some((self.clone(), seat.token)));
        loop {
            if !owner && !self.wait_for_turn(&seat) {
                return;
            }
            owner = false;
            match self.serve(seat.token) {
                Turn::Stopped => return,
                Turn::Retired => {
                    let mut spares = self.spares.lock();
                    if spares.len() >= MAX_SPARES || self.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    spares.push(seat.clone());
                }
            }
        }
    }

    /// Parks until this thread is made the owner (true) or the stream stops
    /// without lending it to this thread (false).
    fn wait_for_turn(&self, seat: &Seat) -> bool {
        let mut given = seat.given.lock();
        while !*given {
            seat.turn.wait(&mut given);
        }
        *given = false;
        // A stop wakes the spares too; one that was lent the stream then
        // still runs what is queued (`finish`) before it exits.
        self.owns(seat.token)
    }

    fn owns(&self, token: u64) -> bool {
        self.owner.load(Ordering::SeqCst) & !WAITING == token
    }

    /// Checked at the top of each round: is this thread's turn over?
    fn turn_over(&self, token: u64) -> Option<Turn> {
        if !self.owns(token) {
            return Some(Turn::Retired);
        }
        if self.stopping.load(Ordering::SeqCst) {
            self.finish();
            return Some(Turn::Stopped);
        }
        None
    }

    /// Serves the stream while this thread owns it: jobs first, then (on
    /// the driving stream) the endpoint, a short poll, then sleep: on the
    /// endpoint's waiter (the driving stream, which pushes ring) or on the
    /// pools' channels.
    fn serve(&self, token: u64) -> Turn {
        let driver = self.driver.as_deref();
        let mut spin = Spinner::adaptive(POLL, Learner::Stream);
        loop {
            if let Some(turn) = self.turn_over(token) {
                return turn;
            }
            if let Some(job) = next_job(&self.pools) {
                self.run_job(job);
                spin.restart();
                continue;
            }
            if driver.is_some_and(drive_guarded) {
                spin.restart();
                continue;
            }
            if spin.keep_going() {
                std::hint::spin_loop();
                continue;
            }
            match driver {
                Some(d) => d.sleep(&self.pools, &self.stopping),
                None => {
                    // Wait for readiness without taking a job: the turn
                    // may be over by the time we wake.
                    let mut sel = Select::new();
                    for p in &self.pools {
                        sel.recv(p.receiver());
                    }
                    sel.recv(&self.stop_rx);
                    sel.ready();
                }
            }
            spin = Spinner::adaptive(POLL, Learner::Stream);
        }
    }

    fn run_job(&self, job: super::pool::Job) {
        self.take_running();
        IN_JOB.with(|j| j.set(true));
        run(job);
        IN_JOB.with(|j| j.set(false));
        self.give_running();
    }

    fn take_running(&self) {
        let mut running = self.running.lock();
        while *running {
            self.released.wait(&mut running);
        }
        *running = true;
    }

    fn give_running(&self) {
        *self.running.lock() = false;
        self.released.notify_one();
    }

    /// Runs what is queued on the pools at the time of the stop request
    /// (so no caller waits for its timeout), and no more.
    fn finish(&self) {
        let queued: usize = self.pools.iter().map(|p| p.len()).sum();
        for _ in 0..queued {
            match next_job(&self.pools) {
                Some(job) => self.run_job(job),
                None => return,
            }
        }
    }

    /// If the owner `waiting` (its token with [`WAITING`]) still waits and
    /// work is queued (or `now`), makes a stand-in the owner.
    fn lend(self: &Arc<Self>, waiting: u64, now: bool) {
        // Also while stopping: requests queued behind a waiting owner must
        // still be answered (a stopping stream runs what was queued).
        if !now && self.pools.iter().all(|p| p.is_empty()) {
            return;
        }
        let spare = self.spares.lock().pop();
        let (seat, fresh) = match spare {
            Some(seat) => (seat, false),
            None => (self.new_seat(), true),
        };
        if self.owner.compare_exchange(waiting, seat.token, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            // The owner came back first (or another push lent already).
            if !fresh {
                self.spares.lock().push(seat);
            }
            return;
        }
        if !fresh {
            return seat.give();
        }
        let token = seat.token;
        seat.give();
        if let Err(e) = self.start_thread(seat, false) {
            // Nobody serves the stream until its owner is answered: what
            // happened before loans existed. Give it back to the owner.
            crate::warning!("cannot start a stand-in for execution stream {}: {e}", self.name);
            let _ = self.owner.compare_exchange(token, waiting, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Wakes every handler blocked in a [`BlockingWait`] (the stream is
    /// stopping; each then gives up its wait). The wake functions run
    /// outside the list's lock.
    fn wake_blocked(&self) {
        let wakes: Vec<Wake> = self.blocked.lock().iter().map(|(_, w)| w.clone()).collect();
        for wake in wakes {
            wake();
        }
    }

    /// A push to one of this stream's pools: lend the stream if its owner
    /// waits for a call.
    pub(crate) fn pushed(self: &Arc<Self>) {
        fence(Ordering::SeqCst);
        let owner = self.owner.load(Ordering::SeqCst);
        if owner & WAITING != 0 {
            self.lend(owner, false);
        }
    }
}

/// A handler's wait for a call, begun by [`begin_wait`]: ends (taking the
/// stream's running token back) when dropped.
pub(crate) struct Wait {
    relay: Arc<Relay>,
    token: u64,
}

impl Wait {
    /// True if the waiting thread owns the stream that drives the endpoint
    /// whose waiter is `waiter_id`: then nobody else drives it unless the
    /// stream is lent, so the wait must drive.
    pub fn drives(&self, waiter_id: usize) -> bool {
        self.relay.owns(self.token) && self.relay.driver.as_ref().is_some_and(|d| d.waiter_id() == waiter_id)
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let waiting = self.token | WAITING;
        // Still the owner if no loan happened meanwhile.
        let _ = self.relay.owner.compare_exchange(waiting, self.token, Ordering::SeqCst, Ordering::SeqCst);
        self.relay.take_running();
        IN_JOB.with(|j| j.set(true));
    }
}

/// Called by a handler (a job of an execution stream) about to wait for a
/// call: gives up the stream's running token, and lends the stream if work
/// is queued for it (pushes lend it later). `None` off execution streams.
pub(crate) fn begin_wait() -> Option<Wait> {
    begin(false)
}

/// A handler's wait on something other than a call, begun by
/// [`begin_blocking_wait`]: ends (taking the stream's running token back)
/// when dropped.
pub(crate) struct BlockingWait {
    wait: Wait,
    id: u64,
}

impl BlockingWait {
    /// The stream's name if it has been asked to stop (removed, or its
    /// engine finalized): the handler must then give up its wait, or the
    /// stop would wait for it. Read it under the lock that `wake` takes
    /// before its notification, so that no wake-up is missed.
    pub fn stopping(&self) -> Option<&str> {
        self.wait.relay.stopping.load(Ordering::SeqCst).then_some(self.wait.relay.name.as_str())
    }
}

impl Drop for BlockingWait {
    fn drop(&mut self) {
        self.wait.relay.blocked.lock().retain(|(id, _)| *id != self.id);
        // Then `wait` drops: the running token is taken back.
    }
}

/// Like [`begin_wait`], for a handler about to block on something other
/// than a call (a condition variable): such a wait does not drive the
/// endpoint as a caller's does, so the stream that drives progress is lent
/// at once (its stand-in drives; else no request would be read until the
/// wait ends, including the one it may wait for). Another stream is lent
/// when work comes, as for a call. Such a wait has no timeout: if the
/// stream is asked to stop meanwhile, `wake` is called (on the stopping
/// thread; it must only notify), and the handler, seeing
/// [`BlockingWait::stopping`], must give up its wait. The guard must be
/// dropped only once the handler holds no lock that the stream's other
/// handlers take: dropping it waits for the stand-in's current handler.
pub(crate) fn begin_blocking_wait(wake: Wake) -> Option<BlockingWait> {
    // Registered before the wait starts: a stop from now on calls `wake`,
    // and one before is seen by `stopping`.
    let relay = CONTEXT.with(|c| c.borrow().as_ref().map(|(r, _)| r.clone()))?;
    if !IN_JOB.with(|j| j.get()) {
        return None;
    }
    let id = relay.next_token.fetch_add(1, Ordering::Relaxed);
    relay.blocked.lock().push((id, wake));
    match begin(true) {
        Some(wait) => Some(BlockingWait { wait, id }),
        None => {
            relay.blocked.lock().retain(|(i, _)| *i != id);
            None
        }
    }
}

fn begin(blocking: bool) -> Option<Wait> {
    if !IN_JOB.with(|j| j.get()) {
        return None;
    }
    let (relay, token) = CONTEXT.with(|c| c.borrow().clone())?;
    IN_JOB.with(|j| j.set(false));
    relay.give_running();
    if relay.owns(token) {
        relay.owner.store(token | WAITING, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        relay.lend(token | WAITING, blocking && relay.driver.is_some());
    }
    Some(Wait { relay, token })
}

/// True when called from a handler (an execution-stream thread).
pub fn on_xstream() -> bool {
    CONTEXT.with(|c| c.borrow().is_some())
}

/// One drive, guarded: nobody above this thread would catch a panic, and
/// a dead driving stream would stop all progress of the engine while the
/// process lives on. A panic costs that drive, with one log line.
fn drive_guarded(driver: &dyn Driver) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.drive())) {
        Ok(did) => did,
        Err(_) => {
            crate::error!("driving network progress panicked; the stream goes on");
            true
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
fn request_short_slice() {
    /// The slice asked for (the kernel's minimum is 100 µs).
    const SLICE_NS: u64 = 100_000;
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("MOCHI_SHORT_SLICE").is_none_or(|v| v != "0")) {
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
    use crate::rpc::pool::{Job, Pool};
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
    fn a_handler_blocked_on_a_condition_lends_its_stream() {
        // One stream: the first job blocks until the second has run.
        let pool = Pool::new("p");
        let mut xs = Xstream::spawn("x", vec![pool.clone()]).unwrap();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (done_tx, done_rx) = unbounded();
        let (g, d) = (gate.clone(), done_tx.clone());
        pool.push(Box::new(move || {
            let lent = begin_blocking_wait(Arc::new(|| {}));
            assert!(lent.is_some(), "a job of a stream may lend it");
            let mut open = g.0.lock();
            while !*open {
                g.1.wait(&mut open);
            }
            drop(open);
            drop(lent);
            let _ = d.send("waiter");
        }));
        std::thread::sleep(std::time::Duration::from_millis(20));
        let g = gate.clone();
        pool.push(Box::new(move || {
            *g.0.lock() = true;
            g.1.notify_all();
            let _ = done_tx.send("opener");
        }));
        let first = done_rx.recv_timeout(std::time::Duration::from_secs(5)).expect("the second job ran");
        let second = done_rx.recv_timeout(std::time::Duration::from_secs(5)).expect("the waiter resumed");
        assert_eq!((first, second), ("opener", "waiter"));
        assert!(begin_blocking_wait(Arc::new(|| {})).is_none(), "not on an execution stream");
        xs.stop();
    }

    /// A handler blocked on a condition that its stream's stop wakes, as a
    /// Yokan `WAIT` does: sends `None` once blocked, then how its wait
    /// ended (`Some(stream)`: the stream stopped).
    fn blocked_job(gate: Arc<(Mutex<bool>, Condvar)>, tx: Sender<Option<String>>) -> Job {
        Box::new(move || {
            let g = gate.clone();
            let wake: Wake = Arc::new(move || {
                drop(g.0.lock());
                g.1.notify_all();
            });
            let lent = begin_blocking_wait(wake).expect("a job of a stream may lend it");
            let _ = tx.send(None);
            let mut open = gate.0.lock();
            let stopped = loop {
                if *open {
                    break None;
                }
                if let Some(name) = lent.stopping() {
                    break Some(name.to_string());
                }
                gate.1.wait(&mut open);
            };
            drop(open);
            drop(lent);
            let _ = tx.send(stopped);
        })
    }

    /// Stops `xs` in a thread of its own; fails unless the stop returns
    /// within `bound` (a hung stop fails here instead of hanging the test).
    fn stop_within(mut xs: Xstream, bound: std::time::Duration) {
        let (done_tx, done_rx) = unbounded();
        std::thread::spawn(move || {
            xs.stop();
            let _ = done_tx.send(());
        });
        done_rx.recv_timeout(bound).expect("the stream stopped although a handler was blocked on it");
    }

    #[test]
    fn stopping_a_stream_wakes_the_handlers_blocked_on_it() {
        let pool = Pool::new("p");
        let xs = Xstream::spawn("blocked", vec![pool.clone()]).unwrap();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (tx, rx) = unbounded();
        pool.push(blocked_job(gate.clone(), tx));
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(), None, "the handler blocks");
        stop_within(xs, std::time::Duration::from_secs(10));
        let ended = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("the handler gave up its wait");
        assert_eq!(ended.as_deref(), Some("blocked"));
        assert!(!*gate.0.lock(), "nobody opened the gate");
    }

    #[test]
    fn a_blocking_wait_begun_on_a_stopping_stream_gives_up_at_once() {
        // A stop runs the jobs already queued: a blocking one among them
        // must not hold it up.
        let pool = Pool::new("p");
        let xs = Xstream::spawn("queued", vec![pool.clone()]).unwrap();
        let (started_tx, started_rx) = unbounded();
        pool.push(Box::new(move || {
            let _ = started_tx.send(());
            std::thread::sleep(std::time::Duration::from_millis(200));
        }));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (tx, rx) = unbounded();
        pool.push(blocked_job(gate, tx));
        started_rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        stop_within(xs, std::time::Duration::from_secs(10));
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(), None);
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap().as_deref(), Some("queued"));
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
