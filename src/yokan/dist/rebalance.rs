//! Keys follow the group: when the view changes, every shard sends each of
//! its keys whose owners changed to the owners that did not have it, and
//! drops the keys it no longer owns once their new owners hold them.
//!
//! Transfers use [`wire::FILL`] (store where absent), so a move never
//! overwrites a newer write made under the new view. A shard that could not
//! reach a new owner keeps the key and tries again (a bounded number of
//! times, with a growing pause); keys it no longer owns are dropped only
//! after every new owner has acknowledged them.

use super::placement::Placement;
use super::wire;
use super::{LocalDb, Shard, ShardCallError};
use crate::rpc::codec::Bytes;
use crate::yokan::error::{code, Result, YokanError};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keys per transfer message (and per local read).
const BATCH: usize = 512;
/// Attempts at finishing a transfer before giving up (logged).
const ATTEMPTS: u32 = 8;
/// How long after a finished move a member looks once more for keys it
/// holds but does not own: a primary still routing by the previous view
/// may have copied a write to it after its move ran.
const SWEEP_AFTER: Duration = Duration::from_secs(3);

/// The thread that moves keys after a view change.
#[derive(Default)]
pub(super) struct Rebalancer {
    kick: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Kicks so far, and how many of them the thread has finished with
    /// (looked at the view and moved what it had to, no retry left): the
    /// shard is moving keys while the two differ.
    kicked: AtomicU64,
    settled: AtomicU64,
}

impl Rebalancer {
    pub(super) fn start(&self, shard: Weak<Shard>, local: Weak<dyn LocalDb>) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let name = format!("yokan-rebalance-{}", shard.upgrade().map_or(0, |s| s.provider_id));
        let t = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(shard, local, rx))
            .map_err(|e| YokanError::new(code::OTHER, format!("cannot start the rebalancing thread: {e}")))?;
        *self.kick.lock() = Some(tx);
        *self.thread.lock() = Some(t);
        Ok(())
    }

    /// Asks the thread to look at the view again.
    pub(super) fn kick(&self) {
        if let Some(tx) = self.kick.lock().as_ref() {
            // Counted before it is sent: the thread that takes it finds it.
            self.kicked.fetch_add(1, Ordering::AcqRel);
            // A full channel already holds a kick: nothing is lost.
            let _ = tx.try_send(());
        }
    }

    /// A view change not finished with yet: keys may be on their way from
    /// or to this shard.
    pub(super) fn moving(&self) -> bool {
        self.settled.load(Ordering::Acquire) < self.kicked.load(Ordering::Acquire)
    }

    /// The thread has finished with the first `seen` kicks.
    fn settle(&self, seen: u64) {
        self.settled.fetch_max(seen, Ordering::AcqRel);
    }

    /// Stops the thread (it finishes the batch it is sending).
    pub(super) fn stop(&self) {
        drop(self.kick.lock().take());
        if let Some(t) = self.thread.lock().take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// A transfer to finish: from which view to which, attempts so far, and
/// the pause before the next.
type Pending = (Placement, Placement, u32, Duration);

fn run(shard: Weak<Shard>, local: Weak<dyn LocalDb>, rx: Receiver<()>) {
    let mut retry: Option<Pending> = None;
    // When to look once more for keys this member holds but no longer owns
    // (see SWEEP_AFTER); at most once per view change.
    let mut sweep_at: Option<Instant> = None;
    loop {
        // Blocks until the group changes (or, with a transfer to finish,
        // until its pause is over, or until the sweep is due); the shard
        // stopping drops the sender.
        let wait = match (&retry, sweep_at) {
            (Some((_, _, _, pause)), _) => Some(*pause),
            (None, Some(at)) => Some(at.saturating_duration_since(Instant::now())),
            (None, None) => None,
        };
        let woke = match wait {
            None => rx.recv().is_ok(),
            Some(t) => !matches!(rx.recv_timeout(t), Err(RecvTimeoutError::Disconnected)),
        };
        if !woke {
            return;
        }
        let (Some(s), Some(l)) = (shard.upgrade(), local.upgrade()) else { return };
        // The kicks this pass answers (a later one stays in the channel).
        let seen = s.rebalancer.kicked.load(Ordering::Acquire);
        let changed = s.refresh_view();
        if changed.is_some() {
            sweep_at = None;
        }
        if changed.is_none() && retry.is_none() && sweep_at.is_some_and(|at| Instant::now() >= at) {
            sweep_at = None;
            let view = s.current();
            if let Err(e) = transfer(&s, l.as_ref(), &view, &view) {
                crate::debug!("yokan provider {}: sweeping keys it no longer owns: {e}", s.provider_id);
            }
            s.rebalancer.settle(seen);
            continue;
        }
        let job = match changed {
            // A newer view supersedes an unfinished transfer: move from the
            // view that transfer started at (sending twice is harmless).
            Some((old, new)) => Some((retry.take().map_or(old, |r| r.0), new, 1, Duration::from_millis(100))),
            None => retry.take().map(|(o, n, a, p)| (o, n, a + 1, p * 2)),
        };
        let Some((old, new, attempt, pause)) = job else {
            s.rebalancer.settle(seen);
            continue;
        };
        crate::debug!(
            "yokan provider {}: moving keys ({} -> {} members, attempt {attempt})",
            s.provider_id,
            old.len(),
            new.len()
        );
        match transfer(&s, l.as_ref(), &old, &new) {
            Ok(()) => {
                sweep_at = Some(Instant::now() + SWEEP_AFTER);
                s.rebalancer.settle(seen);
            }
            Err(e) if attempt >= ATTEMPTS => {
                crate::error!("yokan provider {}: keys could not be moved after {attempt} attempts: {e}", s.provider_id);
                s.rebalancer.settle(seen);
            }
            Err(e) => {
                crate::debug!("yokan provider {}: moving keys: {e}; trying again", s.provider_id);
                retry = Some((old, new, attempt, pause));
            }
        }
    }
}

/// Why a transfer did not finish.
#[derive(Debug)]
pub(super) enum TransferError {
    /// Our own database failed.
    Local(YokanError),
    /// Keys whose new owners did not take them (they stay here).
    Unmoved {
        keys: usize,
        last_error: String,
        /// Every owner that did not take them is gone or leaving (its
        /// provider or endpoint closed): as when the whole group shuts down.
        all_departed: bool,
    },
}

impl From<YokanError> for TransferError {
    fn from(e: YokanError) -> Self {
        TransferError::Local(e)
    }
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::Local(e) => write!(f, "{e}"),
            TransferError::Unmoved { keys, last_error, .. } => write!(f, "{keys} keys not moved yet (last: {last_error})"),
        }
    }
}

