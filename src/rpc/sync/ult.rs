//! `ABT_thread`: a function run as a job of a pool (by one of the pool's
//! execution streams), which others may join.

use super::lending;
use crate::rpc::Pool;
use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

/// Ids of user-level threads (`ABT_thread_get_id`), and of the OS threads
/// that ask for theirs outside one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the user-level thread running on this OS thread (0: none).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// This OS thread's own id, given on first ask.
    static OWN: Cell<u64> = const { Cell::new(0) };
}

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
    id: u64,
}

impl Ult {
    /// Pushes `work` to `pool`. A panic in `work` is caught and logged (it
    /// ends the thread, which still counts as done).
    pub fn spawn(pool: &Pool, work: impl FnOnce() + Send + 'static) -> Ult {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let ult = Ult { shared: Arc::new((Mutex::new(State::default()), Condvar::new())), id };
        let shared = ult.shared.clone();
        pool.push(Box::new(move || {
            shared.0.lock().runner = Some(std::thread::current().id());
            let outer = CURRENT.with(|c| c.replace(id));
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                crate::error!("a user-level thread's function panicked; the thread ends there");
            }
            CURRENT.with(|c| c.set(outer));
            super::keys::unit_ended(id);
            let mut s = shared.0.lock();
            s.runner = None;
            s.done = true;
            drop(s);
            shared.1.notify_all();
        }));
        ult
    }

    /// The thread's id, unique in the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The id of the calling user-level thread; outside one, an id of the
    /// calling OS thread (from the same numbering).
    pub fn current_id() -> u64 {
        match CURRENT.with(Cell::get) {
            0 => OWN.with(|own| {
                if own.get() == 0 {
                    own.set(NEXT_ID.fetch_add(1, Ordering::Relaxed));
                }
                own.get()
            }),
            id => id,
        }
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
