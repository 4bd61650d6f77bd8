//! The progress side of the engine: the endpoint (behind its lock), the
//! queue of messages to send, the table of calls waiting for answers, and
//! how threads with nothing to do get out of the way.
//!
//! # Who drives, and the wake-up rules
//!
//! Any thread may drive the endpoint: a caller waiting for its answer, a
//! handler that just queued a response, the execution stream that serves
//! the progress pool (the "driving stream", see `pool.rs`). Driving means
//! holding the endpoint lock and calling [`Transport::drive`]. Nobody ever
//! blocks on that lock: [`Progress::drive`] first raises `wanted`, then
//! try-locks. The holder drives again for as long as it finds `wanted`
//! raised, and looks at it once more after unlocking. So a thread that
//! queues work and finds the lock taken may leave: the holder will pick the
//! work up before it lets go (rule 1: *work queued while the lock is held is
//! driven by the holder*).
//!
//! A thread that runs out of work polls for a short, adaptive while (see
//! `spin.rs`), then sleeps in the kernel, never on a timer or a yield loop:
//!
//! * the driving stream announces itself on [`IdleWait`] (a doorbell on
//!   shm, an eventfd next to the completion queue's fd on tcp), looks for
//!   work once more, and only then blocks. Rule 2: *whoever makes work the
//!   sleeper must see rings its bell after making it visible*: peers ring
//!   our doorbell after posting to us (every shm send is an inject, over
//!   when posted: see `transport.rs`); the kernel makes the tcp fd
//!   readable; a job pushed to the driving stream's pools rings it; a
//!   thread that leaves sends waiting for resources rings it, and it then
//!   retries on a short back-off (the one timed wait: libfabric does not
//!   say when a peer frees room).
//! * a caller polls the endpoint itself, counted as a driver on the
//!   doorbell so that peers do not wake the sleeping stream for the answer
//!   it is about to read; then it polls once more (rule 3: *a thread that
//!   stops polling looks once more*, since rings were held back while it
//!   polled) and sleeps. Over shm, one caller at a time sleeps on the
//!   doorbell's `answers`, which peers ring for answers instead of waking
//!   the stream (`fabric/doorbell.rs`): it reads its answer itself, and
//!   when it stops sleeping there it looks once more (rule 3 again). Other
//!   shm callers park on their call's slot, which whoever reads the answer
//!   completes. Over tcp a caller does not park: after polling it sleeps on
//!   the completion fd itself (`cq_wait.rs`). A handler that makes a
//!   call lends its execution stream while it waits (`stream.rs`); if it
//!   owns the driving stream, it drives the endpoint while it sleeps.
//! * plain handler streams block on their pools' channels (`pool.rs`).

use super::calls::{CallTable, Slot};
use super::cq_wait::{self, CallerBell};
use super::error::{Result, RpcError};
use super::peer_gone::GoneWatchers;
use super::pool::{Driver, Pool};
use super::spin::{self, Spinner};
use super::stream;
use super::transport::{Event, Outgoing, Transport};
use super::wire::{Header, Status};
use crate::fabric::{BellWords, Doorbell};
use crossbeam_queue::SegQueue;
use parking_lot::Mutex;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long a caller polls before it parks on its slot (see `spin.rs`).
pub(crate) const CALLER_SPIN: Duration = Duration::from_micros(50);
/// Retry back-off while sends wait for a peer's resources.
pub(crate) const BACKLOG_RETRY: (Duration, Duration) = (Duration::from_micros(50), Duration::from_millis(2));
/// How often a finalize flush looks at its sends between wake-ups.
const FLUSH_CHECK: Duration = Duration::from_millis(1);
/// tcp: how long to block when another thread held the endpoint at the
/// last check (it may have consumed the readiness we would block on).
pub(crate) const CONTENDED_CHECK: Duration = Duration::from_millis(1);

/// tcp: how long to block on the completion fd when `fi_trywait` refused
/// right after a drive that found nothing: from the first bound, doubled
/// for each refusal in a row, up to the second. libfabric 1.17's tcp
/// provider refuses whenever an operation is in flight; usually an answer
/// is on its way and will make the fd readable, but now and then (about
/// one sleep in 200 in a quiet ping-pong, measured) the provider holds work
/// its fd does not announce, and the sleep lasts its whole bound: a single
/// 1 ms bound put those calls at 1.1 ms, the quiet p99 of some runs.
const TRYWAIT_REFUSED: (Duration, Duration) = (Duration::from_micros(50), Duration::from_millis(1));

/// A request that arrived, for the engine to dispatch.
pub(crate) struct Incoming {
    pub sender: Arc<[u8]>,
    pub header: Header,
    pub payload: Vec<u8>,
}

/// What the progress thread does when it found nothing to do.
pub(crate) enum Plan {
    /// Work turned up during the last check: keep going.
    Busy,
    /// Block until rung, or until the timeout if there is one.
    Sleep(Option<Duration>),
    /// tcp: `fi_trywait` refused after a drive that found nothing: block on
    /// the fd, bounded (see [`TRYWAIT_REFUSED`]).
    Refused,
    /// tcp: another thread holds the endpoint. It drives once more and
    /// rings sleepers if it leaves work behind (rule 1); the completion fd
    /// may stay readable meanwhile, so sleep on the ring alone, briefly.
    Contended,
}

