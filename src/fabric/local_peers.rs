//! Shared-memory endpoints of this process that other endpoints of this
//! process talk to.
//!
//! libfabric 1.17's shm provider does not map the region of a peer that
//! lives in the same process: it uses that endpoint's own region pointer.
//! When that endpoint closes, its region is unmapped, and a send to it (or
//! progress that answers it) from another endpoint of the process touches
//! freed memory: a crash inside libfabric. Engines of one process talking
//! to each other is ordinary (tests, a client and a server in one
//! program), and either may finalize first. So:
//!
//! * every shm drive holds [`drive_guard`] (a shared lock: drives of
//!   different endpoints run side by side), and closing an shm endpoint
//!   takes it exclusively ([`close_guard`]): no drive is inside libfabric
//!   while a region of the process goes away;
//! * a closed endpoint's name is remembered ([`is_closed`]): sends to it
//!   fail with a clear message instead of reaching libfabric, and it is
//!   never removed from an address vector (libfabric would unmap memory
//!   that is no longer its).

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSING: RwLock<()> = RwLock::new(());
static CLOSED: Mutex<Option<HashSet<Vec<u8>>>> = Mutex::new(None);
/// Set once any shm endpoint of the process has closed: until then the
/// per-message check is one load, not a lock.
static ANY_CLOSED: AtomicBool = AtomicBool::new(false);

/// Held for the length of one drive of an shm endpoint.
pub fn drive_guard() -> RwLockReadGuard<'static, ()> {
    CLOSING.read()
}

/// Held while an shm endpoint of this process closes; records its name.
pub fn close_guard(name: &[u8]) -> RwLockWriteGuard<'static, ()> {
    let guard = CLOSING.write();
    CLOSED.lock().get_or_insert_with(HashSet::new).insert(name.to_vec());
    ANY_CLOSED.store(true, Ordering::Release);
    guard
}

/// True if `name` is an shm endpoint of this process that has closed.
pub fn is_closed(name: &[u8]) -> bool {
    ANY_CLOSED.load(Ordering::Acquire) && CLOSED.lock().as_ref().is_some_and(|set| set.contains(name))
}
