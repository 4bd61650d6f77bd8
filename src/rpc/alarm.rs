//! Alarms (Margo's `margo_timer_t`): a callback run as a job of a pool a
//! given time after `start`, which may be started again once it fired,
//! and cancelled. Built on the process's timer thread (`timer.rs`).
//!
//! Rules, as Margo's timers have them: `start` is refused while the alarm
//! is pending; `cancel` unschedules it, makes a firing that is queued but
//! not yet running skip its callback, and waits for callbacks that run
//! (except the caller's own: a callback may cancel its alarm); dropping
//! the last handle of a pending alarm does not cancel it; when the engine
//! finalizes, pending alarms fire at once (their callers may wait for
//! them), after which no alarm starts.

use super::pool::Pool;
use super::sync::lending;
use super::timer::{self, TimerId};
use parking_lot::{Condvar, Mutex};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Why `start` refused.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// Pending already (fired alarms may be started again).
    Pending,
    /// Its engine is finalized (or finalizing).
    Finalized,
    /// The process's timer thread could not be started.
    NoTimerThread,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StartError::Pending => "the timer is already started and has not fired yet",
            StartError::Finalized => "the timer's margo instance is finalized",
            StartError::NoTimerThread => "the timer thread could not be started",
        })
    }
}

#[derive(Default)]
struct State {
    scheduled: Option<TimerId>,
    /// Moved by `cancel` (and by each firing): a queued firing of an older
    /// generation skips its callback.
    generation: u64,
    /// Threads running the callback now.
    running: Vec<ThreadId>,
    finalized: bool,
}

struct Inner {
    pool: Weak<Pool>,
    callback: Box<dyn Fn() + Send + Sync>,
    state: Mutex<State>,
    idle: Condvar,
}

/// A handle to an alarm; clones share it.
#[derive(Clone)]
pub struct Alarm {
    inner: Arc<Inner>,
}

impl Alarm {
    /// An alarm whose callback runs on `pool`.
    pub fn new(pool: &Arc<Pool>, callback: impl Fn() + Send + Sync + 'static) -> Alarm {
        Alarm {
            inner: Arc::new(Inner {
                pool: Arc::downgrade(pool),
                callback: Box::new(callback),
                state: Mutex::new(State::default()),
                idle: Condvar::new(),
            }),
        }
    }

    /// Fires the callback `after` from now.
    pub fn start(&self, after: Duration) -> Result<(), StartError> {
        let mut s = self.inner.state.lock();
        if s.finalized {
            return Err(StartError::Finalized);
        }
        if s.scheduled.is_some() {
            return Err(StartError::Pending);
        }
        let Some(pool) = self.inner.pool.upgrade() else {
            return Err(StartError::Finalized);
        };
        let job = Inner::firing(&self.inner, s.generation);
        let at = Instant::now().checked_add(after).unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        s.scheduled = Some(timer::schedule(at, &pool, job).ok_or(StartError::NoTimerThread)?);
        Ok(())
    }

    /// Unschedules the alarm, skips a firing queued but not running, and
    /// waits for the callbacks that run on other threads.
    pub fn cancel(&self) {
        let mut s = self.inner.state.lock();
        s.generation += 1;
        if let Some(id) = s.scheduled.take() {
            timer::cancel(id);
        }
        let me = std::thread::current().id();
        if s.running.iter().all(|t| *t == me) {
            return;
        }
        drop(s);
        lending(|| {
            let mut s = self.inner.state.lock();
            while s.running.iter().any(|t| *t != me) {
                self.inner.idle.wait(&mut s);
            }
        });
    }

    /// The engine finalizes: fires the alarm now if it is pending (on the
    /// caller's thread: its pool may no longer be served), and refuses
    /// later starts.
    pub fn finalize(&self) {
        let mut s = self.inner.state.lock();
        s.finalized = true;
        let Some(id) = s.scheduled.take() else { return };
        if !timer::cancel(id) {
            return; // already queued on its pool: it fires there
        }
        let generation = s.generation;
        drop(s);
        Inner::firing(&self.inner, generation)();
    }

    /// A number naming this alarm while it lives (for keyed registries).
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// A weak handle, for the engine's finalize hook.
    pub fn downgrade(&self) -> WeakAlarm {
        WeakAlarm(Arc::downgrade(&self.inner))
    }
}

/// An alarm that does not keep its callback alive.
pub struct WeakAlarm(Weak<Inner>);

impl WeakAlarm {
    pub fn upgrade(&self) -> Option<Alarm> {
        self.0.upgrade().map(|inner| Alarm { inner })
    }
}

impl Inner {
    /// The job that runs the callback unless the alarm was cancelled (or
    /// fired and restarted) since `generation`.
    fn firing(inner: &Arc<Inner>, generation: u64) -> Box<dyn FnOnce() + Send> {
        let inner = inner.clone();
        Box::new(move || {
            let me = std::thread::current().id();
            {
                let mut s = inner.state.lock();
                if s.generation != generation {
                    return;
                }
                s.generation += 1;
                s.scheduled = None;
                s.running.push(me);
            }
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (inner.callback)())).is_err() {
                crate::error!("a timer's callback panicked");
            }
            let mut s = inner.state.lock();
            if let Some(i) = s.running.iter().position(|t| *t == me) {
                s.running.swap_remove(i);
            }
            drop(s);
            inner.idle.notify_all();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::stream::Xstream;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn served_pool() -> (Arc<Pool>, Xstream) {
        let pool = Pool::new("alarm-test");
        let xs = Xstream::spawn("alarm-test", vec![pool.clone()]).unwrap();
        (pool, xs)
    }

    #[test]
    fn fires_once_per_start_and_refuses_a_second_start_while_pending() {
        let (pool, mut xs) = served_pool();
        let (tx, rx) = crossbeam_channel::unbounded();
        let alarm = Alarm::new(&pool, move || tx.send(()).unwrap());
        alarm.start(Duration::from_millis(20)).unwrap();
        assert_eq!(alarm.start(Duration::from_millis(20)), Err(StartError::Pending));
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Fired (it is no longer pending once its callback runs): it may be
        // started again.
        alarm.start(Duration::from_millis(1)).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "one firing per start");
        xs.stop();
    }

    #[test]
    fn a_cancelled_alarm_does_not_fire_and_can_start_again() {
        let (pool, mut xs) = served_pool();
        let (tx, rx) = crossbeam_channel::unbounded();
        let alarm = Alarm::new(&pool, move || tx.send(()).unwrap());
        alarm.start(Duration::from_millis(30)).unwrap();
        alarm.cancel();
        assert!(rx.recv_timeout(Duration::from_millis(80)).is_err(), "a cancelled alarm fired");
        alarm.start(Duration::from_millis(1)).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "one firing");
        xs.stop();
    }

    #[test]
    fn finalize_fires_a_pending_alarm_and_refuses_new_starts() {
        let (pool, mut xs) = served_pool();
        let fired = Arc::new(AtomicUsize::new(0));
        let f = fired.clone();
        let alarm = Alarm::new(&pool, move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        alarm.start(Duration::from_secs(3600)).unwrap();
        alarm.finalize();
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        assert_eq!(alarm.start(Duration::from_millis(1)), Err(StartError::Finalized));
        xs.stop();
    }
}
