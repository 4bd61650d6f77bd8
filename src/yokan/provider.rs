//! A Yokan provider: one database (or none) served on an engine under a
//! provider id, with upstream's config handling, modes and error codes.

use super::backend::{self, Backend, Filter, ListQuery};
use super::collection::{self, Collections};
use super::dist::{self, wire::Route, LocalDb, Shard, WaitBound};
use super::error::{code, Result, YokanError};
use super::mode;
use super::protocol::{self, failure, success, ListArgs, Operation};
use crate::rpc::codec::{self, Bytes};
use crate::rpc::{stream, Address, Engine, Pool, Request};
use parking_lot::{Condvar, Mutex};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The Flock group a provider was given (the distributed store builds on it).
#[derive(Clone)]
pub enum GroupRef {
    /// A Flock provider of this process.
    Local(crate::flock::provider::Provider),
    /// A Flock provider elsewhere.
    Remote { address: Address, provider_id: u16 },
}

/// Optional arguments of [`Provider::register`].
#[derive(Default)]
pub struct ProviderArgs {
    /// Pool for the handlers (default: the engine's handler pool).
    pub pool: Option<Arc<Pool>>,
    /// The group this provider belongs to, with the dependency name it came under.
    pub group: Option<(String, GroupRef)>,
}

/// Wakes waiters when a key is put with `NOTIFY`.
#[derive(Default)]
struct Watcher {
    shared: Arc<WatchState>,
}

#[derive(Default)]
struct WatchState {
    /// (generation, closed)
    state: Mutex<(u64, bool)>,
    cv: Condvar,
}

impl Watcher {
    fn generation(&self) -> Result<u64> {
        let s = self.shared.state.lock();
        if s.1 {
            return Err(destroyed_while_waiting());
        }
        Ok(s.0)
    }
    /// Blocks until a notification after `seen` (or the database closes,
    /// or the execution stream the handler runs on is asked to stop, or
    /// `bound` ends the wait: its `until` passes, or its requester is found
    /// gone). A handler lends its execution stream meanwhile
    /// (`rpc/stream.rs`): the put that wakes it may come to the same stream.
    fn wait_past(&self, seen: u64, bound: WaitBound<'_>) -> Result<()> {
        if self.generation()? != seen {
            return Ok(());
        }
        if let Some(gone) = bound.requester.and_then(dist::Requester::gone) {
            return Err(gone);
        }
        // A stream that stops (removed, or its engine finalized) wakes us:
        // it waits for its threads, and a key may never come.
        let shared = self.shared.clone();
        let wake: stream::Wake = Arc::new(move || {
            // Taking the lock orders the wake-up after the waiter's check.
            drop(shared.state.lock());
            shared.cv.notify_all();
        });
        if let Some(r) = bound.requester {
            // (Set before the first look under the lock below: a verdict
            // after that look wakes us.)
            r.set_wake(Some(wake.clone()));
        }
        let lent = stream::begin_blocking_wait(wake);
        let ended = {
            let mut s = self.shared.state.lock();
            loop {
                if s.1 {
                    break Err(destroyed_while_waiting());
                }
                if s.0 != seen {
                    break Ok(());
                }
                if let Some(gone) = bound.requester.and_then(dist::Requester::gone) {
                    break Err(gone);
                }
                if let Some(name) = lent.as_ref().and_then(|l| l.stopping()) {
                    break Err(YokanError::new(
                        code::ABORTED,
                        format!(
                            "execution stream \"{name}\" was removed (or stopped) while this request waited for its keys \
                             on it; send the request again (another stream of the provider's pool serves it)"
                        ),
                    ));
                }
                match bound.until {
                    Some(deadline) if Instant::now() >= deadline => break Err(caller_gave_up()),
                    Some(deadline) => {
                        self.shared.cv.wait_until(&mut s, deadline);
                    }
                    None => self.shared.cv.wait(&mut s),
                }
            }
        };
        if let Some(r) = bound.requester {
            r.set_wake(None);
        }
        // Only now, with `state` unlocked: taking the stream back waits for
        // the stand-in's current handler, which may be a put that notifies.
        drop(lent);
        ended
    }
    fn notify(&self) {
        self.shared.state.lock().0 += 1;
        self.shared.cv.notify_all();
    }
    fn close(&self) {
        self.shared.state.lock().1 = true;
        self.shared.cv.notify_all();
    }
}

