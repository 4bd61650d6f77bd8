//! The engine: one endpoint ([`Progress`]), its RPC registry, and the
//! runtime layout of pools and execution streams ([`Runtime`]).
//!
//! Path of one RPC: [`Engine::call`] queues an [`Outgoing`] and drives
//! progress itself (no thread hand-off on the fast path). Whoever drives
//! reads completions; a response completes the caller's slot, a request
//! becomes a job on its handler pool, and the handler's answer is queued
//! and driven out the same way. A progress thread covers the moments when
//! nobody else is driving, asleep in the kernel when there is nothing to
//! do (`progress.rs` has the wake-up rules).

use super::address::Address;
use super::calls::{Notify, Slot};
use super::config::{InitOverrides, MargoConfig, RuntimeInfo};
use super::error::{Result, RpcError};
use super::local::Local;
use super::peer_gone::{GoneCallback, GoneWatchers, PeerWatchGuard};
use super::pool::Pool;
use super::progress::{self, outcome, Driven, EngineDriver, IdleWait, Incoming, Progress};
use super::runtime::{Part, Runtime};
use super::transport::{Outgoing, Transport};
use super::wire::{self, Header, Kind, Status, MAX_MESSAGE};
use crate::fabric::{parse_listen, reachability, Endpoint, Protocol};
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Provider id Margo uses for "no particular provider".
pub const DEFAULT_PROVIDER_ID: u16 = 0xFFFF;
const SHUTDOWN_RPC: &str = "__mochi_shutdown__";
/// How long a response may wait for its destination to accept it.
const RESPONSE_DEADLINE: Duration = Duration::from_secs(30);
/// How long finalize waits for queued messages to leave.
const FLUSH_BUDGET: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Client,
    Server,
}

/// What a handler receives.
pub struct Request {
    pub engine: Engine,
    /// The caller, or `None` for a call the engine made to itself.
    pub sender: Option<Address>,
    pub provider_id: u16,
    pub payload: Vec<u8>,
    /// When the caller stops waiting for the answer: its timeout (carried
    /// in the request, `wire::Header::timeout`) counted from the request's
    /// arrival here, so never before the caller's own deadline (later by the
    /// time the request travelled, and over the network by the rounding of
    /// the timeout on the wire). `None` if the caller did not say (a peer
    /// that predates the field).
    pub deadline: Option<Instant>,
}

/// A handler answers with bytes, or with an error text the caller receives
/// as [`RpcError::Remote`].
pub type Handler = Arc<dyn Fn(Request) -> std::result::Result<Vec<u8>, String> + Send + Sync>;

/// A handler that answers later, through its [`Responder`], from any
/// thread: it starts what it needs (calls of its own, say) and returns, so
/// that its execution stream serves other requests meanwhile (Argobots
/// would switch to another thread while a handler waits; threads cannot).
pub type DeferredHandler = Arc<dyn Fn(Request, Responder) + Send + Sync>;

enum Callback {
    Now(Handler),
    Later(DeferredHandler),
}

struct Registration {
    name: String,
    pool: Arc<Pool>,
    callback: Callback,
}

/// The way back to a caller whose request a [`DeferredHandler`] took.
/// Answer it once with [`Responder::respond`]; one dropped unanswered
/// answers with an error, so the caller does not wait for its timeout.
pub struct Responder {
    inner: Weak<Inner>,
    answer: Option<(Origin, Header)>,
    name: String,
}

impl Responder {
    /// Sends the answer (`Err`: the handler's error message).
    pub fn respond(mut self, outcome: std::result::Result<Vec<u8>, String>) {
        self.send(outcome);
    }

    fn send(&mut self, outcome: std::result::Result<Vec<u8>, String>) {
        let Some((origin, header)) = self.answer.take() else { return };
        let Some(inner) = self.inner.upgrade() else { return };
        let (status, body) = match outcome {
            Ok(body) => (Status::Ok, body),
            Err(message) => (Status::HandlerError, message.into_bytes()),
        };
        inner.respond(origin, &header, status, body, false);
    }

    /// Answers as the engine answers a request for an RPC it does not
    /// serve (`NoSuchProvider` if another provider still serves the name,
    /// else `NoSuchRpc`), for a handler whose registration was withdrawn
    /// while the request waited on its pool: the caller then gets the same
    /// error as one whose request arrived after the withdrawal.
    pub fn not_served(mut self) {
        let Some((origin, header)) = self.answer.take() else { return };
        let Some(inner) = self.inner.upgrade() else { return };
        let named = inner.registry.read().names.contains_key(&header.rpc_id);
        let status = if named { Status::NoSuchProvider } else { Status::NoSuchRpc };
        inner.respond(origin, &header, status, Vec::new(), false);
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.answer.is_some() {
            let message = format!("the handler of \"{}\" dropped its request without answering", self.name);
            self.send(Err(message));
        }
    }
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<(u64, u16), Arc<Registration>>,
    /// How many providers registered each name (to tell "no such RPC" from
    /// "no such provider").
    names: HashMap<u64, (String, usize)>,
    /// Providers' identities (`identity.rs`), served by `IDENTITY_RPC`.
    identities: HashMap<u16, Arc<str>>,
}

