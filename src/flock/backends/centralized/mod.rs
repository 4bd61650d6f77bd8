//! The `centralized` backend: one member, the primary, owns the view; the
//! others (followers) keep a copy. The primary pings every follower,
//! declares dead those that stop answering, handles joins, leaves and
//! metadata changes, and pushes every change to the followers. When the
//! primary dies (or leaves), the survivors agree on a new one. The protocol,
//! and what happens under a network partition, is written down in
//! `docs/centralized.md`; this code follows it.
//!
//! Layout: `config` (settings), `wire` (messages), `state` (the view and
//! role of one member), `roles` (every role transition: joined, adopt,
//! promote, expel, retire), `primary` and `follower` (each role's handlers
//! and timer work; they depend on `state` and `roles`, not on each other),
//! `join` (joining and leaving), `ticker` (runs the timed work). This file
//! holds the core that ties them together: RPC registration and dispatch,
//! the timed work of either role, creation (including the join), metadata
//! changes (either role) and destruction (leave or handover).
//!
//! A member has no thread of its own: everything runs on the pool the
//! provider was given. The RPC handlers never wait; the timed work is a
//! step that never waits either (`ticker`): it runs when a handler or an
//! answer kicks it, or at the time it asked for (`rpc::timer`), so an idle
//! member wakes only for what the protocol needs (a ping or a view check
//! per interval). Changes reach the provider through an
//! `backends::outbox`: in order, one at a time, outside every lock.
//!
//! Lock discipline: no lock of a member is held while it calls the engine.
//! A call to a provider of the same engine, made from one of the engine's
//! handler streams, runs the target's handler inline, on the caller's
//! stream, and that handler takes its own member's state lock: two members
//! that each called the other under their own lock (two primaries of one
//! engine pushing changes to each other) would wait for each other
//! forever. So messages decided under the state lock (pushed changes, a new
//! primary's word to waiting joiners) are queued there, in order, and sent
//! by another outbox (`mail`) once the lock is released; the timed work
//! borrows its state out of its mutex for the length of a step
//! (`Lent`); pushed calls are collected outside the `reap` lock.

mod config;
mod follower;
mod join;
mod primary;
mod roles;
mod state;
mod ticker;
pub mod wire;

pub use config::Config;

use self::state::{Event, Role, State, CONFIG_KEY, TYPE_KEY};
use self::ticker::{Tick, Ticker};
use self::wire::{Claim, MetadataReply, MetadataReq, UpdateReply};
use crate::flock::backend::{Backend, BackendFactory, BackendInit};
use crate::flock::backends::check_metadata;
use crate::flock::backends::outbox::Outbox;
use crate::flock::error::{FlockError, Result};
use crate::flock::registry::Named;
use crate::flock::view::{GroupView, Member};
use crate::rpc::codec;
use crate::rpc::{Engine, PendingCall, Request, RpcError, Signal};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timeout of pushed updates (fire and forget; only logging waits for them).
const UPDATE_TIMEOUT: Duration = Duration::from_millis(1000);

/// A message decided under the state lock and sent after it (see the
/// module documentation): fire and forget, its answers collected by the
/// timed work (`Core::reap`).
struct Mail {
    to: Vec<Member>,
    rpc: &'static str,
    payload: Vec<u8>,
    timeout: Duration,
}

pub struct CentralizedFactory;

impl Named for CentralizedFactory {
    fn name(&self) -> &str {
        "centralized"
    }
}

impl BackendFactory for CentralizedFactory {
    fn create(&self, init: BackendInit) -> Result<Arc<dyn Backend>> {
        Core::create(init).map(|c| c as Arc<dyn Backend>)
    }
}

/// Logs a repeated complaint at most once a second per kind, so that a
/// misbehaving peer cannot flood the log.
struct Limiter(Mutex<HashMap<&'static str, Instant>>);

impl Limiter {
    fn allow(&self, kind: &'static str) -> bool {
        let mut m = self.0.lock();
        let now = Instant::now();
        match m.get(kind) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(1) => false,
            _ => {
                m.insert(kind, now);
                true
            }
        }
    }
}

