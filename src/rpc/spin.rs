//! Bounded, adaptive polling before a thread blocks.
//!
//! Waking a blocked thread costs tens of microseconds on a virtual machine
//! whose idle cores halt (about 35 µs per wake-up measured here), against a
//! few microseconds for a whole round trip between two threads that keep
//! polling. So a thread that just did work polls for a little while before
//! it blocks. But polling only pays while the thread keeps its core: when
//! other processes want every core, a polling thread is preempted for a
//! whole scheduler slice (milliseconds), while a blocked one is woken and
//! run at once. A poller that notices it was preempted (wall time passing
//! between two of its iterations while its own CPU time does not) stops
//! polling, and the whole process blocks at once for a while.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A gap this long between two polling iterations means we lost the core.
const PREEMPTED: Duration = Duration::from_micros(200);
/// How long the process blocks at once after a poller was preempted.
const CONTENDED_FOR: Duration = Duration::from_millis(200);

/// Nanoseconds since [`epoch`] until which polling is off.
static CONTENDED_UNTIL: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_nanos().min(u64::MAX as u128) as u64
}

/// True while the cores were found busy recently.
pub fn contended() -> bool {
    nanos(Instant::now()) < CONTENDED_UNTIL.load(Ordering::Relaxed)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// One polling window.
pub struct Spinner {
    start: Instant,
    last: Instant,
    /// This thread's CPU time at `last`: wall time that passed without it
    /// is time the thread did not have its core.
    last_cpu: Duration,
    budget: Duration,
}

impl Spinner {
    /// A window of `budget` from now (none while the cores are contended).
    pub fn new(budget: Duration) -> Spinner {
        let now = Instant::now();
        let budget = if contended() { Duration::ZERO } else { budget };
        let last_cpu = if budget.is_zero() { Duration::ZERO } else { thread_cpu() };
        Spinner { start: now, last: now, last_cpu, budget }
    }

    /// True while polling should go on. Call once per iteration.
    pub fn keep_going(&mut self) -> bool {
        if self.budget.is_zero() {
            return false;
        }
        let now = Instant::now();
        let cpu = thread_cpu();
        // Time off the core, not time spent working between two calls.
        let off_core = now.duration_since(self.last).saturating_sub(cpu.saturating_sub(self.last_cpu));
        if off_core > PREEMPTED {
            CONTENDED_UNTIL.store(nanos(now + CONTENDED_FOR), Ordering::Relaxed);
            self.budget = Duration::ZERO;
        }
        self.last = now;
        self.last_cpu = cpu;
        now.duration_since(self.start) < self.budget
    }

    /// Work turned up: poll for a whole window again.
    pub fn restart(&mut self) {
        let now = Instant::now();
        self.start = now;
        self.last = now;
        self.last_cpu = thread_cpu();
        if contended() {
            self.budget = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_ends_and_a_gap_turns_polling_off() {
        let mut s = Spinner::new(Duration::from_millis(2));
        let mut rounds = 0u64;
        while s.keep_going() {
            rounds += 1;
            std::hint::spin_loop();
        }
        assert!(rounds > 0);
        // Working between two iterations (on the core) is not preemption.
        let mut s = Spinner::new(Duration::from_secs(5));
        let busy = Instant::now();
        while busy.elapsed() < PREEMPTED * 3 {
            std::hint::spin_loop();
        }
        let _ = s.keep_going();
        // (Unless the test itself was preempted meanwhile: only a loaded
        // machine would do that, and then the flag is right.)
        let loaded = contended();
        // Sleeping is time off the core.
        let mut s = Spinner::new(Duration::from_secs(5));
        std::thread::sleep(PREEMPTED * 2);
        assert!(!s.keep_going(), "a gap ends the window");
        assert!(contended());
        assert!(!Spinner::new(Duration::from_secs(5)).keep_going(), "no polling while contended");
        let _ = loaded;
    }
}
