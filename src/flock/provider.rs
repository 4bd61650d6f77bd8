//! A Flock provider: one group member on an engine. It owns a backend (which
//! keeps the view) and a gateway (which names our public address), answers
//! clients, pushes every change to its callbacks, its subscribers and its
//! group file.

use super::backend::{self, Backend, BackendFactory, BackendInit, UpdateSink};
use super::error::{FlockError, Result};
use super::gateway::{self, Gateway, GatewayFactory, GatewayInit};
use super::protocol::{self, Notification, StatusReply, Update, ViewReply};
use super::view::GroupView;
use super::view_file::{self, FileStamp};
use crate::rpc::codec;
use crate::rpc::pool::Job;
use crate::rpc::timer::{self, TimerId};
use crate::rpc::{Address, Engine, Pool, Request};
use crossbeam_channel::{unbounded, Sender};
use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

/// User callbacks for membership and metadata changes.
pub trait UpdateCallbacks: Send + Sync {
    fn membership(&self, update: Update, address: &str, provider_id: u16);
    fn metadata(&self, key: &str, value: &str);
}

/// Optional arguments of [`Provider::register`].
#[derive(Default)]
pub struct ProviderArgs {
    /// Pool for the provider's handlers (default: the engine's handler pool).
    pub pool: Option<Arc<Pool>>,
    /// The view to start from (empty if not given).
    pub initial_view: GroupView,
    /// Overrides `group.type`.
    pub backend: Option<Arc<dyn BackendFactory>>,
    /// Overrides `gateway.type`.
    pub gateway: Option<Arc<dyn GatewayFactory>>,
}

#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    provider_id: u16,
    /// The pool the provider's handlers (and its file checks) run on.
    pool: Arc<Pool>,
    backend: OnceLock<Arc<dyn Backend>>,
    backend_type: String,
    gateway: Arc<dyn Gateway>,
    gateway_type: String,
    public_address: String,
    file: Option<PathBuf>,
    /// Held while the group file is written or checked.
    file_state: Mutex<FileState>,
    callbacks: RwLock<Vec<(usize, Arc<dyn UpdateCallbacks>)>>,
    subscribers: Mutex<Vec<(Address, u16)>>,
    notifier: Mutex<Option<Sender<Notification>>>,
    /// The `flock-notify` thread, joined by teardown.
    notify_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    destroyed: AtomicBool,
}

/// What the provider knows of its group file.
#[derive(Default)]
struct FileState {
    /// The version of the file we wrote last, and the digest of its view.
    written: Option<(FileStamp, u64)>,
    /// The next check (`Backend::file_check_interval`).
    timer: Option<TimerId>,
    /// Checks in a row that found another view in the file. While two
    /// members keep replacing each other's file (two sides of a partition
    /// that share it, each with its own first member), the checks slow
    /// down, up to 32 intervals apart.
    repairs: u32,
}

/// Checks slow down at most this many times twofold (see `FileState`).
const MAX_CHECK_BACKOFF: u32 = 5;

const HANDLERS: [&str; 4] = [protocol::GET_VIEW, protocol::METADATA_SET, protocol::SUBSCRIBE, protocol::UNSUBSCRIBE];

fn parse_config(config: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    if config.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<serde_json::Value>(config) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(serde_json::Value::Null) => Ok(serde_json::Map::new()),
        Ok(_) => Err(FlockError::InvalidConfig("provider config is not a JSON object".into())),
        Err(e) => Err(FlockError::InvalidConfig(format!("provider config is not valid JSON: {e}"))),
    }
}

/// Resolves a `{"type": ..., "config": ...}` section against a registry.
fn section<F: ?Sized>(
    cfg: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    given: Option<Arc<F>>,
    lookup: impl Fn(&str) -> Option<Arc<F>>,
    default: Option<&str>,
) -> Result<(Option<Arc<F>>, serde_json::Value)> {
    let sec = match cfg.get(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Object(o)) => Some(o),
        Some(_) => return Err(FlockError::InvalidConfig(format!("\"{key}\" must be an object"))),
    };
    let config = match sec.and_then(|s| s.get("config")) {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(c @ serde_json::Value::Object(_)) => c.clone(),
        Some(_) => return Err(FlockError::InvalidConfig(format!("\"{key}.config\" must be an object"))),
    };
    if let Some(g) = given {
        if sec.and_then(|s| s.get("type")).is_some() {
            crate::warning!("\"{key}.type\" is ignored: an implementation was passed explicitly");
        }
        return Ok((Some(g), config));
    }
    let name = match sec.map(|s| s.get("type")) {
        Some(Some(serde_json::Value::String(t))) => t.clone(),
        Some(Some(_)) => return Err(FlockError::InvalidConfig(format!("\"{key}.type\" must be a string"))),
        Some(None) | None => match default {
            Some(d) if sec.is_none() => d.to_string(),
            _ if sec.is_some() => return Err(FlockError::InvalidConfig(format!("\"{key}.type\" is missing"))),
            _ => return Ok((None, config)),
        },
    };
    match lookup(&name) {
        Some(f) => Ok((Some(f), config)),
        None => Err(FlockError::InvalidConfig(format!("no {key} type named \"{name}\" is registered"))),
    }
}

