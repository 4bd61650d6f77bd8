//! The `swim` backend: decentralized membership with the SWIM protocol
//! (Das, Gupta, Motivala 2002). Every protocol period each member probes one
//! other member (directly, then through `ping_req_members` helpers); a member
//! that answers neither is suspected, and declared dead if it has not
//! refuted the suspicion (by raising its incarnation) within
//! `suspicion_timeout_ms`. Changes travel as gossip piggy-backed on the
//! protocol's own messages; a full-state sync between two members whose
//! digests differ repairs whatever gossip missed. Joins and leaves are
//! announced explicitly. See `docs/swim.md` for the protocol as implemented.
//!
//! Layout: `config` (keys, defaults, validation), `wire` (messages),
//! `state` (membership and metadata records and their merge rules, no I/O),
//! `handlers` (incoming messages), `probe` (the protocol period, join,
//! leave, sync), this file (the backend: start, handler registration, the
//! reports to the provider, shutdown, metadata).
//!
//! Everything runs on the pool the provider was given: the RPC handlers,
//! the protocol period (a chain of jobs that never wait, scheduled through
//! `rpc::timer`; see `probe`) and the reports to the provider (one job at a
//! time, in order). A member has no thread of its own.

pub mod config;
mod handlers;
mod probe;
mod state;
pub mod wire;

pub use config::SwimConfig;

use self::state::{Event, Id, State, CONFIG_KEY, TYPE_KEY};
use crate::flock::backend::{Backend, BackendFactory, BackendInit};
use crate::flock::backends::check_metadata;
use crate::flock::backends::outbox::Outbox;
use crate::flock::error::{FlockError, Result};
use crate::flock::registry::Named;
use crate::flock::view::GroupView;
use crate::rpc::pool::Pool;
use crate::rpc::timer::{self, TimerId};
use crate::rpc::{Address, Engine, PendingCall, Request, RpcError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Leave announcements wait this long (upstream's announce timeout).
const LEAVE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Members told directly of a leave; the rest learn it by gossip.
const MAX_LEAVE_FANOUT: usize = 32;
/// Tombstones of departed members are kept at least this long.
const MIN_TOMBSTONE_TTL: Duration = Duration::from_secs(600);
/// Consecutive "unknown sender" answers after which an established member
/// concludes that the group has forgotten it.
const UNKNOWN_STREAK_LIMIT: u32 = 3;
/// Resolved addresses cached at most.
const MAX_CACHED_ADDRESSES: usize = 4096;

pub struct SwimFactory;

impl Named for SwimFactory {
    fn name(&self) -> &str {
        "swim"
    }
}

impl BackendFactory for SwimFactory {
    fn create(&self, init: BackendInit) -> Result<Arc<dyn Backend>> {
        let backend: Arc<dyn Backend> = SwimBackend::start(init)?;
        Ok(backend)
    }
}

/// The effective config: `group.config` over upstream's defaults; a joiner
/// then takes the settings the group stored in `__config__` (its initial
/// view comes from a member), so that every member probes with the same
/// timing and reports the same config, and their digests agree.
fn resolve_config(init: &BackendInit) -> Result<SwimConfig> {
    let own = SwimConfig::default().overlay(&init.config, "group.config")?;
    if !init.join || init.initial_view.find_metadata(TYPE_KEY) != Some("swim") {
        return Ok(own);
    }
    let Some(text) = init.initial_view.find_metadata(CONFIG_KEY) else { return Ok(own) };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| FlockError::InvalidConfig(format!("swim: the group's \"__config__\" is not valid JSON: {e}")))?;
    let group = own.clone().overlay(&value, "the group's \"__config__\"")?;
    if group != own && init.config.as_object().is_some_and(|o| !o.is_empty()) {
        crate::warning!("swim: joining with the group's settings {} instead of group.config {}", group.to_text(), own.to_text());
    }
    Ok(group)
}

/// State shared by the backend, its handlers and its protocol jobs.
struct Shared {
    engine: Engine,
    /// The provider's pool: handlers, protocol periods and reports run there.
    pool: Arc<Pool>,
    /// Ourselves, for the jobs we queue (they must not keep us alive).
    me: Weak<Shared>,
    self_id: Id,
    config: SwimConfig,
    state: Mutex<State>,
    /// Delivers changes to the provider: in order, one at a time, outside
    /// every lock (`backends::outbox`).
    outbox: Arc<Outbox<Event>>,
    /// The timer entry of the next protocol period.
    next_period: Mutex<Option<TimerId>>,
    addresses: Mutex<HashMap<String, Address>>,
    /// Set when destroy starts: we answer as a non-member from then on.
    stopping: AtomicBool,
}

/// What a probe answer says about the member that answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Alive,
    /// Alive, but it does not know us and we are new: announce ourselves.
    AliveAnnounce,
    /// It answered that it is out of the group.
    NotAlive,
}

