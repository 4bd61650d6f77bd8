//! `ABT_mutex` (plain or recursive) and `ABT_rwlock`: raw locks without
//! guards, since C locks and unlocks them in separate calls.

use super::{lending, LOCK_WITHOUT_LOAN};
use parking_lot::lock_api::{RawMutex as _, RawMutexTimed as _, RawReentrantMutex, RawRwLock as _, RawRwLockTimed as _};
use parking_lot::{RawMutex, RawRwLock, RawThreadId};
use std::sync::atomic::{AtomicBool, Ordering};

/// An unlock of a lock that the caller does not hold (refused: unlocking
/// it would release another thread's critical section).
#[derive(Debug, PartialEq, Eq)]
pub struct NotHeld;

enum Kind {
    Plain(RawMutex),
    /// Held again by the thread that holds it (Argobots' recursive
    /// attribute; our handlers are threads, so the owner is the thread).
    Recursive(RawReentrantMutex<RawMutex, RawThreadId>),
}

/// A mutex that C locks and unlocks by hand.
pub struct Mutex {
    kind: Kind,
}

impl Mutex {
    pub fn new(recursive: bool) -> Mutex {
        let kind = if recursive { Kind::Recursive(RawReentrantMutex::INIT) } else { Kind::Plain(RawMutex::INIT) };
        Mutex { kind }
    }

    /// Locks, polling briefly, then sleeping with the stream lent.
    pub fn lock(&self) {
        match &self.kind {
            Kind::Plain(m) => {
                if !m.try_lock_for(LOCK_WITHOUT_LOAN) {
                    lending(|| m.lock());
                }
            }
            Kind::Recursive(m) => {
                if !m.try_lock_for(LOCK_WITHOUT_LOAN) {
                    lending(|| m.lock());
                }
            }
        }
    }

    /// Locks without waiting (false if another thread holds it).
    pub fn try_lock(&self) -> bool {
        match &self.kind {
            Kind::Plain(m) => m.try_lock(),
            Kind::Recursive(m) => m.try_lock(),
        }
    }

    /// Unlocks. A plain mutex may be unlocked by another thread than the
    /// one that locked it (Argobots allows it); a recursive one only by
    /// its owner.
    pub fn unlock(&self) -> Result<(), NotHeld> {
        match &self.kind {
            Kind::Plain(m) => {
                if !m.is_locked() {
                    return Err(NotHeld);
                }
                // SAFETY: the mutex is locked; a plain parking_lot mutex
                // has no owner, so any thread may release it.
                unsafe { m.unlock() };
            }
            Kind::Recursive(m) => {
                if !m.is_owned_by_current_thread() {
                    return Err(NotHeld);
                }
                // SAFETY: this thread holds the lock (checked above).
                unsafe { m.unlock() };
            }
        }
        Ok(())
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
        if !self.raw.try_lock_shared_for(LOCK_WITHOUT_LOAN) {
            lending(|| self.raw.lock_shared());
        }
    }

    pub fn write(&self) {
        if !self.raw.try_lock_exclusive_for(LOCK_WITHOUT_LOAN) {
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
