//! Handler pools: lock-free crossbeam channels of jobs, what C sees as an
//! `ABT_pool`. The execution streams that drain them (Margo's
//! `argobots.xstreams`) are in `stream.rs`.
//!
//! One stream per engine also drives network progress: the one serving the
//! engine's `progress_pool` (as in Margo, where the progress loop is a
//! thread of that pool). It alternates between its jobs and the endpoint,
//! and when both are idle it sleeps on the endpoint's waiter ([`Driver`]),
//! which jobs pushed to its pools ring too. With Margo's default layout
//! (progress and handlers on `__primary__`) a request is read and handled
//! by the same thread, with no hand-off. The other streams block on their
//! pools' channels.

use super::stream::Relay;
pub use super::stream::{on_xstream, Xstream};
use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, Weak};

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The endpoint side of the stream that drives progress.
pub(crate) trait Driver: Send + Sync {
    /// Drives the endpoint once and dispatches what it found; true if
    /// anything moved.
    fn drive(&self) -> bool;
    /// Sleeps until rung (a peer, a job for `pools`, a stop) or a spurious
    /// wake-up; returns at once if work is there or `stopping` is raised.
    fn sleep(&self, pools: &[Arc<Pool>], stopping: &AtomicBool);
    /// Wakes the sleeping stream whether it announced itself or not.
    fn wake(&self);
    /// Wakes the stream if it sleeps (a job was queued for it).
    fn notify(&self);
    /// Identifies the endpoint waiter this driver sleeps on.
    fn waiter_id(&self) -> usize;
}

/// One queue of jobs. Its address is what C sees as an `ABT_pool`.
pub struct Pool {
    name: Mutex<String>,
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Set when the progress-driving stream serves this pool: it sleeps
    /// on the endpoint, not on this channel, so a push must ring it.
    driver: OnceLock<Arc<dyn Driver>>,
    /// The streams serving this pool: a push lends one whose owner waits
    /// for a call (`stream.rs`).
    streams: RwLock<Vec<Weak<Relay>>>,
}

impl Pool {
    pub fn new(name: &str) -> Arc<Pool> {
        let (tx, rx) = unbounded();
        Arc::new(Pool { name: Mutex::new(name.to_string()), tx, rx, driver: OnceLock::new(), streams: RwLock::new(Vec::new()) })
    }

    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Queues a job; it runs on one of the execution streams serving this pool.
    pub fn push(&self, job: Job) {
        // Both ends live in `self`, so the channel cannot be disconnected.
        let _ = self.tx.send(job);
        if let Some(d) = self.driver.get() {
            d.notify();
        }
        for stream in self.streams.read().iter() {
            if let Some(stream) = stream.upgrade() {
                stream.pushed();
            }
        }
    }

    pub(crate) fn set_driver(&self, driver: Arc<dyn Driver>) {
        let _ = self.driver.set(driver);
    }

    pub(crate) fn add_stream(&self, stream: &Arc<Relay>) {
        let mut streams = self.streams.write();
        streams.retain(|s| s.strong_count() > 0);
        streams.push(Arc::downgrade(stream));
    }

    pub(crate) fn receiver(&self) -> &Receiver<Job> {
        &self.rx
    }

    /// Jobs waiting to run.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

pub(crate) fn run(job: Job) {
    // A panicking handler must not take the execution stream down with it.
    if catch_unwind(AssertUnwindSafe(job)).is_err() {
        crate::error!("an RPC handler panicked; the execution stream keeps running");
    }
}

pub(crate) fn next_job(pools: &[Arc<Pool>]) -> Option<Job> {
    pools.iter().find_map(|p| p.rx.try_recv().ok())
}