/// Where a request came from, so its response can find the way back.
enum Origin {
    Remote(Arc<[u8]>),
    /// A call from an engine of this process (`sender`: `None` when it is
    /// this engine), answered by completing its slot.
    Local {
        slot: Arc<Slot>,
        sender: Option<Address>,
    },
}

/// How long the first call to a tcp peer waits for its connection probe.
const TCP_PROBE_PATIENCE: Duration = Duration::from_millis(50);

/// A callback run before finalization, with the owner key it was pushed under.
type PrefinalizeCallback = Box<dyn FnOnce() + Send>;

/// Two words a finalize callback's registrant keeps with it (the C API:
/// the function and its argument) and may read back.
pub type CallbackTag = [usize; 2];

pub(crate) struct Inner {
    protocol: Protocol,
    self_address: Address,
    mode: Mode,
    progress: Progress,
    /// Peers our calls have found reachable (see [`Engine::call_async`]).
    reachable: RwLock<std::collections::HashSet<Arc<[u8]>>>,
    registry: RwLock<Registry>,
    runtime: Mutex<Runtime>,
    next_id: AtomicU64,
    lifecycle: Lifecycle,
}

/// Finalization state, and who to tell.
#[derive(Default)]
struct Lifecycle {
    finalizing: AtomicBool,
    finalized: Mutex<bool>,
    finalized_cv: Condvar,
    remote_shutdown: AtomicBool,
    /// A handler asked to finalize: it happens when that handler returns
    /// ([`Serving`]); meanwhile no new request is served.
    finalize_requested: AtomicBool,
    /// The thread finalizing after a remote shutdown request, joined by
    /// wait_for_finalize.
    shutdown_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Callbacks run at the start of finalize, newest first, with the owner
    /// that registered them (0: anonymous) and what the registrant wants to
    /// read back ([`Engine::top_finalize_callback`]).
    prefinalize: Mutex<Vec<(usize, CallbackTag, PrefinalizeCallback)>>,
}

impl Drop for Inner {
    /// An engine dropped without finalize: its endpoint closes here, before
    /// the engine leaves the process's list (see local.rs).
    fn drop(&mut self) {
        self.progress.close();
        super::local::remove(self.protocol, self.self_address.name());
    }
}

impl Driven for Inner {
    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn dispatch(self: &Arc<Self>, requests: Vec<Incoming>) {
        let engine = Engine { inner: self.clone() };
        for r in requests {
            self.dispatch_request(&engine, Origin::Remote(r.sender), r.header, r.payload, true);
        }
    }
}

