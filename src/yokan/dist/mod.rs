//! A distributed Yokan database: every Yokan provider that depends on a
//! Flock group is one shard of one database spread over the group.
//!
//! * `placement`: which members own a key (rendezvous hashing over the view).
//! * `route`: a client operation at any member, split by primary owner and
//!   forwarded; the primary applies it and copies it to the other owners.
//! * `rebalance`: when the view changes, keys move to their new owners and
//!   replicas of a dead member's keys are re-made; a leaving member hands
//!   its keys off.
//! * `wire`: the RPCs between shards.
//!
//! Every RPC of a shard runs on its provider's handler pool, with no thread
//! of the shard's own (besides the rebalancer's): a handler that waits for
//! another member (which may be waiting for us), or for a key to appear,
//! lends its execution stream meanwhile (`rpc/stream.rs`), so a pool served
//! by a single stream keeps serving. No lock of the shard is held while a
//! handler waits (see `order.rs`, and `route.rs` for `WAIT` writes).
//!
//! A member's shard is found from the view: the member's address and the
//! same Yokan provider id as ours (the tutorial gives every member provider
//! 42). The consistency model is written down in `docs/distributed-yokan.md`.

mod addresses;
mod docs;
pub mod handle;
mod order;
pub mod placement;
mod rebalance;
mod route;
pub(crate) use route::list_reply;
pub mod wire;

use super::backend::Backend;
use super::error::{code, Result, YokanError};
use super::protocol::failure;
use crate::flock::protocol::Update;
use crate::flock::provider::{Provider as FlockProvider, UpdateCallbacks};
use crate::rpc::{stream, Engine, PendingCall, RpcError, Signal};
use parking_lot::{Mutex, MutexGuard, RwLock};
use placement::Placement;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long after a view change a key missing at its owner is also looked
/// for at the owners of the previous view (the move may not be finished).
const MOVE_WINDOW: Duration = Duration::from_secs(30);
/// How long a member that did not answer is routed around before it is
/// tried again.
pub(crate) const SUSPECT_TTL: Duration = Duration::from_secs(5);
/// Timeout of the calls between shards (but a forwarded `WAIT`'s, see
/// [`wait_call_timeout`]), unless the config's `"shard_timeout_ms"` says
/// otherwise.
const SHARD_TIMEOUT: Duration = Duration::from_secs(10);
/// The config key for [`SHARD_TIMEOUT`].
pub const SHARD_TIMEOUT_KEY: &str = "shard_timeout_ms";
/// How much longer than the bound it gives the primary's waiter a
/// forwarder waits for a forwarded `WAIT`: the primary's answer (the keys,
/// or that its waiter timed out) must reach it first.
const WAIT_MARGIN: Duration = Duration::from_secs(1);
/// Re-routes allowed for one request (each follows a newer view).
const MAX_HOPS: u8 = 3;
/// Per-key locks at a primary (a write and its copies are one step).
const STRIPES: usize = 64;

/// What a shard needs from the provider that holds it.
pub(crate) trait LocalDb: Send + Sync {
    /// Runs a plain Yokan operation (client payload, mode first) on the
    /// local database only; `multi` applies the multi-put rules to a put of
    /// one pair. Answers the encoded reply body (success) or the error.
    /// A `WAIT` operation blocks until its keys are present, or until
    /// `bound` ends it (see [`WaitBound`]).
    fn run(&self, op: &str, payload: &[u8], multi: bool, bound: WaitBound<'_>) -> Result<Vec<u8>>;
    /// Like [`LocalDb::run`], but a `WAIT` operation whose keys are not all
    /// present is not run (`None`) rather than waited for.
    fn run_if_ready(&self, op: &str, payload: &[u8], multi: bool) -> Result<Option<Vec<u8>>>;
    /// Blocks until every key of `keys` is present (a `NOTIFY` put wakes
    /// it), or until `bound` ends the wait (see [`WaitBound`]); a handler
    /// lends its execution stream meanwhile.
    fn wait_present(&self, keys: &[&[u8]], bound: WaitBound<'_>) -> Result<()>;
    fn backend(&self) -> Result<&dyn Backend>;
}

/// What ends a `WAIT` whose keys do not come: its caller stops waiting
/// (`until`: `YOKAN_ERR_TIMEOUT`; `None`: no bound), or, for a `WAIT`
/// another member forwarded, that member is found gone (`requester`:
/// `YOKAN_ERR_ABORTED`, at once).
#[derive(Clone, Copy, Default)]
pub(crate) struct WaitBound<'a> {
    pub until: Option<Instant>,
    pub requester: Option<&'a Requester>,
}

impl From<Option<Instant>> for WaitBound<'_> {
    fn from(until: Option<Instant>) -> Self {
        WaitBound { until, requester: None }
    }
}

