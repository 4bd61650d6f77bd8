//! Server-side code waiting on behalf of a peer (a handler that blocks for
//! a request another process made, say) learns at once that the peer is
//! gone, through [`crate::rpc::Engine::watch_peer`].
//!
//! It rides on the transport's [`PeerWatch`](crate::fabric::peer_watch),
//! which already watches the peers our calls wait on (a plain TCP
//! connection to a tcp peer's listener, a pidfd for a shm peer's process):
//! a watched peer stays watched for as long as a guard on it lives (the
//! transport counts it as busy when it retires idle watches, and does not
//! drop its watch when it evicts the peer from the address vector), and a
//! verdict on it runs the guards' callbacks. Nothing polls: the verdict
//! comes from the watch thread blocked in `epoll_wait`, which wakes the
//! engine's driving stream; the callbacks run where the transport's other
//! verdicts are acted on, after the endpoint's lock is let go.
//!
//! A peer already gone is found so by the watch's first look (the
//! connection is refused, `pidfd_open` finds no such process): its
//! callbacks run during `watch_peer`'s own drive (or the drive of whoever
//! holds the endpoint then).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// Run once when the watched peer is found gone, with why (on the thread
/// that drives progress, with no lock held): it must be quick and must not
/// block (typically it marks something and wakes a waiter).
pub type GoneCallback = Box<dyn FnOnce(&str) + Send>;

/// The guards on peers, shared by the engine (which adds and fires them)
/// and its transport (which watches their peers).
#[derive(Default)]
pub(crate) struct GoneWatchers {
    state: Mutex<State>,
    /// Set when `state.fresh` is not empty (read on every drive).
    any_fresh: AtomicBool,
}

#[derive(Default)]
struct State {
    next_id: u64,
    by_peer: HashMap<Arc<[u8]>, Vec<(u64, GoneCallback)>>,
    /// Peers newly guarded, for the transport to start watching.
    fresh: Vec<Arc<[u8]>>,
}

impl GoneWatchers {
    /// Adds `callback` for `peer`: its id, and whether the peer had no
    /// guard yet (then the transport is asked to watch it at its next
    /// drive, which the caller must bring about).
    pub fn add(&self, peer: &Arc<[u8]>, callback: GoneCallback) -> (u64, bool) {
        let mut s = self.state.lock();
        s.next_id += 1;
        let id = s.next_id;
        let list = s.by_peer.entry(peer.clone()).or_default();
        let first = list.is_empty();
        list.push((id, callback));
        if first {
            s.fresh.push(peer.clone());
            self.any_fresh.store(true, Ordering::Release);
        }
        (id, first)
    }

    /// Takes guard `id` of `peer` away (a no-op once it fired).
    fn remove(&self, peer: &[u8], id: u64) {
        // Dropped after the lock: a callback's captures may own guards.
        let removed = {
            let mut s = self.state.lock();
            let Some(list) = s.by_peer.get_mut(peer) else { return };
            let removed = list.iter().position(|(i, _)| *i == id).map(|at| list.swap_remove(at));
            if list.is_empty() {
                s.by_peer.remove(peer);
            }
            removed
        };
        drop(removed);
    }

    /// The peers newly guarded since the last call (cheap when none).
    pub fn take_fresh(&self) -> Vec<Arc<[u8]>> {
        if !self.any_fresh.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut s = self.state.lock();
        self.any_fresh.store(false, Ordering::Release);
        std::mem::take(&mut s.fresh)
    }

    /// Every guarded peer.
    pub fn guarded(&self) -> Vec<Arc<[u8]>> {
        self.state.lock().by_peer.keys().cloned().collect()
    }

    pub fn is_guarded(&self, peer: &[u8]) -> bool {
        self.state.lock().by_peer.contains_key(peer)
    }

    /// `peer` is gone: runs (and forgets) its callbacks, with no lock held.
    pub fn fire(&self, peer: &[u8], why: &str) {
        let callbacks = self.state.lock().by_peer.remove(peer).unwrap_or_default();
        for (_, callback) in callbacks {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(why))).is_err() {
                crate::error!("a peer-gone callback panicked");
            }
        }
    }
}

/// Watches a peer for as long as it lives (see
/// [`crate::rpc::Engine::watch_peer`]); dropping it stops the watch (its
/// callback then never runs).
pub struct PeerWatchGuard {
    watchers: Weak<GoneWatchers>,
    peer: Arc<[u8]>,
    id: u64,
}

impl PeerWatchGuard {
    pub(crate) fn new(watchers: &Arc<GoneWatchers>, peer: Arc<[u8]>, id: u64) -> PeerWatchGuard {
        PeerWatchGuard { watchers: Arc::downgrade(watchers), peer, id }
    }
}

impl Drop for PeerWatchGuard {
    fn drop(&mut self) {
        if let Some(w) = self.watchers.upgrade() {
            w.remove(&self.peer, self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counter() -> (Arc<AtomicUsize>, GoneCallback) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        (
            n,
            Box::new(move |_| {
                m.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    #[test]
    fn callbacks_fire_once_and_dropped_guards_never() {
        let w = Arc::new(GoneWatchers::default());
        let peer: Arc<[u8]> = Arc::from(&b"peer"[..]);
        let (kept, cb) = counter();
        let (id, first) = w.add(&peer, cb);
        assert!(first);
        let _kept = PeerWatchGuard::new(&w, peer.clone(), id);
        let (dropped, cb) = counter();
        let (id, first) = w.add(&peer, cb);
        assert!(!first, "the peer is asked for once");
        drop(PeerWatchGuard::new(&w, peer.clone(), id));
        assert_eq!(w.take_fresh(), vec![peer.clone()]);
        assert!(w.take_fresh().is_empty());
        assert!(w.is_guarded(&peer));
        w.fire(&peer, "gone");
        w.fire(&peer, "gone again");
        assert_eq!(kept.load(Ordering::SeqCst), 1);
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        assert!(!w.is_guarded(&peer) && w.guarded().is_empty());
    }
}
