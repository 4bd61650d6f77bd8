//! `ABT_eventual`: a value of a fixed size, set once (until reset), that
//! waiters sleep on.

use super::lending;
use parking_lot::{Condvar, Mutex};
use std::cell::UnsafeCell;

#[derive(Debug, PartialEq, Eq)]
pub enum EventualError {
    /// Set twice without a reset in between.
    AlreadySet,
    /// More bytes than the eventual was created with.
    TooLarge { given: usize, size: usize },
}

impl std::fmt::Display for EventualError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventualError::AlreadySet => f.write_str("the eventual is already set (reset it first)"),
            EventualError::TooLarge { given, size } => {
                write!(f, "{given} bytes given to an eventual created for {size}")
            }
        }
    }
}

/// The value lives in a buffer allocated once, whose address C keeps
/// (`ABT_eventual_wait` hands it out): it is written only by `set`, under
/// `ready`, before the flag is raised.
pub struct Eventual {
    ready: Mutex<bool>,
    cv: Condvar,
    value: Box<[UnsafeCell<u8>]>,
}

// SAFETY: the buffer is written only in `set` while `ready` is false and
// its lock is held; readers read it only after seeing `ready` true under
// the same lock (a write after a `reset` racing a reader's use of the
// pointer is the C caller's race, as with Argobots).
unsafe impl Sync for Eventual {}

impl Eventual {
    /// An eventual of `size` bytes; `None` if the memory cannot be had.
    pub fn new(size: usize) -> Option<Eventual> {
        let mut value = Vec::new();
        value.try_reserve_exact(size).ok()?;
        value.resize_with(size, || UnsafeCell::new(0));
        Some(Eventual { ready: Mutex::new(false), cv: Condvar::new(), value: value.into_boxed_slice() })
    }

    /// The value's address (null for an eventual of 0 bytes).
    pub fn value_ptr(&self) -> *mut u8 {
        if self.value.is_empty() {
            std::ptr::null_mut()
        } else {
            UnsafeCell::raw_get(self.value.as_ptr())
        }
    }

    pub fn set(&self, bytes: &[u8]) -> Result<(), EventualError> {
        if bytes.len() > self.value.len() {
            return Err(EventualError::TooLarge { given: bytes.len(), size: self.value.len() });
        }
        let mut ready = self.ready.lock();
        if *ready {
            return Err(EventualError::AlreadySet);
        }
        // SAFETY: `ready` is false and locked, so no reader reads the
        // buffer (see the Sync impl); the length was checked above.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.value_ptr(), bytes.len()) };
        *ready = true;
        drop(ready);
        self.cv.notify_all();
        Ok(())
    }

    /// Sleeps (with the stream lent) until the eventual is set.
    pub fn wait(&self) {
        if *self.ready.lock() {
            return;
        }
        lending(|| {
            let mut ready = self.ready.lock();
            while !*ready {
                self.cv.wait(&mut ready);
            }
        });
    }

    pub fn is_set(&self) -> bool {
        *self.ready.lock()
    }

    pub fn reset(&self) {
        *self.ready.lock() = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waiters_get_the_value_once_set_and_a_second_set_is_refused() {
        let ev = Arc::new(Eventual::new(4).unwrap());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let ev = ev.clone();
                std::thread::spawn(move || {
                    ev.wait();
                    // SAFETY: set before `wait` returned; 4 bytes long.
                    unsafe { std::slice::from_raw_parts(ev.value_ptr(), 4) }.to_vec()
                })
            })
            .collect();
        ev.set(&[1, 2, 3, 4]).unwrap();
        for w in waiters {
            assert_eq!(w.join().unwrap(), vec![1, 2, 3, 4]);
        }
        assert_eq!(ev.set(&[0]), Err(EventualError::AlreadySet));
        assert_eq!(ev.set(&[0; 5]), Err(EventualError::TooLarge { given: 5, size: 4 }));
        ev.reset();
        assert!(!ev.is_set());
        ev.set(&[9]).unwrap();
        assert!(ev.is_set());
        assert!(Eventual::new(usize::MAX).is_none(), "an impossible size is refused, not an abort");
    }
}