/// How a thread with nothing to do sleeps until there is work.
pub(crate) struct IdleWait {
    words: Words,
    /// tcp: epoll over the completion queue's fd and `event`.
    epoll: Option<(OwnedFd, OwnedFd)>,
    /// tcp: the completion queue's fd, and who watches it (see [`CqWatch`]).
    cq: Option<(i32, Mutex<CqWatch>)>,
    /// tcp: `CqWatch::listening`, readable without the lock (set once, under
    /// it), so that every asynchronous call does not take the mutex.
    listening: AtomicBool,
    /// tcp: callers asleep on the completion fd in epolls of their own
    /// (`cq_wait.rs`), and how many there are (read on every drive).
    callers: Mutex<Vec<Arc<CallerBell>>>,
    caller_count: AtomicUsize,
}

/// tcp: who needs the completion queue's fd. The fd is in the stream's
/// epoll set only while the engine listens and no caller polls it.
///
/// * While a caller polls, answers must not wake the sleeping stream (and
///   preempt the caller) for nothing.
/// * An engine that only makes synchronous calls (a client: no RPC
///   registered, no asynchronous call) has nothing for its stream to
///   watch: each caller watches the fd for its own answer. Handing the fd
///   back to the stream after every call (`fi_trywait`, then `epoll_ctl`)
///   was most of a client's cost per call: 35 µs → 21 µs per empty RPC
///   over tcp on the development VM.
#[derive(Default)]
struct CqWatch {
    /// Callers polling the fd.
    pollers: u32,
    /// The engine may receive requests or answers nobody waits for: a
    /// server, an RPC registered, or an asynchronous call started. Never
    /// reset (an engine that listened once may have work in flight).
    listening: bool,
}

enum Words {
    /// The endpoint's doorbell, shared with peers (shm).
    Shared(Arc<Doorbell>),
    /// Process-local words (tcp).
    Local(Box<BellWords>),
}

