//! The group-aware client: a database handle that sends each key straight
//! to its primary, with the servers' own placement ([`Placement`]).
//!
//! * Keyed operations are split by primary (in the handle's view, routing
//!   around members found gone), the parts sent at once; a part whose member
//!   does not answer (gone, or its provider is) goes to the next owner.
//! * Group-wide operations (count, listings, erase_range) go to one live
//!   member, which covers the whole group.
//! * The view follows the group: the handle subscribes to a member's Flock
//!   provider (our own Flock handle, so the caller's subscriptions stay
//!   theirs); when a member does not answer, the view is fetched again, and
//!   if the contact itself is gone, the subscription moves to another member.
//!   A request that reaches a member which is no longer the key's owner
//!   (our view is behind) is routed on by that member, never lost.

use super::placement::Placement;
use super::wire;
use super::SUSPECT_TTL;
use crate::flock::client::{Client as FlockClient, GroupHandle};
use crate::flock::protocol::Update;
use crate::flock::provider::UpdateCallbacks;
use crate::flock::view::GroupView;
use crate::rpc::codec;
use crate::rpc::{Engine, PendingCall, RpcError};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::protocol::{self, Operation};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long the creation checks may take per member asked.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a group-aware handle learns the group's view.
pub enum GroupSource<'a> {
    /// A Flock group handle (its cached view and its contact).
    Handle(&'a GroupHandle),
    /// A Flock group file.
    File(&'a std::path::Path),
}

/// Routes the requests of a group-aware database handle. Clones share it.
#[derive(Clone)]
pub struct GroupRouter {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    provider_id: u16,
    flock: FlockClient,
    /// Our subscribed handle on the group (None while none could be made).
    group: Mutex<Option<GroupHandle>>,
    /// The last full view seen (members with their Flock provider ids: where
    /// to subscribe again if the contact goes).
    view: Mutex<GroupView>,
    placement: RwLock<Placement>,
    suspects: Mutex<HashMap<String, Instant>>,
    /// One view refresh at a time; callers that find one under way go on.
    refreshing: Mutex<()>,
    replication: AtomicUsize,
    /// Which member the next group-wide request goes to.
    turn: AtomicUsize,
    addresses: super::addresses::AddressBook,
}

/// Applies the group's membership changes to the placement.
struct Follow(Weak<Inner>);

impl UpdateCallbacks for Follow {
    fn membership(&self, update: Update, address: &str, provider_id: u16) {
        let Some(inner) = self.0.upgrade() else { return };
        let mut view = inner.view.lock();
        match update {
            Update::Joined if !view.contains_member(address, provider_id) => {
                view.add_member(address, provider_id);
            }
            Update::Left | Update::Died => {
                view.remove_member(address, provider_id);
            }
            _ => return,
        }
        *inner.placement.write() = placement_of(&view);
        crate::debug!("group-aware Yokan handle: {address} {update:?}; {} members", view.member_count());
    }
    fn metadata(&self, _key: &str, _value: &str) {}
}

fn placement_of(view: &GroupView) -> Placement {
    Placement::new(view.members().iter().map(|m| m.address.clone()))
}

fn no_member() -> YokanError {
    YokanError::new(code::FROM_MERCURY, "no member of the group answers")
}

impl GroupRouter {
    /// A router over the group `source` describes, for the Yokan provider
    /// `provider_id` of its members. Fails with `YOKAN_ERR_INVALID_ARGS`
    /// for an unreadable group file or an empty view, with
    /// `YOKAN_ERR_INVALID_PROVIDER` when the members' provider with that id
    /// is not a shard of a distributed Yokan database, and with
    /// `YOKAN_ERR_FROM_MERCURY` when no member answers.
    pub fn new(engine: &Engine, source: GroupSource<'_>, provider_id: u16) -> Result<GroupRouter> {
        let (seed, contact) = match source {
            GroupSource::Handle(h) => {
                let (addr, pid) = h.contact();
                (h.view(), Some((addr.to_string(), pid)))
            }
            GroupSource::File(path) => {
                let view =
                    crate::flock::view_file::from_file(path).map_err(|e| YokanError::args(format!("the group file: {e}")))?;
                (view, None)
            }
        };
        if seed.member_count() == 0 && contact.is_none() {
            return Err(YokanError::args("the group's view has no member"));
        }
        let flock = FlockClient::new(engine, None);
        let inner = Arc::new(Inner {
            engine: engine.clone(),
            provider_id,
            flock,
            group: Mutex::new(None),
            view: Mutex::new(seed.clone()),
            placement: RwLock::new(placement_of(&seed)),
            suspects: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(()),
            replication: AtomicUsize::new(1),
            turn: AtomicUsize::new(0),
            addresses: Default::default(),
        });
        // Follow the group from the handle's contact, else from any member.
        let mut contacts: Vec<(String, u16)> = contact.into_iter().collect();
        contacts.extend(seed.members().iter().map(|m| (m.address.clone(), m.provider_id)));
        let mut last = String::from("the group's view has no member");
        let mut followed = false;
        // Every failure the caller's (an address of another protocol, an
        // empty view), none a member not answering.
        let mut bad_input = true;
        for (address, pid) in dedup(contacts) {
            match inner.follow(&address, pid) {
                Ok(()) => {
                    followed = true;
                    break;
                }
                Err(FollowError::Input(e)) => last = format!("{address}: {e}"),
                Err(FollowError::Call(e)) => {
                    bad_input = false;
                    last = format!("{address}: {e}");
                }
            }
        }
        if !followed {
            let code = if bad_input { code::INVALID_ARGS } else { code::FROM_MERCURY };
            return Err(YokanError::new(code, format!("cannot follow the group through any member ({last})")));
        }
        let members: Vec<String> = inner.placement.read().addresses().map(str::to_string).collect();
        if members.is_empty() {
            return Err(YokanError::args("the group's view has no member"));
        }
        let replication = inner.ask_info(&members)?;
        inner.replication.store(replication, Ordering::Relaxed);
        Ok(GroupRouter { inner })
    }

    pub fn provider_id(&self) -> u16 {
        self.inner.provider_id
    }

    /// Copies of each key, as the members' providers say.
    pub fn replication(&self) -> usize {
        self.inner.replication.load(Ordering::Relaxed)
    }

    /// The members of the handle's current view.
    pub fn members(&self) -> Vec<String> {
        self.inner.placement.read().addresses().map(str::to_string).collect()
    }

    /// A member to name in `yk_database_handle_get_info`: the first live one.
    pub fn some_member(&self) -> Option<String> {
        let skip = self.inner.suspects();
        self.inner.placement.read().addresses().find(|a| !skip.iter().any(|s| s == a)).map(str::to_string)
    }

    /// Runs a keyed request: the keys are split by primary, each part sent
    /// to its member (`encode` makes a part's payload from key indexes,
    /// `decode` its per-key answers), parts whose member is gone go to the
    /// next owner. Answers come back in key order.
    pub(crate) fn keyed<T>(
        &self,
        name: &str,
        keys: &[&[u8]],
        timeout: Duration,
        encode: impl Fn(&[usize]) -> Vec<u8>,
        decode: impl Fn(&[u8], &[usize]) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        let inner = &self.inner;
        let deadline = Instant::now() + timeout;
        let mut results: Vec<Option<T>> = (0..keys.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        let mut gone: Vec<String> = Vec::new();
        let rounds = inner.placement.read().len() + 2;
        for _ in 0..rounds {
            let view = inner.placement.read().clone();
            let mut skip = inner.suspects();
            skip.extend(gone.iter().cloned());
            let mut parts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for &i in &pending {
                // Every owner suspected: try those this call has not found gone.
                let member = view
                    .first(keys[i], |m| skip.iter().any(|s| s == m))
                    .or_else(|| view.first(keys[i], |m| gone.iter().any(|s| s == m)))
                    .ok_or_else(no_member)?;
                parts.entry(member).or_default().push(i);
            }
            let started: Vec<_> =
                parts.into_iter().map(|(m, idx)| (m, inner.start(m, name, encode(&idx), deadline), idx)).collect();
            let mut retry = Vec::new();
            for (member, call, idx) in started {
                let answer = call.and_then(|p| p.wait());
                let outcome = match answer {
                    Ok(reply) => match decode(&reply, &idx) {
                        // A provider destroyed under us (a member leaving).
                        Err(e) if e.code == code::INVALID_PROVIDER => Err(e.to_string()),
                        other => Ok(other?),
                    },
                    Err(e) if e.callee_gone() => Err(e.to_string()),
                    Err(e) => return Err(rpc_error(e)),
                };
                match outcome {
                    Ok(values) => {
                        for (i, v) in idx.iter().zip(values) {
                            results[*i] = Some(v);
                        }
                    }
                    Err(why) => {
                        crate::debug!("group-aware Yokan handle: {member} does not answer ({why}); trying the next owner");
                        inner.suspect(member);
                        gone.push(member.to_string());
                        retry.extend(idx);
                    }
                }
            }
            if retry.is_empty() {
                return results.into_iter().map(|r| r.ok_or_else(no_member)).collect();
            }
            inner.refresh();
            pending = retry;
        }
        Err(no_member())
    }

    /// Runs a group-wide request at one live member (it covers the group).
    pub(crate) fn any(&self, name: &str, payload: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let inner = &self.inner;
        let deadline = Instant::now() + timeout;
        let mut gone: Vec<String> = Vec::new();
        let rounds = inner.placement.read().len() + 2;
        for _ in 0..rounds {
            let skip = inner.suspects();
            let member = {
                let view = inner.placement.read();
                let untried: Vec<&str> = view.addresses().filter(|a| !gone.iter().any(|g| g == a)).collect();
                let live: Vec<&str> = untried.iter().copied().filter(|a| !skip.iter().any(|s| s == a)).collect();
                // Every member suspected: try those not found gone by this call.
                let choice = if live.is_empty() { &untried } else { &live };
                // Taking turns spreads the group-wide work over the members.
                let turn = inner.turn.fetch_add(1, Ordering::Relaxed);
                choice.get(turn % choice.len().max(1)).map(|m| m.to_string()).ok_or_else(no_member)?
            };
            let answer = inner.start(&member, name, payload.to_vec(), deadline).and_then(|p| p.wait());
            match answer {
                Ok(reply) => return Ok(reply),
                Err(e) if e.callee_gone() => {
                    crate::debug!("group-aware Yokan handle: {member} does not answer ({e}); asking another member");
                    inner.suspect(&member);
                    gone.push(member);
                    inner.refresh();
                }
                Err(e) => return Err(rpc_error(e)),
            }
        }
        Err(no_member())
    }
}

/// The error of a call that did not reach a provider.
pub(crate) fn rpc_error(e: RpcError) -> YokanError {
    match e {
        RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_) => {
            YokanError::new(code::INVALID_PROVIDER, format!("no Yokan provider answers there: {e}"))
        }
        RpcError::Timeout { .. } => YokanError::new(code::TIMEOUT, e.to_string()),
        other => YokanError::new(code::FROM_MERCURY, other.to_string()),
    }
}

/// Why a member could not be followed.
enum FollowError {
    /// The caller's input: an address of another protocol, an empty view.
    Input(String),
    /// The member did not answer (or answered an error).
    Call(String),
}

fn dedup(list: Vec<(String, u16)>) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = Vec::with_capacity(list.len());
    for x in list {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

impl Inner {
    fn suspects(&self) -> Vec<String> {
        let mut s = self.suspects.lock();
        s.retain(|_, since| since.elapsed() < SUSPECT_TTL);
        s.keys().cloned().collect()
    }

    fn suspect(&self, member: &str) {
        self.suspects.lock().insert(member.to_string(), Instant::now());
    }

    /// Sends `name` to `member`'s provider, with what is left of the time.
    fn start(&self, member: &str, name: &str, payload: Vec<u8>, deadline: Instant) -> std::result::Result<PendingCall, RpcError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RpcError::Timeout { addr: member.to_string(), name: name.to_string(), millis: 0 });
        }
        let addr = self.addresses.get(&self.engine, member)?;
        // Every caller of `start` waits for its answers on its own thread.
        self.engine.call_async_then_wait(&addr, name, self.provider_id, payload, left)
    }

    /// Follows the group through the Flock provider (`address`,
    /// `provider_id`): fetches its view and subscribes to its changes.
    fn follow(self: &Arc<Self>, address: &str, provider_id: u16) -> std::result::Result<(), FollowError> {
        let addr = self.engine.lookup(address).map_err(|e| FollowError::Input(e.to_string()))?;
        let failed = |e: crate::flock::FlockError| FollowError::Call(e.to_string());
        let handle = GroupHandle::create(&self.flock, &addr, provider_id, 0).map_err(failed)?;
        handle.subscribe(Arc::new(Follow(Arc::downgrade(self)))).map_err(failed)?;
        let view = handle.view();
        if view.member_count() == 0 {
            return Err(FollowError::Input("its group's view has no member".into()));
        }
        *self.placement.write() = placement_of(&view);
        *self.view.lock() = view;
        *self.group.lock() = Some(handle);
        Ok(())
    }

    /// A member did not answer: fetch the view again, from the contact or,
    /// if it is gone too, by following another member. Callers that find a
    /// refresh under way go on with the view they have.
    fn refresh(self: &Arc<Self>) {
        let Some(_one) = self.refreshing.try_lock() else { return };
        let handle = self.group.lock().clone();
        if let Some(h) = handle {
            if h.update().is_ok() {
                let view = h.view();
                if view.member_count() > 0 {
                    *self.placement.write() = placement_of(&view);
                    *self.view.lock() = view;
                    return;
                }
            }
        }
        let skip = self.suspects();
        let candidates: Vec<(String, u16)> = self
            .view
            .lock()
            .members()
            .iter()
            .filter(|m| !skip.contains(&m.address))
            .map(|m| (m.address.clone(), m.provider_id))
            .collect();
        for (address, pid) in candidates {
            if self.follow(&address, pid).is_ok() {
                crate::debug!("group-aware Yokan handle: now following the group through {address}");
                return;
            }
        }
        crate::debug!("group-aware Yokan handle: no member gave a fresh view");
    }

    /// Asks the members, in turn, whether their provider is a shard; the
    /// replication factor of the first that answers.
    fn ask_info(&self, members: &[String]) -> Result<usize> {
        let mut last = None;
        for m in members {
            let deadline = Instant::now() + CHECK_TIMEOUT;
            let check = codec::encode(&Operation { mode: 0, args: () });
            let identity = self.start(m, protocol::CHECK, check, deadline).and_then(|p| p.wait());
            let reply = match identity {
                Ok(reply) => reply,
                Err(e @ RpcError::NoSuchProvider { .. }) | Err(e @ RpcError::NoSuchRpc(_)) => {
                    return Err(YokanError::new(
                        code::INVALID_PROVIDER,
                        format!("no Yokan provider with id {} at {m}: {e}", self.provider_id),
                    ))
                }
                Err(e) => {
                    last = Some(rpc_error(e));
                    continue;
                }
            };
            let id: &str = protocol::answer(&reply)?;
            if id != protocol::IDENTITY {
                return Err(YokanError::new(
                    code::INVALID_PROVIDER,
                    format!("provider {} at {m} is a \"{id}\", not a Yokan provider", self.provider_id),
                ));
            }
            let info = self.start(m, wire::INFO, Vec::new(), deadline).and_then(|p| p.wait());
            return match info {
                Ok(reply) => Ok(protocol::answer::<wire::Info>(&reply)?.replication.max(1) as usize),
                Err(RpcError::NoSuchRpc(_)) | Err(RpcError::NoSuchProvider { .. }) => Err(YokanError::new(
                    code::INVALID_PROVIDER,
                    format!(
                        "the Yokan provider {} at {m} is not a shard of a distributed database (its config names no \
                         Flock group)",
                        self.provider_id
                    ),
                )),
                Err(e) => Err(rpc_error(e)),
            };
        }
        Err(last.unwrap_or_else(no_member))
    }
}