fn destroyed_while_waiting() -> YokanError {
    YokanError::new(code::TIMEOUT, "the database was destroyed while waiting")
}

/// A `WAIT` whose caller has stopped waiting for the answer (its timeout,
/// or the bound a forwarding member gave: `dist::wire::ApplyWait`). It is
/// `YOKAN_ERR_TIMEOUT`, what the caller's own call reports when it times
/// out (this is the same end of the same wait, seen from the provider), not
/// `YOKAN_ERR_ABORTED` (the stream it waited on was removed) nor
/// `YOKAN_ERR_BUSY` (refused at once).
fn caller_gave_up() -> YokanError {
    YokanError::new(
        code::TIMEOUT,
        "the keys did not appear within the caller's timeout: the request stopped waiting for them \
         (and gave its place among the \"max_waiting_requests\" back)",
    )
}

/// What a `WAIT` operation whose keys are not all present does.
#[derive(Clone, Copy)]
enum Blocking<'a> {
    /// Waits until they are, or until the bound ends the wait
    /// (`YOKAN_ERR_TIMEOUT` at its deadline; `None`: no deadline).
    Until(WaitBound<'a>),
    /// Is not run (`None`).
    No,
}

struct Database {
    backend: Box<dyn Backend>,
    watcher: Watcher,
    collections: Collections,
}

#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    provider_id: u16,
    database: Option<Database>,
    /// Top-level config keys as reported (without `database`).
    config: Map<String, Value>,
    group: Option<(String, GroupRef)>,
    /// With a group: this provider's part of the group's database.
    shard: Option<Arc<Shard>>,
    destroyed: AtomicBool,
    /// Held while the provider shuts down.
    shutting_down: Mutex<()>,
    /// Every RPC registered for this provider (its own, and its shard's):
    /// all are deregistered when it is destroyed.
    registered: Mutex<Vec<&'static str>>,
    /// Requests blocked in a `WAIT` now, and how many may be
    /// (`"max_waiting_requests"`).
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// `"max_waiting_requests"`: how many requests of a provider may block in
/// a `WAIT` at once (each keeps a thread asleep). More are refused at once
/// with `YOKAN_ERR_BUSY`.
pub const MAX_WAITING_KEY: &str = "max_waiting_requests";
/// Its default.
pub const DEFAULT_MAX_WAITING: u64 = 64;
/// Its largest accepted value.
pub const MAX_WAITING_LIMIT: u64 = 10_000;

/// Reads `"max_waiting_requests"`.
fn max_waiting(cfg: &Map<String, Value>) -> Result<u64> {
    match cfg.get(MAX_WAITING_KEY) {
        None => Ok(DEFAULT_MAX_WAITING),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_WAITING_LIMIT).contains(&n) => Ok(n),
            _ => Err(YokanError::config(format!(
                "\"{MAX_WAITING_KEY}\" must be an integer from 1 to {MAX_WAITING_LIMIT} (got {v})"
            ))),
        },
    }
}

/// A request's place among those blocked in a `WAIT` (given back when dropped).
struct WaitSlot<'a>(&'a AtomicUsize);

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

const HANDLERS: [&str; 10] = [
    protocol::CHECK,
    protocol::COUNT,
    protocol::PUT,
    protocol::EXISTS,
    protocol::LENGTH,
    protocol::GET,
    protocol::ERASE,
    protocol::ERASE_RANGE,
    protocol::LIST,
    protocol::DOC,
];
const WAIT_HANDLERS: [&str; 4] = [protocol::EXISTS_WAIT, protocol::LENGTH_WAIT, protocol::GET_WAIT, protocol::ERASE_WAIT];

/// Reads `buffer_cache` as upstream validates it (we move no bulk data, so
/// it has no effect; it is reported as configured).
fn buffer_cache(cfg: &Map<String, Value>) -> Result<Value> {
    match cfg.get("buffer_cache") {
        None => Ok(json!({"type": "lru"})),
        Some(Value::Object(o)) => match o.get("type") {
            Some(Value::String(t)) if ["dummy", "keep_all", "lru"].contains(&t.as_str()) => Ok(Value::Object(o.clone())),
            Some(Value::String(t)) => {
                Err(YokanError::config(format!("\"buffer_cache.type\" is \"{t}\" (supported: dummy, keep_all, lru)")))
            }
            _ => Err(YokanError::config("\"buffer_cache\" needs a string \"type\"")),
        },
        Some(_) => Err(YokanError::config("\"buffer_cache\" must be an object")),
    }
}

