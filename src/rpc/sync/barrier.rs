//! `ABT_barrier`: a fixed number of waiters meet, then all go on.

use super::lending;
use parking_lot::{Condvar, Mutex};

struct State {
    size: usize,
    arrived: usize,
    /// Counts completed rounds, so that a waiter of an earlier round does
    /// not mistake the next round's arrivals for its own release.
    round: u64,
}

pub struct Barrier {
    state: Mutex<State>,
    cv: Condvar,
}

impl Barrier {
    pub fn new(size: usize) -> Barrier {
        Barrier { state: Mutex::new(State { size, arrived: 0, round: 0 }), cv: Condvar::new() }
    }

    pub fn size(&self) -> usize {
        self.state.lock().size
    }

    /// Changes the number of waiters (`ABT_barrier_reinit`); refused
    /// (false) while some wait.
    pub fn reinit(&self, size: usize) -> bool {
        let mut s = self.state.lock();
        if s.arrived != 0 {
            return false;
        }
        s.size = size;
        true
    }

    /// Waits (with the stream lent) until `size` threads are waiting.
    pub fn wait(&self) {
        let mut s = self.state.lock();
        s.arrived += 1;
        if s.arrived >= s.size {
            s.arrived = 0;
            s.round += 1;
            drop(s);
            self.cv.notify_all();
            return;
        }
        let round = s.round;
        drop(s);
        lending(|| {
            let mut s = self.state.lock();
            while s.round == round {
                self.cv.wait(&mut s);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn no_waiter_passes_before_all_arrived_over_several_rounds() {
        let b = Arc::new(Barrier::new(3));
        let count = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (b, count) = (b.clone(), count.clone());
                std::thread::spawn(move || {
                    for round in 1..=5 {
                        count.fetch_add(1, Ordering::SeqCst);
                        b.wait();
                        assert!(count.load(Ordering::SeqCst) >= 3 * round);
                        b.wait();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(b.reinit(2));
        assert_eq!(b.size(), 2);
    }
}