/// Moves the local keys whose owners differ between `old` and `new`. With
/// `old == new` (a sweep), moves every local key this member does not own
/// in that view to its owners (store-if-absent) and drops it.
pub(super) fn transfer(
    shard: &Shard,
    local: &dyn LocalDb,
    old: &Placement,
    new: &Placement,
) -> std::result::Result<(), TransferError> {
    let sweep = old == new;
    let backend = local.backend()?;
    let r = shard.replication;
    let keys = backend.keys()?;
    let mut failures = 0usize;
    let mut last_error = String::new();
    let mut all_departed = true;
    for chunk in keys.chunks(BATCH) {
        // Per destination, the keys it must receive; and the keys we drop.
        let mut sends: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut leaving: Vec<usize> = Vec::new();
        for (i, key) in chunk.iter().enumerate() {
            let now = new.owners(key, r);
            let was = if sweep {
                if now.contains(&shard.me.as_str()) {
                    continue;
                }
                vec![shard.me.as_str()]
            } else {
                old.owners(key, r)
            };
            if was == now {
                continue;
            }
            for m in &now {
                if *m != shard.me && !was.contains(m) {
                    sends.entry(m.to_string()).or_default().push(i);
                }
            }
            if !now.contains(&shard.me.as_str()) {
                leaving.push(i);
            }
        }
        if sends.is_empty() && leaving.is_empty() {
            continue;
        }
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let values = backend.get(&refs, false)?;
        let mut failed = vec![false; chunk.len()];
        for (member, idx) in &sends {
            let pairs: wire::Fill<'_> =
                idx.iter().filter_map(|&i| values[i].as_ref().map(|v| (Bytes(&chunk[i]), Bytes(v)))).collect();
            if pairs.is_empty() {
                continue;
            }
            let outcome = shard.call(member, wire::FILL, crate::rpc::codec::encode(&pairs));
            let acknowledged = match outcome {
                // (A provider destroyed while its engine lives answers so.)
                Ok(reply) => {
                    crate::yokan::protocol::answer::<()>(&reply).map_err(|e| (e.to_string(), e.code == code::INVALID_PROVIDER))
                }
                Err(ShardCallError::Gone(m)) => Err((m, true)),
                Err(ShardCallError::NoSuchRpc(e)) => Err((e.to_string(), true)),
                Err(ShardCallError::Silent(m)) | Err(ShardCallError::Failed(m)) => Err((m, false)),
            };
            if let Err((m, departed)) = acknowledged {
                failures += idx.len();
                all_departed &= departed;
                last_error = format!("{member}: {m}");
                for &i in idx {
                    failed[i] = true;
                }
            }
        }
        let drop_now: Vec<&[u8]> = leaving.iter().filter(|&&i| !failed[i]).map(|&i| chunk[i].as_slice()).collect();
        if !drop_now.is_empty() {
            let _locked = shard.lock_keys(&drop_now);
            backend.erase(&drop_now)?;
        }
    }
    if failures > 0 {
        return Err(TransferError::Unmoved { keys: failures, last_error, all_departed });
    }
    Ok(())
}