/// A keyed request's mode and keys.
type ModeKeys<'a> = (i32, Vec<&'a [u8]>);

/// A parsed provider config: the reported top-level keys and the database.
type Parsed = (Map<String, Value>, Option<Box<dyn Backend>>);

/// Parses a provider config.
fn parse(config: &str) -> Result<Parsed> {
    if config.trim().is_empty() {
        return Err(YokanError::args("empty provider configuration"));
    }
    let cfg = match serde_json::from_str::<Value>(config) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(YokanError::config("the provider configuration must be a JSON object")),
        Err(e) => return Err(YokanError::config(format!("the provider configuration is not valid JSON: {e}"))),
    };
    let mut reported = cfg.clone();
    reported.insert("buffer_cache".into(), buffer_cache(&cfg)?);
    reported.insert(MAX_WAITING_KEY.into(), json!(max_waiting(&cfg)?));
    reported.remove("database");
    let db = match cfg.get("database") {
        None => None,
        Some(Value::Object(d)) => {
            let type_name = match d.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(_) => return Err(YokanError::config("\"database.type\" must be a string")),
                None => {
                    return Err(YokanError::config(format!(
                        "\"database.type\" is missing (supported: {})",
                        backend::TYPES.join(", ")
                    )))
                }
            };
            let dbcfg = match d.get("config") {
                None => json!({}),
                Some(c) => c.clone(),
            };
            Some(backend::create(&type_name, &dbcfg)?)
        }
        Some(_) => return Err(YokanError::config("\"database\" must be an object")),
    };
    Ok((reported, db))
}

impl Provider {
    /// Registers a provider, as `yk_provider_register` does.
    pub fn register(engine: &Engine, provider_id: u16, config: &str, args: ProviderArgs) -> Result<Provider> {
        if engine.is_registered(protocol::COUNT, provider_id) {
            return Err(YokanError::new(
                code::INVALID_PROVIDER,
                format!("provider id {provider_id} already has a Yokan provider"),
            ));
        }
        if !engine.is_listening() {
            return Err(YokanError::args("the engine is not listening (client mode)"));
        }
        let (config, backend) = parse(config)?;
        let max_waiting = usize::try_from(max_waiting(&config)?).unwrap_or(usize::MAX);
        let shard_config = dist::ShardConfig::from_config(&config)?;
        let replication = shard_config.replication;
        let shard = match &args.group {
            Some((_, GroupRef::Local(group))) if backend.is_some() => {
                let members = group.view().member_count();
                if replication > members.max(1) {
                    crate::info!(
                        "yokan provider {provider_id}: replication {replication} exceeds the group's {members} members; \
                         keys get one copy per member until the group grows"
                    );
                }
                Some(Shard::new(engine, provider_id, shard_config, group.clone())?)
            }
            Some((name, GroupRef::Remote { address, .. })) => {
                return Err(YokanError::config(format!(
                    "the group dependency \"{name}\" is a Flock provider at {address}: a distributed Yokan database \
                     needs its Flock provider in the same process"
                )))
            }
            _ => {
                if replication > 1 {
                    crate::warning!("yokan provider {provider_id}: \"replication\" has no effect without a group dependency");
                }
                if config.contains_key(dist::SHARD_TIMEOUT_KEY) {
                    crate::warning!(
                        "yokan provider {provider_id}: \"{}\" has no effect without a group dependency",
                        dist::SHARD_TIMEOUT_KEY
                    );
                }
                None
            }
        };
        let database =
            backend.map(|backend| Database { backend, watcher: Watcher::default(), collections: Collections::default() });
        let inner = Arc::new(Inner {
            engine: engine.clone(),
            provider_id,
            database,
            config,
            group: args.group,
            shard,
            destroyed: AtomicBool::new(false),
            shutting_down: Mutex::new(()),
            registered: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
            max_waiting,
        });
        let pool = args.pool.unwrap_or_else(|| engine.handler_pool());
        if let Err(e) = inner.register_handlers(&pool) {
            inner.shut_down(false);
            return Err(e);
        }
        if let Some(shard) = &inner.shard {
            let local: std::sync::Weak<dyn LocalDb> = Arc::downgrade(&inner) as std::sync::Weak<dyn LocalDb>;
            if let Err(e) = shard.start(local) {
                inner.shut_down(false);
                return Err(e);
            }
        }
        // Taken back if the provider is destroyed first: a provider created
        // and destroyed again and again leaves no callback behind.
        let weak = Arc::downgrade(&inner);
        engine.push_finalize_callback(
            inner.owner_key(),
            Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.destroy();
                }
            }),
        );
        Ok(Provider { inner })
    }

    pub fn provider_id(&self) -> u16 {
        self.inner.provider_id
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The group given at creation, with the dependency name it came under.
    pub fn group(&self) -> Option<&(String, GroupRef)> {
        self.inner.group.as_ref()
    }

    /// The effective config, as `yk_provider_get_config` reports it.
    pub fn config_json(&self) -> Value {
        let mut m = self.inner.config.clone();
        if let Some(db) = &self.inner.database {
            m.insert("database".into(), json!({"type": db.backend.type_name(), "config": db.backend.config()}));
        }
        Value::Object(m)
    }

    pub fn config_string(&self) -> String {
        self.config_json().to_string()
    }

    /// How many requests are blocked in a `WAIT` now (at most the
    /// config's `"max_waiting_requests"`).
    pub fn waiting_requests(&self) -> usize {
        self.inner.waiting.load(Ordering::Acquire)
    }

    /// Stops serving: hands a shard's keys off, deregisters every RPC of
    /// the provider (its shard's too), stops following the group, and
    /// fails the requests waiting for keys. Requests sent afterwards get
    /// "no such provider" (`YOKAN_ERR_INVALID_PROVIDER`), and a new
    /// provider may take the same id. A persistent database keeps its
    /// files.
    pub fn destroy(&self) {
        self.inner.destroy();
    }
}