impl IdleWait {
    /// A waiter for an endpoint with a doorbell (shm) or a completion fd (tcp).
    pub fn new(doorbell: Option<Arc<Doorbell>>, cq_fd: Option<i32>) -> std::io::Result<IdleWait> {
        let words = match doorbell {
            Some(bell) => Words::Shared(bell),
            None => Words::Local(Box::default()),
        };
        let epoll = match cq_fd {
            Some(_) => Some(open_epoll()?),
            None => None,
        };
        if matches!(words, Words::Local(_)) && epoll.is_none() {
            return Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "the endpoint has no way to wait"));
        }
        let cq = cq_fd.map(|fd| (fd, Mutex::new(CqWatch::default())));
        Ok(IdleWait {
            words,
            epoll,
            cq,
            listening: AtomicBool::new(false),
            callers: Mutex::new(Vec::new()),
            caller_count: AtomicUsize::new(0),
        })
    }

    pub fn words(&self) -> &BellWords {
        match &self.words {
            Words::Shared(b) => b.words(),
            Words::Local(w) => w,
        }
    }

    /// A caller starts polling the endpoint: peers hold their rings back
    /// (shm), the completion fd leaves the sleeper's epoll set (tcp).
    pub fn enter_polling(&self) {
        self.words().enter_driving();
        if let (Some((fd, watch)), Some((ep, _))) = (&self.cq, &self.epoll) {
            let mut w = watch.lock();
            w.pollers += 1;
            if w.pollers == 1 && w.listening {
                // SAFETY: ep is our epoll fd and fd the completion queue's,
                // registered in it at creation (and again by leave_polling).
                unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_DEL, *fd, std::ptr::null_mut()) };
            }
        }
    }

    /// The caller stops polling; it must drive once more afterwards (rule
    /// 3). Over tcp the fd goes back into the epoll set, which wakes the
    /// sleeper at once if something is pending.
    pub fn leave_polling(&self) {
        if let (Some((fd, watch)), Some((ep, _))) = (&self.cq, &self.epoll) {
            let mut w = watch.lock();
            w.pollers -= 1;
            if w.pollers == 0 && w.listening {
                add_cq_fd(ep, *fd);
            }
        }
        self.words().leave_driving();
    }

    /// The engine may from now on receive requests, or answers that nobody
    /// waits for (see [`CqWatch`]): the stream watches the completion fd
    /// whenever no caller polls it.
    pub fn start_listening(&self) {
        if self.listening.load(Ordering::Acquire) {
            return;
        }
        let (Some((fd, watch)), Some((ep, _))) = (&self.cq, &self.epoll) else { return };
        {
            let mut w = watch.lock();
            if w.listening {
                return;
            }
            w.listening = true;
            self.listening.store(true, Ordering::Release);
            if w.pollers > 0 {
                // The last poller hands the fd over (leave_polling).
                return;
            }
            add_cq_fd(ep, *fd);
        }
        // What came before is the stream's to look at now.
        self.wake_stream();
    }

    /// tcp: true if the caller was the last poller of an engine that does
    /// not listen, and has stopped counting: nobody else needs the fd, so
    /// there is nothing to hand back (no `fi_trywait`, no drive).
    fn leave_polling_unwatched(&self) -> bool {
        let Some((_, watch)) = &self.cq else { return false };
        {
            let mut w = watch.lock();
            if w.listening || w.pollers != 1 {
                return false;
            }
            w.pollers = 0;
        }
        self.words().leave_driving();
        true
    }

    /// Stops polling if another poller (an enclosing [`CallerScope`]) goes
    /// on holding the fd: true if so. The last poller leaves through
    /// [`leave_polling_quietly`] instead, which hands the fd back.
    fn leave_polling_unless_last(&self) -> bool {
        let Some((_, watch)) = &self.cq else { return false };
        {
            let mut w = watch.lock();
            if w.pollers <= 1 {
                return false;
            }
            w.pollers -= 1;
        }
        self.words().leave_driving();
        true
    }

    fn announce(&self) -> u32 {
        self.words().announce()
    }

    fn retract(&self) {
        self.words().retract()
    }

    fn block(&self, seen: u32, timeout: Option<Duration>) {
        match &self.epoll {
            Some((ep, event)) => epoll_sleep(ep, event, 1, timeout),
            None => self.words().block(seen, timeout),
        }
    }

    /// Like [`IdleWait::block`], but over tcp on the ring alone (not the
    /// completion fd, which another thread is driving).
    fn block_rung(&self, seen: u32, timeout: Duration) {
        match &self.epoll {
            Some((_, event)) => wait_ring(event, timeout),
            None => self.words().block(seen, Some(timeout)),
        }
    }

    /// Wakes the sleeping stream, if it announced itself (rule 2): a job
    /// was queued for it.
    pub fn wake(&self) {
        self.wake_stream();
    }

    /// Wakes whoever sleeps on the completion fd: tcp callers holding it
    /// (see `cq_wait.rs`), else the stream.
    fn wake_drivers(&self) {
        if self.caller_count.load(Ordering::SeqCst) > 0 {
            for bell in self.callers.lock().iter() {
                bell.ring();
            }
        }
        // (shm: the stream is the endpoint's only sleeper.)
        if self.cq.is_none() || self.stream_watches_fd() {
            self.wake_stream();
        }
    }

    fn wake_stream(&self) {
        match &self.epoll {
            Some((_, event)) => {
                std::sync::atomic::fence(Ordering::SeqCst);
                if self.words().sleepers() > 0 {
                    write_event(event);
                }
            }
            None => self.words().wake_sleepers(),
        }
    }

    /// tcp: the completion fd is in the stream's epoll set (the engine
    /// listens and no caller polls the fd). Otherwise callers wait on the
    /// fd themselves, if anyone does, and the stream only waits for jobs.
    fn stream_watches_fd(&self) -> bool {
        self.cq.as_ref().is_some_and(|(_, watch)| {
            let w = watch.lock();
            w.listening && w.pollers == 0
        })
    }

    /// tcp: a thread sleeps on the completion fd: a caller on its bell, or
    /// the stream while it watches the fd.
    fn fd_watchers(&self) -> bool {
        self.caller_count.load(Ordering::SeqCst) > 0 || (self.words().sleepers() > 0 && self.stream_watches_fd())
    }

    /// tcp: the completion queue's fd.
    pub fn cq_fd(&self) -> Option<i32> {
        self.cq.as_ref().map(|(fd, _)| *fd)
    }

    /// A tcp caller is about to sleep on the completion fd (`cq_wait.rs`).
    pub fn add_caller(&self, bell: &Arc<CallerBell>) {
        self.callers.lock().push(bell.clone());
        self.caller_count.fetch_add(1, Ordering::SeqCst);
    }

    /// The caller woke up.
    pub fn remove_caller(&self, bell: &Arc<CallerBell>) {
        let mut callers = self.callers.lock();
        if let Some(i) = callers.iter().position(|b| Arc::ptr_eq(b, bell)) {
            callers.swap_remove(i);
            self.caller_count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Wakes every sleeper, announced or not (finalize, a peer found
    /// gone): the stream, and tcp callers asleep on the completion fd.
    pub fn force(&self) {
        match &self.epoll {
            Some((_, event)) => write_event(event),
            None => self.words().force_all(),
        }
        if self.caller_count.load(Ordering::SeqCst) > 0 {
            for bell in self.callers.lock().iter() {
                bell.ring();
            }
        }
    }

    fn is_tcp(&self) -> bool {
        self.epoll.is_some()
    }
}

/// Sleeps in `ep` until one of its fds is readable or `timeout` passes;
/// consumes the ring if `event` (watched with tag `event_tag`) was written.
pub(crate) fn epoll_sleep(ep: &OwnedFd, event: &OwnedFd, event_tag: u64, timeout: Option<Duration>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
    let n = epoll_wait_precise(ep, &mut events, timeout);
    if n > 0 && events[..n as usize].iter().any(|e| e.u64 == event_tag) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from a non-blocking
        // eventfd.
        unsafe { libc::read(event.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, 8) };
    }
}

/// `epoll_wait` with a timeout to the microsecond (`epoll_pwait2`, Linux
/// 5.11 and later), or rounded up to whole milliseconds where the kernel
/// lacks it. Never zero: a timeout rounds up rather than spin.
fn epoll_wait_precise(ep: &OwnedFd, events: &mut [libc::epoll_event], timeout: Option<Duration>) -> i32 {
    static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
    let max = events.len().min(i32::MAX as usize) as i32;
    if let Some(t) = timeout.filter(|_| !NO_PWAIT2.load(Ordering::Relaxed)) {
        let t = t.max(Duration::from_micros(1));
        let ts = libc::timespec { tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t, tv_nsec: t.subsec_nanos() as _ };
        // SAFETY: events is writable for `max` entries, ts a valid timespec
        // read during the call, a null sigmask leaves the mask alone.
        let n = unsafe {
            libc::syscall(libc::SYS_epoll_pwait2, ep.as_raw_fd(), events.as_mut_ptr(), max, &ts, std::ptr::null::<u8>(), 0usize)
        };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
            return n as i32;
        }
        NO_PWAIT2.store(true, Ordering::Relaxed);
    }
    let millis = timeout.map_or(-1, |t| t.as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32);
    // SAFETY: events is writable for `max` entries; ep is an epoll fd.
    unsafe { libc::epoll_wait(ep.as_raw_fd(), events.as_mut_ptr(), max, millis) }
}

