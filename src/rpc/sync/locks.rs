//! `ABT_mutex` (plain or recursive) and `ABT_rwlock`: locks without
//! guards, since C locks and unlocks them in separate calls.

use super::{lending, LOCK_SPINS};
use crate::futex;
use parking_lot::lock_api::{RawRwLock as _, RawRwLockTimed as _};
use parking_lot::RawRwLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// An unlock of a lock that the caller does not hold (refused: unlocking
/// it would release another thread's critical section).
#[derive(Debug, PartialEq, Eq)]
pub struct NotHeld;

/// A mutex that C locks and unlocks by hand, on a futex word. All zero
/// bytes are an unlocked plain mutex, and a first word of 1 a recursive
/// one: C programs also place mutexes in memory of their own
/// (`ABT_mutex_memory`, `ABT_MUTEX_INITIALIZER`, 64 bytes aligned to 4),
/// which is why the layout is fixed and small.
#[repr(C)]
pub struct Mutex {
    /// Non-zero for a recursive mutex (fixed at creation).
    recursive: u32,
    /// 0 free, 1 held, 2 held with (possibly) sleepers.
    state: AtomicU32,
    /// Recursive mutexes: the holder's [`thread_token`] (0: none).
    owner: AtomicU32,
    /// Recursive mutexes: how many more times the holder locked it.
    depth: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Mutex>() <= 64 && std::mem::align_of::<Mutex>() <= 4);

/// A small number naming this thread (never 0).
fn thread_token() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    thread_local!(static TOKEN: u32 = match NEXT.fetch_add(1, Ordering::Relaxed) {
        0 => NEXT.fetch_add(1, Ordering::Relaxed),
        t => t,
    });
    TOKEN.with(|t| *t)
}

impl Mutex {
    pub fn new(recursive: bool) -> Mutex {
        Mutex { recursive: u32::from(recursive), state: AtomicU32::new(0), owner: AtomicU32::new(0), depth: AtomicU32::new(0) }
    }

    fn is_recursive(&self) -> bool {
        self.recursive != 0
    }

    /// Locks: a short poll, then a sleep on the futex with the stream lent.
    pub fn lock(&self) {
        if self.reenter() {
            return;
        }
        if !self.acquire_polling() {
            lending(|| self.acquire_sleeping());
        }
        self.took();
    }

    /// Locks without waiting (false if another thread holds it).
    pub fn try_lock(&self) -> bool {
        if self.reenter() {
            return true;
        }
        let ok = self.acquire();
        if ok {
            self.took();
        }
        ok
    }

    /// Unlocks. A plain mutex may be unlocked by another thread than the
    /// one that locked it (Argobots allows it); a recursive one only by
    /// its holder.
    pub fn unlock(&self) -> Result<(), NotHeld> {
        if self.is_recursive() {
            if self.owner.load(Ordering::Relaxed) != thread_token() {
                return Err(NotHeld);
            }
            let depth = self.depth.load(Ordering::Relaxed);
            if depth > 0 {
                self.depth.store(depth - 1, Ordering::Relaxed);
                return Ok(());
            }
            self.owner.store(0, Ordering::Relaxed);
        } else if self.state.load(Ordering::Relaxed) == 0 {
            return Err(NotHeld);
        }
        if self.state.swap(0, Ordering::Release) == 2 {
            futex::wake(&self.state, 1);
        }
        Ok(())
    }