use crate::rng::Rng;

pub struct Core {
    engine: Engine,
    provider_id: u16,
    me: Member,
    cfg: Config,
    state: Mutex<State>,
    /// Runs the timed work (`Tick for Core`) on the provider's pool.
    /// Shared with the completion callbacks of our calls, which kick it.
    ticker: Arc<Ticker<Core>>,
    /// The timed work's own state, used by one step at a time.
    work: Mutex<Work>,
    /// Rung at every change of role or of the primary we follow (and when a
    /// primary announces itself to us while we join): what a join or a
    /// metadata change waits for while the group chooses a new primary.
    claims: Signal,
    stop: AtomicBool,
    /// Delivers the changes to the provider.
    outbox: Arc<Outbox<Event>>,
    /// Sends the messages queued under the state lock, in order, outside
    /// every lock.
    mail: Arc<Outbox<Mail>>,
    /// Pushed updates in flight, collected by the timed work.
    reap: Mutex<Vec<(Member, PendingCall)>>,
    limiter: Limiter,
    seed: AtomicU64,
}

impl Core {
    // ---- timings derived from the config -------------------------------

    fn timeout(&self) -> Duration {
        self.cfg.ping_timeout()
    }
    fn max_timeouts(&self) -> u32 {
        self.cfg.ping_max_num_timeouts
    }
    /// How long a silent member is given before it is probed harder: the
    /// longest gap between two pings.
    fn silence_limit(&self) -> Duration {
        self.cfg.interval_max() + self.timeout()
    }
    /// A window long enough to contain a full failure detection.
    fn window(&self) -> Duration {
        (self.cfg.interval_max() + self.timeout()) * self.max_timeouts() + self.timeout()
    }
    /// How long an election waits for the chosen candidate to take over.
    fn election_wait(&self) -> Duration {
        self.timeout() * (self.max_timeouts() + 2) + self.cfg.interval_max()
    }
    /// How long members started together from one view wait for each
    /// other before the usual silence rules apply.
    fn startup_grace(&self) -> Duration {
        Duration::from_secs(5).max(self.silence_limit() * 4)
    }
    /// Timeout of a leave or handover: a live peer answers at once, and a
    /// destroy (often the whole group stopping together) must not linger on
    /// peers that are gone; if the message is lost, failure detection or
    /// an election does the job instead.
    fn farewell_timeout(&self) -> Duration {
        self.timeout().clamp(Duration::from_millis(100), Duration::from_millis(500))
    }
    fn attempt_timeout(&self, lo_ms: u64, hi_ms: u64) -> Duration {
        (self.timeout() * 4).clamp(Duration::from_millis(lo_ms), Duration::from_millis(hi_ms))
    }