impl Inner {
    /// Registers every RPC of the provider on `pool`: the client's, their
    /// `WAIT` twins, and with a shard the requests between shards. Nothing
    /// runs on threads of the provider's own: a handler that waits (for
    /// another member's answer, for a key to appear) lends its execution
    /// stream meanwhile (`rpc/stream.rs`), so the pool keeps serving, even
    /// with a single stream, and members that call each other cannot wait
    /// on each other for a thread.
    fn register_handlers(self: &Arc<Self>, pool: &Arc<Pool>) -> Result<()> {
        let mut names: Vec<&'static str> = HANDLERS.iter().chain(WAIT_HANDLERS.iter()).copied().collect();
        if self.shard.is_some() {
            names.extend(dist::wire::ROUTED.iter().chain(dist::wire::LEAF.iter()));
        }
        for name in names {
            let weak = Arc::downgrade(self);
            self.engine
                .register(
                    name,
                    self.provider_id,
                    Some(pool.clone()),
                    Arc::new(move |req: Request| match weak.upgrade() {
                        Some(inner) => Ok(inner.handle(name, &req)),
                        None => Ok(failure(&YokanError::new(code::INVALID_PROVIDER, "the Yokan provider is gone"))),
                    }),
                )
                .map_err(|e| YokanError::new(code::INVALID_PROVIDER, format!("cannot register {name}: {e}")))?;
            self.registered.lock().push(name);
        }
        // What `margo_provider_get_identity` answers, as upstream's provider.
        self.engine
            .register_identity(self.provider_id, "yokan")
            .map_err(|e| YokanError::new(code::INVALID_PROVIDER, format!("cannot register the identity: {e}")))?;
        Ok(())
    }

    /// The key of the provider's finalize callback.
    fn owner_key(&self) -> usize {
        self as *const Inner as usize
    }

    /// Serves one request. A `WAIT` waits no longer than its caller does
    /// (`req.deadline`): past it, nobody would read the answer, and the
    /// waiter would hold its place among the `"max_waiting_requests"`.
    fn handle(&self, name: &str, req: &Request) -> Vec<u8> {
        let payload = req.payload.as_slice();
        let until = req.deadline;
        if let Err(e) = self.refuse_key_value(name) {
            return failure(&e);
        }
        let outcome = match &self.shard {
            Some(shard) if dist::wire::ROUTED.contains(&name) || dist::wire::LEAF.contains(&name) => {
                shard.serve(self, name, payload, req.sender.as_ref(), until)
            }
            Some(shard) if name != protocol::CHECK => {
                self.database().and_then(|_| shard.route(self, name, payload, &Route::default(), until))
            }
            _ => self.dispatch(name, payload, false, until.into()),
        };
        match outcome {
            Ok(bytes) => bytes,
            Err(e) => failure(&e),
        }
    }

