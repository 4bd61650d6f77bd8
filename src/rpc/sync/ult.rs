//! `ABT_thread`: a function run as a job of a pool (by one of the pool's
//! execution streams), which others may join.

use super::lending;
use crate::rpc::Pool;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::ThreadId;

#[derive(Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The thread would wait for itself.
    Self_,
}

#[derive(Default)]
struct State {
    /// The OS thread running the job, while it runs.
    runner: Option<ThreadId>,
    done: bool,
}

/// A job pushed to a pool, with a way to wait for its end.
#[derive(Clone)]
pub struct Ult {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl Ult {
    /// Pushes `work` to `pool`. A panic in `work` is caught and logged (it
    /// ends the thread, which still counts as done).
    pub fn spawn(pool: &Pool, work: impl FnOnce() + Send + 'static) -> Ult {
        let ult = Ult { shared: Arc::new((Mutex::new(State::default()), Condvar::new())) };
        let shared = ult.shared.clone();
        pool.push(Box::new(move || {
            shared.0.lock().runner = Some(std::thread::current().id());
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                crate::error!("a user-level thread's function panicked; the thread ends there");
            }
            let mut s = shared.0.lock();
            s.runner = None;
            s.done = true;
            drop(s);
            shared.1.notify_all();
        }));
        ult
    }

    pub fn is_done(&self) -> bool {
        self.shared.0.lock().done
    }

    /// Waits (with the stream lent) until the thread's function returned.
    pub fn join(&self) -> Result<(), JoinError> {
        let (state, cv) = &*self.shared;
        {
            let s = state.lock();
            if s.done {
                return Ok(());
            }
            if s.runner == Some(std::thread::current().id()) {
                return Err(JoinError::Self_);
            }
        }
        lending(|| {
            let mut s = state.lock();
            while !s.done {
                cv.wait(&mut s);
            }
        });
        Ok(())
    }
}
