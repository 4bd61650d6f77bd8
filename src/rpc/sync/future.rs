//! `ABT_future`: a fixed number of compartments that setters fill one by
//! one; the setter that fills the last runs the future's callback with all
//! the values (in the order they were set), then the waiters wake.

use super::lending;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

/// Called with every value once the last compartment is set.
pub type WhenReady = Arc<dyn Fn(&mut [usize]) + Send + Sync>;

#[derive(Debug, PartialEq, Eq)]
pub enum FutureError {
    /// Every compartment is set already (reset it first).
    Full,
}

impl std::fmt::Display for FutureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FutureError::Full => f.write_str("every compartment of the future is set (reset it first)"),
        }
    }
}

#[derive(Default)]
struct State {
    values: Vec<usize>,
    /// True once the callback has run: waiters may go.
    ready: bool,
}

pub struct Future {
    compartments: usize,
    when_ready: Option<WhenReady>,
    state: Mutex<State>,
    cv: Condvar,
}

impl Future {
    pub fn new(compartments: usize, when_ready: Option<WhenReady>) -> Future {
        Future { compartments, when_ready, state: Mutex::new(State::default()), cv: Condvar::new() }
    }

    /// Fills the next compartment; the last one runs the callback (here,
    /// outside the lock) and then wakes the waiters.
    pub fn set(&self, value: usize) -> Result<(), FutureError> {
        let mut filled = {
            let mut s = self.state.lock();
            if s.values.len() >= self.compartments {
                return Err(FutureError::Full);
            }
            s.values.push(value);
            if s.values.len() < self.compartments {
                return Ok(());
            }
            s.values.clone()
        };
        if let Some(cb) = &self.when_ready {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&mut filled))).is_err() {
                crate::error!("an ABT_future callback panicked");
            }
        }
        self.state.lock().ready = true;
        self.cv.notify_all();
        Ok(())
    }

    /// Sleeps (with the stream lent) until every compartment is set and
    /// the callback has run. A future of 0 compartments is ready at once.
    pub fn wait(&self) {
        if self.is_ready() {
            return;
        }
        lending(|| {
            let mut s = self.state.lock();
            while !(s.ready || self.compartments == 0) {
                self.cv.wait(&mut s);
            }
        });
    }

    pub fn is_ready(&self) -> bool {
        self.compartments == 0 || self.state.lock().ready
    }

    /// Empties every compartment.
    pub fn reset(&self) {
        let mut s = self.state.lock();
        s.values.clear();
        s.ready = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_last_setter_runs_the_callback_then_waiters_go() {
        let sum = Arc::new(AtomicUsize::new(0));
        let s = sum.clone();
        let f = Arc::new(Future::new(
            3,
            Some(Arc::new(move |v: &mut [usize]| {
                s.store(v.iter().sum(), Ordering::SeqCst);
            })),
        ));
        let waiter = {
            let f = f.clone();
            let sum = sum.clone();
            std::thread::spawn(move || {
                f.wait();
                sum.load(Ordering::SeqCst)
            })
        };
        for v in [1, 2, 3] {
            assert!(!f.is_ready());
            f.set(v).unwrap();
        }
        assert_eq!(waiter.join().unwrap(), 6, "the callback ran before the waiter woke");
        assert_eq!(f.set(4), Err(FutureError::Full));
        f.reset();
        assert!(!f.is_ready());
        assert!(Future::new(0, None).is_ready());
    }
}
