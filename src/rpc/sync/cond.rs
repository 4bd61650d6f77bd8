//! `ABT_cond`: a condition variable over a [`Mutex`] that C holds by hand,
//! on a futex word (all zero bytes are a valid one: `ABT_COND_INITIALIZER`).

use super::{lending, Mutex, NotHeld};
use crate::futex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// The deadline of a timed wait passed (the mutex is held again).
#[derive(Debug, PartialEq, Eq)]
pub struct TimedOut;

/// A waiter reads `signals`, releases the mutex and sleeps while the word
/// still holds what it read; a signal moves the word and wakes. A signal
/// after the read always ends the sleep (the kernel compares the word),
/// so none is lost; a waiter that wakes returns, as a POSIX one may (a
/// wake meant for an earlier waiter can reach a later one: callers wait in
/// a loop on their condition).
#[repr(C)]
#[derive(Default)]
pub struct Cond {
    signals: AtomicU32,
    /// How many threads may sleep on `signals`: a signal without sleepers
    /// makes no system call.
    sleepers: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Cond>() <= 64 && std::mem::align_of::<Cond>() <= 4);

impl Cond {
    /// Releases `mutex` (held by the caller), sleeps until signalled (or
    /// spuriously), and locks it again. `Err` only if the caller did not
    /// hold the mutex (then nothing happened).
    pub fn wait(&self, mutex: &Mutex) -> Result<(), NotHeld> {
        self.wait_until(mutex, None).map(|_| ())
    }

    /// As [`Cond::wait`], giving up at `deadline` (the mutex is then held
    /// again too).
    pub fn wait_until(&self, mutex: &Mutex, deadline: Option<Instant>) -> Result<Result<(), TimedOut>, NotHeld> {
        let seen = self.signals.load(Ordering::SeqCst);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = mutex.unlock() {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return Err(e);
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout.is_none_or(|t| !t.is_zero()) {
            lending(|| futex::wait(&self.signals, seen, timeout));
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d) && self.signals.load(Ordering::SeqCst) == seen;
        // Outside the loan: taking the stream back first lets the
        // stand-in's handler that holds the mutex finish.
        mutex.lock();
        Ok(if timed_out { Err(TimedOut) } else { Ok(()) })
    }

    pub fn signal(&self) {
        self.signals.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake(&self.signals, 1);
        }
    }

    pub fn broadcast(&self) {
        self.signals.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake_all(&self.signals);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
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
    fn every_waiter_of_a_broadcast_wakes_and_no_signal_is_lost() {
        let m = Arc::new(Mutex::new(false));
        let c = Arc::new(Cond::default());
        let tickets = Arc::new(AtomicU32::new(0));
        // Producers hand out 4 000 tickets one signal at a time; consumers
        // take them under the mutex. A lost signal would leave a consumer
        // asleep with a ticket available (the test would hang).
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (m, c, tickets) = (m.clone(), c.clone(), tickets.clone());
                std::thread::spawn(move || {
                    let mut taken = 0;
                    loop {
                        m.lock();
                        while tickets.load(Ordering::Relaxed) == 0 {
                            c.wait(&m).unwrap();
                        }
                        let t = tickets.load(Ordering::Relaxed);
                        if t == u32::MAX {
                            m.unlock().unwrap();
                            return taken;
                        }
                        tickets.store(t - 1, Ordering::Relaxed);
                        m.unlock().unwrap();
                        taken += 1;
                    }
                })
            })
            .collect();
        for _ in 0..4_000 {
            m.lock();
            tickets.fetch_add(1, Ordering::Relaxed);
            c.signal();
            m.unlock().unwrap();
        }
        loop {
            m.lock();
            if tickets.load(Ordering::Relaxed) == 0 {
                tickets.store(u32::MAX, Ordering::Relaxed);
                c.broadcast();
                m.unlock().unwrap();
                break;
            }
            m.unlock().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let total: u32 = consumers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 4_000);
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
