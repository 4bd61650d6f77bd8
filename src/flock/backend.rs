//! The backend plug-in interface: a backend keeps the group's view current
//! (static: never changes; centralized, swim: joins, leaves, failures) and
//! reports every change to the provider through an [`UpdateSink`].
//!
//! Built-in backends implement [`BackendFactory`] in Rust; C backends
//! registered with `flock_register_backend` are adapted to the same trait in
//! the C face.

use super::error::{FlockError, Result};
use super::protocol::Update;
use super::registry::{Named, Registry};
use super::view::{GroupView, Member};
use crate::rpc::{Engine, Pool};
use std::sync::Arc;
use std::time::Duration;

/// Where a backend reports changes (the provider dispatches them to its
/// callbacks, its subscribers and its group file).
pub trait UpdateSink: Send + Sync {
    fn membership(&self, update: Update, address: &str, provider_id: u16);
    fn metadata(&self, key: &str, value: &str);
    /// A metadata key was removed (distinct from a value set to "").
    fn metadata_removed(&self, key: &str) {
        let _ = key;
    }
}

/// Everything a backend starts from.
pub struct BackendInit {
    pub engine: Engine,
    pub provider_id: u16,
    pub pool: Arc<Pool>,
    /// The `group.config` object of the provider config.
    pub config: serde_json::Value,
    /// Our address as other members must see it (from the gateway).
    pub self_address: String,
    /// True when we are not in the initial view and must join.
    pub join: bool,
    pub initial_view: GroupView,
    pub sink: Arc<dyn UpdateSink>,
}

pub trait Backend: Send + Sync {
    /// The effective config (defaults filled in).
    fn config(&self) -> serde_json::Value;
    /// The effective config as `flock_provider_get_config` reports it
    /// (compact JSON). By default [`Backend::config`]'s text, whose keys
    /// are sorted; a backend whose upstream reports another key order
    /// gives its text here.
    fn config_text(&self) -> String {
        self.config().to_string()
    }
    /// Runs `f` on the current view (under the backend's lock).
    fn with_view(&self, f: &mut dyn FnMut(&GroupView));
    /// Like `with_view`, for backends whose view can be unavailable (C
    /// plug-ins report errors): the provider answers clients with it.
    fn try_with_view(&self, f: &mut dyn FnMut(&GroupView)) -> Result<()> {
        self.with_view(f);
        Ok(())
    }
    /// Sets a metadata entry for the whole group.
    fn set_metadata(&self, key: &str, value: &str) -> Result<()>;
    fn remove_metadata(&self, key: &str) -> Result<()>;
    /// Leaves the group (if the backend has such a notion) and stops.
    fn destroy(&self) -> Result<()>;
    /// With `crash`, a later [`Backend::destroy`] stops without telling the
    /// group, as a crashed member would (tests of failure detection);
    /// backends without a farewell refuse.
    fn set_crash_mode(&self, _crash: bool) -> Result<()> {
        Err(FlockError::InvalidBackend("this backend has no crash mode (only \"swim\" has)".into()))
    }
    /// The member that keeps the group file up to date, for a backend with
    /// one authority over the view. `None`: the view's first member does.
    fn file_writer(&self) -> Option<Member> {
        None
    }
    /// For a backend whose members can disagree for a while on who writes
    /// the group file (a decentralized one: each member's view, first member
    /// included, converges only eventually), how often the writer checks
    /// that the file still holds its view and rewrites it if not. Another
    /// member that briefly took itself for the first one (it had not heard
    /// of us yet) may have replaced it with its older view after our last
    /// write, and no later change would make us write again. `None`: the
    /// file is written after each change only.
    fn file_check_interval(&self) -> Option<Duration> {
        None
    }
}

pub trait BackendFactory: Named {
    fn create(&self, init: BackendInit) -> Result<Arc<dyn Backend>>;
}

pub static BACKENDS: Registry<dyn BackendFactory> = Registry::new("backend");

/// Registers the built-in backends (idempotent).
pub fn register_builtins() {
    let _ = BACKENDS.register(Arc::new(super::backends::static_backend::StaticFactory));
    let _ = BACKENDS.register(Arc::new(super::backends::centralized::CentralizedFactory));
    let _ = BACKENDS.register(Arc::new(super::backends::swim::SwimFactory));
}

pub fn lookup(name: &str) -> Option<Arc<dyn BackendFactory>> {
    register_builtins();
    BACKENDS.lookup(name)
}

/// Copies of the view a backend reports (convenience for callers).
pub fn snapshot(backend: &dyn Backend) -> GroupView {
    let mut out = GroupView::new();
    backend.with_view(&mut |v| out = v.clone());
    out
}