/// The member a forwarded `WAIT` waits on behalf of, which the engine
/// watches while the wait lasts ([`Engine::watch_peer`]). Once it is found
/// gone (SIGKILLed, say) nobody will read the answer: without this the
/// waiter would last until its bound (by default the client's 7-day `WAIT`
/// timeout), holding its place among the `"max_waiting_requests"`.
pub(crate) struct Requester {
    address: String,
    state: Mutex<RequesterState>,
}

#[derive(Default)]
struct RequesterState {
    /// Why it is gone, once it is.
    gone: Option<String>,
    /// Wakes the waiter, while one blocks.
    wake: Option<stream::Wake>,
}

impl Requester {
    pub fn new(address: &str) -> Arc<Requester> {
        Arc::new(Requester { address: address.to_string(), state: Mutex::new(RequesterState::default()) })
    }

    /// The engine found the requester gone (on its progress thread): marks
    /// it, then wakes the waiter with no lock of ours held (the waker takes
    /// the waiter's lock, under which the waiter looks at [`Requester::gone`]).
    pub fn found_gone(&self, why: &str) {
        let wake = {
            let mut s = self.state.lock();
            s.gone = Some(why.to_string());
            s.wake.take()
        };
        if let Some(wake) = wake {
            wake();
        }
    }

    /// Sets (or clears) how to wake the waiter; a waiter sets it before it
    /// first looks at [`Requester::gone`].
    pub fn set_wake(&self, wake: Option<stream::Wake>) {
        self.state.lock().wake = wake;
    }

    /// The error that ends the wait, once the requester is gone.
    pub fn gone(&self) -> Option<YokanError> {
        let s = self.state.lock();
        let why = s.gone.as_ref()?;
        Some(YokanError::new(
            code::ABORTED,
            format!(
                "the member {} that forwarded this request is gone ({why}): nobody will read the answer, so the \
                 request stopped waiting for its keys (and gave its place among the \"max_waiting_requests\" back)",
                self.address
            ),
        ))
    }
}

/// What a provider's config sets for its shard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShardConfig {
    /// `"replication"`: copies of each key (default 1).
    pub replication: usize,
    /// `"shard_timeout_ms"`: how long a member waits for another member's
    /// answer before it routes around it (reads) or fails (writes).
    pub timeout: Duration,
}

impl ShardConfig {
    /// Reads `"replication"` and `"shard_timeout_ms"` from a provider's config.
    pub fn from_config(config: &serde_json::Map<String, serde_json::Value>) -> Result<ShardConfig> {
        let replication = match config.get("replication") {
            None => 1,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=64).contains(&n) => n as usize,
                _ => return Err(YokanError::config(format!("\"replication\" must be an integer from 1 to 64 (got {v})"))),
            },
        };
        // From a millisecond to a day: zero would fail every forwarded
        // request, and a longer wait is a hang by another name.
        let timeout = match config.get(SHARD_TIMEOUT_KEY) {
            None => SHARD_TIMEOUT,
            Some(v) => match v.as_u64() {
                Some(ms) if (1..=86_400_000).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    return Err(YokanError::config(format!(
                        "\"{SHARD_TIMEOUT_KEY}\" must be an integer number of milliseconds from 1 to 86400000 (got {v})"
                    )))
                }
            },
        };
        Ok(ShardConfig { replication, timeout })
    }
}