/// Sleeps until `event` (a non-blocking eventfd) is written or `timeout`
/// passes, and consumes the ring.
pub(crate) fn wait_ring(event: &OwnedFd, timeout: Duration) {
    let millis = timeout.as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32;
    let mut p = libc::pollfd { fd: event.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: p is one valid pollfd for our eventfd.
    if unsafe { libc::poll(&mut p, 1, millis) } > 0 {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from our
        // non-blocking eventfd.
        unsafe { libc::read(event.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, 8) };
    }
}

pub(crate) fn write_event(event: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writing 8 bytes to our eventfd.
    unsafe { libc::write(event.as_raw_fd(), one.as_ptr() as *const libc::c_void, 8) };
}

/// The stream's epoll set, with its eventfd (tag 1); the completion fd
/// (tag 0) joins it once the engine listens (see [`CqWatch`]).
fn open_epoll() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (ep, ev) = crate::fabric::epoll_and_eventfd()?;
    let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 1 };
    // SAFETY: ep is our epoll fd; ev is a live eventfd; e is valid.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, ev.as_raw_fd(), &mut e) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((ep, ev))
}

/// Puts the completion fd into the stream's epoll set (it is not there).
fn add_cq_fd(ep: &OwnedFd, fd: i32) {
    let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
    // SAFETY: ep is our epoll fd, fd the completion queue's (live as long
    // as the endpoint, which outlives the engine's waiter); e is valid.
    unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut e) };
}

/// The endpoint and everything that moves messages through it.
pub(crate) struct Progress {
    transport: Mutex<Option<Transport>>,
    submissions: SegQueue<Outgoing>,
    /// Someone asked for a drive (rule 1).
    wanted: AtomicBool,
    pub(crate) idle: Arc<IdleWait>,
    pub(crate) calls: CallTable,
    /// Retry back-off of the driving stream while sends wait (nanoseconds).
    backoff_ns: AtomicU64,
    /// Sends waited for a peer's room after the last drive: a thread that
    /// cannot look itself (the endpoint is held) must still retry them.
    backlogged: AtomicBool,
    /// Peers watched on behalf of server-side code (see `peer_gone.rs`).
    pub(crate) guarded: Arc<GoneWatchers>,
}

impl Progress {
    pub fn new(transport: Transport, idle: IdleWait, guarded: Arc<GoneWatchers>) -> Progress {
        Progress {
            transport: Mutex::new(Some(transport)),
            submissions: SegQueue::new(),
            wanted: AtomicBool::new(false),
            idle: Arc::new(idle),
            calls: CallTable::default(),
            backoff_ns: AtomicU64::new(BACKLOG_RETRY.0.as_nanos() as u64),
            backlogged: AtomicBool::new(false),
            guarded,
        }
    }

    /// Queues a message; the caller drives right after (or the holder of
    /// the endpoint will).
    pub fn submit(&self, out: Outgoing) {
        self.submissions.push(out);
    }

    /// Drives the endpoint, or leaves it to the thread that holds it (rule
    /// 1). Requests found are appended to `requests` for the engine to
    /// dispatch; answers complete their calls. True if anything moved.
    pub fn drive(&self, requests: &mut Vec<Incoming>) -> bool {
        self.drive_then(requests, |_, _| ()).0
    }