impl Shared {
    /// Runs `f` under the state lock, then queues the events it produced
    /// (still under the lock, so they leave in the order they happened).
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state.lock();
        let r = f(&mut st);
        if !st.events.is_empty() {
            let events = std::mem::take(&mut st.events);
            self.queue_reports(events);
        }
        r
    }

    /// Queues reports (delivered by a job on the provider's pool).
    fn queue_reports(&self, events: Vec<Event>) {
        for e in events {
            self.outbox.push(e);
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    fn address(&self, text: &str) -> std::result::Result<Address, RpcError> {
        let mut cache = self.addresses.lock();
        if let Some(a) = cache.get(text) {
            return Ok(a.clone());
        }
        let a = self.engine.lookup(text)?;
        if cache.len() >= MAX_CACHED_ADDRESSES {
            cache.clear();
        }
        cache.insert(text.to_string(), a.clone());
        Ok(a)
    }

    fn call_async(&self, to: &Id, rpc: &str, payload: Vec<u8>, timeout: Duration) -> std::result::Result<PendingCall, RpcError> {
        let addr = self.address(&to.0)?;
        self.engine.call_async(&addr, rpc, to.1, payload, timeout)
    }

    fn call(&self, to: &Id, rpc: &str, payload: Vec<u8>, timeout: Duration) -> std::result::Result<Vec<u8>, RpcError> {
        self.call_async(to, rpc, payload, timeout)?.wait()
    }

    fn announce_timeout(&self) -> Duration {
        // The member we announce to pings us back before answering.
        self.verify_timeout() + Duration::from_millis(1000)
    }

    /// A join is checked once, not under the failure detector's deadlines:
    /// a joiner that just started on a busy machine may answer slowly.
    fn verify_timeout(&self) -> Duration {
        (self.config.ping_req_timeout() * 2).max(self.config.ping_timeout() * 2).max(Duration::from_millis(1000))
    }

    fn sync_timeout(&self) -> Duration {
        self.config.ping_req_timeout().max(Duration::from_millis(500))
    }

    /// The longest a protocol period's work can take when the process runs
    /// normally (every wait on the network times out).
    fn longest_period(&self) -> Duration {
        self.config.ping_timeout() * 2 + self.config.ping_req_timeout() + self.sync_timeout() + self.announce_timeout()
    }

    fn tombstone_ttl(&self) -> Duration {
        MIN_TOMBSTONE_TTL.max(self.config.suspicion_timeout() * 20)
    }
}

pub struct SwimBackend {
    shared: Arc<Shared>,
    destroyed: AtomicBool,
    /// Destroy without the leave announcement ([`Backend::set_crash_mode`]).
    crash: AtomicBool,
}

const RPCS: [&str; 4] = [wire::PING, wire::PING_REQ, wire::ANNOUNCE, wire::SYNC];

impl SwimBackend {
    fn start(init: BackendInit) -> Result<Arc<SwimBackend>> {
        let config = resolve_config(&init)?;
        for w in config.warnings() {
            crate::warning!("swim: {w}");
        }
        let self_id: Id = (init.self_address.clone(), init.provider_id);
        let now = Instant::now();
        let mut view: GroupView = init.initial_view;
        if !view.contains_member(&self_id.0, self_id.1) {
            view.add_member(&self_id.0, self_id.1);
        }
        view.add_metadata(CONFIG_KEY, &config.to_text());
        view.add_metadata(TYPE_KEY, "swim");
        let mut st = State::new(self_id.clone(), state::unix_ns(), view, now);
        // For a while after creation (joiners, and members of a bootstrap
        // view that started late) others may not know us yet.
        st.young_until = now + (config.suspicion_timeout() * 2).max(config.period() * 20);
        let shared = Arc::new_cyclic(|me| Shared {
            engine: init.engine.clone(),
            pool: init.pool.clone(),
            me: me.clone(),
            self_id,
            config,
            state: Mutex::new(st),
            outbox: {
                let sink = init.sink.clone();
                Outbox::new(init.pool.clone(), Box::new(move |e| probe::report(&*sink, e)))
            },
            next_period: Mutex::new(None),
            addresses: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
        });
        let backend =
            Arc::new(SwimBackend { shared: shared.clone(), destroyed: AtomicBool::new(false), crash: AtomicBool::new(false) });
        if let Err(e) = backend.serve(init.provider_id) {
            backend.shutdown(false);
            return Err(e);
        }
        if init.join {
            if let Err(e) = shared.join_group() {
                backend.shutdown(false);
                return Err(e);
            }
        }
        // Upstream arms its timer for one period before the first probe.
        shared.schedule_period(Instant::now() + shared.config.period());
        Ok(backend)
    }

    /// Registers the RPC handlers on the provider's pool. Pings and syncs
    /// never wait; a ping-req answers once its ping is answered or timed
    /// out, without holding the pool meanwhile (a deferred handler); a join
    /// announcement waits for one ping back to the joiner. A pool whose
    /// other handlers are slow delays our answers to pings: give the
    /// provider a pool of its own when the failure detector's timing must
    /// not depend on them (as with upstream, whose handlers are ULTs of the
    /// provider's pool).
    fn serve(&self, provider_id: u16) -> Result<()> {
        type H = fn(&Shared, Request) -> std::result::Result<Vec<u8>, String>;
        let table: [(&str, H); 3] =
            [(wire::PING, Shared::on_ping), (wire::SYNC, Shared::on_sync), (wire::ANNOUNCE, Shared::on_announce)];
        for (name, handler) in table {
            let weak = Arc::downgrade(&self.shared);
            self.shared
                .engine
                .register(
                    name,
                    provider_id,
                    Some(self.shared.pool.clone()),
                    Arc::new(move |req| match weak.upgrade() {
                        Some(s) => handler(&s, req),
                        None => Err("the swim group is being destroyed".into()),
                    }),
                )
                .map_err(FlockError::from)?;
        }
        let weak = Arc::downgrade(&self.shared);
        self.shared
            .engine
            .register_deferred(
                wire::PING_REQ,
                provider_id,
                Some(self.shared.pool.clone()),
                Arc::new(move |req, responder| match weak.upgrade() {
                    Some(s) => s.on_ping_req(req, responder),
                    None => responder.respond(Err("the swim group is being destroyed".into())),
                }),
            )
            .map_err(FlockError::from)?;
        Ok(())
    }

    /// Stops everything; with `announce`, tells the group we leave first.
    /// A protocol step already running sees `stopping` at its next step and
    /// ends there; the reports queued so far are delivered before this
    /// returns (unless it is called from one of them).
    fn shutdown(&self, announce: bool) {
        if self.destroyed.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::Release);
        let next = shared.next_period.lock().take();
        if let Some(id) = next {
            timer::cancel(id);
        }
        if announce && !shared.engine.is_finalizing() {
            shared.leave_group();
        }
        for name in RPCS {
            shared.engine.deregister(name, shared.self_id.1);
        }
        shared.outbox.close();
    }
}

