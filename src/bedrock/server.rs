//! A Bedrock server: engines from the `margo` section, a management
//! provider on each, module libraries, and the providers of the config,
//! created in order with their dependencies resolved.

use super::config::{self, ConfigFormat, Libraries, ProviderReport, ProviderSpec, ServerConfig};
use super::dependency_spec::{dependency_specs, ArgobotsRef, DependencySpec, Locator, ProviderTarget};
use super::error::BedrockError;
use super::loader;
use super::module::{self, ComponentArgs, DependencyDecl, ProviderEntry, Resolved, ResolvedDependency};
use super::protocol::{self, Answer, Refusal, MAX_LOOKUP_WAIT};
use crate::rpc::{codec, Engine, Mode, Pool, Request};
use parking_lot::{Condvar, Mutex};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, BedrockError>;

#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    engines: Vec<Engine>,
    bedrock_id: u16,
    bedrock_pool: String,
    timeout: Duration,
    libraries: Mutex<Libraries>,
    providers: Mutex<Providers>,
    /// Signalled when a provider appears or the server stops (lookups wait
    /// on it).
    appeared: Condvar,
    finalized: AtomicBool,
    /// Engine 0's address of every MPI rank, when the config uses
    /// `name@RANK` locators and the server runs under an MPI launcher.
    rank_addresses: Option<Vec<String>>,
}

/// The providers of a server, and the names and ids of those being
/// created: a name or id is checked against both and reserved in one step
/// under the lock, so two concurrent adds of one name or id cannot both
/// pass the check while the first is still being created.
#[derive(Default)]
struct Providers {
    live: Vec<Arc<ProviderEntry>>,
    reserved: Vec<(String, u16)>,
}

impl Providers {
    /// Every name and id in use: live providers and reservations.
    fn names_and_ids(&self) -> impl Iterator<Item = (&str, u16)> {
        self.live.iter().map(|p| (p.name.as_str(), p.provider_id)).chain(self.reserved.iter().map(|(n, id)| (n.as_str(), *id)))
    }

    /// Where the live provider named `spec` (a name or `type:id`) is.
    fn position(&self, spec: &str) -> Option<usize> {
        match spec.split_once(':') {
            Some((t, id)) => self.live.iter().position(|p| p.type_name == t && id.parse() == Ok(p.provider_id)),
            None => self.live.iter().position(|p| p.name == spec),
        }
    }

    fn find(&self, spec: &str) -> Option<&Arc<ProviderEntry>> {
        self.position(spec).map(|i| &self.live[i])
    }
}

/// A provider name and id reserved while the provider is created; the
/// reservation goes when this is dropped (creation failed or panicked) or
/// when [`Reservation::fulfil`] replaces it with the provider.
struct Reservation<'s> {
    inner: &'s Inner,
    name: String,
    id: u16,
}

impl Reservation<'_> {
    /// The provider takes the reservation's place, in one step.
    fn fulfil(self, entry: Arc<ProviderEntry>) {
        let mut providers = self.inner.providers.lock();
        self.release(&mut providers);
        providers.live.push(entry);
        drop(providers);
        self.inner.appeared.notify_all();
        // Dropping self now finds nothing left to release.
    }

    fn release(&self, providers: &mut Providers) {
        if let Some(i) = providers.reserved.iter().position(|(n, i)| *n == self.name && *i == self.id) {
            providers.reserved.swap_remove(i);
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.release(&mut self.inner.providers.lock());
    }
}

/// (rank, size) when started by an MPI launcher (Open MPI's, MPICH's Hydra,
/// a PMI/PMIx launcher, Slurm's srun: see `flock::mpi_launcher`): per-rank
/// config arrays need it, and asking the environment spares non-MPI runs
/// an MPI initialization.
pub fn launcher_rank_size() -> Option<(i32, i32)> {
    crate::flock::mpi_launcher::rank_size()
}