    /// Like [`Progress::drive`], then runs `last` while still holding the
    /// endpoint (if this thread got it).
    fn drive_then<R>(&self, requests: &mut Vec<Incoming>, last: impl FnOnce(&mut Transport, bool) -> R) -> (bool, Option<R>) {
        self.wanted.store(true, Ordering::SeqCst);
        let mut did = false;
        let mut last = Some(last);
        let mut outcome = None;
        let mut events = Vec::new();
        loop {
            let Some(mut guard) = self.transport.try_lock() else {
                break;
            };
            let Some(t) = guard.as_mut() else { break };
            let had_backlog = t.has_backlog();
            while self.wanted.swap(false, Ordering::SeqCst) {
                did |= t.drive(&self.submissions, &mut events);
            }
            if let Some(f) = last.take() {
                outcome = Some(f(t, did));
            }
            // The driving stream may be asleep without a timeout: wake it if
            // sends started waiting for room (a sleeper that looks while
            // they wait retries on a back-off; ringing on every drive made
            // the callers ring each other in a loop while a dead peer's
            // sends waited), or (tcp) if this drive moved something
            // and libfabric has progress left that its fd would not announce
            // (fi_trywait is the contract before blocking). A drive that
            // found nothing changed nothing a sleeper looked at.
            // (fi_trywait also clears the completion fd's own signal, so a
            // sleeper's fd does not stay readable after this drive.)
            // While a caller polls, the stream does not watch the fd and the
            // caller drives on (and looks once more when it stops, see
            // leave_polling_quietly): no fi_trywait, which costs syscalls
            // (it clears the fd's signal, which the next completion sets
            // again).
            // Only after a drive that moved something: one that found
            // nothing left no new signal on the fd and no new progress
            // (and a sleeper's own look has just run fi_trywait itself;
            // a second one cost it 3-4 more system calls per sleep).
            let left_work = did && self.idle.is_tcp() && self.idle.fd_watchers() && !t.endpoint_mut().try_wait();
            let backlog = t.has_backlog();
            self.backlogged.store(backlog, Ordering::SeqCst);
            let wake = (backlog && !had_backlog) || left_work;
            drop(guard);
            self.settle(&mut events, requests);
            if wake {
                self.idle.wake_drivers();
            }
            if !self.wanted.load(Ordering::SeqCst) {
                break;
            }
        }
        (did, outcome)
    }

    /// Acts on what a drive found, outside the endpoint lock: answers
    /// complete their calls (which may run completion callbacks).
    fn settle(&self, events: &mut Vec<Event>, requests: &mut Vec<Incoming>) {
        for ev in events.drain(..) {
            match ev {
                Event::Request { sender, header, payload } => requests.push(Incoming { sender, header, payload }),
                Event::Response { header, payload } => {
                    let Some(slot) = self.calls.remove(header.msg_id) else {
                        crate::debug!("dropping a response to an unknown or expired call {}", header.msg_id);
                        continue;
                    };
                    slot.complete(outcome(&slot, header.status, header.provider_id, payload));
                }
                Event::SendFailed { call_id, message, gone } => {
                    if let Some(slot) = self.calls.remove(call_id) {
                        let addr = slot.addr.clone();
                        let error =
                            if gone { RpcError::PeerGone { addr, message } } else { RpcError::Unreachable { addr, message } };
                        slot.complete(Err(error));
                    }
                }
                Event::PeerGone { peer, why } => self.guarded.fire(&peer, &why),
            }
        }
    }

    /// The last look before the progress thread blocks (it has announced
    /// itself already): drives once, and says how long it may sleep.
    pub(crate) fn plan_sleep(&self, requests: &mut Vec<Incoming>, backoff: Duration) -> Plan {
        let tcp = self.idle.is_tcp();
        let (did, plan) = self.drive_then(requests, |t, did| {
            if did {
                Plan::Busy
            } else if tcp && !t.endpoint_mut().try_wait() {
                // libfabric 1.17's tcp provider refuses while any operation
                // is in flight, even when nothing is left to do until a
                // socket turns readable: this drive found nothing, so block
                // on the fd, but not for long (see TRYWAIT_REFUSED).
                Plan::Refused
            } else if t.has_backlog() {
                Plan::Sleep(Some(backoff))
            } else {
                Plan::Sleep(None)
            }
        });
        match plan {
            _ if did || !requests.is_empty() => Plan::Busy,
            Some(p) => p,
            // Another thread holds the endpoint and will drive once more
            // (rule 1); over shm its peers ring us for anything later.
            None if tcp => Plan::Contended,
            None if self.backlogged.load(Ordering::SeqCst) => Plan::Sleep(Some(backoff)),
            None => Plan::Sleep(None),
        }
    }

    /// Drives until everything queued has left (or `budget` is spent),
    /// sleeping on the idle waiter between rounds. For finalize.
    pub fn flush(&self, budget: Duration, requests: &mut Vec<Incoming>) {
        // Completions wake the flush's sleeps below (tcp).
        self.idle.start_listening();
        let end = Instant::now() + budget;
        loop {
            let seen = self.idle.announce();
            let (_, flushed) = self.drive_then(requests, |t, _| t.is_flushed());
            let flushed = flushed.unwrap_or(false) && self.submissions.is_empty();
            let now = Instant::now();
            if flushed || now >= end {
                self.idle.retract();
                return;
            }
            self.idle.block(seen, Some((end - now).min(FLUSH_CHECK)));
            self.idle.retract();
        }
    }

    /// (address vector, doorbells) sizes, or zeros once closed.
    pub fn peer_tables(&self) -> (usize, usize) {
        self.transport.lock().as_ref().map_or((0, 0), |t| t.peer_tables())
    }

    /// Our endpoint takes no more requests (finalize, once everything
    /// served has been answered): see `Transport::mark_closed`.
    pub fn stop_taking_requests(&self) {
        if let Some(t) = self.transport.lock().as_ref() {
            t.mark_closed();
        }
    }

