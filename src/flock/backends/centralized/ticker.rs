//! Runs a member's timed work (the primary's pings, a follower's watchdog,
//! an election, a rejoin) as jobs on the provider's pool, one at a time.
//!
//! The work is a single step, [`Tick::tick`], that never waits: it looks at
//! what changed (answers that came in, calls past their deadline, the
//! state), starts the calls that are due and says when it must run again.
//! A step runs
//!
//! * when [`Ticker::kick`]ed: a handler changed something the work must act
//!   on, or a call the work started completed (`PendingCall::on_complete`);
//! * at the time the last step asked for, through `rpc::timer` (one entry
//!   at a time; an entry that is no longer wanted is cancelled).
//!
//! Nothing else wakes it: a member with nothing due costs nothing. Steps
//! never overlap, even on a pool served by several execution streams: a
//! kick during a step makes that step run once more instead.

use crate::rpc::pool::{Job, Pool};
use crate::rpc::timer::{self, TimerId};
use parking_lot::{Condvar, Mutex};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// What a [`Ticker`] runs.
pub(super) trait Tick: Send + Sync + 'static {
    /// Does what is due without waiting; returns when to run again (`None`:
    /// only when kicked). A time that has passed means "at once".
    fn tick(&self) -> Option<Instant>;
    fn ticker(&self) -> &Ticker<Self>
    where
        Self: Sized;
}

/// How long a step that panicked waits before the next (a bug: logged, and
/// the member keeps going rather than stopping its failure detection).
const AFTER_PANIC: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Flags {
    /// A step is queued on the pool (by a kick).
    queued: bool,
    /// The thread running a step now.
    running: Option<ThreadId>,
    /// Kicked while a step ran: it runs once more.
    again: bool,
    /// The timer entry of the next step, and its time.
    timer: Option<(Instant, TimerId)>,
    /// Stopped: nothing runs any more.
    stopped: bool,
}

pub(super) struct Ticker<T> {
    pool: Arc<Pool>,
    target: Weak<T>,
    flags: Mutex<Flags>,
    /// Rung when a step ends (`stop` waits for it).
    idle: Condvar,
}

/// Why a step runs.
#[derive(Clone, Copy)]
enum Cause {
    Kick,
    Timer(TimerId),
}

impl<T: Tick> Ticker<T> {
    pub fn new(pool: Arc<Pool>, target: Weak<T>) -> Ticker<T> {
        Ticker { pool, target, flags: Mutex::new(Flags::default()), idle: Condvar::new() }
    }

    fn job(&self, cause: Cause) -> Job {
        let target = self.target.clone();
        Box::new(move || {
            if let Some(t) = target.upgrade() {
                t.ticker().run(cause, &t);
            }
        })
    }

    /// Asks for a step as soon as possible. Cheap, and callable from
    /// anywhere: under the caller's locks (it takes only its own, which
    /// nothing holds while taking another), and from completion callbacks.
    pub fn kick(&self) {
        {
            let mut f = self.flags.lock();
            if f.stopped || f.queued {
                return;
            }
            if f.running.is_some() {
                f.again = true;
                return;
            }
            f.queued = true;
        }
        self.pool.push(self.job(Cause::Kick));
    }

    /// Runs steps until no kick came during the last one, then arms the
    /// timer for the time that step asked for.
    fn run(&self, cause: Cause, target: &T) {
        {
            let mut f = self.flags.lock();
            match cause {
                Cause::Kick => f.queued = false,
                Cause::Timer(id) => {
                    if f.timer.map(|(_, t)| t) != Some(id) {
                        // Replaced after it fired: the step that replaced it ran.
                        return;
                    }
                    f.timer = None;
                }
            }
            if f.stopped {
                return;
            }
            if f.running.is_some() {
                f.again = true;
                return;
            }
            f.running = Some(std::thread::current().id());
        }
        loop {
            let next = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target.tick())) {
                Ok(next) => next,
                Err(_) => {
                    crate::error!("a centralized group member's timed work panicked; it runs again in {AFTER_PANIC:?}");
                    Some(Instant::now() + AFTER_PANIC)
                }
            };
            let mut f = self.flags.lock();
            if f.again && !f.stopped {
                f.again = false;
                continue;
            }
            f.running = None;
            self.idle.notify_all();
            if f.stopped {
                return;
            }
            if next.is_some_and(|at| at <= Instant::now()) {
                // Due at once: queued behind the pool's other jobs, not run
                // in a loop here.
                if let Some((_, id)) = f.timer.take() {
                    timer::cancel(id);
                }
                if !f.queued {
                    f.queued = true;
                    drop(f);
                    self.pool.push(self.job(Cause::Kick));
                }
                return;
            }
            self.arm(&mut f, next);
            return;
        }
    }

    /// Makes the timer entry match `next` (kept if it already does).
    fn arm(&self, f: &mut Flags, next: Option<Instant>) {
        if f.timer.map(|(at, _)| at) == next {
            return;
        }
        if let Some((_, id)) = f.timer.take() {
            timer::cancel(id);
        }
        let Some(at) = next else { return };
        // The entry's id is needed in its own job: it reads it from a slot
        // that stays locked until `schedule` has returned it.
        let slot: Arc<Mutex<Option<TimerId>>> = Arc::new(Mutex::new(None));
        let mut filling = slot.lock();
        let (target, mine) = (self.target.clone(), slot.clone());
        let job: Job = Box::new(move || {
            let id = *mine.lock();
            if let (Some(t), Some(id)) = (target.upgrade(), id) {
                t.ticker().run(Cause::Timer(id), &t);
            }
        });
        match timer::schedule(at, &self.pool, job) {
            Some(id) => {
                *filling = Some(id);
                f.timer = Some((at, id));
            }
            None => crate::error!("cannot schedule a centralized group member's timed work: it runs only when kicked"),
        }
    }

    /// Stops: no step starts any more, and one running on another thread
    /// has ended when this returns.
    pub fn stop(&self) {
        let me = std::thread::current().id();
        let mut f = self.flags.lock();
        f.stopped = true;
        if let Some((_, id)) = f.timer.take() {
            timer::cancel(id);
        }
        while f.running.is_some_and(|t| t != me) {
            self.idle.wait(&mut f);
        }
    }
}

