//! The `static` backend: membership fixed at creation. Metadata changes
//! (which upstream does not support) are applied locally and pushed to every
//! other member, so the whole group converges on them.

use super::check_metadata;
use crate::flock::backend::{Backend, BackendFactory, BackendInit, UpdateSink};
use crate::flock::error::{FlockError, Result};
use crate::flock::protocol::{MetadataPush, StatusReply};
use crate::flock::registry::Named;
use crate::flock::view::GroupView;
use crate::rpc::codec;
use crate::rpc::{Engine, Request};
use parking_lot::Mutex;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Member → member: apply a metadata change.
const METADATA_PUSH: &str = "flock_static_metadata";
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct StaticFactory;

impl Named for StaticFactory {
    fn name(&self) -> &str {
        "static"
    }
}

impl BackendFactory for StaticFactory {
    fn create(&self, init: BackendInit) -> Result<Arc<dyn Backend>> {
        if init.join {
            return Err(FlockError::Forbidden("cannot join a static group".into()));
        }
        let mut view = init.initial_view;
        view.add_metadata("__config__", "{}");
        view.add_metadata("__type__", "static");
        let backend = Arc::new(StaticBackend {
            engine: init.engine.clone(),
            provider_id: init.provider_id,
            self_address: init.self_address,
            view: Mutex::new(view),
            sink: init.sink,
        });
        let weak: Weak<StaticBackend> = Arc::downgrade(&backend);
        init.engine
            .register(
                METADATA_PUSH,
                init.provider_id,
                Some(init.pool),
                Arc::new(move |req: Request| {
                    let result = match weak.upgrade() {
                        Some(b) => b.on_push(&req.payload),
                        None => Err(FlockError::InvalidGroup("group is being destroyed".into())),
                    };
                    Ok(codec::encode(&StatusReply::from(&result)))
                }),
            )
            .map_err(FlockError::from)?;
        Ok(backend)
    }
}

struct StaticBackend {
    engine: Engine,
    provider_id: u16,
    self_address: String,
    view: Mutex<GroupView>,
    sink: Arc<dyn UpdateSink>,
}

impl StaticBackend {
    /// Applies a change locally; returns whether anything changed.
    fn apply(&self, key: &str, value: Option<&str>) -> bool {
        let mut view = self.view.lock();
        match value {
            Some(v) => {
                if view.find_metadata(key) == Some(v) {
                    return false;
                }
                view.add_metadata(key, v);
                true
            }
            None => view.remove_metadata(key).is_some(),
        }
    }

    fn report(&self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.sink.metadata(key, v),
            None => self.sink.metadata_removed(key),
        }
    }

    fn on_push(&self, payload: &[u8]) -> Result<()> {
        let MetadataPush { key, value } = codec::decode(payload)?;
        check_metadata(&key, value.as_deref())?;
        if self.apply(&key, value.as_deref()) {
            self.report(&key, value.as_deref());
        }
        Ok(())
    }

    fn change(&self, key: &str, value: Option<&str>) -> Result<()> {
        check_metadata(key, value)?;
        if self.apply(key, value) {
            self.report(key, value);
        }
        let payload = codec::encode(&MetadataPush { key: key.to_string(), value: value.map(str::to_string) });
        let others: Vec<_> = {
            let view = self.view.lock();
            view.members()
                .iter()
                .filter(|m| !(m.address == self.self_address && m.provider_id == self.provider_id))
                .cloned()
                .collect()
        };
        for m in others {
            let outcome = self
                .engine
                .lookup(&m.address)
                .map_err(FlockError::from)
                .and_then(|a| Ok(self.engine.call(&a, METADATA_PUSH, m.provider_id, payload.clone(), PUSH_TIMEOUT)?))
                .and_then(|bytes| codec::decode::<StatusReply>(&bytes)?.into_result());
            if let Err(e) = outcome {
                crate::warning!("metadata change \"{key}\" did not reach {} ({}): {e}", m.address, m.provider_id);
            }
        }
        Ok(())
    }
}

impl Backend for StaticBackend {
    fn config(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn with_view(&self, f: &mut dyn FnMut(&GroupView)) {
        f(&self.view.lock());
    }

    fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        self.change(key, Some(value))
    }

    fn remove_metadata(&self, key: &str) -> Result<()> {
        self.change(key, None)
    }

    fn destroy(&self) -> Result<()> {
        self.engine.deregister(METADATA_PUSH, self.provider_id);
        Ok(())
    }
}