/// A cheap, shareable handle on an engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Starts an engine listening on `address` (`na+sm`, `ofi+tcp://…`), with
    /// a Margo JSON config (may be empty).
    pub fn new(address: &str, mode: Mode, json_config: &str, overrides: &InitOverrides) -> Result<Engine> {
        let config = MargoConfig::from_json_str(json_config, overrides).map_err(|e| RpcError::Config(e.to_string()))?;
        Self::with_config(address, mode, config)
    }

    pub fn with_config(address: &str, mode: Mode, config: MargoConfig) -> Result<Engine> {
        let spec = parse_listen(address)?;
        let endpoint = Endpoint::open(&spec)?;
        let protocol = endpoint.protocol();
        let self_address = Address::new(protocol, Arc::from(endpoint.name()), endpoint.address());
        let idle = IdleWait::new(endpoint.doorbell(), endpoint.wait_fd())
            .map_err(|e| RpcError::Config(format!("progress wait: {e}")))?;
        let guarded = Arc::new(GoneWatchers::default());
        let transport = Transport::new(endpoint, guarded.clone())?;
        let watch = transport.peer_watch();
        let progress = Progress::new(transport, idle, guarded);
        if let Some(w) = watch {
            // A peer found gone wakes the driving stream, whose next
            // drive fails the calls waiting on it (see fabric/peer_watch.rs).
            let idle = Arc::downgrade(&progress.idle);
            w.on_gone(Box::new(move || {
                if let Some(idle) = idle.upgrade() {
                    idle.force();
                }
            }));
        }
        let driver = EngineDriver::<Inner>::new(progress.idle.clone());
        let runtime = Runtime::start(config, driver.clone())?;
        let inner = Arc::new(Inner {
            protocol,
            self_address,
            mode,
            progress,
            reachable: RwLock::new(Default::default()),
            registry: RwLock::new(Registry::default()),
            runtime: Mutex::new(runtime),
            next_id: AtomicU64::new(1),
            lifecycle: Lifecycle::default(),
        });
        driver.attach(Arc::downgrade(&inner));
        if mode == Mode::Server {
            inner.progress.idle.start_listening();
        }
        if protocol == Protocol::Sm {
            super::local::add(protocol, inner.self_address.name().clone(), &inner);
        }
        crate::debug!("engine listening at {}", inner.self_address);
        Ok(Engine { inner })
    }

    /// True if both handles name the same engine.
    pub fn same_as(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn self_address(&self) -> Address {
        self.inner.self_address.clone()
    }

    pub fn protocol(&self) -> Protocol {
        self.inner.protocol
    }

    pub fn is_listening(&self) -> bool {
        self.inner.mode == Mode::Server
    }

    /// True once finalize has started (calls then fail with `Finalized`).
    pub fn is_finalizing(&self) -> bool {
        self.inner.is_finalizing()
    }

    /// Resolves an address string for this engine's protocol.
    pub fn lookup(&self, text: &str) -> Result<Address> {
        self.check_live()?;
        let addr = Address::parse(text)?;
        if addr.protocol() != self.inner.protocol {
            return Err(RpcError::WrongProtocol { addr: text.to_string(), got: addr.protocol(), engine: self.inner.protocol });
        }
        Ok(addr)
    }

    fn check_live(&self) -> Result<()> {
        if self.is_finalizing() {
            Err(RpcError::Finalized)
        } else {
            Ok(())
        }
    }

    /// The effective Margo config, as `margo_get_config` reports it.
    pub fn config_json(&self) -> serde_json::Value {
        let rt = RuntimeInfo {
            address: self.inner.self_address.to_string(),
            listening: self.is_listening(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        self.inner.runtime.lock().config.to_json(&rt)
    }

    /// Runs `f` with the engine's config (read-only).
    pub fn with_config_ref<R>(&self, f: impl FnOnce(&MargoConfig) -> R) -> R {
        f(&self.inner.runtime.lock().config)
    }

    /// The pool handlers run on unless they ask for another.
    pub fn handler_pool(&self) -> Arc<Pool> {
        self.inner.runtime.lock().rpc_pool()
    }

    pub fn progress_pool(&self) -> Arc<Pool> {
        self.inner.runtime.lock().progress_pool()
    }

    pub fn pool_at(&self, index: usize) -> Option<Arc<Pool>> {
        self.inner.runtime.lock().pool_at(index)
    }

    pub fn pool_by_name(&self, name: &str) -> Option<Arc<Pool>> {
        self.inner.runtime.lock().pool_by_name(name)
    }

    /// True if `pool` belongs to this engine (C callers pass raw handles).
    pub fn owns_pool(&self, pool: *const Pool) -> Option<Arc<Pool>> {
        self.inner.runtime.lock().find_pool(pool)
    }

    /// Adds a pool at run time (`margo_add_pool_from_json`); returns its index.
    pub fn add_pool_from_json(&self, v: &serde_json::Value) -> Result<usize> {
        self.check_live()?;
        self.inner.runtime.lock().add_pool_from_json(v)
    }

    /// Removes a pool no execution stream, handler or role uses.
    pub fn remove_pool(&self, name: &str) -> Result<()> {
        self.check_live()?;
        self.inner.runtime.lock().remove_pool(name)
    }

    /// The pools and execution streams, by index (margo's numbering).
    pub fn layout(&self) -> super::runtime::Layout {
        self.inner.runtime.lock().layout()
    }

    /// Takes, gives back or counts a user's references on a pool or stream
    /// (by name): a referenced one cannot be removed.
    pub fn ref_incr(&self, part: Part, name: &str) {
        self.inner.runtime.lock().ref_incr(part, name)
    }

    pub fn release(&self, part: Part, name: &str) -> Result<()> {
        self.inner.runtime.lock().release(part, name)
    }

    pub fn ref_count(&self, part: Part, name: &str) -> u32 {
        self.inner.runtime.lock().ref_count(part, name)
    }

    /// Adds an execution stream at run time; returns its index.
    pub fn add_xstream_from_json(&self, v: &serde_json::Value) -> Result<usize> {
        self.check_live()?;
        self.inner.runtime.lock().add_xstream_from_json(v)
    }

    /// Stops and removes an execution stream (not `__primary__`, nor the
    /// one driving progress). Its handlers blocked on something other than
    /// a call (a Yokan `WAIT` request) are woken and give up their wait
    /// (`stream.rs`), so this returns once the stream's running handlers
    /// are done and its waiting callers answered (or timed out).
    pub fn remove_xstream(&self, name: &str) -> Result<()> {
        self.check_live()?;
        let removed = self.inner.runtime.lock().remove_xstream(name)?;
        if let Some(mut x) = removed {
            x.stop();
        }
        Ok(())
    }

    /// Registers `handler` for (`name`, `provider_id`), run on `pool` (default:
    /// the engine's handler pool).
    pub fn register(&self, name: &str, provider_id: u16, pool: Option<Arc<Pool>>, handler: Handler) -> Result<()> {
        self.add_registration(name, provider_id, pool, Callback::Now(handler))
    }

    /// Like [`Engine::register`], for a handler that answers later.
    pub fn register_deferred(
        &self,
        name: &str,
        provider_id: u16,
        pool: Option<Arc<Pool>>,
        handler: DeferredHandler,
    ) -> Result<()> {
        self.add_registration(name, provider_id, pool, Callback::Later(handler))
    }

    fn add_registration(&self, name: &str, provider_id: u16, pool: Option<Arc<Pool>>, callback: Callback) -> Result<()> {
        self.check_live()?;
        let id = wire::rpc_id(name);
        let pool = pool.unwrap_or_else(|| self.handler_pool());
        let mut reg = self.inner.registry.write();
        if reg.by_key.contains_key(&(id, provider_id)) {
            return Err(RpcError::AlreadyRegistered { name: name.to_string(), provider_id });
        }
        reg.by_key.insert((id, provider_id), Arc::new(Registration { name: name.to_string(), pool, callback }));
        reg.names.entry(id).or_insert_with(|| (name.to_string(), 0)).1 += 1;
        drop(reg);
        self.inner.progress.idle.start_listening();
        Ok(())
    }

    /// Removes a registration; returns whether it existed.
    /// Records (or forgets) a provider's identity (`identity.rs`).
    pub(crate) fn set_identity(&self, provider_id: u16, identity: Option<Arc<str>>) {
        let mut reg = self.inner.registry.write();
        match identity {
            Some(i) => reg.identities.insert(provider_id, i),
            None => reg.identities.remove(&provider_id),
        };
    }

    pub(crate) fn identity(&self, provider_id: u16) -> Option<Arc<str>> {
        self.inner.registry.read().identities.get(&provider_id).cloned()
    }

    pub fn deregister(&self, name: &str, provider_id: u16) -> bool {
        let id = wire::rpc_id(name);
        let mut reg = self.inner.registry.write();
        if reg.by_key.remove(&(id, provider_id)).is_none() {
            return false;
        }
        if let Some(entry) = reg.names.get_mut(&id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                reg.names.remove(&id);
            }
        }
        true
    }

    pub fn is_registered(&self, name: &str, provider_id: u16) -> bool {
        self.inner.registry.read().by_key.contains_key(&(wire::rpc_id(name), provider_id))
    }

    /// Calls `name` at (`addr`, `provider_id`) and waits for the answer.
    pub fn call(&self, addr: &Address, name: &str, provider_id: u16, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>> {
        self.call_with_token(addr, name, provider_id, payload, timeout, |_| {})
    }

    /// Like [`Engine::call`], showing `started` the call before waiting
    /// (its [`PendingCall::token`] lets another thread cancel it).
    pub fn call_with_token(
        &self,
        addr: &Address,
        name: &str,
        provider_id: u16,
        payload: Vec<u8>,
        timeout: Duration,
        started: impl FnOnce(&PendingCall),
    ) -> Result<Vec<u8>> {
        let _scope = self.caller_scope(addr);
        let pending = self.start_call(addr, name, provider_id, payload, timeout)?;
        started(&pending);
        pending.wait()
    }

    /// Ends a call in flight with [`RpcError::Canceled`] (its waiter wakes
    /// with it; an answer that comes later is dropped). False if the call
    /// had finished already.
    pub fn cancel_call(&self, token: &CallToken) -> bool {
        if token.slot.is_done() {
            return false;
        }
        self.inner.progress.calls.remove(token.msg_id);
        token.slot.complete(Err(RpcError::Canceled { name: token.slot.name.clone(), addr: token.slot.addr.clone() }));
        true
    }

    /// Starts a call; [`PendingCall::wait`] or [`PendingCall::test`] finishes it.
    pub fn call_async(
        &self,
        addr: &Address,
        name: &str,
        provider_id: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<PendingCall> {
        // Its answer may come while nobody waits for it: the stream watches.
        self.inner.progress.idle.start_listening();
        self.start_call(addr, name, provider_id, payload, timeout)
    }

    /// Like [`Engine::call_async`], for a caller that goes on to wait for
    /// the answer itself ([`PendingCall::wait`]), as soon as it has started
    /// the calls it waits for. As in [`Engine::call`], over tcp it then
    /// polls from before the send (see `progress::CallerScope`), until the
    /// call is waited for or dropped: otherwise the send's completion wakes
    /// the engine's sleeping stream, which then competes with the caller for
    /// the answer (one more wake-up per call: the group-aware Yokan handle
    /// took 45 µs against 17 µs for the same call made with `call`).
    /// Not for a call whose answer is awaited some other way
    /// ([`PendingCall::on_complete`]): nobody would drive the endpoint.
    pub fn call_async_then_wait(
        &self,
        addr: &Address,
        name: &str,
        provider_id: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<PendingCall> {
        let scope = self.caller_scope(addr);
        let mut pending = self.start_call(addr, name, provider_id, payload, timeout)?;
        pending.caller = scope;
        Ok(pending)
    }

    /// For a caller about to wait for its call to `addr`: over tcp it polls
    /// from before the send (see `progress::CallerScope`); a call to
    /// ourselves is run directly and needs none.
    fn caller_scope(&self, addr: &Address) -> Option<progress::CallerScope<Inner>> {
        (*addr != self.inner.self_address).then(|| progress::CallerScope::enter(&self.inner))
    }

    fn start_call(
        &self,
        addr: &Address,
        name: &str,
        provider_id: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<PendingCall> {
        self.check_live()?;
        if payload.len() > MAX_MESSAGE {
            return Err(RpcError::MessageTooLarge(payload.len()));
        }
        if addr.protocol() != self.inner.protocol {
            return Err(RpcError::WrongProtocol { addr: addr.to_string(), got: addr.protocol(), engine: self.inner.protocol });
        }
        // Our own engine, and over shm any engine of this process, is called
        // directly (see local.rs).
        let local = if *addr == self.inner.self_address {
            Some(self.inner.clone())
        } else {
            match super::local::find(self.inner.protocol, addr.name()) {
                Local::Engine(target) => Some(target),
                Local::Gone => {
                    let message = "the engine (of this process) has been dropped".to_string();
                    return Err(RpcError::PeerGone { addr: addr.to_string(), message });
                }
                Local::Elsewhere => None,
            }
        };
        // The first call to a peer checks, in the caller's thread, that it is
        // not certainly gone (see fabric::reachability).
        if local.is_none() && !self.inner.reachable.read().contains(addr.name()) {
            let patience = TCP_PROBE_PATIENCE.min(timeout);
            if let Some(message) = reachability::certainly_unreachable(addr.protocol(), addr.name(), patience) {
                return Err(RpcError::PeerGone { addr: addr.to_string(), message });
            }
            let mut reachable = self.inner.reachable.write();
            if reachable.len() >= super::transport::MAX_PEERS {
                // Bounded like the address vector: forgetting only costs a
                // peer one more check on its next first call.
                reachable.clear();
            }
            reachable.insert(addr.name().clone());
        }
        let msg_id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new(name, addr.as_str()));
        // Any timeout is accepted: one beyond what an Instant can hold is a
        // year (no caller waits longer than that for an answer).
        let now = Instant::now();
        let deadline = now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        let header = Header {
            kind: Kind::Request,
            status: Status::Ok,
            provider_id,
            msg_id,
            rpc_id: wire::rpc_id(name),
            total_len: 0,
            offset: 0,
            timeout: Some(timeout),
        };
        if let Some(target) = &local {
            let sender = (!Arc::ptr_eq(target, &self.inner)).then(|| self.inner.self_address.clone());
            let origin = Origin::Local { slot: slot.clone(), sender };
            target.dispatch_request(&Engine { inner: target.clone() }, origin, header, payload, false);
        } else {
            self.inner.progress.calls.insert(msg_id, slot.clone());
            self.inner.progress.submit(Outgoing::new(addr.name().clone(), header, payload, deadline, Some(msg_id)));
            progress::drive_once(&self.inner);
        }
        let peer = local.is_none().then(|| addr.name().clone());
        Ok(PendingCall { engine: self.clone(), slot, msg_id, peer, deadline, timeout, caller: None })
    }

    /// Sizes of the per-peer tables: (address vector, mapped doorbells,
    /// peers known reachable). Each stays bounded however many peers come
    /// and go.
    pub fn peer_table_sizes(&self) -> (usize, usize, usize) {
        let (av, bells) = self.inner.progress.peer_tables();
        (av, bells, self.inner.reachable.read().len())
    }

    /// Runs `on_gone` once, as soon as the engine finds the peer at `peer`
    /// gone, for as long as the returned guard lives (dropping it stops the
    /// watch; `on_gone` then never runs). For server-side code that waits on
    /// behalf of a peer (a handler blocked for a request the peer made):
    /// nobody will read its answer once the peer is gone.
    ///
    /// The verdict is the one that fails calls to a dead peer
    /// (`fabric/peer_watch.rs`): over tcp the peer's listener closed and a
    /// new connection to it is refused, over shm its process exited. It is
    /// never a guess (a peer across a partition is not gone), and nothing
    /// polls: the kernel wakes the engine. A peer already gone is found so
    /// at once, and `on_gone` may then run before this returns. `on_gone`
    /// runs on the thread that drives progress, with no lock held: it must
    /// be quick and must not block. A peer the engine cannot watch (its
    /// peer watch could not start, or already watches its most peers; see
    /// the log) never fires: a wait on its behalf keeps its own bound.
    pub fn watch_peer(&self, peer: &Address, on_gone: GoneCallback) -> Result<PeerWatchGuard> {
        self.check_live()?;
        if peer.protocol() != self.inner.protocol {
            return Err(RpcError::WrongProtocol { addr: peer.to_string(), got: peer.protocol(), engine: self.inner.protocol });
        }
        let guarded = &self.inner.progress.guarded;
        let (id, first) = guarded.add(peer.name(), on_gone);
        let guard = PeerWatchGuard::new(guarded, peer.name().clone(), id);
        if first {
            // The transport starts watching at its next drive: now (or by
            // whoever holds the endpoint, before it lets go).
            progress::drive_once(&self.inner);
        }
        Ok(guard)
    }

    /// Lets `margo_shutdown_remote_instance` stop this engine.
    pub fn enable_remote_shutdown(&self) {
        self.inner.lifecycle.remote_shutdown.store(true, Ordering::Release);
        self.inner.progress.idle.start_listening();
    }

    /// Asks the engine at `addr` to finalize.
    pub fn shutdown_remote(&self, addr: &Address, timeout: Duration) -> Result<()> {
        self.call(addr, SHUTDOWN_RPC, DEFAULT_PROVIDER_ID, Vec::new(), timeout).map(|_| ())
    }

    /// Runs `f` at the start of finalize, while the engine can still talk
    /// (a provider's farewell, for example). Latest registered runs first.
    pub fn push_prefinalize(&self, f: Box<dyn FnOnce() + Send>) {
        self.push_finalize_callback(0, f);
    }

    /// Like [`Engine::push_prefinalize`], tagged with an owner so the owner
    /// can take it back ([`Engine::pop_finalize_callback`]).
    pub fn push_finalize_callback(&self, owner: usize, f: Box<dyn FnOnce() + Send>) {
        self.push_tagged_finalize_callback(owner, [0; 2], f);
    }

    /// Like [`Engine::push_finalize_callback`], keeping `tag` with it.
    pub fn push_tagged_finalize_callback(&self, owner: usize, tag: CallbackTag, f: Box<dyn FnOnce() + Send>) {
        self.inner.lifecycle.prefinalize.lock().push((owner, tag, f));
    }

    /// The tag of the newest callback of `owner`, if it has one pending.
    pub fn top_finalize_callback(&self, owner: usize) -> Option<CallbackTag> {
        self.inner.lifecycle.prefinalize.lock().iter().rev().find(|(o, _, _)| *o == owner).map(|(_, tag, _)| *tag)
    }

    /// Removes (without running) the newest callback of `owner`.
    pub fn pop_finalize_callback(&self, owner: usize) -> bool {
        let mut list = self.inner.lifecycle.prefinalize.lock();
        match list.iter().rposition(|(o, _, _)| *o == owner) {
            Some(i) => {
                drop(list.remove(i));
                true
            }
            None => false,
        }
    }

    /// Stops the engine: flushes queued messages, fails pending calls, stops
    /// the progress thread and execution streams, closes the endpoint.
    /// Calling it again does nothing.
    ///
    /// Called by a handler of this engine (one finalizing from inside an
    /// RPC, then responding), it only takes effect once that handler has
    /// returned and answered, as margo defers it while an RPC runs.
    pub fn finalize(&self) {
        let life = &self.inner.lifecycle;
        if life.finalizing.load(Ordering::Acquire) {
            return;
        }
        if Serving::defer_finalize(&self.inner) {
            life.finalize_requested.store(true, Ordering::Release);
            crate::debug!("finalize asked by a handler: done when it returns");
            return;
        }
        let callbacks: Vec<_> = std::mem::take(&mut *life.prefinalize.lock());
        for (_, _, f) in callbacks.into_iter().rev() {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                crate::error!("a pre-finalize callback panicked");
            }
        }
        if life.finalizing.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut stray = Vec::new();
        self.inner.progress.flush(FLUSH_BUDGET, &mut stray);
        // Everything served is answered: from here on, shm peers that post a
        // request fail it themselves, and the flush below reads the ones
        // posted before they could see that (`fabric/doorbell.rs`).
        self.inner.progress.stop_taking_requests();
        self.inner.progress.flush(FLUSH_BUDGET / 5, &mut stray);
        if !stray.is_empty() {
            // Requests that came in while flushing get "shutting down".
            self.inner.dispatch(stray);
            self.inner.progress.flush(FLUSH_BUDGET / 5, &mut Vec::new());
        }
        self.inner.progress.calls.fail_all(|| RpcError::Finalized);
        // Handlers may hold engine handles: dropping them breaks the cycle.
        *self.inner.registry.write() = Registry::default();
        let xstreams = self.inner.runtime.lock().take_xstreams();
        for mut x in xstreams {
            x.stop();
        }
        self.inner.progress.close();
        // Only now: until the endpoint has closed, callers of this process
        // must find the engine here rather than reach it through libfabric.
        super::local::remove(self.inner.protocol, self.inner.self_address.name());
        *life.finalized.lock() = true;
        life.finalized_cv.notify_all();
        crate::debug!("engine {} finalized", self.inner.self_address);
    }

    /// Blocks until the engine is finalized (locally or by a remote shutdown).
    /// A handler that asked to finalize its engine returns at once: its
    /// finalize waits for it to return, so waiting would never end.
    pub fn wait_for_finalize(&self) {
        if Serving::asked_to_finalize(&self.inner) {
            crate::warning!("a handler waits for the finalize it asked for: that finalize happens when the handler returns");
            return;
        }
        let life = &self.inner.lifecycle;
        {
            let mut done = life.finalized.lock();
            while !*done {
                life.finalized_cv.wait(&mut done);
            }
        }
        let shutdown = life.shutdown_thread.lock().take();
        if let Some(t) = shutdown {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

thread_local! {
    /// The engines whose handlers run on this thread, outermost first, each
    /// with whether it asked to finalize meanwhile.
    static SERVING: std::cell::RefCell<Vec<(usize, bool)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a handler running on this thread, so that a finalize it asks for
/// waits until it has returned and answered (dropping the mark finalizes).
struct Serving<'a>(&'a Arc<Inner>);

impl<'a> Serving<'a> {
    fn enter(inner: &'a Arc<Inner>) -> Serving<'a> {
        SERVING.with(|s| s.borrow_mut().push((Arc::as_ptr(inner) as usize, false)));
        Serving(inner)
    }

    /// True if a handler of `inner` on this thread asked to finalize it.
    fn asked_to_finalize(inner: &Arc<Inner>) -> bool {
        let key = Arc::as_ptr(inner) as usize;
        SERVING.with(|s| s.borrow().iter().any(|&(k, asked)| k == key && asked))
    }

    /// True if a handler of `inner` runs on this thread: the outermost one
    /// then finalizes when it returns.
    fn defer_finalize(inner: &Arc<Inner>) -> bool {
        let key = Arc::as_ptr(inner) as usize;
        SERVING.with(|s| s.borrow_mut().iter_mut().find(|(k, _)| *k == key).map(|(_, asked)| *asked = true).is_some())
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        let asked = SERVING.with(|s| s.borrow_mut().pop()).is_some_and(|(_, asked)| asked);
        if asked {
            Engine { inner: self.0.clone() }.finalize();
        }
    }
}

/// A call in progress.
pub struct PendingCall {
    engine: Engine,
    slot: Arc<Slot>,
    msg_id: u64,
    /// The callee's libfabric name (`None` for a call to ourselves).
    peer: Option<Arc<[u8]>>,
    deadline: Instant,
    timeout: Duration,
    /// Held while the caller is to wait for the answer on its own thread
    /// ([`Engine::call_async_then_wait`]); dropped after the call.
    caller: Option<progress::CallerScope<Inner>>,
}

/// Names a call in flight, to cancel it ([`Engine::cancel_call`]).
#[derive(Clone)]
pub struct CallToken {
    slot: Arc<Slot>,
    msg_id: u64,
}

impl Drop for PendingCall {
    /// An abandoned call must not keep its slot in the engine forever (a
    /// dead peer never answers): forget it. A no-op once answered.
    fn drop(&mut self) {
        if !self.slot.is_done() {
            self.engine.inner.progress.calls.remove(self.msg_id);
        }
    }
}

impl PendingCall {
    /// A token to cancel this call from another thread.
    pub fn token(&self) -> CallToken {
        CallToken { slot: self.slot.clone(), msg_id: self.msg_id }
    }

    /// Waits for the answer (or the timeout).
    pub fn wait(self) -> Result<Vec<u8>> {
        let inner = &self.engine.inner;
        match progress::wait_call(inner, &self.slot, self.deadline) {
            Some(r) => r,
            None => {
                inner.progress.calls.remove(self.msg_id);
                // The answer may have landed between the deadline and removal.
                self.slot.take().unwrap_or_else(|| Err(self.timed_out()))
            }
        }
    }

    /// Waits until the answer is there or `until` passes (whichever is
    /// first, and never past the call's own deadline). `None`: still
    /// pending, wait again (or drop the call to abandon it).
    pub fn wait_until(&self, until: Instant) -> Option<Result<Vec<u8>>> {
        if until >= self.deadline {
            return None;
        }
        progress::wait_call(&self.engine.inner, &self.slot, until)
    }

    /// The error of a call that got no answer in time: "unreachable" if
    /// the peer is now certainly gone (its process exited, its port
    /// refuses: it may have died after our first call), else a timeout.
    fn timed_out(&self) -> RpcError {
        if let Some(peer) = &self.peer {
            let protocol = self.engine.inner.protocol;
            if let Some(message) = reachability::certainly_unreachable(protocol, peer, TCP_PROBE_PATIENCE) {
                self.engine.inner.reachable.write().remove(peer);
                return RpcError::PeerGone { addr: self.slot.addr.clone(), message };
            }
        }
        self.slot.timeout_error(self.timeout)
    }

    /// True once the answer (or a failure) is there; unlike
    /// [`PendingCall::test`], drives nothing and ignores the deadline.
    pub fn is_answered(&self) -> bool {
        self.slot.is_done()
    }

    /// True once the answer (or a failure) is there, or the deadline passed.
    pub fn test(&self) -> bool {
        if !self.slot.is_done() {
            progress::drive_once(&self.engine.inner);
        }
        self.slot.is_done() || Instant::now() >= self.deadline
    }

    /// When the call will be given up.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The engine the call was made on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs `f` once the answer (or a failure) is there, on whichever
    /// thread completes the call (at once if it already completed). `f`
    /// must be quick and must not block: typically it wakes a waiter, which
    /// then calls [`PendingCall::wait`]. A call that times out runs `f`
    /// only when someone waits for it: keep the deadline in view.
    pub fn on_complete(&self, f: Notify) {
        self.slot.on_complete(f);
    }

    /// A handle that registers a completion callback on this call, for
    /// code that keeps the call itself elsewhere (behind a lock, say).
    pub fn completion(&self) -> Completion {
        Completion(self.slot.clone())
    }
}

/// See [`PendingCall::completion`].
pub struct Completion(Arc<Slot>);

impl Completion {
    /// Like [`PendingCall::on_complete`].
    pub fn on_complete(&self, f: Notify) {
        self.0.on_complete(f);
    }
}

impl Engine {
    /// Blocks until one of `completions` is answered (or failed) or
    /// `until` passes, waiting as a caller of one call does: driving the
    /// endpoint when nobody else does, its execution stream lent meanwhile.
    /// A call past its deadline completes only once someone waits for it:
    /// pass the earliest deadline as `until` and test again after.
    pub fn wait_any(&self, completions: &[Completion], until: Instant) {
        let any = Arc::new(Slot::new("wait_any", ""));
        for c in completions {
            let any = any.clone();
            // The listener, not an added callback: a call pending through
            // many waits keeps one registration, not one per wait.
            c.0.listen(Box::new(move || any.complete(Ok(Vec::new()))));
        }
        let _ = progress::wait_call(&self.inner, &any, until);
    }
}

impl Inner {
    fn dispatch_request(
        self: &Arc<Self>,
        engine: &Engine,
        origin: Origin,
        header: Header,
        payload: Vec<u8>,
        from_progress: bool,
    ) {
        if header.rpc_id == wire::rpc_id(SHUTDOWN_RPC) && header.provider_id == DEFAULT_PROVIDER_ID {
            return self.remote_shutdown_request(engine, origin, header, from_progress);
        }
        if self.is_finalizing() || self.lifecycle.finalize_requested.load(Ordering::Acquire) {
            return self.respond(origin, &header, Status::ShuttingDown, Vec::new(), from_progress);
        }
        let found = {
            let reg = self.registry.read();
            match reg.by_key.get(&(header.rpc_id, header.provider_id)) {
                Some(r) => Ok(r.clone()),
                None if reg.names.contains_key(&header.rpc_id) => Err(Status::NoSuchProvider),
                None => Err(Status::NoSuchRpc),
            }
        };
        let reg = match found {
            Ok(r) => r,
            Err(status) => return self.respond(origin, &header, status, Vec::new(), from_progress),
        };
        let sender = match &origin {
            Origin::Remote(name) => Some(Address::new(
                self.protocol,
                name.clone(),
                &crate::fabric::address::format_name(self.protocol, name).unwrap_or_default(),
            )),
            Origin::Local { sender, .. } => sender.clone(),
        };
        // Counted from now, before the request waits for a handler.
        let deadline = header.timeout.and_then(|t| Instant::now().checked_add(t));
        let engine = engine.clone();
        let inner = self.clone();
        // A handler calling its own engine runs the target handler inline:
        // cheaper than lending its stream to a stand-in for it (`stream.rs`).
        let inline = matches!(origin, Origin::Local { sender: None, .. }) && super::pool::on_xstream();
        let pool = reg.pool.clone();
        let job: super::pool::Job = Box::new(move || {
            // Dropped last: after the answer below.
            let _serving = Serving::enter(&inner);
            let request = Request { engine, sender, provider_id: header.provider_id, payload, deadline };
            let handler = match &reg.callback {
                Callback::Now(h) => h.clone(),
                Callback::Later(h) => {
                    let responder =
                        Responder { inner: Arc::downgrade(&inner), answer: Some((origin, header)), name: reg.name.clone() };
                    // A panic drops the responder, which answers with an error.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(request, responder))).is_err() {
                        crate::error!("handler of RPC \"{}\" panicked", reg.name);
                    }
                    return;
                }
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(request)));
            let (status, body) = match outcome {
                Ok(Ok(body)) => (Status::Ok, body),
                Ok(Err(message)) => (Status::HandlerError, message.into_bytes()),
                Err(_) => {
                    crate::error!("handler of RPC \"{}\" panicked", reg.name);
                    (Status::HandlerError, format!("handler of \"{}\" panicked", reg.name).into_bytes())
                }
            };
            inner.respond(origin, &header, status, body, false);
        });
        if inline {
            job();
        } else {
            pool.push(job);
        }
    }

    fn remote_shutdown_request(self: &Arc<Self>, engine: &Engine, origin: Origin, header: Header, from_progress: bool) {
        if !self.lifecycle.remote_shutdown.load(Ordering::Acquire) {
            crate::warning!("refusing a remote shutdown request: remote shutdown is not enabled");
            let msg = format!("remote shutdown is not enabled at {}", self.self_address).into_bytes();
            return self.respond(origin, &header, Status::HandlerError, msg, from_progress);
        }
        crate::info!("remote shutdown requested");
        self.respond(origin, &header, Status::Ok, Vec::new(), from_progress);
        let engine = engine.clone();
        // Finalize cannot run here: this is the thread driving progress (or
        // a handler's stream), and finalize flushes progress and stops the
        // streams, joining them. A thread of its own runs it; its handle is
        // kept so that wait_for_finalize returns only once it is gone.
        let spawned = std::thread::Builder::new().name("mochi-shutdown".into()).spawn(move || engine.finalize());
        match spawned {
            Ok(t) => *self.lifecycle.shutdown_thread.lock() = Some(t),
            Err(e) => crate::error!("cannot start the thread that finalizes after a remote shutdown: {e}"),
        }
    }

    fn respond(self: &Arc<Self>, origin: Origin, request: &Header, status: Status, body: Vec<u8>, from_progress: bool) {
        match origin {
            Origin::Local { slot, .. } => {
                slot.complete(outcome(&slot, status, request.provider_id, body));
            }
            Origin::Remote(dest) => {
                let (body, status) = if body.len() > MAX_MESSAGE {
                    (format!("response of {} bytes exceeds the message limit", body.len()).into_bytes(), Status::HandlerError)
                } else {
                    (body, status)
                };
                let header = Header { kind: Kind::Response, status, timeout: None, ..request.clone() };
                self.progress.submit(Outgoing::new(dest, header, body, Instant::now() + RESPONSE_DEADLINE, None));
                if !from_progress {
                    progress::drive_once(self);
                }
            }
        }
    }

    pub(crate) fn is_finalizing(&self) -> bool {
        self.lifecycle.finalizing.load(Ordering::Acquire)
    }
}
