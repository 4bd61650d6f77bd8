//! `ABT_cond`: a condition variable over a [`Mutex`] that C holds by hand.

use super::{lending, Mutex};
use parking_lot::{Condvar, Mutex as Inner};
use std::time::Instant;

/// The deadline of a timed wait passed (the mutex is held again).
#[derive(Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Waiters sleep until the signal count moves past the value they saw when
/// they released the mutex; the count is read and the mutex released under
/// `signals`, so a signal sent after the release always finds the waiter.
#[derive(Default)]
pub struct Cond {
    signals: Inner<u64>,
    cv: Condvar,
}

impl Cond {
    /// Releases `mutex` (held by the caller), sleeps until signalled (or,
    /// rarely, spuriously, as any condition variable may), and locks it
    /// again. `Err` only if the caller did not hold the mutex.
    pub fn wait(&self, mutex: &Mutex) -> Result<(), super::NotHeld> {
        self.wait_until(mutex, None).map(|_| ())
    }

    /// As [`Cond::wait`], giving up at `deadline` (the mutex is then held
    /// again too).
    pub fn wait_until(&self, mutex: &Mutex, deadline: Option<Instant>) -> Result<Result<(), TimedOut>, super::NotHeld> {
        let outcome = lending(|| {
            let mut signals = self.signals.lock();
            let seen = *signals;
            mutex.unlock()?;
            let mut outcome = Ok(());
            while *signals == seen {
                match deadline {
                    None => self.cv.wait(&mut signals),
                    Some(d) => {
                        if self.cv.wait_until(&mut signals, d).timed_out() && *signals == seen {
                            outcome = Err(TimedOut);
                            break;
                        }
                    }
                }
            }
            Ok(outcome)
        });
        if outcome.is_ok() {
            // Outside the loan: taking the stream back first lets the
            // stand-in's handler that holds the mutex finish.
            mutex.lock();
        }
        outcome
    }

    pub fn signal(&self) {
        *self.signals.lock() += 1;
        self.cv.notify_one();
    }

    pub fn broadcast(&self) {
        *self.signals.lock() += 1;
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_waiter_sees_the_change_made_before_the_signal() {
        let m = Arc::new(Mutex::new(false));
        let c = Arc::new(Cond::default());
        let ready = Arc::new(AtomicBool::new(false));
        let (m2, c2, r2) = (m.clone(), c.clone(), ready.clone());
        let setter = std::thread::spawn(move || {
            m2.lock();
            r2.store(true, Ordering::SeqCst);
            c2.signal();
            m2.unlock().unwrap();
        });
        m.lock();
        while !ready.load(Ordering::SeqCst) {
            c.wait(&m).unwrap();
        }
        m.unlock().unwrap();
        setter.join().unwrap();
    }

    #[test]
    fn a_timed_wait_times_out_holding_the_mutex_and_a_stray_wait_is_refused() {
        let m = Mutex::new(false);
        let c = Cond::default();
        assert!(c.wait(&m).is_err(), "waiting without holding the mutex");
        m.lock();
        let r = c.wait_until(&m, Some(Instant::now() + Duration::from_millis(20))).unwrap();
        assert_eq!(r, Err(TimedOut));
        assert!(!m.try_lock(), "the mutex is held again after a timeout");
        m.unlock().unwrap();
    }
}
