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
//! between two of its iterations while its own CPU time does not) ends its
//! window, and marks the cores as contended for a while, which tells a shm
//! caller to sleep where its answer lands (`progress.rs`).
//!
//! Windows still open while the cores are contended. The engine used to
//! stop polling altogether then (for 200 ms after a preemption), so that
//! every message needed a wake-up, and each wake-up beside a busy loop has
//! a chance of waiting out the loop's slice. Measured with one busy loop
//! pinned on each core (empty RPC, same run, alternating): polling on took
//! the na+sm median from 13 to 4.2 µs and p99 from 27–69 to 10–13 µs, the
//! tcp median from 32 to 21.5 µs and p99 from 3.1–3.4 to 2.5–2.6 ms, and
//! lowered the CPU per call (tcp client 35 → 24.5 µs, server 33 → 23 µs):
//! a short bounded poll that catches the next message is cheaper than
//! sleeping and being woken. The windows stay short and bounded.
//!
//! An execution stream also polls only while polling pays: a window that
//! ends without work halves the stream thread's credit, one that finds work
//! adds to it, and with no credit left the thread blocks at once (trying a
//! window again every 16th time). When a client and its server share one
//! core, the server's poll after answering holds the core the client needs
//! to read the answer and send again; that window always fails, so the
//! server soon stops polling there, while with a core each it keeps finding
//! the next request and keeps polling.
//!
//! A handler waiting for a call it made learns the same way, on a record
//! of its own ([`Learner::Caller`]; the thread is also a stream, whose
//! polls for work fail or pay for other reasons): with a replicated Yokan
//! put on two busy cores, the replica is often woken onto the primary's
//! core and can only answer once the primary's window ends. Replicated
//! puts through the primary, 4 daemons on the 2-vCPU VM, alternating runs:
//! median 97–120 µs against 127–137 µs with the fixed window.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A gap this long between two polling iterations means we lost the core.
const PREEMPTED: Duration = Duration::from_micros(200);
/// How long the process blocks at once after a poller was preempted.
const CONTENDED_FOR: Duration = Duration::from_millis(200);

/// Most credit an adaptive poller keeps (windows that may fail in a row
/// before it stops polling: halving 4 reaches 0 after three).
const MAX_CREDIT: u8 = 4;
/// With no credit, one window in this many polls anyway (to notice that
/// polling pays again).
const PROBE_EVERY: u8 = 16;

thread_local! {
    /// An execution stream's record of polling for work: (credit, windows
    /// skipped since the last probe).
    static STREAM_CREDIT: Cell<(u8, u8)> = const { Cell::new((MAX_CREDIT, 0)) };
    /// The same for a caller polling for its answer. Kept apart: a thread
    /// may be both (a handler that calls another provider), and the two
    /// fail for different reasons.
    static CALLER_CREDIT: Cell<(u8, u8)> = const { Cell::new((MAX_CREDIT, 0)) };
}

/// Which record an adaptive window learns from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learner {
    /// An execution stream polling for its next job.
    Stream,
    /// A caller polling for its answer.
    Caller,
}

impl Learner {
    fn credit(self) -> &'static std::thread::LocalKey<Cell<(u8, u8)>> {
        match self {
            Learner::Stream => &STREAM_CREDIT,
            Learner::Caller => &CALLER_CREDIT,
        }
    }
}

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
    /// This thread's CPU time at `since`: wall time that passed without it
    /// is time the thread did not have its core. Read again only after a
    /// long gap between two iterations: reading a thread's CPU time is a
    /// system call that takes the run-queue lock (measured: 6 % of a tcp
    /// caller's time when it was read on every iteration).
    since: Instant,
    /// (None for a window that does not poll.)
    since_cpu: Option<Duration>,
    budget: Duration,
    /// Learns from its windows (see the module comment).
    adaptive: Option<Learner>,
    /// The current window polled at least once (work found now means
    /// polling paid).
    polled: bool,
}

impl Spinner {
    /// A window of `budget` from now.
    pub fn new(budget: Duration) -> Spinner {
        let now = Instant::now();
        let since_cpu = (!budget.is_zero()).then(thread_cpu);
        Spinner { start: now, last: now, since: now, since_cpu, budget, adaptive: None, polled: false }
    }

    /// A caller's window while it waits for its answer. A handler's call
    /// (`nested`: made on an execution stream) learns from its windows: the
    /// member it calls is often woken onto the very core the handler polls
    /// on, and then waits the whole window out before it can answer
    /// (traced: a Yokan primary polling 50 µs for its replica's answer
    /// while the replica sat runnable behind it, 60 µs of scheduling delay
    /// on every replicated put). Other callers (a client's thread) always
    /// poll: their server usually runs elsewhere, and a credit lost to a
    /// blip would cost every later call a wake-up until a probe pays.
    pub fn caller(budget: Duration, nested: bool) -> Spinner {
        if nested {
            Spinner::adaptive(budget, Learner::Caller)
        } else {
            Spinner::new(budget)
        }
    }

    /// A window of `budget` for a thread that waits for work to come (an
    /// execution stream), shortened to nothing while its polls have not
    /// been paying.
    pub fn adaptive(budget: Duration, learner: Learner) -> Spinner {
        let mut s = Spinner::new(budget);
        s.adaptive = Some(learner);
        if !s.budget.is_zero() {
            let record = learner.credit();
            let (credit, skipped) = record.with(Cell::get);
            if credit == 0 {
                if skipped + 1 < PROBE_EVERY {
                    record.with(|c| c.set((0, skipped + 1)));
                    s.budget = Duration::ZERO;
                } else {
                    record.with(|c| c.set((0, 0)));
                }
            }
        }
        s
    }