impl Provider {
    /// Registers a provider, as `flock_provider_register` does (same checks,
    /// same order, same error codes).
    pub fn register(engine: &Engine, provider_id: u16, config: &str, args: ProviderArgs) -> Result<Provider> {
        backend::register_builtins();
        gateway::register_builtins();
        if !engine.is_listening() {
            return Err(FlockError::InvalidArgs("the engine is not listening (client mode)".into()));
        }
        if engine.is_registered(protocol::GET_VIEW, provider_id) {
            return Err(FlockError::InvalidProvider(format!("provider id {provider_id} already has a Flock provider")));
        }
        let cfg = parse_config(config)?;
        let file = match cfg.get("file") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(PathBuf::from(s)),
            Some(_) => return Err(FlockError::InvalidConfig("\"file\" must be a non-empty string".into())),
        };
        let (gateway_factory, gateway_config) = section(&cfg, "gateway", args.gateway, gateway::lookup, Some("default"))?;
        let gateway_factory = gateway_factory.expect("default gateway always resolves");
        let (backend_factory, backend_config) = section(&cfg, "group", args.backend, backend::lookup, None)?;
        let backend_factory = backend_factory
            .ok_or_else(|| FlockError::InvalidConfig("no \"group\" section: the backend type is unknown".into()))?;
        let pool = match args.pool {
            Some(p) => p,
            None => engine.handler_pool(),
        };

        let gateway = gateway_factory.create(GatewayInit {
            engine: engine.clone(),
            provider_id,
            pool: pool.clone(),
            config: gateway_config,
        })?;
        let public_address = gateway.public_address();
        let local_address = gateway.local_address();
        let mut initial_view = args.initial_view;
        let join = !initial_view.contains_member(&local_address, provider_id)
            && !initial_view.contains_member(&public_address, provider_id);
        if public_address != local_address && initial_view.remove_member(&local_address, provider_id) {
            initial_view.add_member(&public_address, provider_id);
        }