/// The views a shard routes by.
struct Views {
    current: Placement,
    /// The view before the last change, while keys may still be moving.
    previous: Option<Placement>,
    changed_at: Instant,
}

pub struct Shard {
    engine: Engine,
    provider_id: u16,
    /// Our address as the group's view lists it.
    me: String,
    replication: usize,
    /// Timeout of our calls to other shards.
    timeout: Duration,
    group: FlockProvider,
    views: RwLock<Views>,
    /// Per-key locks at a primary: a write is applied and numbered under
    /// them (never held while waiting for another member, see `order.rs`).
    stripes: Vec<Mutex<()>>,
    /// Numbers our writes as primary.
    sequencer: order::Sequencer,
    /// What we hold as a copy, by the primaries' numbers.
    applied: order::Applied,
    suspects: Mutex<HashMap<String, Instant>>,
    /// Members the group removed (died, left, expelled) that have not
    /// joined again: copies they send are refused.
    departed: Mutex<HashSet<String>>,
    rebalancer: rebalance::Rebalancer,
    addresses: addresses::AddressBook,
}

/// Who waits for a shard call's answer ([`Shard::call_start`]).
#[derive(Clone, Copy)]
enum Waiter {
    /// The thread that started it, right after.
    ThisThread,
    /// A completion callback.
    Notified,
}

/// Forwards the group's membership changes to the rebalancer.
struct OnChange(Weak<Shard>);

impl UpdateCallbacks for OnChange {
    fn membership(&self, update: Update, address: &str, _provider_id: u16) {
        if let Some(shard) = self.0.upgrade() {
            let mut departed = shard.departed.lock();
            match update {
                Update::Died | Update::Left => departed.insert(address.to_string()),
                Update::Joined => departed.remove(address),
                Update::Moved => false,
            };
            drop(departed);
            shard.rebalancer.kick();
        }
    }
    fn metadata(&self, _key: &str, _value: &str) {}
}