    fn rng(&self) -> Rng {
        Rng::new(self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed))
    }

    /// Asks for a step of the timed work (the caller holds the state: the
    /// step sees the change once it gets the lock).
    fn kick(&self, _s: &mut State) {
        self.ticker.kick();
    }

    /// Rings `claims` (a change of role or of primary, or a primary that
    /// announced itself to a joiner), and runs the timed work, which may
    /// be waiting for that (a rejoin).
    fn claims_changed(&self) {
        self.claims.notify();
        self.ticker.kick();
    }

    fn is_me(&self, m: &Member) -> bool {
        *m == self.me
    }

    /// The address requests from this engine carry.
    fn own_engine_address(&self) -> String {
        self.engine.self_address().to_string()
    }

    /// True if a request really comes from `claimed` (when the transport
    /// tells who sent it). This needs members to publish their engine's own
    /// address, which the default gateway does.
    fn sent_by(&self, sender: Option<&str>, claimed: &str) -> bool {
        sender.is_none_or(|s| s == claimed)
    }

    // ---- creation --------------------------------------------------------

    fn create(init: BackendInit) -> Result<Arc<Core>> {
        let BackendInit { engine, provider_id, pool, config, self_address, join, initial_view, sink } = init;
        let Some(first_member) = initial_view.member_at(0).cloned() else {
            return Err(FlockError::InvalidArgs("the centralized backend needs an initial view with at least one member".into()));
        };
        if join {
            match initial_view.find_metadata(TYPE_KEY) {
                Some("static") => return Err(FlockError::Forbidden("cannot join a static group".into())),
                Some(t) if t != "centralized" => {
                    return Err(FlockError::InvalidBackend(format!(
                        "cannot join a group of type \"{t}\" with the centralized backend"
                    )))
                }
                _ => {}
            }
        }
        let cfg = Config::resolve(&config, initial_view.find_metadata(CONFIG_KEY))?;
        let me = Member { address: self_address.clone(), provider_id };
        let configured =
            cfg.primary_address.as_ref().map(|a| Member { address: a.clone(), provider_id: cfg.primary_provider_id });
        // A joiner's view may name a primary that is gone (an old group
        // file): joining then asks the other members, so it is not checked.
        let primary = match (&configured, join) {
            (Some(p), false) => {
                if !initial_view.contains_member(&p.address, p.provider_id) {
                    return Err(FlockError::InvalidConfig(format!(
                        "centralized backend: the primary ({}, {}) is not in the initial view",
                        p.address, p.provider_id
                    )));
                }
                engine.lookup(&p.address).map_err(FlockError::from)?;
                p.clone()
            }
            (Some(p), true) => p.clone(),
            (None, _) => first_member,
        };

        // Holds the sink, not the core: delivering must not keep the core alive.
        let outbox = Outbox::new(
            pool.clone(),
            Box::new(move |e| match e {
                Event::Membership(u, a, p) => sink.membership(u, &a, p),
                Event::Metadata(k, v) => sink.metadata(&k, &v),
            }),
        );
        let role = if join {
            Role::Joining
        } else if primary == me {
            Role::Primary
        } else {
            Role::Follower
        };
        let claim = Claim { term: if join { 0 } else { 1 }, primary: primary.clone() };
        let mut view = initial_view;
        if !join {
            view.add_metadata(CONFIG_KEY, &cfg.effective_text(&primary));
            view.add_metadata(TYPE_KEY, "centralized");
        }
        let seed = {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            t ^ crate::flock::view::djb2_hash(&self_address) ^ ((std::process::id() as u64) << 32) ^ provider_id as u64
        };
        let events = {
            let outbox = outbox.clone();
            Box::new(move |e| outbox.push(e))
        };
        let core = Arc::new_cyclic(|weak| Core {
            engine: engine.clone(),
            provider_id,
            me: me.clone(),
            cfg,
            state: Mutex::new(State::new(role, claim, view, events)),
            ticker: Arc::new(Ticker::new(pool.clone(), weak.clone())),
            work: Mutex::new(Work::default()),
            claims: Signal::default(),
            stop: AtomicBool::new(false),
            outbox,
            mail: Outbox::new(pool.clone(), {
                let weak = weak.clone();
                Box::new(move |m: Mail| {
                    if let Some(core) = weak.upgrade() {
                        core.send(m);
                    }
                })
            }),
            reap: Mutex::new(Vec::new()),
            limiter: Limiter(Mutex::new(HashMap::new())),
            seed: AtomicU64::new(seed),
        });

        for (i, name) in wire::ALL.iter().enumerate() {
            let weak = Arc::downgrade(&core);
            let rpc: &'static str = name;
            let registered = engine.register(
                name,
                provider_id,
                Some(pool.clone()),
                Arc::new(move |req: Request| match weak.upgrade() {
                    Some(core) => {
                        let sender = req.sender.as_ref().map(|a| a.to_string());
                        core.handle(rpc, sender.as_deref().or(Some(&core.own_engine_address())), &req.payload)
                    }
                    // Torn down, its handlers not yet deregistered: a
                    // primary handing over to us learns we leave too (the
                    // whole group may be stopping), as from a live member.
                    None if rpc == wire::HANDOVER => Ok(codec::encode(&wire::HandoverReply::Leaving)),
                    None => Err("the centralized group member is gone".into()),
                }),
            );
            if let Err(e) = registered {
                for done in &wire::ALL[..i] {
                    engine.deregister(done, provider_id);
                }
                return Err(e.into());
            }
        }
        if !join {
            let mut s = core.state.lock();
            s.grace_until = Some(Instant::now() + core.startup_grace());
            s.initial_members = s.view.members().to_vec();
        }

        if join {
            let first = configured.clone();
            let known = core.state.lock().view.clone();
            match join::join_group(&core, first, &known) {
                Ok(snap) => {
                    let mut s = core.state.lock();
                    core.joined(&mut s, snap);
                }
                Err(e) => {
                    core.stop.store(true, Ordering::Release);
                    core.ticker.stop();
                    core.unregister();
                    core.mail.close();
                    core.outbox.close();
                    return Err(e);
                }
            }
        }

        // The first step starts the pings (primary) or the watch (follower).
        core.ticker.kick();
        Ok(core)
    }

    fn unregister(&self) {
        for name in wire::ALL {
            self.engine.deregister(name, self.provider_id);
        }
    }

    // ---- messaging -------------------------------------------------------

    /// Dispatches one request (from the engine or a local caller).
    fn handle(self: &Arc<Self>, name: &str, sender: Option<&str>, payload: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let out = match name {
            wire::PING => follower::on_ping(self, sender, payload),
            wire::UPDATE => follower::on_update(self, sender, payload),
            wire::WHOIS => follower::on_whois(self, payload),
            wire::HANDOVER => follower::on_handover(self, sender, payload),
            wire::SYNC => primary::on_sync(self, payload),
            wire::JOIN => primary::on_join(self, payload),
            wire::LEAVE => primary::on_leave(self, sender, payload),
            wire::METADATA => primary::on_metadata(self, payload),
            _ => return Err(format!("unknown request {name}")),
        };
        out.map_err(|e| {
            if self.limiter.allow("malformed") {
                crate::warning!("centralized group member {}: rejected a malformed {name} request: {e}", self.me.address);
            }
            e.to_string()
        })
    }

    /// A blocking call. A member in this process is reached through the
    /// engine's in-process path (`rpc/local.rs`), which runs a call to our
    /// own engine inline when made from one of its handler streams.
    fn call(&self, to: &Member, name: &str, payload: Vec<u8>, timeout: Duration) -> std::result::Result<Vec<u8>, RpcError> {
        let addr = self.engine.lookup(&to.address)?;
        self.engine.call(&addr, name, to.provider_id, payload, timeout)
    }

    /// Starts a call whose completion runs the timed work (which looks at
    /// the answer).
    fn call_async(
        &self,
        to: &Member,
        name: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<PendingCall, RpcError> {
        let addr = self.engine.lookup(&to.address)?;
        let call = self.engine.call_async(&addr, name, to.provider_id, payload, timeout)?;
        let ticker = Arc::downgrade(&self.ticker);
        call.on_complete(Box::new(move || {
            if let Some(t) = ticker.upgrade() {
                t.kick();
            }
        }));
        Ok(call)
    }

    /// Queues a change for every follower but `exclude` (fire and forget:
    /// a follower that misses one notices the gap and pulls the view). It
    /// leaves once the caller has released the state lock (`mail`).
    fn broadcast(&self, s: &State, msg: &wire::UpdateMsg, exclude: Option<&Member>) {
        let to = s.view.members().iter().filter(|m| !self.is_me(m) && exclude != Some(*m)).cloned().collect();
        self.post(Mail { to, rpc: wire::UPDATE, payload: codec::encode(msg), timeout: UPDATE_TIMEOUT });
    }

    /// Queues a message; callable under the state lock (it only queues).
    fn post(&self, mail: Mail) {
        if !mail.to.is_empty() {
            self.mail.push(mail);
        }
    }

    /// Sends a queued message (from `mail`, outside every lock).
    fn send(&self, mail: Mail) {
        let mut started = Vec::new();
        for m in mail.to {
            match self.call_async(&m, mail.rpc, mail.payload.clone(), mail.timeout) {
                Ok(c) => started.push((m, c)),
                Err(e) => crate::debug!("cannot send {} to {} ({}): {e}", mail.rpc, m.address, m.provider_id),
            }
        }
        self.abandon(started);
    }

    /// Hands calls we no longer care about to the reaper: a call must be
    /// waited for once finished, or the engine keeps its slot forever.
    fn abandon(&self, calls: impl IntoIterator<Item = (Member, PendingCall)>) {
        self.reap.lock().extend(calls);
    }

    /// Collects finished pushes (failures only matter for the log: the
    /// ping loop decides who is dead). The calls are tested and waited for
    /// outside the lock (a timed-out call probes its peer), and those still
    /// running go back.
    fn reap_updates(&self) {
        let calls = std::mem::take(&mut *self.reap.lock());
        let mut running = Vec::new();
        for (m, call) in calls {
            if !call.test() {
                running.push((m, call));
            } else if let Err(e) = call.wait() {
                crate::debug!("call to {} ({}) failed: {e}", m.address, m.provider_id);
            }
        }
        if !running.is_empty() {
            self.reap.lock().extend(running);
        }
    }

    /// `Backend::set_metadata` / `remove_metadata`, for either role: the
    /// primary applies the change; a follower asks the primary and applies
    /// the change it gets back at once (so that the caller reads its own
    /// write from this member).
    fn change_metadata(&self, key: &str, value: Option<&str>) -> Result<()> {
        check_metadata(key, value)?;
        let payload = codec::encode(&MetadataReq { key: key.to_string(), value: value.map(str::to_string) });
        // A few rounds cover a primary that changes under our feet; while
        // the group chooses a new one, we wait for it to reach us.
        let deadline = Instant::now() + self.election_wait() * 2 + self.window();
        for round in 0..6 {
            // Read before the claim we act on, so that no change is missed.
            let seen = self.claims.generation();
            let target = {
                let mut s = self.state.lock();
                match s.role {
                    Role::Primary => {
                        primary::commit_metadata(self, &mut s, key, value);
                        return Ok(());
                    }
                    Role::Follower => s.claim.primary.clone(),
                    _ => return Err(FlockError::InvalidGroup("this member is not part of an active group".into())),
                }
            };
            let bytes = self.call(&target, wire::METADATA, payload.clone(), self.attempt_timeout(500, 5000))?;
            match codec::decode::<MetadataReply>(&bytes)? {
                MetadataReply::Applied(msg) => {
                    let applied = {
                        let mut s = self.state.lock();
                        follower::apply_from_primary(self, &mut s, &msg)
                    };
                    // Earlier changes are still on their way to us (perhaps
                    // queued behind this very request): pull the whole view so
                    // that this member shows the change when we return.
                    if applied == UpdateReply::Gap {
                        follower::pull_now(self);
                    }
                    return Ok(());
                }
                MetadataReply::Unchanged => return Ok(()),
                MetadataReply::Error { code, message } => return Err(crate::flock::protocol::remote_error(code, message)),
                MetadataReply::NotPrimary(d) => {
                    let adopted = {
                        let mut s = self.state.lock();
                        if d.claim.beats(&s.claim) && !self.is_me(&d.claim.primary) {
                            self.adopt(&mut s, d.claim);
                            true
                        } else {
                            false
                        }
                    };
                    let now = Instant::now();
                    if !adopted && round < 5 && now < deadline {
                        // The group is choosing a new primary: its first
                        // ping makes us adopt it (or we are promoted).
                        self.claims.wait_past(seen, (deadline - now).min(self.election_wait()));
                    }
                }
            }
        }
        Err(FlockError::Other(format!("metadata change \"{key}\": no primary accepted it")))
    }
}