    /// A client's key-value operation on a database type that holds
    /// documents only (`array`, `log`) is refused, as upstream does.
    /// (Every request asks: the type is looked at before the name.)
    fn refuse_key_value(&self, name: &str) -> Result<()> {
        let Some(b) = self.database.as_ref().map(|db| db.backend.as_ref()).filter(|b| b.documents_only()) else {
            return Ok(());
        };
        let internal = dist::wire::ROUTED.contains(&name) || dist::wire::LEAF.contains(&name);
        if internal || name == protocol::CHECK || name == protocol::DOC {
            return Ok(());
        }
        Err(YokanError::unsupported(format!(
            "a \"{}\" database holds collections of documents only: {name} (a key-value operation) is not supported",
            b.type_name()
        )))
    }

    fn database(&self) -> Result<&Database> {
        if self.destroyed.load(Ordering::Acquire) {
            return Err(YokanError::new(code::INVALID_PROVIDER, "the provider is destroyed"));
        }
        self.database.as_ref().ok_or_else(|| YokanError::new(code::INVALID_DATABASE, "this provider has no database"))
    }

    /// Runs an operation on the local database; `multi` applies the
    /// multi-put rules to a put of one pair (part of a larger put). A `WAIT`
    /// operation waits for its keys until `bound` ends the wait.
    fn dispatch(&self, name: &str, payload: &[u8], multi: bool, bound: WaitBound<'_>) -> Result<Vec<u8>> {
        self.run_op(name, payload, multi, Blocking::Until(bound))?
            .ok_or_else(|| YokanError::new(code::OTHER, format!("{name} was not run: its keys are not all present")))
    }