impl<T> Drop for Ticker<T> {
    /// A member dropped without being stopped leaves no timer entry behind
    /// (its job would find the member gone anyway).
    fn drop(&mut self) {
        if let Some((_, id)) = self.flags.get_mut().timer.take() {
            timer::cancel(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pool::Xstream;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counter {
        ticker: Ticker<Counter>,
        steps: AtomicUsize,
        /// Steps running at once (must stay at most 1).
        inside: AtomicUsize,
        overlap: AtomicUsize,
        next: Mutex<Option<Instant>>,
        hold: Duration,
    }

    impl Tick for Counter {
        fn tick(&self) -> Option<Instant> {
            if self.inside.fetch_add(1, Ordering::SeqCst) > 0 {
                self.overlap.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(self.hold);
            self.steps.fetch_add(1, Ordering::SeqCst);
            self.inside.fetch_sub(1, Ordering::SeqCst);
            self.next.lock().take()
        }
        fn ticker(&self) -> &Ticker<Counter> {
            &self.ticker
        }
    }

    fn counter(pool: &Arc<Pool>, hold: Duration) -> Arc<Counter> {
        Arc::new_cyclic(|me| Counter {
            ticker: Ticker::new(pool.clone(), me.clone()),
            steps: AtomicUsize::new(0),
            inside: AtomicUsize::new(0),
            overlap: AtomicUsize::new(0),
            next: Mutex::new(None),
            hold,
        })
    }

    fn eventually(what: &str, f: impl Fn() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn kicks_coalesce_and_steps_never_overlap() {
        let pool = Pool::new("ticker-test");
        let _streams: Vec<Xstream> = (0..3).map(|i| Xstream::spawn(&format!("tk{i}"), vec![pool.clone()]).unwrap()).collect();
        let c = counter(&pool, Duration::from_millis(5));
        for _ in 0..50 {
            c.ticker.kick();
            std::thread::sleep(Duration::from_micros(300));
        }
        eventually("the kicks ran", || c.steps.load(Ordering::SeqCst) > 0 && c.ticker.flags.lock().running.is_none());
        std::thread::sleep(Duration::from_millis(30));
        let steps = c.steps.load(Ordering::SeqCst);
        assert!(steps < 50, "{steps} steps for 50 kicks during 5 ms steps: kicks were not coalesced");
        assert_eq!(c.overlap.load(Ordering::SeqCst), 0, "two steps ran at once");
        c.ticker.stop();
    }

    #[test]
    fn a_step_runs_when_it_asked_and_a_later_kick_rearms_the_timer() {
        let pool = Pool::new("ticker-timer");
        let _xs = Xstream::spawn("tk-timer", vec![pool.clone()]).unwrap();
        let c = counter(&pool, Duration::ZERO);
        let start = Instant::now();
        *c.next.lock() = Some(start + Duration::from_millis(80));
        c.ticker.kick();
        eventually("first step", || c.steps.load(Ordering::SeqCst) == 1);
        eventually("the timed step", || c.steps.load(Ordering::SeqCst) == 2);
        assert!(start.elapsed() >= Duration::from_millis(80));
        // A step that asks for nothing leaves no timer entry.
        assert!(c.ticker.flags.lock().timer.is_none());
        // A later time replaces an earlier one: only the later step runs.
        *c.next.lock() = Some(Instant::now() + Duration::from_millis(40));
        c.ticker.kick();
        eventually("third step", || c.steps.load(Ordering::SeqCst) == 3);
        *c.next.lock() = Some(Instant::now() + Duration::from_millis(150));
        c.ticker.kick();
        eventually("fourth step", || c.steps.load(Ordering::SeqCst) == 4);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(c.steps.load(Ordering::SeqCst), 4, "the replaced timer entry ran a step");
        eventually("the later timed step", || c.steps.load(Ordering::SeqCst) == 5);
        c.ticker.stop();
    }

    #[test]
    fn stop_waits_for_a_running_step_and_ends_everything() {
        let pool = Pool::new("ticker-stop");
        let _xs = Xstream::spawn("tk-stop", vec![pool.clone()]).unwrap();
        let c = counter(&pool, Duration::from_millis(100));
        *c.next.lock() = Some(Instant::now() + Duration::from_millis(150));
        c.ticker.kick();
        eventually("a step started", || c.inside.load(Ordering::SeqCst) == 1);
        c.ticker.stop();
        assert_eq!(c.inside.load(Ordering::SeqCst), 0, "stop returned during a step");
        let steps = c.steps.load(Ordering::SeqCst);
        c.ticker.kick();
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(c.steps.load(Ordering::SeqCst), steps, "a step ran after stop");
    }
}