impl Drop for SwimBackend {
    fn drop(&mut self) {
        self.shutdown(false);
    }
}

impl Backend for SwimBackend {
    fn config(&self) -> serde_json::Value {
        self.shared.config.to_json()
    }

    fn with_view(&self, f: &mut dyn FnMut(&GroupView)) {
        // A copy, so that slow readers (the provider writes the group file
        // from here) never hold up the failure detector.
        let view = self.shared.state.lock().view.clone();
        f(&view);
    }

    fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        check_metadata(key, Some(value))?;
        self.change(key, Some(value))
    }

    fn remove_metadata(&self, key: &str) -> Result<()> {
        check_metadata(key, None)?;
        self.change(key, None)
    }

    fn destroy(&self) -> Result<()> {
        self.shutdown(!self.crash.load(Ordering::Acquire));
        Ok(())
    }

    fn set_crash_mode(&self, crash: bool) -> Result<()> {
        self.crash.store(crash, Ordering::Release);
        Ok(())
    }

    /// The first member of a member's view writes the group file, and views
    /// converge only eventually: a member that had not yet heard of the
    /// member now first could take itself for the writer and replace the
    /// file with its older view after the real writer's last write. The
    /// writer checks the file once per protocol period (at most ten times
    /// a second) and rewrites it if it no longer holds its view.
    fn file_check_interval(&self) -> Option<Duration> {
        Some(self.shared.config.period().max(Duration::from_millis(100)))
    }
}

impl SwimBackend {
    fn change(&self, key: &str, value: Option<&str>) -> Result<()> {
        if self.destroyed.load(Ordering::Acquire) {
            return Err(FlockError::InvalidGroup("the swim group is destroyed".into()));
        }
        self.shared.with_state(|st| {
            if st.expelled {
                return Err(FlockError::NotAMember("this member was declared dead by the group".into()));
            }
            st.set_local_meta(key, value);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(matches!(check_metadata("", Some("v")), Err(FlockError::InvalidArgs(_))));
        assert!(matches!(check_metadata("__type__", Some("v")), Err(FlockError::Forbidden(_))));
        assert!(matches!(check_metadata("k", Some("a\0b")), Err(FlockError::InvalidArgs(_))));
        assert!(check_metadata("k", None).is_ok());
    }
}
