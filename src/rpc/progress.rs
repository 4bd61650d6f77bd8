//! Waiting without burning a core.
//!
//! * [`Slot`]: where one call's answer lands; its caller waits on it.
//! * [`wait_slot`]: a caller drives progress itself while it waits (the
//!   fast path: no thread hand-off), then backs off and parks.
//! * [`run`]: the progress thread. On tcp it blocks on the completion
//!   queue's fd with epoll (after `fi_trywait`); libfabric 1.17's shm has no
//!   blocking wait, so there it polls with an adaptive back-off.

use super::engine::Inner;
use super::error::{Result, RpcError};
use parking_lot::{Condvar, Mutex};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Rounds of yielding before a waiter starts sleeping.
const SPIN_ROUNDS: u32 = 64;
/// Longest nap of an idle shm progress thread or a parked caller.
const MAX_NAP: Duration = Duration::from_millis(1);
/// Nap of the progress thread while callers drive progress themselves.
const STAND_BY: Duration = Duration::from_micros(200);
/// Longest epoll wait of an idle tcp progress thread.
const MAX_BLOCK: Duration = Duration::from_millis(100);

pub struct Slot {
    pub name: String,
    pub addr: String,
    done: AtomicBool,
    result: Mutex<Option<Result<Vec<u8>>>>,
    cv: Condvar,
}

impl Slot {
    pub fn new(name: &str, addr: &str) -> Slot {
        Slot {
            name: name.to_string(),
            addr: addr.to_string(),
            done: AtomicBool::new(false),
            result: Mutex::new(None),
            cv: Condvar::new(),
        }
    }