    /// A recursive mutex locked again by its holder.
    fn reenter(&self) -> bool {
        if self.is_recursive() && self.owner.load(Ordering::Relaxed) == thread_token() {
            self.depth.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn took(&self) {
        if self.is_recursive() {
            self.owner.store(thread_token(), Ordering::Relaxed);
        }
    }

    fn acquire(&self) -> bool {
        self.state.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    fn acquire_polling(&self) -> bool {
        for _ in 0..LOCK_SPINS {
            if self.state.load(Ordering::Relaxed) == 0 && self.acquire() {
                return true;
            }
            std::hint::spin_loop();
        }
        false
    }

    /// Marks the mutex as having sleepers and sleeps until it is free.
    fn acquire_sleeping(&self) {
        while self.state.swap(2, Ordering::Acquire) != 0 {
            futex::wait(&self.state, 2, None);
        }
    }
}

/// A readers-writer lock that C locks and unlocks by hand
/// (`ABT_rwlock_unlock` does not say which kind it releases).
pub struct RwLock {
    raw: RawRwLock,
    /// Set while a writer holds the lock (no reader can then).
    writer: AtomicBool,
}

impl Default for RwLock {
    fn default() -> Self {
        RwLock { raw: RawRwLock::INIT, writer: AtomicBool::new(false) }
    }
}

impl RwLock {
    pub fn read(&self) {
        if !self.raw.try_lock_shared_for(super::LOCK_WITHOUT_LOAN) {
            lending(|| self.raw.lock_shared());
        }
    }

    pub fn write(&self) {
        if !self.raw.try_lock_exclusive_for(super::LOCK_WITHOUT_LOAN) {
            lending(|| self.raw.lock_exclusive());
        }
        self.writer.store(true, Ordering::Release);
    }

    pub fn unlock(&self) -> Result<(), NotHeld> {
        if self.writer.swap(false, Ordering::AcqRel) {
            // SAFETY: `writer` is set only while the exclusive lock is
            // held, and the swap makes this the one release of it.
            unsafe { self.raw.unlock_exclusive() };
            return Ok(());
        }
        if !self.raw.is_locked() {
            return Err(NotHeld);
        }
        // SAFETY: the lock is held and not by a writer, so by readers; a
        // parking_lot reader count may be released by any thread.
        unsafe { self.raw.unlock_shared() };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_plain_mutex_excludes_and_refuses_a_stray_unlock() {
        let m = Mutex::new(false);
        assert_eq!(m.unlock(), Err(NotHeld));
        m.lock();
        assert!(!m.try_lock());
        m.unlock().unwrap();
        assert!(m.try_lock());
        m.unlock().unwrap();
    }

    #[test]
    fn a_recursive_mutex_is_reentered_by_its_owner_only() {
        let m = Arc::new(Mutex::new(true));
        m.lock();
        m.lock();
        let other = m.clone();
        let (tried, unlocked) = std::thread::spawn(move || (other.try_lock(), other.unlock())).join().unwrap();
        assert!(!tried);
        assert_eq!(unlocked, Err(NotHeld));
        m.unlock().unwrap();
        m.unlock().unwrap();
        assert_eq!(m.unlock(), Err(NotHeld));
    }

    #[test]
    fn contended_increments_are_not_lost() {
        let m = Arc::new(Mutex::new(false));
        let counter = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (m, counter) = (m.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        m.lock();
                        // A non-atomic read-modify-write, made safe by the lock.
                        let v = counter.load(Ordering::Relaxed);
                        counter.store(v + 1, Ordering::Relaxed);
                        m.unlock().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 80_000);
    }

    #[test]
    fn zeroed_memory_is_an_unlocked_mutex_and_a_first_word_of_one_a_recursive_one() {
        // What ABT_MUTEX_INITIALIZER and ABT_RECURSIVE_MUTEX_INITIALIZER give.
        let plain: [AtomicU32; 16] = std::array::from_fn(|_| AtomicU32::new(0));
        let recursive: [AtomicU32; 16] = std::array::from_fn(|i| AtomicU32::new(u32::from(i == 0)));
        // SAFETY: 64 bytes aligned to 4 (atomics, so writes through the
        // references are allowed), every bit pattern of the fields valid;
        // the arrays outlive the references.
        let (p, r) = unsafe { (&*(plain.as_ptr() as *const Mutex), &*(recursive.as_ptr() as *const Mutex)) };
        p.lock();
        assert!(!p.try_lock());
        p.unlock().unwrap();
        r.lock();
        assert!(r.try_lock(), "recursive: its holder locks it again");
        r.unlock().unwrap();
        r.unlock().unwrap();
    }

    #[test]
    fn a_rwlock_shares_reads_and_excludes_writes() {
        let l = Arc::new(RwLock::default());
        l.read();
        l.read();
        let w = l.clone();
        let writer = std::thread::spawn(move || {
            w.write();
            w.unlock().unwrap();
        });
        l.unlock().unwrap();
        l.unlock().unwrap();
        writer.join().unwrap();
        assert_eq!(l.unlock(), Err(NotHeld));
    }
}