impl Shard {
    /// A shard of the database spread over `group`'s members.
    pub fn new(engine: &Engine, provider_id: u16, config: ShardConfig, group: FlockProvider) -> Result<Arc<Shard>> {
        let me = group.public_address().to_string();
        let view = placement_of(&group);
        if !view.is_empty() && !view.contains(&me) {
            crate::warning!("yokan provider {provider_id}: this member ({me}) is not in its group's view yet");
        }
        // A member that has just joined owns keys whose holders have not
        // sent them yet: for the move window, a key missing here is looked
        // for at its owners in the view without us (a group-aware client
        // asks us first, not a member that knows the older view).
        let previous = (view.len() > 1 && view.contains(&me)).then(|| view.without(&me));
        let shard = Arc::new(Shard {
            engine: engine.clone(),
            provider_id,
            me,
            replication: config.replication,
            timeout: config.timeout,
            group,
            views: RwLock::new(Views { current: view, previous, changed_at: Instant::now() }),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            sequencer: order::Sequencer::new(),
            applied: order::Applied::default(),
            suspects: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashSet::new()),
            rebalancer: rebalance::Rebalancer::default(),
            addresses: Default::default(),
        });
        Ok(shard)
    }

    /// Starts following the group (membership callbacks, rebalancing).
    pub(crate) fn start(self: &Arc<Self>, local: Weak<dyn LocalDb>) -> Result<()> {
        self.group.add_update_callbacks(self.callback_context(), Arc::new(OnChange(Arc::downgrade(self))));
        self.rebalancer.start(Arc::downgrade(self), local)
    }

    fn callback_context(&self) -> usize {
        self as *const Shard as usize
    }

    pub fn replication(&self) -> usize {
        self.replication
    }

    /// Stops following the group. With `hand_off`, first gives every key
    /// to its owners in the view without us (a graceful leave).
    pub(crate) fn stop(&self, local: &dyn LocalDb, hand_off: bool) {
        self.group.remove_update_callbacks(self.callback_context());
        self.rebalancer.stop();
        if hand_off {
            let current = self.views.read().current.clone();
            if current.len() > 1 && current.contains(&self.me) {
                let without = current.without(&self.me);
                match rebalance::transfer(self, local, &current, &without) {
                    Ok(()) => {}
                    // Nobody is left to take them (the whole group is going,
                    // or the other owners died).
                    Err(e @ rebalance::TransferError::Unmoved { all_departed: true, .. }) => crate::info!(
                        "yokan provider {}: keys not handed off before leaving, their other owners are gone or leaving too: {e}",
                        self.provider_id
                    ),
                    Err(e) => crate::warning!("yokan provider {}: handing keys off before leaving: {e}", self.provider_id),
                }
            }
        }
    }

    // ---- views and owners ------------------------------------------------

    /// Reads the group's view; true if it changed (the old one is kept as
    /// `previous` while keys move).
    fn refresh_view(&self) -> Option<(Placement, Placement)> {
        let fresh = placement_of(&self.group);
        let mut v = self.views.write();
        if fresh == v.current || fresh.is_empty() {
            return None;
        }
        let old = std::mem::replace(&mut v.current, fresh.clone());
        v.previous = Some(old.clone());
        v.changed_at = Instant::now();
        Some((old, fresh))
    }

    fn current(&self) -> Placement {
        self.views.read().current.clone()
    }

    /// The previous view, if the last change is recent enough that keys
    /// may still be on their way.
    fn moving_from(&self) -> Option<Placement> {
        let v = self.views.read();
        v.previous.clone().filter(|_| v.changed_at.elapsed() < MOVE_WINDOW)
    }

    /// The owners of `key` in `view`, routing around `skip`.
    fn owners<'a>(&self, view: &'a Placement, key: &[u8], skip: &[String]) -> Vec<&'a str> {
        view.ranked(key).into_iter().filter(|m| !skip.iter().any(|s| s == m)).take(self.replication).collect()
    }

    fn suspects(&self) -> Vec<String> {
        let mut s = self.suspects.lock();
        s.retain(|_, since| since.elapsed() < SUSPECT_TTL);
        s.keys().cloned().collect()
    }

    /// True if the group removed `member` (and it did not join again).
    fn departed(&self, member: &str) -> bool {
        self.departed.lock().contains(member)
    }

    fn suspect(&self, member: &str) {
        self.suspects.lock().insert(member.to_string(), Instant::now());
    }

    /// Locks the stripes of `keys` (in order: no deadlock between writers).
    fn lock_keys(&self, keys: &[&[u8]]) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> =
            keys.iter().map(|k| (crate::fnv::fnv1a64(k.iter().copied()) % STRIPES as u64) as usize).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| self.stripes[i].lock()).collect()
    }

    // ---- calls to other shards ---------------------------------------------

    /// Calls `rpc` on `member`'s shard. A member that is certainly gone
    /// (or whose shard is) becomes a suspect.
    fn call(&self, member: &str, rpc: &str, payload: Vec<u8>) -> std::result::Result<Vec<u8>, ShardCallError> {
        let pending = self.call_start(member, rpc, payload, self.timeout, Waiter::ThisThread)?;
        self.call_finish(member, pending)
    }

    /// Sends `rpc` to `member`'s shard. [`Waiter::ThisThread`]: the caller
    /// waits for it with [`Shard::call_finish`] (see
    /// [`Engine::call_async_then_wait`]); [`Waiter::Notified`]: through
    /// [`PendingCall::on_complete`].
    fn call_start(
        &self,
        member: &str,
        rpc: &str,
        payload: Vec<u8>,
        timeout: Duration,
        waiter: Waiter,
    ) -> std::result::Result<PendingCall, ShardCallError> {
        let addr = self.addresses.get(&self.engine, member).map_err(|e| ShardCallError::Failed(e.to_string()))?;
        let started = match waiter {
            Waiter::ThisThread => self.engine.call_async_then_wait(&addr, rpc, self.provider_id, payload, timeout),
            Waiter::Notified => self.engine.call_async(&addr, rpc, self.provider_id, payload, timeout),
        };
        started.map_err(|e| self.call_failed(member, e))
    }

    /// Calls `rpc` (a forwarded `WAIT`) on `member`'s shard, waiting
    /// `timeout` for the answer. Such a call may last as long as its caller
    /// waits (days), so it gives up, like the `WAIT` it forwards, when the
    /// execution stream it runs on is asked to stop (removed, or its engine
    /// finalized): the stop would wait for it (`rpc/stream.rs`). It then
    /// answers `YOKAN_ERR_ABORTED`, naming the stream, as a `WAIT` blocked
    /// at its primary does. Its stream is lent meanwhile. A member that
    /// dies fails the call at once (the engine watches the peers it waits
    /// on). A member that does not know `rpc` is
    /// [`ShardCallError::NoSuchRpc`] (not a suspect: it may predate `rpc`).
    fn call_waiting(
        &self,
        member: &str,
        rpc: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<Vec<u8>, ShardCallError> {
        let pending = self.call_start(member, rpc, payload, timeout, Waiter::Notified)?;
        let signal = Arc::new(Signal::default());
        let answered = signal.clone();
        pending.on_complete(Box::new(move || answered.notify()));
        let stopped = signal.clone();
        let Some(lent) = stream::begin_blocking_wait(Arc::new(move || stopped.notify())) else {
            // Not on an execution stream: no stop waits for us.
            return self.waited(member, pending);
        };
        loop {
            let seen = signal.generation();
            // Answered (or failed), or its deadline passed.
            if pending.test() {
                break;
            }
            if let Some(name) = lent.stopping() {
                let why = format!(
                    "execution stream \"{name}\" was removed (or stopped) while this request waited for its keys at \
                     {member}, their primary; send the request again (another stream of the provider's pool serves it)"
                );
                drop(lent);
                return Ok(failure(&YokanError::new(code::ABORTED, why)));
            }
            let left = pending.deadline().saturating_duration_since(Instant::now());
            signal.wait_past(seen, left);
        }
        drop(lent);
        self.waited(member, pending)
    }

    /// The answer of [`Shard::call_waiting`]'s call; "no such RPC" stays
    /// apart (the member may predate the RPC: not a suspect).
    fn waited(&self, member: &str, pending: PendingCall) -> std::result::Result<Vec<u8>, ShardCallError> {
        match pending.wait() {
            Err(e @ RpcError::NoSuchRpc(_)) => Err(ShardCallError::NoSuchRpc(e)),
            answer => answer.map_err(|e| self.call_failed(member, e)),
        }
    }

    /// A peer that dies mid-call fails it at once: the engine watches the
    /// peers it waits on (`fabric/peer_watch.rs`).
    fn call_finish(&self, member: &str, pending: PendingCall) -> std::result::Result<Vec<u8>, ShardCallError> {
        pending.wait().map_err(|e| self.call_failed(member, e))
    }

    fn call_failed(&self, member: &str, e: RpcError) -> ShardCallError {
        match e {
            e if e.callee_gone() => {
                self.suspect(member);
                ShardCallError::Gone(e.to_string())
            }
            e @ RpcError::Timeout { .. } => ShardCallError::Silent(e.to_string()),
            e => ShardCallError::Failed(e.to_string()),
        }
    }
}

