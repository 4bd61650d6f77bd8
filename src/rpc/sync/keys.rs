//! Argobots' work-unit-specific values (`ABT_key`): each key holds one value
//! per user-level thread, dropped (through the key's destructor) when the
//! thread ends.
//!
//! A thread made by `ABT_thread_create` / `ABT_task_create` is a unit of its
//! own ([`super::Ult::current_id`]); anything else (a handler, the program's
//! own threads) is counted as its OS thread, whose values last as long as
//! the process (a handler that sets one sees it again in the next handler
//! on the same thread: set it per request, or use a thread of its own).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Called with a value when its unit ends (not at `free`, as Argobots).
pub type Destructor = Arc<dyn Fn(usize) + Send + Sync>;

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Per unit: per key, the value and the key's destructor.
type Values = HashMap<u64, HashMap<u64, (usize, Option<Destructor>)>>;
static VALUES: Mutex<Option<Values>> = Mutex::new(None);

/// A key (what an `ABT_key` owns).
pub struct Key {
    id: u64,
    destructor: Option<Destructor>,
}

impl Key {
    pub fn new(destructor: Option<Destructor>) -> Key {
        Key { id: NEXT_KEY.fetch_add(1, Ordering::Relaxed), destructor }
    }

    /// Sets the calling unit's value (0 clears it).
    pub fn set(&self, value: usize) {
        let unit = super::Ult::current_id();
        let mut guard = VALUES.lock();
        let units = guard.get_or_insert_with(HashMap::new);
        if value == 0 {
            if let Some(keys) = units.get_mut(&unit) {
                keys.remove(&self.id);
            }
            return;
        }
        units.entry(unit).or_default().insert(self.id, (value, self.destructor.clone()));
    }

    /// The calling unit's value (0 if none was set).
    pub fn get(&self) -> usize {
        let unit = super::Ult::current_id();
        VALUES.lock().as_ref().and_then(|u| u.get(&unit)).and_then(|k| k.get(&self.id)).map_or(0, |(v, _)| *v)
    }
}

impl Drop for Key {
    /// The key's values are forgotten (their destructor does not run, as
    /// `ABT_key_free` does not run it).
    fn drop(&mut self) {
        if let Some(units) = VALUES.lock().as_mut() {
            for keys in units.values_mut() {
                keys.remove(&self.id);
            }
            units.retain(|_, keys| !keys.is_empty());
        }
    }
}

/// A user-level thread ended: its values go, each through its key's
/// destructor (run outside the lock: a destructor may use keys).
pub(super) fn unit_ended(unit: u64) {
    let ended = VALUES.lock().as_mut().and_then(|u| u.remove(&unit));
    for (_, (value, destructor)) in ended.into_iter().flatten() {
        if let Some(d) = destructor {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d(value))).is_err() {
                crate::error!("an ABT_key destructor panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::sync::Ult;
    use crate::rpc::Pool;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn values_are_per_thread_and_destroyed_at_its_end() {
        let destroyed = Arc::new(AtomicUsize::new(0));
        let d = destroyed.clone();
        let key = Arc::new(Key::new(Some(Arc::new(move |v| {
            d.fetch_add(v, Ordering::SeqCst);
        }))));
        key.set(7);
        assert_eq!(key.get(), 7);
        let pool = Pool::new("keys");
        let _stream = crate::rpc::pool::Xstream::spawn("keys", vec![pool.clone()]).unwrap();
        let k = key.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let ult = Ult::spawn(&pool, move || {
            let before = k.get();
            k.set(40);
            tx.send((before, k.get())).unwrap();
        });
        ult.join().unwrap();
        assert_eq!(rx.recv().unwrap(), (0, 40), "a new thread starts without a value");
        assert_eq!(destroyed.load(Ordering::SeqCst), 40, "its value was destroyed when it ended");
        assert_eq!(key.get(), 7, "the caller's own value is untouched");
        key.set(0);
        assert_eq!(key.get(), 0);
    }
}
