//! Calls in flight: where each answer lands ([`Slot`]), the table that
//! finds a slot by message id ([`CallTable`]), and how a waiter learns that
//! an answer arrived (parking on the slot, or a completion callback).

use super::error::{Result, RpcError};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run once when a call completes (on whichever thread completed it, never
/// under an engine lock). It must not block.
pub type Notify = Box<dyn FnOnce() + Send>;

/// Wakes a waiter that does not park on the slot (see `progress.rs`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct SlotState {
    result: Option<Result<Vec<u8>>>,
    notify: Vec<Notify>,
    /// The one waiter for several calls ([`Slot::listen`]): each new wait
    /// replaces the last, so repeated waits do not pile callbacks up.
    listener: Option<Notify>,
    waker: Option<Waker>,
}

/// Where one call's answer lands.
pub struct Slot {
    pub name: String,
    pub addr: String,
    done: AtomicBool,
    state: Mutex<SlotState>,
    cv: Condvar,
}

impl Slot {
    pub fn new(name: &str, addr: &str) -> Slot {
        Slot {
            name: name.to_string(),
            addr: addr.to_string(),
            done: AtomicBool::new(false),
            state: Mutex::new(SlotState::default()),
            cv: Condvar::new(),
        }
    }

    /// Stores the outcome (the first one wins), wakes a parked waiter and
    /// runs the completion callback, outside the slot's lock.
    pub fn complete(&self, r: Result<Vec<u8>>) {
        let (notify, listener, waker) = {
            let mut g = self.state.lock();
            if self.done.load(Ordering::Acquire) {
                return;
            }
            g.result = Some(r);
            self.done.store(true, Ordering::Release);
            self.cv.notify_all();
            (std::mem::take(&mut g.notify), g.listener.take(), g.waker.take())
        };
        if let Some(w) = waker {
            w();
        }
        for f in notify.into_iter().chain(listener) {
            run_notify(f);
        }
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    pub fn take(&self) -> Option<Result<Vec<u8>>> {
        if !self.is_done() {
            return None;
        }
        self.state.lock().result.take()
    }

    /// Blocks until the slot completes or `deadline` passes.
    pub fn park_until(&self, deadline: Instant) {
        let mut g = self.state.lock();
        while !self.is_done() {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return;
            }
        }
    }

    /// Calls `w` at completion (for a waiter sleeping elsewhere than on
    /// the slot); at once if already complete.
    pub fn set_waker(&self, w: Waker) {
        {
            let mut g = self.state.lock();
            if !self.is_done() {
                g.waker = Some(w);
                return;
            }
        }
        w();
    }

    /// Runs `f` when the call completes (at once if it already has), after
    /// the callbacks registered before it.
    pub fn on_complete(&self, f: Notify) {
        {
            let mut g = self.state.lock();
            if !self.is_done() {
                g.notify.push(f);
                return;
            }
        }
        run_notify(f);
    }

    /// Like [`Slot::on_complete`] for the one waiter of several calls
    /// (`margo_wait_any`): replaces the listener set before, which belonged
    /// to a wait that has returned.
    pub fn listen(&self, f: Notify) {
        {
            let mut g = self.state.lock();
            if !self.is_done() {
                g.listener = Some(f);
                return;
            }
        }
        run_notify(f);
    }

    pub fn timeout_error(&self, timeout: Duration) -> RpcError {
        RpcError::Timeout { name: self.name.clone(), addr: self.addr.clone(), millis: timeout.as_millis() }
    }
}

fn run_notify(f: Notify) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        crate::error!("a call's completion callback panicked");
    }
}

/// Calls waiting for a response, by message id.
#[derive(Default)]
pub struct CallTable {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl CallTable {
    pub fn insert(&self, msg_id: u64, slot: Arc<Slot>) {
        self.slots.lock().insert(msg_id, slot);
    }

    pub fn remove(&self, msg_id: u64) -> Option<Arc<Slot>> {
        self.slots.lock().remove(&msg_id)
    }

    /// Fails every waiting call with `error()` (finalize).
    pub fn fail_all(&self, error: impl Fn() -> RpcError) {
        let slots: Vec<_> = self.slots.lock().drain().map(|(_, s)| s).collect();
        for slot in slots {
            slot.complete(Err(error()));
        }
    }
}

/// A wake-up signal a thread can wait on with a timeout: a counter bumped
/// by [`Signal::notify`]. Waiters read [`Signal::generation`] before
/// looking for work and wait only if it has not moved since, so no
/// notification is lost. Cheap enough for completion callbacks.
#[derive(Default)]
pub struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    pub fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    pub fn notify(&self) {
        *self.generation.lock() += 1;
        self.cv.notify_all();
    }

    /// Waits until the generation moves past `seen` or `timeout` passes.
    pub fn wait_past(&self, seen: u64, timeout: Duration) {
        let now = Instant::now();
        let deadline = now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        let mut g = self.generation.lock();
        while *g == seen {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn callbacks_run_once_outside_the_lock() {
        let slot = Arc::new(Slot::new("x", "a"));
        let runs = Arc::new(AtomicUsize::new(0));
        let (s2, r2) = (slot.clone(), runs.clone());
        // The callback may look at the slot (it is not locked any more).
        slot.on_complete(Box::new(move || {
            assert!(s2.is_done());
            r2.fetch_add(1, Ordering::SeqCst);
        }));
        slot.complete(Ok(vec![1]));
        slot.complete(Ok(vec![2]));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(slot.take().unwrap().unwrap(), vec![1]);
        let r3 = runs.clone();
        slot.on_complete(Box::new(move || {
            r3.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "a late callback runs at once");
    }

    #[test]
    fn a_listener_replaces_the_last_and_callbacks_accumulate() {
        let slot = Slot::new("x", "a");
        let runs = Arc::new(AtomicUsize::new(0));
        for weight in [1, 10, 100] {
            let r = runs.clone();
            slot.listen(Box::new(move || {
                r.fetch_add(weight, Ordering::SeqCst);
            }));
        }
        let r = runs.clone();
        slot.on_complete(Box::new(move || {
            r.fetch_add(1000, Ordering::SeqCst);
        }));
        slot.complete(Ok(Vec::new()));
        assert_eq!(runs.load(Ordering::SeqCst), 1100, "the last listener and every callback ran");
    }

    #[test]
    fn a_signal_is_not_lost_between_check_and_wait() {
        let s = Arc::new(Signal::default());
        let seen = s.generation();
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.notify());
        t.join().unwrap();
        let start = Instant::now();
        s.wait_past(seen, Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