    /// Closes the endpoint (finalize); later drives do nothing. The peers
    /// we know are told first, so that their calls to us end at once.
    pub fn close(&self) {
        let closed = self.transport.lock().take();
        if let Some(t) = &closed {
            t.tell_peers_closed();
        }
        drop(closed);
    }
}

/// Where a thread that found nothing to do sleeps: the endpoint's waiter
/// (the driving stream, shm callers) or a tcp caller's own bell.
pub(crate) trait Sleeper {
    /// Blocks until rung, the endpoint has work, or `timeout`.
    fn block(&self, timeout: Option<Duration>);
    /// Blocks until rung or `timeout`: another thread holds the endpoint
    /// (and drives it once more, rule 1).
    fn block_rung(&self, timeout: Duration);
}

/// A thread announced on the endpoint's waiter (it saw `seen`).
pub(crate) struct Announced<'a> {
    pub idle: &'a IdleWait,
    pub seen: u32,
}

impl Sleeper for Announced<'_> {
    fn block(&self, timeout: Option<Duration>) {
        self.idle.block(self.seen, timeout)
    }

    fn block_rung(&self, timeout: Duration) {
        self.idle.block_rung(self.seen, timeout)
    }
}

/// The one way a thread sleeps for work, once it counts as a sleeper (rule
/// 2): a last look (drive once, hand requests to their handlers), then
/// block for as long as that look allows, at most `limit`, unless `done()`
/// says the wait is over. Returns the look's plan.
///
/// `refused` counts the sleeper's `fi_trywait` refusals in a row (tcp),
/// which lengthen its bounded sleeps (see [`TRYWAIT_REFUSED`]).
pub(crate) fn look_then_sleep<D: Driven>(
    d: &Arc<D>,
    sleeper: &impl Sleeper,
    backoff: Duration,
    limit: Option<Duration>,
    refused: &mut u32,
    done: impl Fn() -> bool,
) -> Plan {
    let mut requests = Vec::new();
    let plan = d.progress().plan_sleep(&mut requests, backoff);
    if !requests.is_empty() {
        d.dispatch(requests);
    }
    let capped = |t: Duration| limit.map_or(t, |l| t.min(l));
    let refusals = std::mem::take(refused);
    match plan {
        _ if done() => {}
        Plan::Sleep(t) => sleeper.block(t.map(capped).or(limit)),
        Plan::Refused => {
            *refused = refusals.saturating_add(1);
            let bound = TRYWAIT_REFUSED.0.saturating_mul(1 << refusals.min(16)).min(TRYWAIT_REFUSED.1);
            sleeper.block(Some(capped(bound)))
        }
        Plan::Contended => sleeper.block_rung(capped(CONTENDED_CHECK)),
        Plan::Busy => {}
    }
    plan
}

/// What the progress loop and waiting callers need from the engine.
pub(crate) trait Driven: Send + Sync + 'static {
    fn progress(&self) -> &Progress;
    /// Hands requests found while driving to their handlers.
    fn dispatch(self: &Arc<Self>, requests: Vec<Incoming>);
}

/// Drives and dispatches what turned up, again while dispatching queued
/// answers of its own (errors for unknown RPCs). True if anything moved.
pub(crate) fn drive_once<D: Driven>(d: &Arc<D>) -> bool {
    let mut any = false;
    loop {
        let mut requests = Vec::new();
        any |= d.progress().drive(&mut requests);
        if requests.is_empty() {
            return any;
        }
        d.dispatch(requests);
        if d.progress().submissions.is_empty() {
            return any;
        }
    }
}

/// tcp: a caller stops polling the completion fd. It drives once more
/// (rule 3) and, holding the endpoint, lets `fi_trywait` clear the fd's
/// signal before the fd goes back into the stream's epoll set: libfabric
/// leaves the fd readable after every completion, including the ones this
/// caller read itself, and putting a readable fd back woke the sleeping
/// stream for nothing once per call (measured: one stream wake-up per
/// empty RPC, ~40 µs medians instead of ~20 on a 2-vCPU VM). A completion
/// that lands after the `fi_trywait` signals the fd again, so the stream
/// still wakes for real work.
///
/// A poller that is not the last one (a synchronous call's wait inside its
/// [`CallerScope`]) only stops counting: the fd stays out of the stream's
/// set, and the last one drives and clears the signal for both.
pub(crate) fn leave_polling_quietly<D: Driven>(d: &Arc<D>) {
    let progress = d.progress();
    if progress.idle.leave_polling_unless_last() || progress.idle.leave_polling_unwatched() {
        return;
    }
    let mut requests = Vec::new();
    let (_, quiet) = progress.drive_then(&mut requests, |t, _| {
        let quiet = t.endpoint_mut().try_wait();
        progress.idle.leave_polling();
        quiet
    });
    match quiet {
        // Another thread holds the endpoint: it drives once more before it
        // lets go (rule 1), and the fd wakes the stream if work is left.
        None => progress.idle.leave_polling(),
        // libfabric may hold work its fd will not announce, and our drives
        // did not wake the stream while we polled: let it look (it then
        // sleeps with a bound, see TRYWAIT_REFUSED).
        Some(false) => progress.idle.wake_drivers(),
        Some(true) => {}
    }
    if !requests.is_empty() {
        d.dispatch(requests);
    }
    drive_once(d);
}