impl Server {
    /// Starts a server on `address` (a protocol, a full address, or "" to
    /// infer it from `margo.mercury.address`) from a config document.
    pub fn start(address: &str, text: &str, format: ConfigFormat) -> Result<Server> {
        let cfg = ServerConfig::from_text(text, format, launcher_rank_size())?;
        Self::from_config(address, cfg)
    }

    pub fn from_config(address: &str, cfg: ServerConfig) -> Result<Server> {
        let mut engines = Vec::new();
        let fail = |engines: &[Engine], e: BedrockError| {
            for eng in engines {
                eng.finalize();
            }
            Err(e)
        };
        for (i, margo) in cfg.margo.iter().enumerate() {
            let addr = match cfg.engine_address(address, i) {
                Ok(a) => a,
                Err(e) => return fail(&engines, e),
            };
            match Engine::with_config(&addr, Mode::Server, margo.clone()) {
                Ok(e) => {
                    e.enable_remote_shutdown();
                    engines.push(e);
                }
                Err(e) => return fail(&engines, BedrockError::msg(format!("Could not start engine {i} on \"{addr}\": {e}"))),
            }
        }
        let bedrock_pool = match cfg.bedrock_pool_name() {
            Ok(p) => p,
            Err(e) => return fail(&engines, e),
        };
        // Collective: every rank of the job decides alike (see
        // ServerConfig::uses_rank_locators) and takes part, even if its own
        // part of the config has no rank locator.
        let rank_addresses = if cfg.uses_rank_locators && launcher_rank_size().is_some() {
            match crate::flock::bootstrap_mpi::world_addresses(&engines[0].self_address().to_string()) {
                Ok(a) => Some(a),
                Err(e) => {
                    return fail(&engines, BedrockError::msg(format!("MPI address exchange for rank locators failed: {e}")))
                }
            }
        } else {
            None
        };
        let inner = Arc::new(Inner {
            engines,
            bedrock_id: cfg.bedrock.provider_id,
            bedrock_pool,
            timeout: Duration::from_secs_f64(cfg.bedrock.dependency_resolution_timeout.max(0.0)),
            libraries: Mutex::new(cfg.libraries.clone()),
            providers: Mutex::new(Providers::default()),
            appeared: Condvar::new(),
            finalized: AtomicBool::new(false),
            rank_addresses,
        });
        let server = Server { inner };
        if let Err(e) = server.setup(&cfg) {
            server.finalize();
            return Err(e);
        }
        crate::info!("Bedrock daemon now running at {}", server.inner.engines[0].self_address());
        Ok(server)
    }

