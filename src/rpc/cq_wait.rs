//! tcp: a caller sleeps on the completion queue's fd itself.
//!
//! When an answer arrives over tcp, the kernel wakes whoever sleeps on the
//! completion fd. If that were the driving stream, it would read the answer
//! and then wake the caller: two wake-ups per call, and on a node whose
//! cores run busy loops the second one (a user thread with a normal time
//! slice) waits out a busy loop's slice, milliseconds. So a waiting caller
//! takes the fd out of the stream's epoll set (as a polling caller does, see
//! `IdleWait::enter_polling`) and sleeps on it in an epoll of its own, which
//! also holds an eventfd that rings it when another thread reads its answer.
//!
//! Before it sleeps, the caller polls for a short, adaptive while as on
//! shm (`spin.rs`): with idle cores, an answer within tens of microseconds
//! is read without any wake-up.
//!
//! The rules of `progress.rs` hold: the caller counts as a sleeper before
//! its last look (`fi_trywait` under the endpoint lock, in
//! [`Progress::plan_sleep`]), and a thread that drives while it sleeps rings
//! it if libfabric kept something the fd will not announce.

use super::calls::Slot;
use super::error::Result;
use super::progress::{
    drive_once, epoll_sleep, leave_polling_quietly, look_then_sleep, park, wait_on_endpoint, wait_ring, write_event, Driven,
    Sleeper, BACKLOG_RETRY, CALLER_SPIN,
};
use super::spin::Spinner;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One thread's epoll (over a completion fd and its own eventfd).
pub(crate) struct CallerBell {
    epoll: OwnedFd,
    event: OwnedFd,
    /// The kernel refused an exclusive watch of the fd once: don't ask again.
    shared_watch: AtomicBool,
}

impl CallerBell {
    fn open() -> std::io::Result<CallerBell> {
        let (epoll, event) = crate::fabric::epoll_and_eventfd()?;
        let bell = CallerBell { epoll, event, shared_watch: AtomicBool::new(false) };
        bell.control(libc::EPOLL_CTL_ADD, bell.event.as_raw_fd(), libc::EPOLLIN as u32)?;
        Ok(bell)
    }

    /// This thread's bell (made on first use; `None` if the system refused
    /// the two fds, and the caller then parks on its slot instead).
    fn current() -> Option<Arc<CallerBell>> {
        thread_local! {
            static BELL: RefCell<Option<Arc<CallerBell>>> = const { RefCell::new(None) };
        }
        BELL.with(|b| {
            let mut b = b.borrow_mut();
            if b.is_none() {
                match CallerBell::open() {
                    Ok(bell) => *b = Some(Arc::new(bell)),
                    Err(e) => crate::debug!("a tcp caller sleeps on its call instead of the completion fd: {e}"),
                }
            }
            b.clone()
        })
    }

    fn control(&self, op: i32, fd: i32, events: u32) -> std::io::Result<()> {
        let mut e = libc::epoll_event { events, u64: fd as u64 };
        // SAFETY: epoll is our epoll fd, fd a live fd of the caller's, e is
        // a valid event (ignored by EPOLL_CTL_DEL).
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut e) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Starts watching a completion fd. Exclusive where the kernel allows
    /// it: when several callers sleep on the fd, one wakes, reads the
    /// answers and rings the others. (libfabric's tcp completion fd is an
    /// epoll instance itself, which cannot be watched exclusively; then
    /// every sleeping caller wakes, and all but one find their answer read.)
    fn watch(&self, fd: i32) -> std::io::Result<()> {
        let add = |events: i32| match self.control(libc::EPOLL_CTL_ADD, fd, events as u32) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other,
        };
        if self.shared_watch.load(Ordering::Relaxed) {
            return add(libc::EPOLLIN);
        }
        match add(libc::EPOLLIN | libc::EPOLLEXCLUSIVE) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.shared_watch.store(true, Ordering::Relaxed);
                add(libc::EPOLLIN)
            }
            other => other,
        }
    }

    fn unwatch(&self, fd: i32) {
        let _ = self.control(libc::EPOLL_CTL_DEL, fd, 0);
    }

    /// Wakes the thread (its answer was read by another thread, or the
    /// endpoint has progress its fd would not announce).
    pub fn ring(&self) {
        write_event(&self.event);
    }
}

impl Sleeper for CallerBell {
    /// Sleeps until the completion fd is readable, a ring, or `timeout`.
    fn block(&self, timeout: Option<Duration>) {
        epoll_sleep(&self.epoll, &self.event, self.event.as_raw_fd() as u64, timeout)
    }

    /// Another thread holds the endpoint: sleep on the ring alone. The
    /// completion fd stays readable until someone calls `fi_trywait`, so
    /// sleeping on it returned at once and the retry made the holder drive
    /// again, in a loop; the holder rings us if it reads our answer or
    /// leaves work behind (rule 1 of progress.rs).
    fn block_rung(&self, timeout: Duration) {
        wait_ring(&self.event, timeout)
    }
}

/// Waits for `slot` until `deadline` over a tcp endpoint whose completion
/// fd is `cq_fd`; `None` means the deadline passed. `must_drive`: the
/// caller owns the stream that drives the endpoint (nobody else reads it);
/// `nested`: the caller is a handler on an execution stream.
pub(crate) fn wait<D: Driven>(
    d: &Arc<D>,
    slot: &Slot,
    deadline: Instant,
    cq_fd: i32,
    must_drive: bool,
    nested: bool,
) -> Option<Result<Vec<u8>>> {
    let progress = d.progress();
    let idle = &progress.idle;
    idle.enter_polling();
    let mut spin = Spinner::caller(CALLER_SPIN, nested);
    while !slot.is_done() && spin.keep_going() && Instant::now() < deadline {
        if !drive_once(d) {
            std::hint::spin_loop();
        }
    }
    spin.finish(slot.is_done());
    if let Some(r) = slot.take() {
        // Answered while polling, the usual case on idle cores: no bell
        // was set up for nothing (each costs system calls).
        leave_polling_quietly(d);
        return Some(r);
    }
    let bell = CallerBell::current().filter(|b| b.watch(cq_fd).is_ok());
    let Some(bell) = bell else {
        // Whoever reads our answer now sleeps on the stream's set: it must
        // hold the fd.
        idle.start_listening();
        leave_polling_quietly(d);
        if must_drive {
            return wait_on_endpoint(d, slot, deadline);
        }
        // The driving stream reads the answer and unparks us.
        return park(slot, deadline);
    };
    // Set before the loop's first look: an answer read by another thread
    // from now on rings us, and one read before is seen by that look.
    // Not when this thread reads its own answer: the ring would only wake
    // its next sleep for nothing (a drive and an fi_trywait more, ~8
    // system calls).
    let ringer = bell.clone();
    let waiter = std::thread::current().id();
    slot.set_waker(Arc::new(move || {
        if std::thread::current().id() != waiter {
            ringer.ring();
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
        // Counted as a sleeper before the last look (rule 2 of progress.rs).
        idle.add_caller(&bell);
        let left = deadline.saturating_duration_since(now);
        look_then_sleep(d, &*bell, BACKLOG_RETRY.0, Some(left), &mut refused, || slot.is_done());
        idle.remove_caller(&bell);
    };
    bell.unwatch(cq_fd);
    // Rule 3: what arrived while the fd was out of the stream's set and
    // libfabric holds without the fd saying so is ours to hand on.
    leave_polling_quietly(d);
    outcome
}