/// The timed work's state: the primary's ping schedule and a follower's
/// watch (only the one of the current role is in use).
#[derive(Default)]
struct Work {
    pinger: primary::Pinger,
    watch: follower::Watch,
}

/// The timed work's state, taken out of its mutex for one step and put
/// back when the step ends (even by a panic): a step calls the engine,
/// which may run handlers of this engine's providers inline, and must not
/// hold a lock meanwhile. Steps never overlap (`Ticker`), and `destroy`
/// takes the state only once the ticker has stopped, so nobody else looks
/// at it while it is lent.
struct Lent<'a> {
    home: &'a Mutex<Work>,
    work: Work,
}

impl<'a> Lent<'a> {
    fn take(home: &'a Mutex<Work>) -> Lent<'a> {
        let work = std::mem::take(&mut *home.lock());
        Lent { home, work }
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        *self.home.lock() = std::mem::take(&mut self.work);
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Tick for Core {
    /// One step of the timed work: the primary's pings or a follower's
    /// watch, depending on the current role, and the collection of pushed
    /// updates. Returns when the next step is due: the next ping or check,
    /// the deadline of a call in flight (an answer kicks a step earlier).
    fn tick(&self) -> Option<Instant> {
        if self.stop.load(Ordering::Acquire) {
            return None;
        }
        let (role, claim) = {
            let s = self.state.lock();
            (s.role, s.claim.clone())
        };
        let next = {
            let mut lent = Lent::take(&self.work);
            let Work { pinger, watch } = &mut lent.work;
            match role {
                Role::Primary => {
                    watch.reset(self);
                    pinger.tick(self, &claim)
                }
                Role::Follower => {
                    pinger.reset(self);
                    watch.tick(self, &claim)
                }
                _ => {
                    pinger.reset(self);
                    watch.reset(self);
                    None
                }
            }
        };
        self.reap_updates();
        // A push that gets no answer is collected at its deadline.
        earliest(next, self.reap.lock().iter().map(|(_, c)| c.deadline()).min())
    }

    fn ticker(&self) -> &Ticker<Core> {
        &self.ticker
    }
}

impl Backend for Core {
    /// The primary writes the group file: every change goes through it, so
    /// its view is never older than a follower's. (With "the first member
    /// writes", a follower whose view lagged could overwrite the file its
    /// successor as first member had just written, and nothing rewrote it.)
    fn file_writer(&self) -> Option<Member> {
        Some(self.state.lock().claim.primary.clone())
    }

    fn config(&self) -> serde_json::Value {
        let s = self.state.lock();
        self.cfg.effective(&s.claim.primary)
    }

    /// Upstream's key order (see `Config::effective_text`).
    fn config_text(&self) -> String {
        let s = self.state.lock();
        self.cfg.effective_text(&s.claim.primary)
    }

    /// Runs `f` on a copy: the provider writes the group file (with fsync)
    /// from inside `f`, and holding our lock that long would stall the
    /// ping handler until the member looks dead.
    fn with_view(&self, f: &mut dyn FnMut(&GroupView)) {
        let view = self.state.lock().view.clone();
        f(&view);
    }

    fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        self.change_metadata(key, Some(value))
    }

    fn remove_metadata(&self, key: &str) -> Result<()> {
        self.change_metadata(key, None)
    }

    /// Leaves the group: a follower tells the primary; the primary hands
    /// its role over to the first member that accepts it.
    fn destroy(&self) -> Result<()> {
        if self.stop.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (role, snap) = {
            let mut s = self.state.lock();
            let role = self.retire(&mut s);
            (role, s.snapshot())
        };
        // No step starts any more; one running on another stream has ended
        // (a step never waits, so this is quick).
        self.ticker.stop();
        {
            // As in a step (the ticker has stopped, so it is at home).
            let mut lent = Lent::take(&self.work);
            let Work { pinger, watch } = &mut lent.work;
            pinger.reset(self);
            watch.reset(self);
        }
        // The changes pushed so far leave before the leave or handover.
        self.mail.close();
        match role {
            Role::Follower => join::leave(self, &snap.claim),
            Role::Primary => primary::hand_over(self, &snap),
            _ => {}
        }
        self.unregister();
        // Delivers the changes still queued (unless called from one of the
        // callbacks, whose delivery then finishes the queue).
        self.outbox.close();
        self.reap.lock().clear();
        Ok(())
    }
}