        let inner = Arc::new(Inner {
            engine: engine.clone(),
            provider_id,
            pool: pool.clone(),
            backend: OnceLock::new(),
            backend_type: backend_factory.name().to_string(),
            gateway,
            gateway_type: gateway_factory.name().to_string(),
            public_address: public_address.clone(),
            file,
            file_state: Mutex::new(FileState::default()),
            callbacks: RwLock::new(Vec::new()),
            subscribers: Mutex::new(Vec::new()),
            notifier: Mutex::new(None),
            notify_thread: Mutex::new(None),
            destroyed: AtomicBool::new(false),
        });
        inner.start_notifier();
        if let Err(e) = inner.register_handlers(&pool) {
            inner.teardown();
            return Err(e);
        }
        let sink: Arc<dyn UpdateSink> = Arc::new(Dispatcher(Arc::downgrade(&inner)));
        let created = backend_factory.create(BackendInit {
            engine: engine.clone(),
            provider_id,
            pool,
            config: backend_config,
            self_address: public_address,
            join,
            initial_view,
            sink,
        });
        match created {
            Ok(b) => {
                let _ = inner.backend.set(b);
            }
            Err(e) => {
                inner.teardown();
                return Err(e);
            }
        }
        let weak = Arc::downgrade(&inner);
        engine.push_prefinalize(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.destroy();
            }
        }));
        inner.persist();
        inner.schedule_file_check();
        Ok(Provider { inner })
    }

    pub fn provider_id(&self) -> u16 {
        self.inner.provider_id
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Our address as the group knows it.
    pub fn public_address(&self) -> &str {
        &self.inner.public_address
    }

    /// A copy of the current view.
    pub fn view(&self) -> GroupView {
        self.inner.backend.get().map(|b| backend::snapshot(b.as_ref())).unwrap_or_default()
    }

    /// Sets a metadata entry for the whole group.
    pub fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        self.inner.backend()?.set_metadata(key, value)
    }

    /// The effective config, as `flock_provider_get_config` reports it
    /// (keys in upstream's order: gateway, group, file).
    pub fn config_string(&self) -> String {
        let inner = &self.inner;
        let group_config = inner.backend.get().map(|b| b.config_text()).unwrap_or_else(|| "{}".to_string());
        let mut s = format!(
            "{{\"gateway\":{{\"type\":{},\"config\":{}}},\"group\":{{\"type\":{},\"config\":{}}}",
            serde_json::Value::String(inner.gateway_type.clone()),
            inner.gateway.config(),
            serde_json::Value::String(inner.backend_type.clone()),
            group_config
        );
        if let Some(f) = &inner.file {
            s.push_str(&format!(",\"file\":{}", serde_json::Value::String(f.to_string_lossy().into_owned())));
        }
        s.push('}');
        s
    }

    pub fn config_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.config_string()).unwrap_or_default()
    }

    /// Adds callbacks identified by `context`; the same context replaces.
    pub fn add_update_callbacks(&self, context: usize, callbacks: Arc<dyn UpdateCallbacks>) {
        let mut list = self.inner.callbacks.write();
        match list.iter_mut().find(|(c, _)| *c == context) {
            Some(entry) => entry.1 = callbacks,
            None => list.push((context, callbacks)),
        }
    }

    /// Removes the callbacks registered with `context`; false if none were.
    pub fn remove_update_callbacks(&self, context: usize) -> bool {
        let mut list = self.inner.callbacks.write();
        let before = list.len();
        list.retain(|(c, _)| *c != context);
        list.len() != before
    }

    /// With `crash`, [`Provider::destroy`] later stops without telling the
    /// group (a simulated crash; the `swim` backend only).
    pub fn set_crash_mode(&self, crash: bool) -> Result<()> {
        self.inner.backend()?.set_crash_mode(crash)
    }

    /// Leaves the group (as the backend defines it) and stops serving.
    pub fn destroy(&self) {
        self.inner.destroy();
    }
}

impl Inner {
    fn backend(&self) -> Result<&Arc<dyn Backend>> {
        if self.destroyed.load(Ordering::Acquire) {
            return Err(FlockError::InvalidGroup("the provider is destroyed".into()));
        }
        self.backend.get().ok_or_else(|| FlockError::InvalidGroup("the provider has no group yet".into()))
    }

    fn register_handlers(self: &Arc<Self>, pool: &Arc<Pool>) -> Result<()> {
        type H = fn(&Inner, Request) -> Vec<u8>;
        let table: [(&str, H); 4] = [
            (protocol::GET_VIEW, Inner::on_get_view),
            (protocol::METADATA_SET, Inner::on_metadata_set),
            (protocol::SUBSCRIBE, Inner::on_subscribe),
            (protocol::UNSUBSCRIBE, Inner::on_unsubscribe),
        ];
        for (name, handler) in table {
            let weak = Arc::downgrade(self);
            self.engine.register(
                name,
                self.provider_id,
                Some(pool.clone()),
                Arc::new(move |req| match weak.upgrade() {
                    Some(inner) => Ok(handler(&inner, req)),
                    None => Err("the Flock provider is gone".into()),
                }),
            )?;
        }
        // What `margo_provider_get_identity` answers, as upstream's provider.
        self.engine.register_identity(self.provider_id, "flock")?;
        Ok(())
    }

    fn on_get_view(&self, req: Request) -> Vec<u8> {
        let reply = (|| -> Result<ViewReply> {
            let protocol::GetView { digest } = codec::decode(&req.payload)?;
            let mut reply = ViewReply::Unchanged;
            self.backend()?
                .try_with_view(&mut |v| {
                    if v.digest() != digest {
                        reply = ViewReply::View(v.clone());
                    }
                })
                .map_err(|e| FlockError::Other(format!("the backend could not produce its view: {e}")))?;
            Ok(reply)
        })()
        .unwrap_or_else(|e| ViewReply::Error(e.code(), e.to_string()));
        codec::encode(&reply)
    }