/// A forwarded `WAIT` whose waiter at the primary may wait `bound`
/// (`None`: no bound): its timeout at the forwarder, the bound and
/// [`WAIT_MARGIN`] (no bound: as long as the engine lets a call wait),
/// rather than the shard timeout, which a key that appears later than that
/// would outlast.
pub(crate) fn wait_call_timeout(bound: Option<Duration>) -> Duration {
    bound.map_or(Duration::MAX, |b| b.saturating_add(WAIT_MARGIN))
}

/// Why a call to another shard failed.
#[derive(Debug)]
enum ShardCallError {
    /// The member (or its shard) is gone: route around it.
    Gone(String),
    /// No answer within the timeout: the member is slow, or cut off from
    /// us (a partition); we cannot tell which. Reads go on to the key's
    /// next owner; writes fail (the member may still hold a copy).
    Silent(String),
    /// Anything else (a refused request, a malformed answer).
    Failed(String),
    /// The member knows no such RPC (from [`Shard::call_waiting`] only: the
    /// caller may ask in an older form).
    NoSuchRpc(RpcError),
}

impl ShardCallError {
    fn into_yokan(self, member: &str) -> YokanError {
        match self {
            ShardCallError::Gone(m) | ShardCallError::Silent(m) | ShardCallError::Failed(m) => {
                YokanError::new(code::FROM_MERCURY, format!("shard at {member} did not answer: {m}"))
            }
            ShardCallError::NoSuchRpc(e) => YokanError::new(code::FROM_MERCURY, format!("shard at {member} did not answer: {e}")),
        }
    }
}