/// A caller that will wait for its answer (a synchronous call), from
/// before its request leaves: over tcp it counts as polling the completion
/// fd already, so that neither the send's completion (libfabric signals
/// the fd for it) nor our rule-2 ring after a drive that left libfabric
/// busy wakes the sleeping stream: the caller itself drives until its
/// answer is in. Dropping it stops polling quietly.
pub(crate) struct CallerScope<D: Driven> {
    d: Option<Arc<D>>,
}

impl<D: Driven> CallerScope<D> {
    pub fn enter(d: &Arc<D>) -> CallerScope<D> {
        if d.progress().idle.cq_fd().is_none() {
            return CallerScope { d: None };
        }
        d.progress().idle.enter_polling();
        CallerScope { d: Some(d.clone()) }
    }
}

impl<D: Driven> Drop for CallerScope<D> {
    fn drop(&mut self) {
        if let Some(d) = self.d.take() {
            leave_polling_quietly(&d);
        }
    }
}

/// Waits for `slot` until `deadline`. `None` means the deadline passed.
///
/// A handler that waits lends its execution stream meanwhile (see
/// `stream.rs`); if that stream drives this endpoint, the wait drives it
/// (a stand-in drives too once the stream is lent).
pub(crate) fn wait_call<D: Driven>(d: &Arc<D>, slot: &Slot, deadline: Instant) -> Option<Result<Vec<u8>>> {
    if let Some(r) = slot.take() {
        return Some(r);
    }
    let stream = stream::begin_wait();
    let ours = Arc::as_ptr(&d.progress().idle) as usize;
    let must_drive = stream.as_ref().is_some_and(|s| s.drives(ours));
    let outcome = wait_as_caller(d, slot, deadline, must_drive, stream.is_some());
    drop(stream);
    outcome
}

/// `nested`: the caller is a handler on an execution stream (see
/// [`Spinner::caller`]).
fn wait_as_caller<D: Driven>(
    d: &Arc<D>,
    slot: &Slot,
    deadline: Instant,
    must_drive: bool,
    nested: bool,
) -> Option<Result<Vec<u8>>> {
    let progress = d.progress();
    if let Some(cq_fd) = progress.idle.cq_fd() {
        return cq_wait::wait(d, slot, deadline, cq_fd, must_drive, nested);
    }
    // Poll, counted as a driver (rings held back), then look once more
    // (rule 3) and park.
    progress.idle.enter_polling();
    let mut spin = Spinner::caller(CALLER_SPIN, nested);
    while !slot.is_done() && spin.keep_going() && Instant::now() < deadline {
        if !drive_once(d) {
            std::hint::spin_loop();
        }
    }
    spin.finish(slot.is_done());
    progress.idle.leave_polling();
    drive_once(d);
    if let Some(r) = slot.take() {
        // Answered while polling (the usual case on idle cores).
        return Some(r);
    }
    if must_drive {
        // The caller owns the driving stream: nobody else drives, so it
        // sleeps where requests ring too.
        return wait_on_endpoint(d, slot, deadline);
    }
    if let Some(seen) = progress.idle.words().claim_answers() {
        // Answers wake this thread, which reads them itself: one wake-up,
        // not the stream's and then ours.
        return wait_for_answers(d, slot, deadline, seen);
    }
    if spin::contended() {
        // Busy cores: sleep where the answer lands, so that it wakes this
        // thread directly rather than through the driving stream.
        return wait_on_endpoint(d, slot, deadline);
    }
    park(slot, deadline)
}

/// shm: sleeps on the doorbell's `answers` (claimed: `seen`), which
/// answers posted to us ring, until the answer is there (see
/// `fabric/doorbell.rs`). Whoever completes the call rings it too.
fn wait_for_answers<D: Driven>(d: &Arc<D>, slot: &Slot, deadline: Instant, mut seen: u32) -> Option<Result<Vec<u8>>> {
    let idle = d.progress().idle.clone();
    let waker = idle.clone();
    let me = std::thread::current().id();
    // The caller itself usually completes its call (it reads its answer):
    // no system call to wake a thread that is awake.
    slot.set_waker(Arc::new(move || {
        if std::thread::current().id() != me {
            waker.words().wake_answers();
        }
    }));
    let mut refused = 0;
    let outcome = loop {
        if let Some(r) = slot.take() {
            break Some(r);
        }
        let now = Instant::now();
        if now >= deadline {
            break None;
        }
        let left = deadline.saturating_duration_since(now);
        look_then_sleep(d, &OnAnswers { idle: &idle, seen }, BACKLOG_RETRY.0, Some(left), &mut refused, || slot.is_done());
        seen = idle.words().answers_seen();
    };
    idle.words().release_answers();
    // Rule 3: answers rung at us after our last look are ours to read.
    drive_once(d);
    outcome
}

/// The caller asleep on the doorbell's `answers` (it saw `seen`).
struct OnAnswers<'a> {
    idle: &'a IdleWait,
    seen: u32,
}