    /// Stores the outcome; the first one wins.
    pub fn complete(&self, r: Result<Vec<u8>>) {
        let mut g = self.result.lock();
        if self.done.load(Ordering::Acquire) {
            return;
        }
        *g = Some(r);
        self.done.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    pub fn take(&self) -> Option<Result<Vec<u8>>> {
        if !self.is_done() {
            return None;
        }
        self.result.lock().take()
    }

    fn park(&self, timeout: Duration) {
        let mut g = self.result.lock();
        if !self.is_done() {
            self.cv.wait_for(&mut g, timeout);
        }
    }

    pub fn timeout_error(&self, timeout: Duration) -> RpcError {
        RpcError::Timeout { name: self.name.clone(), addr: self.addr.clone(), millis: timeout.as_millis() }
    }
}

/// Waits for `slot` until `deadline`, driving progress when nobody else is.
/// `None` means the deadline passed.
pub(crate) fn wait_slot(inner: &Arc<Inner>, slot: &Slot, deadline: Instant) -> Option<Result<Vec<u8>>> {
    // Counted as driving while spinning; a parked caller leaves progress to
    // the progress thread.
    let mut driving = Some(DrivingGuard::new(inner));
    let mut idle_rounds = 0u32;
    loop {
        if let Some(r) = slot.take() {
            return Some(r);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        let did = inner.progress_once();
        if slot.is_done() {
            continue;
        }
        if did {
            idle_rounds = 0;
            if driving.is_none() {
                driving = Some(DrivingGuard::new(inner));
            }
            continue;
        }
        idle_rounds += 1;
        if idle_rounds < SPIN_ROUNDS {
            std::thread::yield_now();
            continue;
        }
        driving = None;
        slot.park(nap(idle_rounds).min(deadline - now));
    }
}

/// Counts a caller as driving progress for as long as it lives.
struct DrivingGuard<'a>(&'a Inner);

impl<'a> DrivingGuard<'a> {
    fn new(inner: &'a Inner) -> Self {
        inner.driving_callers.fetch_add(1, Ordering::AcqRel);
        DrivingGuard(inner)
    }
}

impl Drop for DrivingGuard<'_> {
    fn drop(&mut self) {
        self.0.driving_callers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Back-off: 20 µs doubling every 8 idle rounds past the spin phase, to 1 ms.
fn nap(idle_rounds: u32) -> Duration {
    let steps = ((idle_rounds.saturating_sub(SPIN_ROUNDS)) / 8).min(6);
    (Duration::from_micros(20) * (1 << steps)).min(MAX_NAP)
}

/// How the progress thread sleeps when there is nothing to do.
pub struct IdleWaiter {
    /// epoll set holding the completion queue's fd and `event` (tcp).
    epoll: Option<OwnedFd>,
    /// eventfd used to wake the epoll wait at finalize.
    event: Option<OwnedFd>,
    /// Condition used to cut a nap short (shm).
    nap_lock: Mutex<bool>,
    nap_cv: Condvar,
}

impl IdleWaiter {
    pub fn new(cq_fd: Option<i32>) -> std::io::Result<IdleWaiter> {
        let mut w = IdleWaiter { epoll: None, event: None, nap_lock: Mutex::new(false), nap_cv: Condvar::new() };
        if let Some(fd) = cq_fd {
            // SAFETY: plain syscalls; every returned fd is checked and owned.
            unsafe {
                let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
                if ep < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let ep = OwnedFd::from_raw_fd(ep);
                let ev = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
                if ev < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let ev = OwnedFd::from_raw_fd(ev);
                for (target, tag) in [(fd, 0u64), (ev.as_raw_fd(), 1u64)] {
                    let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: tag };
                    if libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, target, &mut e) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                w.epoll = Some(ep);
                w.event = Some(ev);
            }
        }
        Ok(w)
    }

    pub fn can_block_on_fd(&self) -> bool {
        self.epoll.is_some()
    }

    /// Sleeps up to `timeout` or until `wake`, whatever the endpoint does.
    pub fn nap(&self, timeout: Duration) {
        let mut woken = self.nap_lock.lock();
        if !*woken {
            self.nap_cv.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }

    /// Sleeps up to `timeout`, or until completions arrive (tcp) or `wake`.
    pub fn wait(&self, timeout: Duration) {
        match &self.epoll {
            Some(ep) => {
                // epoll counts in whole milliseconds: round up, never spin.
                let millis = timeout.as_micros().div_ceil(1000).max(1) as i32;
                let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
                // SAFETY: events is writable for 2 entries.
                let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), events.as_mut_ptr(), 2, millis) };
                if n > 0 && events[..n as usize].iter().any(|e| e.u64 == 1) {
                    self.drain_event();
                }
            }
            None => self.nap(timeout),
        }
    }

    fn drain_event(&self) {
        if let Some(ev) = &self.event {
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer from our eventfd.
            unsafe { libc::read(ev.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, 8) };
        }
    }

    /// Cuts the progress thread's current sleep short.
    pub fn wake(&self) {
        if let Some(ev) = &self.event {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writing 8 bytes to our eventfd.
            unsafe { libc::write(ev.as_raw_fd(), one.as_ptr() as *const libc::c_void, 8) };
        }
        *self.nap_lock.lock() = true;
        self.nap_cv.notify_all();
    }
}

/// The progress thread: drive while there is work, then sleep cheaply.
pub(crate) fn run(weak: Weak<Inner>) {
    let mut idle_rounds = 0u32;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.is_finalizing() {
            return;
        }
        if inner.progress_once() {
            idle_rounds = 0;
            continue;
        }
        idle_rounds = idle_rounds.saturating_add(1);
        if inner.driving_callers.load(Ordering::Acquire) > 0 {
            // A waiting caller polls the endpoint itself; spinning beside it
            // would only steal its core. Nap, and check again.
            inner.idle.nap(STAND_BY);
            continue;
        }
        if idle_rounds < SPIN_ROUNDS {
            drop(inner);
            std::thread::yield_now();
            continue;
        }
        if inner.idle.can_block_on_fd() {
            // Block only if libfabric agrees nothing is pending.
            let state = {
                let Some(mut guard) = inner.transport.try_lock() else {
                    drop(inner);
                    std::thread::yield_now();
                    continue;
                };
                guard.as_mut().map(|t| (t.endpoint_mut().try_wait(), t.has_backlog()))
            };
            match state {
                None => return,
                Some((false, _)) => continue,
                Some((true, backlog)) => {
                    let timeout = if backlog || !inner.submissions.is_empty() { MAX_NAP } else { MAX_BLOCK };
                    inner.idle.wait(timeout);
                }
            }
        } else {
            inner.idle.wait(nap(idle_rounds));
        }
    }
}