    fn setup(&self, cfg: &ServerConfig) -> Result<()> {
        self.register_management()?;
        for (path, module) in cfg.libraries.entries.iter().map(|l| (l.path.as_str(), l.module.as_deref())) {
            loader::load(path)?;
            if let Some(m) = module {
                if !module::is_registered(m) {
                    return Err(BedrockError::msg(format!("library {path} was loaded but did not register module \"{m}\"")));
                }
            }
        }
        for spec in &cfg.providers {
            let (name, type_name) = (spec.name.clone(), spec.type_name.clone());
            self.add_provider(spec.clone())
                .map_err(|e| BedrockError::msg(format!("provider \"{name}\" (type \"{type_name}\"): {e}")))?;
        }
        // The first engine finalizing (remote shutdown included) stops all.
        let weak = Arc::downgrade(&self.inner);
        self.inner.engines[0].push_prefinalize(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                Server { inner }.stop_providers();
            }
        }));
        Ok(())
    }

    pub fn engines(&self) -> &[Engine] {
        &self.inner.engines
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engines[0]
    }

    fn pool(&self) -> Result<Arc<Pool>> {
        self.engine()
            .pool_by_name(&self.inner.bedrock_pool)
            .ok_or_else(|| BedrockError::msg(format!("Could not find pool with name \"{}\"", self.inner.bedrock_pool)))
    }

    fn register_management(&self) -> Result<()> {
        type H = fn(&Server, &[String]) -> Answer;
        let table: [(&str, H); 13] = [
            (protocol::GET_CONFIG, |s, _| Ok(s.config_json().to_string())),
            (protocol::QUERY_CONFIG, |_, _| {
                Err(Refusal::NotSupported(
                    "Jx9 queries are not supported by this implementation (bedrock_query_config); use bedrock_get_config".into(),
                ))
            }),
            (protocol::ADD_POOL, |s, a| s.add_pool(arg(a, 0)?).map(|_| String::new()).map_err(failed)),
            (protocol::ADD_XSTREAM, |s, a| s.add_xstream(arg(a, 0)?).map(|_| String::new()).map_err(failed)),
            (protocol::REMOVE_POOL, |s, a| s.engine().remove_pool(arg(a, 0)?).map(|_| String::new()).map_err(failed)),
            (protocol::REMOVE_XSTREAM, |s, a| s.engine().remove_xstream(arg(a, 0)?).map(|_| String::new()).map_err(failed)),
            (protocol::LOOKUP_PROVIDER, |s, a| s.lookup_rpc(arg(a, 0)?, arg(a, 1).unwrap_or("0")).map_err(Refusal::Failed)),
            (protocol::LOAD_MODULE, |s, a| s.load_module(arg(a, 0)?).map(|_| String::new()).map_err(failed)),
            (protocol::START_PROVIDER, |s, a| {
                let spec = ProviderSpec::from_json_str(arg(a, 0)?).map_err(failed)?;
                s.add_provider(spec).map(|id| id.to_string()).map_err(failed)
            }),
            (protocol::MIGRATE_PROVIDER, |s, a| s.unsupported_on(arg(a, 0)?, "Migration not supported for this component")),
            (protocol::SNAPSHOT_PROVIDER, |s, a| s.unsupported_on(arg(a, 0)?, "Snapshot not supported for this component")),
            (protocol::RESTORE_PROVIDER, |s, a| s.unsupported_on(arg(a, 0)?, "Restore not supported for this component")),
            (protocol::CHANGE_PROVIDER_POOL, |s, a| {
                s.unsupported_on(arg(a, 0)?, "Changing dependencies not supported for this component")
            }),
        ];
        for (i, engine) in self.inner.engines.iter().enumerate() {
            let pool = if i == 0 { Some(self.pool()?) } else { None };
            for (name, handler) in table {
                let weak: Weak<Inner> = Arc::downgrade(&self.inner);
                engine
                    .register(
                        name,
                        self.inner.bedrock_id,
                        pool.clone(),
                        Arc::new(move |req: Request| {
                            let result = match (weak.upgrade(), codec::decode::<protocol::Args>(&req.payload)) {
                                (Some(inner), Ok(args)) => handler(&Server { inner }, &args),
                                (None, _) => Err(failed("the Bedrock server is shutting down")),
                                (_, Err(e)) => Err(failed(format!("malformed request: {e}"))),
                            };
                            Ok(codec::encode(&result))
                        }),
                    )
                    .map_err(|e| BedrockError::msg(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Adds an Argobots pool from its JSON description (as in `margo`).
    pub fn add_pool(&self, json: &str) -> Result<()> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| BedrockError::msg(format!("Could not add pool to Margo instance: {e}")))?;
        self.engine()
            .add_pool_from_json(&v)
            .map(|_| ())
            .map_err(|e| BedrockError::msg(format!("Could not add pool to Margo instance: {e}")))
    }

    /// Adds an execution stream from its JSON description.
    pub fn add_xstream(&self, json: &str) -> Result<()> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| BedrockError::msg(format!("Could not add xstream to Margo instance: {e}")))?;
        self.engine()
            .add_xstream_from_json(&v)
            .map(|_| ())
            .map_err(|e| BedrockError::msg(format!("Could not add xstream to Margo instance: {e}")))
    }

    pub fn remove_pool(&self, name: &str) -> Result<()> {
        self.engine().remove_pool(name).map_err(|e| BedrockError::msg(e.to_string()))
    }

    pub fn remove_xstream(&self, name: &str) -> Result<()> {
        self.engine().remove_xstream(name).map_err(|e| BedrockError::msg(e.to_string()))
    }

    /// Destroys the provider named `spec` (a name or `type:id`). Refused
    /// while another provider of this server depends on it: the dependent
    /// holds the provider's handle.
    pub fn remove_provider(&self, spec: &str) -> Result<()> {
        let removed = {
            let mut providers = self.inner.providers.lock();
            let Some(i) = providers.position(spec) else {
                return Err(BedrockError::msg(format!("Provider with spec \"{spec}\" not found")));
            };
            let name = &providers.live[i].name;
            if let Some(dependent) = providers.live.iter().find(|p| p.local_dependencies.contains(name)) {
                return Err(BedrockError::msg(format!(
                    "Cannot remove provider \"{name}\": provider \"{}\" depends on it (remove it first)",
                    dependent.name
                )));
            }
            providers.live.remove(i)
        };
        // Destroyed here, outside the lock: a component may call back into
        // the server while it stops.
        drop(removed);
        Ok(())
    }

    /// Loads a module library at run time (reported in `libraries`).
    pub fn load_module(&self, path: &str) -> Result<()> {
        loader::load(path)?;
        self.inner.libraries.lock().record_loaded(path);
        Ok(())
    }

    fn unsupported_on(&self, spec: &str, what: &str) -> Answer {
        match self.find_local(spec, None) {
            Some(_) => Err(Refusal::NotSupported(what.to_string())),
            None => Err(failed(format!("Provider with spec \"{spec}\" not found"))),
        }
    }

    /// The provider named `spec` (a name or `type:id`), if this server
    /// runs it: its component is the provider (`as_any` downcasts it).
    pub fn find_provider(&self, spec: &str) -> Option<Arc<ProviderEntry>> {
        self.find_local(spec, None)
    }

    /// A provider of this server by name or `type:id` (with `type` checked
    /// against `expected_type` when given).
    fn find_local(&self, spec: &str, expected_type: Option<&str>) -> Option<Arc<ProviderEntry>> {
        let providers = self.inner.providers.lock();
        let found = match spec.split_once(':') {
            Some((t, id)) => {
                let id: u16 = id.parse().ok()?;
                providers
                    .live
                    .iter()
                    .find(|p| p.provider_id == id && (p.type_name == t || expected_type.is_some_and(|e| e == p.type_name)))
            }
            None => providers.find(spec),
        };
        found.cloned()
    }

    /// `bedrock_lookup_provider`: waits up to `timeout` seconds (at most
    /// [`MAX_LOOKUP_WAIT`]) for the provider to appear.
    fn lookup_rpc(&self, spec: &str, timeout: &str) -> std::result::Result<String, String> {
        let deadline = Instant::now() + lookup_wait(timeout);
        let mut providers = self.inner.providers.lock();
        loop {
            if let Some(p) = providers.find(spec) {
                return Ok(serde_json::json!({"name": p.name, "type": p.type_name, "provider_id": p.provider_id}).to_string());
            }
            if Instant::now() >= deadline || self.inner.finalized.load(Ordering::Acquire) {
                return Err(format!("Could not find provider with spec \"{spec}\""));
            }
            self.inner.appeared.wait_until(&mut providers, deadline);
        }
    }

    /// Creates a provider, as upstream's ProviderManager does (same steps,
    /// same order, same messages); returns its provider id.
    pub fn add_provider(&self, spec: ProviderSpec) -> Result<u16> {
        spec.check_engine_and_bedrock_id(self.inner.engines.len(), self.inner.bedrock_id)?;
        let module = module::lookup(&spec.type_name).map_err(|_| BedrockError::UnknownModule(spec.type_name.clone()))?;
        let engine = self.inner.engines[spec.engine].clone();
        let mut args = ComponentArgs {
            name: spec.name.clone(),
            engine,
            provider_id: spec.requested_provider_id(),
            tags: spec.tags.clone(),
            config: spec.config.clone(),
            dependencies: HashMap::new(),
            declared: Vec::new(),
        };
        let decls = module.dependencies(&args)?;
        let mut reported = Vec::new();
        let mut local_dependencies = Vec::new();
        for decl in &decls {
            let specs = dependency_specs(
                &decl.name,
                &decl.type_name,
                decl.is_array,
                decl.is_required,
                spec.dependencies.get(&decl.name),
            )?;
            let Some(specs) = specs else { continue };
            let mut resolved = Vec::new();
            for s in specs {
                let r = self.resolve(decl, &s).map_err(|e| BedrockError::while_resolving(&decl.name, &decl.type_name, e))?;
                resolved.push(r);
            }
            reported.push((decl.name.clone(), resolved.iter().map(|r| r.name.clone()).collect::<Vec<_>>(), decl.is_array));
            local_dependencies.extend(resolved.iter().filter_map(|r| match &r.target {
                Resolved::Local(entry) => Some(entry.name.clone()),
                _ => None,
            }));
            args.dependencies.insert(decl.name.clone(), resolved);
        }
        args.declared = decls;
        // Check and reserve the name and id in one step (creation happens
        // outside the lock: a component may call back into the server).
        let reservation = {
            let mut providers = self.inner.providers.lock();
            let id = config::check_new_provider(&spec.name, spec.provider_id, providers.names_and_ids(), self.inner.bedrock_id)?;
            providers.reserved.push((spec.name.clone(), id));
            Reservation { inner: &self.inner, name: spec.name.clone(), id }
        };
        let id = reservation.id;
        args.provider_id = id;
        let component = module.create(args).map_err(|e| BedrockError::WhileCreatingProvider {
            name: spec.name.clone(),
            type_name: spec.type_name.clone(),
            cause: e.to_string(),
        })?;
        let entry = Arc::new(ProviderEntry {
            name: spec.name,
            type_name: spec.type_name,
            provider_id: id,
            engine_index: spec.engine,
            tags: spec.tags,
            dependencies: reported,
            local_dependencies,
            component,
        });
        reservation.fulfil(entry);
        Ok(id)
    }

    fn resolve(&self, decl: &DependencyDecl, spec: &DependencySpec) -> Result<ResolvedDependency> {
        let engine = self.engine();
        match spec {
            DependencySpec::Pool(r) => {
                let pool = match r {
                    ArgobotsRef::Name(n) => engine.pool_by_name(n),
                    ArgobotsRef::Index(i) => engine.pool_at(*i as usize),
                };
                let pool = pool.ok_or_else(|| match r {
                    ArgobotsRef::Name(n) => BedrockError::PoolNotFound { name: n.clone(), reason: "no such pool".into() },
                    ArgobotsRef::Index(i) => BedrockError::PoolIndexNotFound { index: *i, reason: "no such pool".into() },
                })?;
                Ok(ResolvedDependency { name: pool.name(), target: Resolved::Pool(pool) })
            }
            DependencySpec::Xstream(r) => {
                let name = engine.with_config_ref(|c| match r {
                    ArgobotsRef::Name(n) => c.xstream_by_name(n).map(|_| n.clone()),
                    ArgobotsRef::Index(i) => c.xstreams.get(*i as usize).map(|x| x.name.clone()),
                });
                let name = name.ok_or_else(|| match r {
                    ArgobotsRef::Name(n) => BedrockError::XstreamNotFound { name: n.clone(), reason: "no such xstream".into() },
                    ArgobotsRef::Index(i) => BedrockError::XstreamIndexNotFound { index: *i, reason: "no such xstream".into() },
                })?;
                Ok(ResolvedDependency { name: name.clone(), target: Resolved::Xstream(name) })
            }
            DependencySpec::Margo(i) => {
                let e = self.inner.engines.get(*i as usize).ok_or(BedrockError::MargoInstanceNotFound(*i))?;
                Ok(ResolvedDependency { name: i.to_string(), target: Resolved::Margo(e.clone()) })
            }
            DependencySpec::Provider(p) => {
                let lookup = p.target.lookup_spec(&decl.type_name);
                let local = |located: bool| -> Result<ResolvedDependency> {
                    let entry = match &p.target {
                        ProviderTarget::Name(n) => {
                            let e = self.find_local(n, None).ok_or_else(|| BedrockError::ProviderSpecNotFound(n.clone()))?;
                            if e.type_name != decl.type_name {
                                return Err(BedrockError::InvalidDependencyType {
                                    actual: e.type_name.clone(),
                                    name: n.clone(),
                                    expected: decl.type_name.clone(),
                                });
                            }
                            e
                        }
                        ProviderTarget::TypeAndId { provider_id, .. } => {
                            let spec = format!("{}:{provider_id}", decl.type_name);
                            self.find_local(&spec, Some(&decl.type_name)).ok_or(BedrockError::ProviderSpecNotFound(spec))?
                        }
                    };
                    let name = if located {
                        format!("{}:{}@{}", decl.type_name, entry.provider_id, engine.self_address())
                    } else {
                        entry.name.clone()
                    };
                    Ok(ResolvedDependency { name, target: Resolved::Local(entry) })
                };
                match &p.locator {
                    None => local(false),
                    Some(Locator::Local) => local(true),
                    Some(Locator::Address(a)) if engine.lookup(a).is_ok_and(|x| x == engine.self_address()) => local(true),
                    Some(Locator::Address(a)) => self.resolve_remote(decl, a, &lookup),
                    Some(Locator::MpiRank(r)) => {
                        let Some(addresses) = &self.inner.rank_addresses else {
                            return Err(BedrockError::msg(format!(
                                "MPI rank locator \"@{r}\" needs the daemon to be started by an MPI launcher (mpiexec)"
                            )));
                        };
                        let a = addresses.get(*r as usize).ok_or_else(|| BedrockError::InvalidRank(r.to_string()))?;
                        if engine.lookup(a).is_ok_and(|x| x == engine.self_address()) {
                            local(true)
                        } else {
                            self.resolve_remote(decl, a, &lookup)
                        }
                    }
                }
            }
        }
    }

    fn resolve_remote(&self, decl: &DependencyDecl, address: &str, lookup: &str) -> Result<ResolvedDependency> {
        let engine = self.engine();
        let handle = super::client::ServiceHandle::new(engine, address, self.inner.bedrock_id)?;
        let (_, type_name, id) = handle.lookup_provider(lookup, self.inner.timeout)?;
        if !type_name.is_empty() && type_name != decl.type_name {
            return Err(BedrockError::InvalidProviderTypeInSpec { spec: lookup.to_string(), expected: decl.type_name.clone() });
        }
        let address = handle.address().clone();
        Ok(ResolvedDependency {
            name: format!("{}:{id}@{address}", decl.type_name),
            target: Resolved::Remote { address, provider_id: id },
        })
    }

    /// The effective config (§1.6 of the spec: sorted keys, defaults filled).
    pub fn config_json(&self) -> Value {
        let margo: Vec<Value> = self.inner.engines.iter().map(|e| e.config_json()).collect();
        let reports: Vec<ProviderReport> = self
            .inner
            .providers
            .lock()
            .live
            .iter()
            .map(|p| ProviderReport {
                name: p.name.clone(),
                type_name: p.type_name.clone(),
                provider_id: p.provider_id,
                engine: p.engine_index,
                config: p.component.config(),
                tags: p.tags.clone(),
                dependencies: config::report_dependencies(
                    p.dependencies.iter().map(|(n, r, a)| (n.as_str(), r.iter().map(String::as_str), *a)),
                ),
            })
            .collect();
        config::output_config(&margo, &self.inner.bedrock_pool, self.inner.bedrock_id, &self.inner.libraries.lock(), &reports)
    }

    /// Destroys providers, newest first (dependents before dependencies).
    fn stop_providers(&self) {
        let mut list = std::mem::take(&mut self.inner.providers.lock().live);
        while let Some(p) = list.pop() {
            drop(p);
        }
        self.inner.appeared.notify_all();
    }

    /// Stops providers and engines.
    pub fn finalize(&self) {
        if self.inner.finalized.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop_providers();
        for e in self.inner.engines.iter().rev() {
            e.finalize();
        }
    }

    /// Blocks until the first engine is finalized (e.g. a remote shutdown),
    /// then stops everything else.
    pub fn wait_for_finalize(&self) {
        self.engine().wait_for_finalize();
        self.finalize();
    }
}