impl Sleeper for OnAnswers<'_> {
    fn block(&self, timeout: Option<Duration>) {
        self.idle.words().block_answers(self.seen, timeout)
    }

    fn block_rung(&self, timeout: Duration) {
        self.idle.words().block_answers(self.seen, Some(timeout))
    }
}

/// Parks on the slot until the answer or `deadline`; whoever reads the
/// answer completes the slot.
pub(crate) fn park(slot: &Slot, deadline: Instant) -> Option<Result<Vec<u8>>> {
    loop {
        if let Some(r) = slot.take() {
            return Some(r);
        }
        if Instant::now() >= deadline {
            return None;
        }
        slot.park_until(deadline);
    }
}

/// Sleeps on the endpoint's waiter (beside the driving stream) until the
/// answer is there: whoever completes the call rings the waiter.
pub(crate) fn wait_on_endpoint<D: Driven>(d: &Arc<D>, slot: &Slot, deadline: Instant) -> Option<Result<Vec<u8>>> {
    let progress = d.progress();
    let idle = progress.idle.clone();
    let waker = idle.clone();
    slot.set_waker(Arc::new(move || waker.force()));
    let mut refused = 0;
    loop {
        if let Some(r) = slot.take() {
            return Some(r);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        let seen = idle.announce();
        if !slot.is_done() {
            let left = deadline.saturating_duration_since(now);
            let sleeper = Announced { idle: &idle, seen };
            look_then_sleep(d, &sleeper, BACKLOG_RETRY.0, Some(left), &mut refused, || slot.is_done());
        }
        idle.retract();
    }
}

/// The driving stream's view of an engine.
pub(crate) struct EngineDriver<D: Driven> {
    engine: std::sync::OnceLock<Weak<D>>,
    idle: Arc<IdleWait>,
    /// The stream's `fi_trywait` refusals in a row (see [`look_then_sleep`]).
    refused: std::sync::atomic::AtomicU32,
}

impl<D: Driven> EngineDriver<D> {
    /// A driver for the engine that will own `idle` (attach it once built).
    pub fn new(idle: Arc<IdleWait>) -> Arc<EngineDriver<D>> {
        Arc::new(EngineDriver { engine: std::sync::OnceLock::new(), idle, refused: Default::default() })
    }

    pub fn attach(&self, engine: Weak<D>) {
        let _ = self.engine.set(engine);
        self.idle.force();
    }

    fn engine(&self) -> Option<Arc<D>> {
        self.engine.get()?.upgrade()
    }
}

impl<D: Driven> Driver for EngineDriver<D> {
    fn drive(&self) -> bool {
        self.engine().is_some_and(|d| drive_once(&d))
    }

    fn sleep(&self, pools: &[Arc<Pool>], stopping: &std::sync::atomic::AtomicBool) {
        let seen = self.idle.announce();
        // Checked after announcing: a push or a stop from now on rings us.
        if stopping.load(Ordering::SeqCst) || pools.iter().any(|p| !p.is_empty()) {
            return self.idle.retract();
        }
        if self.idle.cq_fd().is_some() && !self.idle.stream_watches_fd() {
            // tcp callers drive the endpoint and ring us if they leave work
            // behind; the fd comes back into our set (waking us if readable)
            // when the last of them is done, if the engine listens (an
            // engine that does not has nothing for us to watch).
            self.idle.block(seen, None);
            return self.idle.retract();
        }
        let Some(d) = self.engine() else {
            // Not attached yet, or being dropped: sleep until woken.
            self.idle.block(seen, None);
            return self.idle.retract();
        };
        let progress = d.progress();
        let backoff = Duration::from_nanos(progress.backoff_ns.load(Ordering::Relaxed));
        let sleeper = Announced { idle: &self.idle, seen };
        let mut refused = self.refused.load(Ordering::Relaxed);
        let plan = look_then_sleep(&d, &sleeper, backoff, None, &mut refused, || false);
        self.refused.store(refused, Ordering::Relaxed);
        let next = match plan {
            // Sends waiting for a peer's room: back off further next time.
            Plan::Sleep(Some(_)) => (backoff * 2).min(BACKLOG_RETRY.1),
            _ => BACKLOG_RETRY.0,
        };
        progress.backoff_ns.store(next.as_nanos() as u64, Ordering::Relaxed);
        self.idle.retract();
    }

    fn wake(&self) {
        self.idle.force();
    }

    fn notify(&self) {
        self.idle.wake();
    }

    fn waiter_id(&self) -> usize {
        Arc::as_ptr(&self.idle) as usize
    }
}

/// What a call receives for an answer with `status` (local or remote alike).
pub(crate) fn outcome(slot: &Slot, status: Status, provider_id: u16, body: Vec<u8>) -> Result<Vec<u8>> {
    match status {
        Status::Ok => Ok(body),
        Status::NoSuchRpc => Err(RpcError::NoSuchRpc(slot.name.clone())),
        Status::NoSuchProvider => Err(RpcError::NoSuchProvider { name: slot.name.clone(), provider_id }),
        Status::HandlerError => {
            Err(RpcError::Remote { name: slot.name.clone(), message: String::from_utf8_lossy(&body).into_owned() })
        }
        Status::ShuttingDown => Err(RpcError::ShuttingDown),
    }
}