    fn record(&self, paid: bool) {
        let Some(learner) = self.adaptive else { return };
        learner.credit().with(|c| {
            let (credit, skipped) = c.get();
            let credit = if paid { (credit + 1).min(MAX_CREDIT) } else { credit / 2 };
            c.set((credit, skipped));
        });
    }

    /// True while polling should go on. Call once per iteration.
    pub fn keep_going(&mut self) -> bool {
        if self.budget.is_zero() {
            return false;
        }
        let now = Instant::now();
        if now.duration_since(self.last) > PREEMPTED {
            // Time off the core, not time spent working between two calls.
            let cpu = thread_cpu();
            let off_core = self
                .since_cpu
                .map_or(Duration::ZERO, |before| now.duration_since(self.since).saturating_sub(cpu.saturating_sub(before)));
            if off_core > PREEMPTED {
                CONTENDED_UNTIL.store(nanos(now + CONTENDED_FOR), Ordering::Relaxed);
                self.budget = Duration::ZERO;
            }
            self.since = now;
            self.since_cpu = Some(cpu);
        }
        self.last = now;
        let going = now.duration_since(self.start) < self.budget;
        if self.polled && !going {
            self.record(false);
            self.polled = false;
        } else if going {
            self.polled = true;
        }
        going
    }

    /// What the window waited for turned up (`found`) or will not be
    /// waited for any more: ends the window, recording whether it paid.
    pub fn finish(mut self, found: bool) {
        if self.polled {
            self.record(found);
        }
        self.polled = false;
    }

    /// Work turned up: poll for a whole window again.
    pub fn restart(&mut self) {
        if self.polled {
            self.record(true);
        }
        self.polled = false;
        let now = Instant::now();
        self.start = now;
        self.last = now;
        self.since = now;
        self.since_cpu = Some(thread_cpu());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credit left on a record of this thread.
    fn credit(learner: Learner) -> u8 {
        learner.credit().with(Cell::get).0
    }

    /// Whether a window opened now would poll at all (decided when it is
    /// opened, so a test can ask without racing the clock).
    fn would_poll(s: &Spinner) -> bool {
        !s.budget.is_zero()
    }

    /// Runs windows whose wait never ends until the record has no credit
    /// left. A window preempted before its first poll learns nothing (it
    /// never polled), so on a loaded machine this can take more than the
    /// three windows it takes on a quiet one; the bound only stops a test
    /// that would otherwise never end.
    fn fail_until_no_credit(open: impl Fn() -> Spinner, learner: Learner) {
        for _ in 0..1000 {
            if credit(learner) == 0 {
                return;
            }
            let mut s = open();
            while s.keep_going() {}
        }
        panic!("1000 failed windows left credit {}", credit(learner));
    }

    /// Runs windows that find what they wait for until one has polled and
    /// so earned credit back (only every PROBE_EVERY-th window polls while
    /// the record has none).
    fn pay_until_credit(open: impl Fn() -> Spinner, learner: Learner) {
        for _ in 0..1000 {
            if credit(learner) > 0 {
                return;
            }
            let mut s = open();
            let polled = s.keep_going();
            s.finish(polled);
        }
        panic!("1000 paying windows earned no credit");
    }

    #[test]
    fn polls_that_never_pay_stop_and_are_tried_again() {
        let window = Duration::from_micros(20);
        let open = move || Spinner::adaptive(window, Learner::Stream);
        std::thread::spawn(move || {
            assert!(would_poll(&open()), "a fresh poller polls");
            fail_until_no_credit(open, Learner::Stream);
            for i in 1..PROBE_EVERY {
                assert!(!would_poll(&open()), "no credit, no polling (window {i})");
            }
            assert!(would_poll(&open()), "every {PROBE_EVERY}th window probes");
            pay_until_credit(open, Learner::Stream);
            assert!(would_poll(&open()), "polling pays again, so it goes on");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_handlers_calls_learn_apart_from_its_polls_for_work() {
        let window = Duration::from_micros(20);
        let nested = move || Spinner::caller(window, true);
        std::thread::spawn(move || {
            // Calls whose answers never come while polling use up the
            // caller's credit...
            fail_until_no_credit(nested, Learner::Caller);
            assert!(!would_poll(&nested()), "no credit left: the next call blocks at once");
            // ...and nothing else's.
            assert_eq!(credit(Learner::Stream), MAX_CREDIT, "the stream's own record is intact");
            assert!(would_poll(&Spinner::adaptive(window, Learner::Stream)));
            assert!(would_poll(&Spinner::caller(window, false)), "a plain caller always polls");
            // An answer found while polling earns the credit back.
            pay_until_credit(nested, Learner::Caller);
            assert!(would_poll(&nested()), "polling pays again");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_window_ends_and_a_gap_ends_it_early() {
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
        // A new window polls again, bounded as ever.
        let mut s = Spinner::new(Duration::from_micros(50));
        assert!(s.keep_going(), "windows still open while contended");
        let start = Instant::now();
        while s.keep_going() {}
        assert!(start.elapsed() < Duration::from_secs(5));
        let _ = loaded;
    }
}