    /// [`Inner::dispatch`]; what a `WAIT` operation whose keys are not all
    /// present does is `blocking`'s.
    fn run_op(&self, name: &str, payload: &[u8], multi: bool, blocking: Blocking<'_>) -> Result<Option<Vec<u8>>> {
        if name == protocol::CHECK {
            let Operation { args: (), .. } = codec::decode(payload)?;
            return Ok(Some(success(protocol::IDENTITY)));
        }
        let db = self.database()?;
        let backend = db.backend.as_ref();
        let supported = |mode: i32| mode::check_supported(mode, backend.supported_modes(), backend.type_name());
        // The keys of a request, present (waited for with WAIT; `None`: not
        // all present, and not to be waited for).
        let keys_of = |payload| -> Result<Option<ModeKeys<'_>>> {
            let Operation { mode, args } = codec::decode::<Operation<protocol::Keys<'_>>>(payload)?;
            supported(mode)?;
            let keys: Vec<&[u8]> = args.into_iter().map(|k| k.0).collect();
            if keys.iter().any(|k| k.is_empty()) {
                return Err(YokanError::args("keys must not be empty"));
            }
            if mode & mode::WAIT != 0 {
                match blocking {
                    Blocking::Until(bound) => self.wait_present(db, &keys, bound)?,
                    Blocking::No if !backend.exists(&keys)?.iter().all(|p| *p) => return Ok(None),
                    Blocking::No => {}
                }
            }
            Ok(Some((mode, keys)))
        };
        let done = match name {
            protocol::COUNT => {
                let Operation { mode, args: () } = codec::decode(payload)?;
                supported(mode)?;
                success(backend.count()?)
            }
            protocol::PUT => {
                let Operation { mode, args } = codec::decode::<Operation<protocol::Pairs<'_>>>(payload)?;
                supported(mode)?;
                let pairs: Vec<(&[u8], &[u8])> = args.into_iter().map(|(k, v)| (k.0, v.0)).collect();
                if pairs.iter().any(|(k, _)| k.is_empty()) {
                    return Err(YokanError::args("keys must not be empty"));
                }
                let written = backend.put(&pairs, mode, pairs.len() == 1 && !multi)?;
                if mode & mode::NOTIFY != 0 && written.iter().any(|w| *w) {
                    db.watcher.notify();
                }
                success(())
            }
            protocol::EXISTS | protocol::EXISTS_WAIT => {
                let Some((_, keys)) = keys_of(payload)? else { return Ok(None) };
                success(backend.exists(&keys)?)
            }
            protocol::LENGTH | protocol::LENGTH_WAIT => {
                let Some((_, keys)) = keys_of(payload)? else { return Ok(None) };
                success(backend.length(&keys)?)
            }
            protocol::GET | protocol::GET_WAIT => {
                let Some((mode, keys)) = keys_of(payload)? else { return Ok(None) };
                let values = backend.get(&keys, mode & mode::CONSUME != 0)?;
                success(values.iter().map(|v| v.as_deref().map(Bytes)).collect::<Vec<_>>())
            }
            protocol::ERASE | protocol::ERASE_WAIT => {
                let Some((_, keys)) = keys_of(payload)? else { return Ok(None) };
                backend.erase(&keys)?;
                success(())
            }
            protocol::ERASE_RANGE => {
                let Operation { mode, args: prefix } = codec::decode::<Operation<protocol::Prefix<'_>>>(payload)?;
                supported(mode)?;
                backend.erase_range(prefix.0)?;
                success(())
            }
            protocol::LIST => {
                let Operation { mode, args } = codec::decode::<Operation<ListArgs<'_>>>(payload)?;
                supported(mode)?;
                if !backend.is_sorted() {
                    return Err(YokanError::unsupported(format!(
                        "the \"{}\" backend cannot list keys (it is not sorted)",
                        backend.type_name()
                    )));
                }
                let query = ListQuery {
                    from: args.from.0.to_vec(),
                    inclusive: mode & mode::INCLUSIVE != 0,
                    filter: Filter::from_mode(mode, args.filter.0),
                    max: usize::try_from(args.max).unwrap_or(usize::MAX),
                    with_values: args.with_values,
                };
                let items = backend.list(&query)?;
                dist::list_reply(&items, mode, &query.filter)
            }
            protocol::DOC => Self::run_doc(db, payload)?,
            other => return Err(YokanError::unsupported(format!("unknown Yokan operation {other}"))),
        };
        Ok(Some(done))
    }

    /// An operation on a collection of documents (`collection.rs`).
    fn run_doc(db: &Database, payload: &[u8]) -> Result<Vec<u8>> {
        use protocol::DocOp;
        let Operation { mode, args } = codec::decode::<Operation<protocol::DocArgs<'_>>>(payload)?;
        collection::check_mode(mode)?;
        let (colls, b, name) = (&db.collections, db.backend.as_ref(), args.collection);
        Ok(match args.op {
            DocOp::Create => success(colls.create(b, name)?),
            DocOp::Drop => success(colls.drop_collection(b, name)?),
            DocOp::Exists => success(colls.exists(b, name)?),
            DocOp::Record => {
                let r = colls.record_of(b, name)?;
                success((r.size, r.next_id))
            }
            DocOp::Store(d) => success(colls.store(b, name, &doc_slices(&d))?),
            DocOp::Update { ids, docs: d } => success(colls.update(b, name, mode, &ids, &doc_slices(&d))?),
            DocOp::Load(ids) => {
                let found = colls.load(b, name, &ids)?;
                success(found.iter().map(|v| v.as_deref().map(Bytes)).collect::<Vec<_>>())
            }
            DocOp::Length(ids) => success(colls.length(b, name, &ids)?),
            DocOp::Erase(ids) => success(colls.erase(b, name, &ids)?),
            DocOp::List { from, max, with_docs } => {
                let max = usize::try_from(max).unwrap_or(usize::MAX);
                let listed = colls.list(b, name, from, max, with_docs)?;
                success(listed.iter().map(|(id, d)| (*id, Bytes(d))).collect::<Vec<_>>())
            }
        })
    }

    /// `WAIT`: blocks until every key is present (a `NOTIFY` put wakes us),
    /// or until `bound.until` passes (`YOKAN_ERR_TIMEOUT`; `None`: no
    /// bound), or, for a forwarded `WAIT`, until the member that forwarded
    /// it is found gone (`YOKAN_ERR_ABORTED`). A request that would block
    /// while `"max_waiting_requests"` others do is refused at once
    /// (`YOKAN_ERR_BUSY`): each keeps a thread asleep. Its place is given
    /// back however the wait ends.
    fn wait_present(&self, db: &Database, keys: &[&[u8]], bound: WaitBound<'_>) -> Result<()> {
        let mut slot = None;
        loop {
            let seen = db.watcher.generation()?;
            if db.backend.exists(keys)?.iter().all(|p| *p) {
                return Ok(());
            }
            if slot.is_none() {
                slot = Some(self.wait_slot()?);
            }
            db.watcher.wait_past(seen, bound)?;
        }
    }

    /// A place among the requests blocked in a `WAIT`, if one is free.
    fn wait_slot(&self) -> Result<WaitSlot<'_>> {
        match self.waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_waiting).then_some(n + 1)) {
            Ok(_) => Ok(WaitSlot(&self.waiting)),
            Err(n) => Err(YokanError::new(
                code::BUSY,
                format!(
                    "yokan provider {}: {n} requests already wait for keys, the most it lets wait at once \
                     (\"{MAX_WAITING_KEY}\"); this one is refused, not queued: send it again later",
                    self.provider_id
                ),
            )),
        }
    }

    fn destroy(&self) {
        self.shut_down(true);
    }

    /// Stops serving; with `hand_off`, a shard first gives its keys to
    /// their other owners (not when its creation failed: it never served).
    /// A second call returns once the first is done.
    fn shut_down(&self, hand_off: bool) {
        let _one_at_a_time = self.shutting_down.lock();
        if self.destroyed.load(Ordering::Acquire) {
            return;
        }
        // A shard hands its keys off while it can still serve them, and
        // stops following the group (membership callbacks, rebalancing).
        if let Some(shard) = &self.shard {
            shard.stop(self, hand_off);
        }
        self.destroyed.store(true, Ordering::Release);
        // Every RPC it registered, its shard's included: requests now get
        // "no such provider", and the id is free for a new provider.
        for name in std::mem::take(&mut *self.registered.lock()) {
            self.engine.deregister(name, self.provider_id);
        }
        self.engine.deregister_own_identity(self.provider_id, "yokan");
        self.engine.pop_finalize_callback(self.owner_key());
        if let Some(db) = &self.database {
            db.watcher.close();
            db.backend.close();
        }
    }
}

