//! The client side: group handles that fetch, cache and follow a group's
//! view from one of its members (the "contact").

use super::error::{FlockError, Result};
use super::protocol::{self, Notification, StatusReply, Update, ViewReply};
use super::provider::UpdateCallbacks;
use super::view::GroupView;
use super::view_file;
use crate::rpc::codec;
use crate::rpc::{Address, Engine, PendingCall, Pool, RpcError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// Fetch the current view when the handle is created.
pub const MODE_INIT_UPDATE: u32 = 0x1;
/// Accepted for compatibility; use [`GroupHandle::subscribe`] to follow changes.
pub const MODE_SUBSCRIBE: u32 = 0x2;

#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    engine: Engine,
    pool: Arc<Pool>,
    handles: AtomicUsize,
}

impl Client {
    pub fn new(engine: &Engine, pool: Option<Arc<Pool>>) -> Client {
        let pool = pool.unwrap_or_else(|| engine.handler_pool());
        Client { inner: Arc::new(ClientInner { engine: engine.clone(), pool, handles: AtomicUsize::new(0) }) }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Group handles made from this client that are still alive.
    pub fn live_handles(&self) -> usize {
        self.inner.handles.load(Ordering::Acquire)
    }
}

/// A handle on a group; clones share one cached view.
#[derive(Clone)]
pub struct GroupHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    client: Client,
    contact: Address,
    provider_id: u16,
    view: Mutex<GroupView>,
    subscription: Mutex<Option<u16>>,
}

impl Drop for HandleInner {
    /// Dropping the last handle ends its subscription without waiting: the
    /// unsubscribe request is sent and its answer not awaited, so a slow or
    /// dead contact never holds up the dropper (a contact that misses it
    /// drops the subscriber at its next failed notification).
    fn drop(&mut self) {
        if let Some(id) = self.subscription.get_mut().take() {
            end_subscription(&self.client, &self.contact, self.provider_id, id, Wait::No);
        }
        self.client.inner.handles.fetch_sub(1, Ordering::AcqRel);
    }
}

fn view_error(e: RpcError) -> FlockError {
    match e {
        RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_) => {
            FlockError::InvalidProvider(format!("no Flock provider answers there: {e}"))
        }
        other => FlockError::Rpc(other),
    }
}

fn fetch(engine: &Engine, addr: &Address, provider_id: u16, digest: u64) -> Result<PendingCall> {
    let req = codec::encode(&protocol::GetView { digest });
    engine.call_async(addr, protocol::GET_VIEW, provider_id, req, protocol::CLIENT_TIMEOUT).map_err(view_error)
}

/// Turns a `flock_get_view` answer into the view to cache (None: unchanged).
fn view_from_reply(bytes: &[u8]) -> Result<Option<GroupView>> {
    match codec::decode(bytes)? {
        ViewReply::Unchanged => Ok(None),
        ViewReply::View(v) => Ok(Some(v)),
        ViewReply::Error(code, message) => Err(protocol::remote_error(code, message)),
    }
}

/// An update in flight (`flock_group_update_view` with a request).
pub struct PendingUpdate {
    handle: GroupHandle,
    call: PendingCall,
}

impl PendingUpdate {
    pub fn wait(self) -> Result<()> {
        let bytes = self.call.wait().map_err(view_error)?;
        if let Some(v) = view_from_reply(&bytes)? {
            *self.handle.inner.view.lock() = v;
        }
        Ok(())
    }

    pub fn test(&self) -> bool {
        self.call.test()
    }
}

impl GroupHandle {
    fn new(client: &Client, contact: Address, provider_id: u16, view: GroupView) -> GroupHandle {
        client.inner.handles.fetch_add(1, Ordering::AcqRel);
        GroupHandle {
            inner: Arc::new(HandleInner {
                client: client.clone(),
                contact,
                provider_id,
                view: Mutex::new(view),
                subscription: Mutex::new(None),
            }),
        }
    }

    /// A handle on the group that (`addr`, `provider_id`) belongs to. The
    /// current view is fetched right away (whatever `mode` says), so the
    /// handle knows every member, not only the one it contacted.
    pub fn create(client: &Client, addr: &Address, provider_id: u16, _mode: u32) -> Result<GroupHandle> {
        let engine = client.engine();
        let bytes = fetch(engine, addr, provider_id, 0)?.wait().map_err(view_error)?;
        let view = view_from_reply(&bytes)?.unwrap_or_default();
        Ok(GroupHandle::new(client, addr.clone(), provider_id, view))
    }

    /// A handle from a known view; its first member becomes the contact.
    pub fn from_view(client: &Client, view: GroupView, mode: u32) -> Result<GroupHandle> {
        let first =
            view.member_at(0).cloned().ok_or_else(|| FlockError::InvalidArgs("the view has no member to contact".into()))?;
        let contact = client.engine().lookup(&first.address)?;
        let handle = GroupHandle::new(client, contact, first.provider_id, view);
        if mode & MODE_INIT_UPDATE != 0 {
            handle.update()?;
        }
        Ok(handle)
    }

    pub fn from_file(client: &Client, path: &std::path::Path, mode: u32) -> Result<GroupHandle> {
        Self::from_view(client, view_file::from_file(path)?, mode)
    }

    pub fn from_serialized(client: &Client, text: &[u8], mode: u32) -> Result<GroupHandle> {
        Self::from_view(client, view_file::from_bytes(text)?, mode)
    }

    pub fn contact(&self) -> (&Address, u16) {
        (&self.inner.contact, self.inner.provider_id)
    }

    /// A copy of the cached view.
    pub fn view(&self) -> GroupView {
        self.inner.view.lock().clone()
    }