/// How long a lookup may wait: the caller's timeout in seconds (0 when it
/// is not a finite non-negative number), at most [`MAX_LOOKUP_WAIT`].
fn lookup_wait(timeout: &str) -> Duration {
    let seconds = timeout.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0).unwrap_or(0.0);
    Duration::from_secs_f64(seconds.min(MAX_LOOKUP_WAIT.as_secs_f64()))
}

fn failed(e: impl std::fmt::Display) -> Refusal {
    Refusal::Failed(e.to_string())
}

fn arg(args: &[String], i: usize) -> std::result::Result<&str, String> {
    args.get(i).map(String::as_str).ok_or_else(|| format!("missing argument {i}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::module::{Component, Module};
    use crossbeam_channel::{bounded, Receiver, Sender};
    use std::any::Any;
    use std::sync::{Barrier, OnceLock};

    const GATED: &str = "server_test_gated";

    /// A module whose components, when their config says `"block": true`,
    /// announce their creation and wait to be released (`"fail": true`:
    /// creation fails).
    struct Gated {
        entered: Sender<String>,
        release: Receiver<()>,
    }

    struct Nothing;

    impl Component for Nothing {
        fn config(&self) -> Value {
            serde_json::json!({})
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    impl Module for Gated {
        fn name(&self) -> &str {
            GATED
        }
        fn dependencies(&self, _: &ComponentArgs) -> Result<Vec<DependencyDecl>> {
            Ok(Vec::new())
        }
        fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>> {
            if args.config["fail"] == true {
                return Err(BedrockError::msg("asked to fail"));
            }
            if args.config["block"] == true {
                let _ = self.entered.send(args.name);
                // Bounded, so a broken test fails instead of hanging.
                self.release.recv_timeout(Duration::from_secs(30)).map_err(|_| BedrockError::msg("never released"))?;
            }
            Ok(Box::new(Nothing))
        }
    }

    /// (announcements of blocked creations, releases)
    fn gate() -> &'static (Receiver<String>, Sender<()>) {
        static GATE: OnceLock<(Receiver<String>, Sender<()>)> = OnceLock::new();
        GATE.get_or_init(|| {
            let (entered, announced) = bounded(16);
            let (release_tx, release) = bounded(16);
            module::register(Arc::new(Gated { entered, release }));
            (announced, release_tx)
        })
    }

    fn spec(name: &str, id: Option<u16>, block: bool) -> ProviderSpec {
        let mut v = serde_json::json!({"name": name, "type": GATED, "config": {"block": block}});
        if let Some(id) = id {
            v["provider_id"] = id.into();
        }
        ProviderSpec::from_json_str(&v.to_string()).unwrap()
    }

    fn server() -> Server {
        gate();
        Server::start("na+sm", "{}", ConfigFormat::Json).unwrap()
    }

    #[test]
    fn a_name_or_id_being_created_is_taken() {
        let server = server();
        let (announced, release) = gate();
        let creating = {
            let s = server.clone();
            std::thread::spawn(move || s.add_provider(spec("slow", Some(7), true)))
        };
        assert_eq!(announced.recv_timeout(Duration::from_secs(30)).unwrap(), "slow");
        // While "slow" (id 7) is being created, its name and id are taken.
        assert_eq!(server.add_provider(spec("slow", Some(8), false)), Err(BedrockError::NameInUse("slow".into())));
        assert_eq!(server.add_provider(spec("other", Some(7), false)), Err(BedrockError::ProviderIdInUse(7)));
        // An automatic id skips it.
        let auto = server.add_provider(spec("auto", None, false)).unwrap();
        assert_ne!(auto, 7);
        // Not visible to lookups until created.
        assert!(server.lookup_rpc("slow", "0").is_err());
        release.send(()).unwrap();
        assert_eq!(creating.join().unwrap(), Ok(7));
        assert!(server.lookup_rpc(&format!("{GATED}:7"), "0").unwrap().contains("\"slow\""));
        // A failed creation gives its name and id back.
        let mut failing = spec("fails", Some(9), false);
        failing.config["fail"] = true.into();
        assert!(matches!(server.add_provider(failing), Err(BedrockError::WhileCreatingProvider { .. })));
        assert_eq!(server.add_provider(spec("fails", Some(9), false)), Ok(9));
        server.finalize();
    }

    #[test]
    fn concurrent_adds_of_one_name_or_id_one_wins() {
        let server = server();
        let contenders = 8;
        let race = |make: fn(usize) -> ProviderSpec| -> Vec<Result<u16>> {
            let barrier = Arc::new(Barrier::new(contenders));
            let threads: Vec<_> = (0..contenders)
                .map(|i| {
                    let (s, b) = (server.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        s.add_provider(make(i))
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        };
        let same_name = race(|i| spec("same", Some(100 + i as u16), false));
        assert_eq!(same_name.iter().filter(|r| r.is_ok()).count(), 1, "{same_name:?}");
        assert!(same_name.iter().filter_map(|r| r.as_ref().err()).all(|e| *e == BedrockError::NameInUse("same".into())));
        let same_id = race(|i| spec(&format!("id_{i}"), Some(200), false));
        assert_eq!(same_id.iter().filter(|r| r.is_ok()).count(), 1, "{same_id:?}");
        assert!(same_id.iter().filter_map(|r| r.as_ref().err()).all(|e| *e == BedrockError::ProviderIdInUse(200)));
        server.finalize();
    }

    #[test]
    fn lookups_wait_for_the_provider_within_a_bound() {
        let server = server();
        // Not there, no wait asked: at once.
        assert_eq!(server.lookup_rpc("later", "0"), Err("Could not find provider with spec \"later\"".to_string()));
        // A waiting lookup returns when the provider appears.
        let waiting = {
            let s = server.clone();
            std::thread::spawn(move || s.lookup_rpc("later", "3600"))
        };
        server.add_provider(spec("later", Some(3), false)).unwrap();
        let found = waiting.join().unwrap().unwrap();
        assert!(found.contains("\"later\"") && found.contains("\"provider_id\":3"), "{found}");
        // The wait a caller may ask for is bounded.
        assert_eq!(lookup_wait("3600"), MAX_LOOKUP_WAIT);
        assert_eq!(lookup_wait("1e300"), MAX_LOOKUP_WAIT);
        assert_eq!(lookup_wait("2.5"), Duration::from_millis(2500));
        for bad in ["-1", "NaN", "inf", "soon", ""] {
            assert_eq!(lookup_wait(bad), Duration::ZERO, "{bad}");
        }
        server.finalize();
    }
}
