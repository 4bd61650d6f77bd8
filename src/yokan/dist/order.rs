//! The order of a key's writes at its copies.
//!
//! A primary applies a write under the key's stripe lock and numbers it
//! there ([`Sequencer`]), so that per key the numbers follow the order of
//! the writes at the primary. It then lets the lock go and sends the change
//! to the other owners ([`wire::STORE`](super::wire::STORE)), answering the
//! client once each has stored it. Two writes of one key may so be on their
//! way to a copy at once, and arrive in either order (two handler threads,
//! a large value overtaken by a small one over tcp): a copy keeps, per key,
//! the change with the highest number ([`Applied`]), which is the primary's
//! last.
//!
//! Why the lock is not held until the copies answer: the handler that waits
//! for them lends its execution stream meanwhile (Argobots would switch
//! threads there), and that stream may be the one driving the engine's
//! progress. A second write of the same stripe served by the stand-in would
//! block on the lock, and with it the stream: the copies' answers would
//! never be read, and the member would stop answering for good.
//!
//! A copy needs to remember a key's number only while an older change of
//! it may still arrive, that is while an older write of the same primary
//! is unfinished. Each `STORE` carries the primary's *mark*: every write
//! numbered below it has finished (answered or given up). Entries below
//! the mark are forgotten, and a change numbered below it is stale.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Numbers a primary's writes.
pub(super) struct Sequencer {
    /// Tells this shard from any other sender (a member restarted at the
    /// same address starts numbering again).
    id: u64,
    state: Mutex<(u64, BTreeSet<u64>)>,
}

impl Sequencer {
    pub(super) fn new() -> Sequencer {
        // Random: std's hasher keys come from the OS.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Sequencer { id: h.finish(), state: Mutex::new((1, BTreeSet::new())) }
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// The next write's number (call under the stripe locks of its keys).
    pub(super) fn begin(&self) -> u64 {
        let mut s = self.state.lock();
        let seq = s.0;
        s.0 += 1;
        s.1.insert(seq);
        seq
    }

    /// The write numbered `seq` has finished (answered or given up).
    pub(super) fn end(&self, seq: u64) {
        self.state.lock().1.remove(&seq);
    }

    /// Every write numbered below this has finished.
    pub(super) fn mark(&self) -> u64 {
        let s = self.state.lock();
        s.1.first().copied().unwrap_or(s.0)
    }
}

/// Forget a sender that has sent nothing for this long (and has no write
/// in flight that we know of).
const SENDER_IDLE: Duration = Duration::from_secs(600);

/// What a copy remembers of one sender.
struct Sender {
    mark: u64,
    /// Per key, the number of the last change kept.
    latest: HashMap<Vec<u8>, u64>,
    /// The same entries by number, to forget them as the mark passes.
    by_seq: BTreeMap<u64, Vec<Vec<u8>>>,
    seen: Instant,
}

impl Sender {
    fn new() -> Sender {
        Sender { mark: 0, latest: HashMap::new(), by_seq: BTreeMap::new(), seen: Instant::now() }
    }

    fn advance(&mut self, mark: u64) {
        self.seen = Instant::now();
        if mark <= self.mark {
            return;
        }
        self.mark = mark;
        while let Some(entry) = self.by_seq.first_entry() {
            if *entry.key() >= mark {
                break;
            }
            let (seq, keys) = entry.remove_entry();
            for k in keys {
                if self.latest.get(&k) == Some(&seq) {
                    self.latest.remove(&k);
                }
            }
        }
    }
}

/// The numbers of the changes a copy holds, per sender.
#[derive(Default)]
pub(super) struct Applied {
    senders: Mutex<HashMap<u64, Sender>>,
}

impl Applied {
    /// Stores the changes of write `seq` from `sender` whose keys hold no
    /// newer change: `apply` gets their indexes in `keys` (it runs under
    /// this copy's lock, so two writes of one key cannot cross).
    pub(super) fn store<E>(
        &self,
        sender: u64,
        seq: u64,
        mark: u64,
        keys: &[&[u8]],
        apply: impl FnOnce(&[usize]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut senders = self.senders.lock();
        if senders.len() > 64 {
            senders.retain(|_, s| !s.latest.is_empty() || s.seen.elapsed() < SENDER_IDLE);
        }
        let s = senders.entry(sender).or_insert_with(Sender::new);
        s.advance(mark);
        if seq < s.mark {
            // Its write is over (answered or given up): a later one may
            // have replaced the value already.
            return Ok(());
        }
        let fresh: Vec<usize> = (0..keys.len()).filter(|&i| s.latest.get(keys[i]).is_none_or(|&newer| newer <= seq)).collect();
        apply(&fresh)?;
        let mut recorded = Vec::with_capacity(fresh.len());
        for &i in &fresh {
            s.latest.insert(keys[i].to_vec(), seq);
            recorded.push(keys[i].to_vec());
        }
        if !recorded.is_empty() {
            s.by_seq.entry(seq).or_default().extend(recorded);
        }
        Ok(())
    }

    /// Entries remembered (for tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.senders.lock().values().map(|s| s.latest.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(a: &Applied, sender: u64, seq: u64, mark: u64, keys: &[&[u8]]) -> Vec<usize> {
        let mut got = Vec::new();
        a.store::<()>(sender, seq, mark, keys, |idx| {
            got = idx.to_vec();
            Ok(())
        })
        .unwrap();
        got
    }

    #[test]
    fn numbers_follow_the_writes_and_the_mark_the_unfinished() {
        let s = Sequencer::new();
        assert_eq!(s.mark(), 1);
        let (a, b, c) = (s.begin(), s.begin(), s.begin());
        assert!(a < b && b < c);
        assert_eq!(s.mark(), a);
        s.end(b);
        assert_eq!(s.mark(), a);
        s.end(a);
        assert_eq!(s.mark(), c);
        s.end(c);
        assert_eq!(s.mark(), c + 1);
        assert_ne!(Sequencer::new().id(), s.id());
    }

    #[test]
    fn an_older_change_never_replaces_a_newer_one() {
        let a = Applied::default();
        // Writes 5 and 6 of one key in flight at once; 6 arrives first.
        assert_eq!(store(&a, 1, 6, 5, &[b"k", b"other"]), vec![0, 1]);
        assert_eq!(store(&a, 1, 5, 5, &[b"k", b"x"]), vec![1]);
        // Another sender (a new primary) is not compared with the first.
        assert_eq!(store(&a, 2, 1, 1, &[b"k"]), vec![0]);
        // Once the mark passes 6, the entries are forgotten, and a change
        // numbered below the mark is stale.
        assert_eq!(store(&a, 1, 9, 9, &[b"y"]), vec![0]);
        assert_eq!(a.remembered(), 2, "k from sender 2, y from sender 1");
        assert_eq!(store(&a, 1, 7, 7, &[b"k"]), Vec::<usize>::new());
        assert_eq!(store(&a, 1, 10, 10, &[b"k"]), vec![0]);
    }

    #[test]
    fn a_failed_apply_records_nothing() {
        let a = Applied::default();
        assert!(a.store(1, 3, 1, &[b"k"], |_| Err("disk full")).is_err());
        assert_eq!(store(&a, 1, 2, 1, &[b"k"]), vec![0]);
    }
}