    /// Runs `f` on the cached view under its lock.
    pub fn with_view<R>(&self, f: impl FnOnce(&GroupView) -> R) -> R {
        f(&self.inner.view.lock())
    }

    /// Refreshes the cached view from the contact (only sent back if its
    /// digest differs from ours).
    pub fn update(&self) -> Result<()> {
        self.update_async()?.wait()
    }

    pub fn update_async(&self) -> Result<PendingUpdate> {
        let digest = self.inner.view.lock().digest();
        let call = fetch(self.inner.client.engine(), &self.inner.contact, self.inner.provider_id, digest)?;
        Ok(PendingUpdate { handle: self.clone(), call })
    }

    /// Sets a metadata entry for the whole group, then refreshes our view.
    pub fn metadata_set(&self, key: &str, value: &str) -> Result<()> {
        let req = codec::encode(&protocol::MetadataSet { key, value });
        let engine = self.inner.client.engine();
        let bytes = engine
            .call(&self.inner.contact, protocol::METADATA_SET, self.inner.provider_id, req, protocol::CLIENT_TIMEOUT)
            .map_err(view_error)?;
        codec::decode::<StatusReply>(&bytes)?.into_result()?;
        self.update()
    }

    /// Follows the group: the contact pushes every membership and metadata
    /// change; the cached view follows and `callbacks` are called. A second
    /// subscription replaces the first.
    pub fn subscribe(&self, callbacks: Arc<dyn UpdateCallbacks>) -> Result<()> {
        self.unsubscribe()?;
        let engine = self.inner.client.engine().clone();
        let notify_id = allocate_notify_id(&engine)?;
        let weak: Weak<HandleInner> = Arc::downgrade(&self.inner);
        engine.register(
            protocol::NOTIFY,
            notify_id,
            Some(self.inner.client.inner.pool.clone()),
            Arc::new(move |req| {
                let n: Notification = codec::decode(&req.payload).map_err(|e| format!("malformed Flock notification: {e}"))?;
                if let Some(inner) = weak.upgrade() {
                    apply(&mut inner.view.lock(), &n);
                }
                match &n {
                    Notification::Membership { update, address, provider_id } => {
                        callbacks.membership(*update, address, *provider_id)
                    }
                    Notification::Metadata { key, value } => callbacks.metadata(key, value),
                    Notification::MetadataRemoved { key } => callbacks.metadata(key, ""),
                }
                Ok(Vec::new())
            }),
        )?;
        let req = codec::encode(&protocol::Subscription { notify_id });
        let reply = engine
            .call(&self.inner.contact, protocol::SUBSCRIBE, self.inner.provider_id, req, protocol::CLIENT_TIMEOUT)
            .map_err(view_error)
            .and_then(|b| view_from_reply(&b));
        match reply {
            Ok(view) => {
                if let Some(v) = view {
                    *self.inner.view.lock() = v;
                }
                *self.inner.subscription.lock() = Some(notify_id);
                Ok(())
            }
            Err(e) => {
                engine.deregister(protocol::NOTIFY, notify_id);
                Err(e)
            }
        }
    }

    /// Stops following the group (no-op if not subscribed).
    pub fn unsubscribe(&self) -> Result<()> {
        let Some(id) = self.inner.subscription.lock().take() else { return Ok(()) };
        end_subscription(&self.inner.client, &self.inner.contact, self.inner.provider_id, id, Wait::ForAnswer);
        Ok(())
    }
}

/// Whether ending a subscription waits for the contact's answer.
#[derive(PartialEq)]
enum Wait {
    /// `unsubscribe()`: the caller asked, and waits (up to NOTIFY_TIMEOUT).
    ForAnswer,
    /// Drop: send and return at once.
    No,
}

fn end_subscription(client: &Client, contact: &Address, provider_id: u16, notify_id: u16, wait: Wait) {
    let engine = client.engine();
    engine.deregister(protocol::NOTIFY, notify_id);
    if engine.is_finalizing() {
        return;
    }
    let req = codec::encode(&protocol::Subscription { notify_id });
    let result = engine.call_async(contact, protocol::UNSUBSCRIBE, provider_id, req, protocol::NOTIFY_TIMEOUT);
    let result = match (result, wait) {
        (Ok(pending), Wait::ForAnswer) => pending.wait().map(drop),
        // The request is queued for sending; dropping the pending call only
        // forgets its answer (which is then discarded on arrival).
        (Ok(_pending), Wait::No) => Ok(()),
        (Err(e), _) => Err(e),
    };
    if let Err(e) = result {
        crate::debug!("unsubscribe from {contact} failed: {e}");
    }
}

/// Applies a pushed change to a cached view.
fn apply(view: &mut GroupView, n: &Notification) {
    match n {
        Notification::Membership { update: Update::Joined, address, provider_id } => {
            if !view.contains_member(address, *provider_id) {
                view.add_member(address, *provider_id);
            }
        }
        Notification::Membership { update: Update::Left | Update::Died, address, provider_id } => {
            view.remove_member(address, *provider_id);
        }
        Notification::Membership { update: Update::Moved, .. } => {}
        Notification::Metadata { key, value } => {
            view.add_metadata(key, value);
        }
        Notification::MetadataRemoved { key } => {
            view.remove_metadata(key);
        }
    }
}

/// Provider ids for subscription handlers: the top of the range, skipping
/// ids already taken on this engine.
fn allocate_notify_id(engine: &Engine) -> Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..4096 {
        let id = 0xF000 + (NEXT.fetch_add(1, Ordering::Relaxed) % 0x0FFF) as u16;
        if !engine.is_registered(protocol::NOTIFY, id) {
            return Ok(id);
        }
    }
    Err(FlockError::Other("no free subscription id on this engine".into()))
}