    fn on_metadata_set(&self, req: Request) -> Vec<u8> {
        let result = (|| -> Result<()> {
            let protocol::MetadataSet { key, value } = codec::decode(&req.payload)?;
            self.backend()?.set_metadata(key, value)
        })();
        codec::encode(&StatusReply::from(&result))
    }

    fn subscriber_of(&self, req: &Request) -> Result<(Address, u16)> {
        let protocol::Subscription { notify_id } = codec::decode(&req.payload)?;
        let addr = req.sender.clone().unwrap_or_else(|| self.engine.self_address());
        Ok((addr, notify_id))
    }

    fn on_subscribe(&self, req: Request) -> Vec<u8> {
        let reply = (|| -> Result<ViewReply> {
            let sub = self.subscriber_of(&req)?;
            let backend = self.backend()?;
            let mut subs = self.subscribers.lock();
            if !subs.contains(&sub) {
                subs.push(sub);
            }
            drop(subs);
            Ok(ViewReply::View(backend::snapshot(backend.as_ref())))
        })()
        .unwrap_or_else(|e| ViewReply::Error(e.code(), e.to_string()));
        codec::encode(&reply)
    }

    fn on_unsubscribe(&self, req: Request) -> Vec<u8> {
        let result = self.subscriber_of(&req).map(|sub| self.subscribers.lock().retain(|s| *s != sub));
        codec::encode(&StatusReply::from(&result))
    }

    /// Notifications leave from one thread per provider, so every subscriber
    /// sees them in the order they happened. The thread ends when the
    /// channel closes or the provider is destroyed (it then skips what is
    /// still queued), and teardown joins it.
    fn start_notifier(self: &Arc<Self>) {
        let (tx, rx) = unbounded::<Notification>();
        *self.notifier.lock() = Some(tx);
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("flock-notify".into()).spawn(move || {
            while let Ok(n) = rx.recv() {
                let Some(inner) = weak.upgrade() else { return };
                let payload = codec::encode(&n);
                let subs = inner.subscribers.lock().clone();
                for (addr, id) in subs {
                    if inner.destroyed.load(Ordering::Acquire) {
                        return;
                    }
                    if let Err(e) = inner.engine.call(&addr, protocol::NOTIFY, id, payload.clone(), protocol::NOTIFY_TIMEOUT) {
                        crate::info!("dropping subscriber {addr} ({id}): {e}");
                        inner.subscribers.lock().retain(|s| *s != (addr.clone(), id));
                    }
                }
            }
        });
        match spawned {
            Ok(thread) => *self.notify_thread.lock() = Some(thread),
            Err(e) => crate::error!("cannot start the Flock notification thread: {e}; subscribers will not be notified"),
        }
    }

    fn notify(&self, n: Notification) {
        if let Some(tx) = self.notifier.lock().as_ref() {
            let _ = tx.send(n);
        }
    }

    /// Writes the group file (after a change) if we are its writer.
    fn persist(&self) {
        self.write_file(false);
    }

    /// Writes the group file if we are its writer: the backend's authority
    /// over the view (the centralized primary), else the view's first
    /// member (so exactly one member writes it, once the views agree). With
    /// `check`, only if the file no longer holds our view (see
    /// `Backend::file_check_interval`): one `stat` tells whether it is
    /// still the version we wrote; if not, it is read and compared. A
    /// destroyed provider writes no more: it has left the group.
    fn write_file(&self, check: bool) {
        let (Some(path), Some(backend)) = (&self.file, self.backend.get()) else { return };
        // One write at a time, so that a copy of an older view never lands
        // after a newer one (reports and checks run on different streams).
        let mut file = self.file_state.lock();
        if self.destroyed.load(Ordering::Acquire) {
            return;
        }
        // Copy under the backend's lock, write (with fsync) outside it: a
        // backend's pings must not wait for the disk.
        let mut mine = None;
        let writer = backend.file_writer();
        backend.with_view(&mut |v| {
            let writer = writer.as_ref().or(v.member_at(0));
            if writer.is_some_and(|m| m.address == self.public_address && m.provider_id == self.provider_id) {
                mine = Some(v.clone());
            }
        });
        let Some(view) = mine else {
            file.repairs = 0;
            return;
        };
        let digest = view.digest();
        if check {
            let now = FileStamp::of(path).ok();
            if now.is_some() && file.written == now.map(|s| (s, digest)) {
                file.repairs = 0;
                return;
            }
            if view_file::from_file(path).is_ok_and(|v| v.digest() == digest) {
                // Someone wrote our view: ours to watch from now on.
                file.written = now.map(|s| (s, digest));
                file.repairs = 0;
                return;
            }
        }
        match view_file::write_atomic_stamped(path, &view) {
            Ok(stamp) => {
                file.written = Some((stamp, digest));
                if check {
                    file.repairs += 1;
                    crate::info!(
                        "group file {} did not hold the view of its writer ({}, {}): written again",
                        path.display(),
                        self.public_address,
                        self.provider_id
                    );
                }
            }
            Err(e) => crate::warning!("could not write group file {}: {e}", path.display()),
        }
    }

