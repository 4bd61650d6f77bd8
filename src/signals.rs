//! SIGINT and SIGTERM in our programs (the `bedrock` daemon, the launcher
//! in `src/bin/bedrock.rs`, `mochi-flock-member`): blocked in every thread
//! before any starts, so that only one waiting thread receives them and can
//! shut down cleanly. The launcher, which does not link the library, compiles
//! this file on its own (`#[path]`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Blocks SIGINT and SIGTERM in the calling thread; threads started
/// afterwards inherit the mask. Call it before any thread starts (a thread
/// started earlier could still receive them). Returns the set, for
/// [`StopSignals::spawn`].
pub fn block() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; all-zero is a valid value to start from.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: signal-set and signal-mask calls on our own initialized set;
    // they only change the calling thread's mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

/// The thread that waits for a stop signal. [`StopSignals::join`] ends it
/// whether or not a signal came, so a program that stops for another reason
/// (a remote shutdown) leaves no thread behind.
pub struct StopSignals {
    thread: JoinHandle<()>,
    done: Arc<AtomicBool>,
}

impl StopSignals {
    /// Starts the thread: on SIGINT or SIGTERM (blocked by [`block`]) it
    /// calls `on_signal` with the signal number.
    pub fn spawn(set: libc::sigset_t, on_signal: impl FnOnce(i32) + Send + 'static) -> std::io::Result<StopSignals> {
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let thread = std::thread::Builder::new().name("mochi-signals".into()).spawn(move || {
            let mut sig = 0;
            // SAFETY: waits for one of the signals of `set`, all blocked.
            unsafe { libc::sigwait(&set, &mut sig) };
            if !finished.load(Ordering::Acquire) {
                on_signal(sig);
            }
        })?;
        Ok(StopSignals { thread, done })
    }

    /// Ends the thread: if no signal came, wakes it with a SIGTERM aimed at
    /// it alone (blocked, so it only ends its sigwait), then joins it.
    pub fn join(self) {
        use std::os::unix::thread::JoinHandleExt;
        self.done.store(true, Ordering::Release);
        // SAFETY: the pthread_t of a thread not yet joined stays valid even
        // after it exits; SIGTERM is blocked in it, so it is only delivered
        // to its sigwait (or discarded when the thread has ended).
        unsafe { libc::pthread_kill(self.thread.as_pthread_t(), libc::SIGTERM) };
        let _ = self.thread.join();
    }
}
