//! The shm engines of this process, by address: a call from one to another
//! never crosses the fabric.
//!
//! libfabric 1.17's shm provider does not map the region of a peer that
//! lives in the same process: it borrows that endpoint's own region
//! pointer, and keeps using it after that endpoint has closed (to answer its
//! last messages, or to unmap it once more when our own address vector
//! closes): a crash inside libfabric, seen in our multi-engine tests. Shm
//! engines of one process that never talk through libfabric never share a
//! region, so a call between them is handed to the target engine's handler
//! pool and answered by completing the caller's slot, exactly like a call
//! of an engine to itself (which `Engine::call_async` makes directly on
//! every transport). Over tcp, engines of one process are ordinary socket
//! peers and talk through libfabric like any others.
//!
//! An engine is listed from its start until its endpoint has closed, so a
//! caller finds it here for as long as libfabric could still reach it; a
//! call to a finalizing engine is answered "shutting down" by that engine.

use super::engine::Inner;
use crate::fabric::Protocol;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

type Key = (Protocol, Arc<[u8]>);

static ENGINES: RwLock<Option<HashMap<Key, Weak<Inner>>>> = RwLock::new(None);

/// What the process knows of an address.
pub(crate) enum Local {
    /// A live engine of this process.
    Engine(Arc<Inner>),
    /// An engine of this process that was dropped without finalize and
    /// whose endpoint may still be closing: not to be reached through
    /// libfabric.
    Gone,
    /// Not an engine of this process.
    Elsewhere,
}

pub(crate) fn add(protocol: Protocol, name: Arc<[u8]>, inner: &Arc<Inner>) {
    ENGINES.write().get_or_insert_with(HashMap::new).insert((protocol, name), Arc::downgrade(inner));
}

/// Forgets an engine once its endpoint has closed.
pub(crate) fn remove(protocol: Protocol, name: &Arc<[u8]>) {
    if let Some(map) = ENGINES.write().as_mut() {
        map.remove(&(protocol, name.clone()));
    }
}

pub(crate) fn find(protocol: Protocol, name: &Arc<[u8]>) -> Local {
    let engines = ENGINES.read();
    let Some(weak) = engines.as_ref().and_then(|m| m.get(&(protocol, name.clone()))) else {
        return Local::Elsewhere;
    };
    match weak.upgrade() {
        Some(inner) => Local::Engine(inner),
        None => Local::Gone,
    }
}