    /// Arms the next check of the group file, if there is a file and the
    /// backend asks for checks (`Backend::file_check_interval`). Each check
    /// arms the next; destroy cancels the one pending.
    fn schedule_file_check(self: &Arc<Self>) {
        let (Some(_), Some(backend)) = (&self.file, self.backend.get()) else { return };
        let Some(interval) = backend.file_check_interval() else { return };
        let mut file = self.file_state.lock();
        if self.destroyed.load(Ordering::Acquire) {
            return;
        }
        let delay = interval * (1u32 << file.repairs.min(MAX_CHECK_BACKOFF));
        let weak = Arc::downgrade(self);
        let job: Job = Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.write_file(true);
                inner.schedule_file_check();
            }
        });
        file.timer = timer::schedule(Instant::now() + delay, &self.pool, job);
        if file.timer.is_none() {
            crate::warning!("cannot schedule checks of group file: it is written after each change only");
        }
    }

    fn teardown(&self) {
        for name in HANDLERS {
            self.engine.deregister(name, self.provider_id);
        }
        self.engine.deregister_own_identity(self.provider_id, "flock");
        self.notifier.lock().take();
        // The channel is closed: the thread ends once the call in flight, if
        // any, returns (at most NOTIFY_TIMEOUT): destroyed, it sends nothing
        // more, and before that (a failed registration) there is no
        // subscriber. It never tears us down itself, but a join from the
        // thread itself would fail, so check.
        let thread = self.notify_thread.lock().take();
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() && t.join().is_err() {
                crate::error!("the Flock notification thread of provider {} panicked", self.provider_id);
            }
        }
    }

    fn destroy(&self) {
        if self.destroyed.swap(true, Ordering::AcqRel) {
            return;
        }
        // After a check or write in progress (it holds the lock); none starts
        // any more (`destroyed`).
        if let Some(id) = self.file_state.lock().timer.take() {
            timer::cancel(id);
        }
        self.teardown();
        if let Some(b) = self.backend.get() {
            if let Err(e) = b.destroy() {
                crate::warning!("backend of Flock provider {} failed to stop cleanly: {e}", self.provider_id);
            }
        }
        if let Err(e) = self.gateway.destroy() {
            crate::warning!("gateway of Flock provider {} failed to stop cleanly: {e}", self.provider_id);
        }
        self.callbacks.write().clear();
        self.subscribers.lock().clear();
    }
}

/// The backend's [`UpdateSink`]: user callbacks, subscribers, group file.
struct Dispatcher(Weak<Inner>);

impl Inner {
    /// The callbacks registered now, to be called outside the lock (a
    /// callback may add or remove callbacks, of this provider or another).
    fn callbacks(&self) -> Vec<Arc<dyn UpdateCallbacks>> {
        self.callbacks.read().iter().map(|(_, cb)| cb.clone()).collect()
    }
}

impl UpdateSink for Dispatcher {
    fn membership(&self, update: Update, address: &str, provider_id: u16) {
        let Some(inner) = self.0.upgrade() else { return };
        for cb in inner.callbacks() {
            cb.membership(update, address, provider_id);
        }
        inner.persist();
        inner.notify(Notification::Membership { update, address: address.to_string(), provider_id });
    }

    fn metadata(&self, key: &str, value: &str) {
        let Some(inner) = self.0.upgrade() else { return };
        for cb in inner.callbacks() {
            cb.metadata(key, value);
        }
        inner.persist();
        inner.notify(Notification::Metadata { key: key.to_string(), value: value.to_string() });
    }

    fn metadata_removed(&self, key: &str) {
        let Some(inner) = self.0.upgrade() else { return };
        // User callbacks have no removal form (upstream's signature): they
        // see the key with an empty value.
        for cb in inner.callbacks() {
            cb.metadata(key, "");
        }
        inner.persist();
        inner.notify(Notification::MetadataRemoved { key: key.to_string() });
    }
}