/// The documents of a request as byte slices.
fn doc_slices<'a>(docs: &[Bytes<'a>]) -> Vec<&'a [u8]> {
    docs.iter().map(|b| b.0).collect()
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.destroy();
    }
}

impl LocalDb for Inner {
    fn run(&self, op: &str, payload: &[u8], multi: bool, bound: WaitBound<'_>) -> Result<Vec<u8>> {
        self.dispatch(op, payload, multi, bound)
    }

    fn run_if_ready(&self, op: &str, payload: &[u8], multi: bool) -> Result<Option<Vec<u8>>> {
        self.run_op(op, payload, multi, Blocking::No)
    }

    fn wait_present(&self, keys: &[&[u8]], bound: WaitBound<'_>) -> Result<()> {
        Inner::wait_present(self, self.database()?, keys, bound)
    }

    fn backend(&self) -> Result<&dyn Backend> {
        Ok(self.database()?.backend.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wait_ends_when_its_requester_is_found_gone() {
        let watcher = Watcher::default();
        let requester = dist::Requester::new("na+sm://1-0");
        let r = requester.clone();
        let bell = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            r.found_gone("its process exited");
        });
        let seen = watcher.generation().unwrap();
        let bound = WaitBound { until: Some(Instant::now() + Duration::from_secs(30)), requester: Some(&requester) };
        let start = Instant::now();
        let e = watcher.wait_past(seen, bound).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "woken by the verdict, not the bound");
        assert_eq!(e.code, code::ABORTED, "{e}");
        assert!(e.detail.contains("na+sm://1-0") && e.detail.contains("its process exited"), "{e}");
        bell.join().unwrap();
        // Already gone: at once, even with no bound.
        let bound = WaitBound { until: None, requester: Some(&requester) };
        assert_eq!(watcher.wait_past(seen, bound).unwrap_err().code, code::ABORTED);
        // A notification still ends a wait whose requester lives.
        let alive = dist::Requester::new("na+sm://2-0");
        watcher.notify();
        watcher.wait_past(seen, WaitBound { until: None, requester: Some(&alive) }).unwrap();
    }
}