fn placement_of(group: &FlockProvider) -> Placement {
    Placement::new(group.view().members().iter().map(|m| m.address.clone()))
}

/// How many keys `member`'s shard holds, its own and its replicas (it
/// counts the keys it would own if every one of `others` were gone). For
/// tests and diagnostics.
pub fn stored_keys(engine: &Engine, member: &str, provider_id: u16, others: &[String]) -> Result<u64> {
    let reply = shard_call(engine, member, provider_id, wire::COUNT, crate::rpc::codec::encode(others))?;
    super::protocol::answer::<u64>(&reply)
}

/// What `member`'s shard reports of its moves ([`wire::State`]). For
/// tests and diagnostics.
pub fn shard_state(engine: &Engine, member: &str, provider_id: u16) -> Result<wire::State> {
    let reply = shard_call(engine, member, provider_id, wire::STATE, Vec::new())?;
    super::protocol::answer::<wire::State>(&reply)
}

/// The keys `member`'s shard holds (its own and its replicas), in order.
/// For tests and diagnostics.
pub fn stored_key_list(engine: &Engine, member: &str, provider_id: u16) -> Result<Vec<Vec<u8>>> {
    use crate::rpc::codec::Bytes;
    let all = super::protocol::ListArgs { from: Bytes(&[]), filter: Bytes(&[]), max: u64::MAX, with_values: false };
    let request = crate::rpc::codec::encode(&super::protocol::Operation { mode: 0, args: all });
    let reply = shard_call(engine, member, provider_id, wire::LIST, request)?;
    Ok(super::protocol::answer::<Vec<(Bytes<'_>, Bytes<'_>)>>(&reply)?.into_iter().map(|(k, _)| k.0.to_vec()).collect())
}

fn shard_call(engine: &Engine, member: &str, provider_id: u16, rpc: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
    let addr = engine.lookup(member).map_err(|e| YokanError::args(e.to_string()))?;
    // No shard there (none, or destroyed): YOKAN_ERR_INVALID_PROVIDER.
    engine.call(&addr, rpc, provider_id, payload, SHARD_TIMEOUT).map_err(handle::rpc_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<ShardConfig> {
        ShardConfig::from_config(v.as_object().unwrap())
    }

    #[test]
    fn shard_settings_have_defaults_and_bounds() {
        assert_eq!(config(json!({})).unwrap(), ShardConfig { replication: 1, timeout: SHARD_TIMEOUT });
        let set = config(json!({"replication": 3, "shard_timeout_ms": 1500})).unwrap();
        assert_eq!(set, ShardConfig { replication: 3, timeout: Duration::from_millis(1500) });
        for bad in [json!(0), json!(-1), json!(2.5), json!("2"), json!(65)] {
            let e = config(json!({ "replication": bad })).unwrap_err();
            assert!(e.detail.contains("\"replication\" must be an integer from 1 to 64"), "{e}");
        }
        for bad in [json!(0), json!(-5), json!(0.5), json!("1000"), json!(86_400_001u64)] {
            let e = config(json!({ SHARD_TIMEOUT_KEY: bad })).unwrap_err();
            assert!(e.detail.contains("\"shard_timeout_ms\" must be an integer number of milliseconds"), "{e}");
        }
    }
}
