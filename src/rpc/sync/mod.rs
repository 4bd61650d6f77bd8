//! Argobots' synchronization objects and user-level threads, for Margo and
//! Thallium programs that guard their state with `ABT_mutex`, wait on an
//! `ABT_eventual`, or start work with `ABT_thread_create` (the C face is
//! `ffi/abt.rs`, the C++ one `thallium.hpp`).
//!
//! Under Argobots a handler that blocks on one of these yields its
//! execution stream, which runs other handlers meanwhile: a handler may
//! wait for an eventual that a later request on the same one-stream pool
//! sets. Ours run on OS threads, so every blocking wait here lends the
//! handler's stream first ([`lending`], the same loan a handler waiting
//! for a call makes, see `stream.rs`): a stand-in serves the pool while the
//! handler sleeps in the kernel, and the handler takes its stream back once
//! woken. Off execution streams (a program's own threads) the waits simply
//! block.
//!
//! Two rules keep the loan sound. A wait takes the stream back only after
//! releasing every internal lock (taking it back waits for the stand-in's
//! current handler, which may need that lock), and a lock is tried without
//! a loan first, for a bounded time (a loan starts a thread when work is
//! queued; most contention is over in microseconds).
//!
//! The mutex and the condition variable are futex words in a fixed
//! `repr(C)` layout whose all-zero bytes are a valid object: C programs
//! place them in memory of their own (`ABT_MUTEX_INITIALIZER`).
//!
//! Nothing here gives up a wait when its stream is asked to stop: an
//! eventual that is never set keeps its waiter (and so the engine's
//! finalization) waiting, as under Argobots.

mod barrier;
mod cond;
mod eventual;
mod future;
pub mod keys;
mod locks;
pub mod streams;
mod ult;

pub use barrier::Barrier;
pub use cond::{Cond, TimedOut};
pub use eventual::{Eventual, EventualError};
pub use future::{Future, FutureError, WhenReady};
pub use locks::{Mutex, NotHeld, RwLock};
pub use ult::{JoinError, Ult};

use super::stream;
use std::sync::Arc;
use std::time::Duration;

/// How long a readers-writer lock is tried before the waiter lends its
/// stream (it sleeps meanwhile).
const LOCK_WITHOUT_LOAN: Duration = Duration::from_micros(50);
/// How many times a mutex is polled (a few microseconds) before its
/// waiter lends its stream and sleeps on the futex.
const LOCK_SPINS: u32 = 200;

/// Runs `block` (which sleeps until another thread acts) with this
/// handler's stream lent, so that the stream's other handlers (perhaps the
/// one that will wake us) run meanwhile. `block` must leave no internal
/// lock held when it returns.
pub fn lending<T>(block: impl FnOnce() -> T) -> T {
    // No wake-up on stop: see the module comment.
    let lent = stream::begin_blocking_wait(Arc::new(|| {}));
    let out = block();
    drop(lent);
    out
}

/// Lets the other handlers of this stream run if work is queued for it
/// (`ABT_thread_yield`): the stream is lent only when a job waits, and
/// taken back once the stand-in's current job is done.
pub fn yield_now() {
    let lent = stream::begin_wait();
    std::thread::yield_now();
    drop(lent);
}
