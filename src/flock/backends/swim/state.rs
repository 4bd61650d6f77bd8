//! What one `swim` member knows, and the rules that merge what others tell
//! it. No I/O here: the caller holds the lock, feeds in messages, and drains
//! the [`Event`]s that must reach the provider.
//!
//! Membership records merge as a last-writer-wins register per member, keyed
//! by `(generation, departed?, incarnation, kind)`:
//! - the *generation* identifies one instance of a provider (the time it was
//!   created), so a provider that comes back at the same address after being
//!   declared dead is a new instance and can join again, while the old
//!   instance (a SIGSTOPped process that resumes) cannot;
//! - within a generation, a departure (CONFIRM, LEAVE) beats anything alive:
//!   death is final, which is what lets every member converge on it;
//! - among alive records, the higher incarnation wins and SUSPECT beats ALIVE
//!   at equal incarnation, so only the member itself (raising its
//!   incarnation) can clear a suspicion.
//!
//! Because merging takes a maximum, members converge whatever order records
//! arrive in, by gossip or by full-state sync.

use super::wire::{FullState, Gossip, Identity, Kind, MemberRecord, MetaRecord, Status};
use crate::flock::protocol::Update;
use crate::flock::view::{hash_metadata, GroupView};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

pub type Id = (String, u16);

/// Keys the backend owns: never versioned, gossiped or settable.
pub use crate::flock::backends::{is_reserved, CONFIG_KEY, TYPE_KEY};

/// Metadata values above this size are not piggy-backed on pings (they
/// would make every probe heavy); full-state syncs carry them instead.
const MAX_PIGGYBACK_VALUE: usize = 1024;
/// Tombstones kept at most (oldest dropped first).
const MAX_TOMBSTONES: usize = 10_000;
/// Senders whose rejections were logged recently (log throttling).
const MAX_THROTTLE: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Alive,
    Suspect { since: Instant },
}

#[derive(Clone, Debug)]
pub struct Peer {
    pub generation: u64,
    pub incarnation: u64,
    pub health: Health,
}

/// A departed member: kept so that stale gossip cannot bring it back.
#[derive(Clone, Debug)]
pub struct Tomb {
    pub generation: u64,
    pub incarnation: u64,
    pub left: bool,
    pub at: Instant,
    /// Wall-clock time (ns since the epoch) of the departure, used when the
    /// departed instance's generation was never learned: any instance
    /// created before it is taken to be that instance.
    pub declared_unix_ns: u64,
}

impl Tomb {
    /// True if an instance of generation `generation` is the departed one
    /// (or older).
    pub fn covers(&self, generation: u64) -> bool {
        generation <= self.generation || (self.generation == 0 && generation <= self.declared_unix_ns)
    }

    pub fn status_for(&self, generation: u64) -> Status {
        let generation = if self.generation == 0 { generation } else { self.generation };
        if self.left {
            Status::Left { generation, incarnation: self.incarnation }
        } else {
            Status::DeclaredDead { generation, incarnation: self.incarnation }
        }
    }
}

/// A change the provider must hear about (in this order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Membership(Update, String, u16),
    Metadata(String, String),
    MetadataRemoved(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MetaEntry {
    value: Option<String>,
    version: u64,
    origin: String,
    origin_pid: u16,
}

impl MetaEntry {
    /// Last-writer-wins order; the value breaks the last ties so that two
    /// different initial views still converge.
    fn order(&self) -> (u64, &str, u16, Option<&str>) {
        (self.version, &self.origin, self.origin_pid, self.value.as_deref())
    }
}

/// How a message's sender stands with us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A member: process its message.
    Member,
    /// Not in our view: ignore the message.
    Unknown,
    /// A departed instance: tell it.
    Departed(Status),
    /// Claims to be us, or is otherwise impossible.
    Invalid(String),
}

/// Probe order and helper choice only need to differ between members.
pub use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum GossipKey {
    Member(Id),
    Meta(String),
}

struct GossipEntry {
    item: Gossip,
    sent: u32,
    seq: u64,
}

/// Recent changes waiting to be piggy-backed: one entry per member or key
/// (a newer record replaces an older one and starts over), each sent a
/// bounded number of times.
#[derive(Default)]
pub struct GossipBuffer {
    entries: HashMap<GossipKey, GossipEntry>,
    seq: u64,
}

impl GossipBuffer {
    pub fn add(&mut self, item: Gossip) {
        let key = match &item {
            Gossip::Member(m) => GossipKey::Member((m.address.clone(), m.provider_id)),
            Gossip::Meta(m) => GossipKey::Meta(m.key.clone()),
        };
        self.seq += 1;
        self.entries.insert(key, GossipEntry { item, sent: 0, seq: self.seq });
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Up to `max` entries, those about `prefer` first (a suspected target
    /// learns of its suspicion at once and can refute it), then the least
    /// sent, newest first. Entries sent `limit` times are dropped.
    pub fn gather(&mut self, max: usize, limit: u32, prefer: Option<&Id>) -> Vec<Gossip> {
        self.entries.retain(|_, e| match &e.item {
            Gossip::Meta(m) => m.value.as_ref().map_or(0, |v| v.len()) <= MAX_PIGGYBACK_VALUE,
            Gossip::Member(_) => true,
        });
        let mut keys: Vec<(bool, u32, std::cmp::Reverse<u64>, GossipKey)> = self
            .entries
            .iter()
            .map(|(k, e)| {
                let about_prefer = matches!((k, prefer), (GossipKey::Member(id), Some(p)) if id == p);
                (!about_prefer, e.sent, std::cmp::Reverse(e.seq), k.clone())
            })
            .collect();
        keys.sort();
        let mut out = Vec::new();
        for (_, _, _, key) in keys.into_iter().take(max) {
            if let Some(e) = self.entries.get_mut(&key) {
                out.push(e.item.clone());
                e.sent += 1;
                if e.sent >= limit {
                    self.entries.remove(&key);
                }
            }
        }
        out
    }
}

/// Times each entry is piggy-backed: 3 × ceil(log2(n)) (1 for n ≤ 1).
pub fn transmit_limit(group_size: usize) -> u32 {
    if group_size <= 1 {
        1
    } else {
        3 * (usize::BITS - (group_size - 1).leading_zeros())
    }
}

pub fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1).max(1)
}

/// Sort key of a membership record (see the module comment).
fn order(generation: u64, kind: Kind, incarnation: u64) -> (u64, u8, u64, u8) {
    let (class, sub) = match kind {
        Kind::Alive | Kind::Join => (0, 0),
        Kind::Suspect => (0, 1),
        Kind::Confirm => (1, 0),
        Kind::Leave => (1, 1),
    };
    (generation, class, incarnation, sub)
}

pub struct State {
    pub self_id: Id,
    pub generation: u64,
    pub incarnation: u64,
    pub view: GroupView,
    pub peers: HashMap<Id, Peer>,
    pub tombs: HashMap<Id, Tomb>,
    meta: BTreeMap<String, MetaEntry>,
    /// Lamport clock of metadata versions.
    clock: u64,
    pub gossip: GossipBuffer,
    probe_order: Vec<Id>,
    probe_next: usize,
    pub rng: Rng,
    /// The group declared us dead (or recorded our leave): we stay out.
    pub expelled: bool,
    /// Consecutive probes answered "unknown sender".
    pub unknown_streak: u32,
    /// Until then we may be unknown to some members (we just joined).
    pub young_until: Instant,
    /// While the protocol thread sleeps: when it should wake up.
    pub sleeping_until: Option<Instant>,
    /// The process was frozen (SIGSTOP, a paused VM): what we know may be
    /// stale and our timers ran out while we could not act. Until a member
    /// answers us as a member, we apply no gossip and declare no one dead.
    pub stalled: bool,
    pub events: Vec<Event>,
    throttle: HashMap<String, Instant>,
}

impl State {
    /// `view` is the initial view (it must contain us; the caller adds us
    /// when joining). Its members start with unknown generation and
    /// incarnation (0), its user metadata at version 0.
    pub fn new(self_id: Id, generation: u64, view: GroupView, now: Instant) -> State {
        let mut peers = HashMap::new();
        for m in view.members() {
            if m.address == self_id.0 && m.provider_id == self_id.1 {
                continue;
            }
            peers.insert((m.address.clone(), m.provider_id), Peer { generation: 0, incarnation: 0, health: Health::Alive });
        }
        let meta = view
            .metadata()
            .iter()
            .filter(|(k, _)| !is_reserved(k))
            .map(|(k, v)| (k.clone(), MetaEntry { value: Some(v.clone()), version: 0, origin: String::new(), origin_pid: 0 }))
            .collect();
        State {
            rng: Rng::new(generation ^ crate::flock::view::hash_member(self_id.1, &self_id.0)),
            self_id,
            generation,
            incarnation: 1,
            view,
            peers,
            tombs: HashMap::new(),
            meta,
            clock: 0,
            gossip: GossipBuffer::default(),
            probe_order: Vec::new(),
            probe_next: 0,
            expelled: false,
            unknown_streak: 0,
            young_until: now,
            sleeping_until: None,
            stalled: false,
            events: Vec::new(),
            throttle: HashMap::new(),
        }
    }

    pub fn identity(&self) -> Identity {
        Identity {
            address: self.self_id.0.clone(),
            provider_id: self.self_id.1,
            generation: self.generation,
            incarnation: self.incarnation,
        }
    }

    /// The view digest without `__config__`: members may be configured
    /// differently, which must not make them sync forever.
    pub fn state_digest(&self) -> u64 {
        let config = self.view.find_metadata(CONFIG_KEY).map_or(0, |v| hash_metadata(CONFIG_KEY, v));
        self.view.digest() ^ config
    }

    pub fn group_size(&self) -> usize {
        self.peers.len() + 1
    }

    /// Our envelope, with gossip (entries about `prefer` first).
    pub fn envelope(&mut self, prefer: Option<&Id>) -> super::wire::Envelope {
        let limit = transmit_limit(self.group_size());
        let gossip = if self.expelled { Vec::new() } else { self.gossip.gather(super::wire::MAX_GOSSIP, limit, prefer) };
        super::wire::Envelope { sender: self.identity(), digest: self.state_digest(), gossip }
    }

    /// Our envelope without gossip (for replies to non-members).
    pub fn bare_envelope(&self) -> super::wire::Envelope {
        super::wire::Envelope { sender: self.identity(), digest: self.state_digest(), gossip: Vec::new() }
    }

    /// True at most once per 10 s per `key` (keeps a resumed zombie or a
    /// misbehaving client from flooding the log).
    pub fn should_log(&mut self, key: &str, now: Instant) -> bool {
        if let Some(t) = self.throttle.get(key) {
            if now.duration_since(*t) < Duration::from_secs(10) {
                return false;
            }
        }
        if self.throttle.len() >= MAX_THROTTLE {
            self.throttle.clear();
        }
        self.throttle.insert(key.to_string(), now);
        true
    }

    // ---- senders -------------------------------------------------------

    /// Decides whether to listen to `sender`; a member's own word about
    /// itself (a higher incarnation, a new generation) is learned here.
    pub fn admit(&mut self, sender: &Identity, now: Instant) -> Admission {
        let id = (sender.address.clone(), sender.provider_id);
        if id == self.self_id {
            return Admission::Invalid("the message claims to come from ourselves".into());
        }
        if sender.generation == 0 {
            return Admission::Invalid("sender generation 0".into());
        }
        if let Some(p) = self.peers.get(&id) {
            if p.generation != 0 && sender.generation < p.generation {
                // An older instance of a member that has since come back.
                return Admission::Departed(Status::DeclaredDead {
                    generation: sender.generation,
                    incarnation: sender.incarnation,
                });
            }
            let rec = MemberRecord {
                kind: Kind::Alive,
                address: id.0,
                provider_id: id.1,
                generation: sender.generation,
                incarnation: sender.incarnation,
            };
            if self.merge_member(&rec, now) {
                self.gossip.add(Gossip::Member(rec));
            }
            return Admission::Member;
        }
        match self.tombs.get(&id) {
            Some(t) if t.covers(sender.generation) => Admission::Departed(t.status_for(sender.generation)),
            _ => Admission::Unknown,
        }
    }

    // ---- merging -------------------------------------------------------

    /// Applies gossip from a member; changed records are passed on.
    pub fn process_gossip(&mut self, entries: &[Gossip], now: Instant) {
        if self.stalled {
            return;
        }
        for g in entries {
            let changed = match g {
                Gossip::Member(m) => self.merge_member(m, now),
                Gossip::Meta(m) => self.merge_meta(m),
            };
            if changed {
                self.gossip.add(g.clone());
            }
        }
    }

    /// Merges a full state (from a sync or a join reply).
    pub fn merge_state(&mut self, state: &FullState, now: Instant) {
        if self.stalled {
            return;
        }
        for m in &state.members {
            if self.merge_member(m, now) {
                self.gossip.add(Gossip::Member(m.clone()));
            }
        }
        for m in &state.metadata {
            if self.merge_meta(m) {
                self.gossip.add(Gossip::Meta(m.clone()));
            }
        }
    }

    /// Merges one membership record; true if it changed what we know
    /// (records about ourselves never count: we answer them instead).
    pub fn merge_member(&mut self, rec: &MemberRecord, now: Instant) -> bool {
        if self.expelled {
            return false;
        }
        let id = (rec.address.clone(), rec.provider_id);
        if id == self.self_id {
            self.about_me(rec);
            return false;
        }
        let new = order(rec.generation, rec.kind, rec.incarnation);
        if let Some(p) = self.peers.get_mut(&id) {
            let suspected = matches!(p.health, Health::Suspect { .. });
            let current = order(p.generation, if suspected { Kind::Suspect } else { Kind::Alive }, p.incarnation);
            if new <= current {
                return false;
            }
            match rec.kind {
                Kind::Alive | Kind::Join => {
                    p.generation = rec.generation;
                    p.incarnation = rec.incarnation;
                    p.health = Health::Alive;
                }
                Kind::Suspect => {
                    p.generation = rec.generation;
                    p.incarnation = rec.incarnation;
                    if !suspected {
                        p.health = Health::Suspect { since: now };
                    }
                }
                Kind::Confirm | Kind::Leave => self.remove_peer(&id, rec, now),
            }
            return true;
        }
        if let Some(t) = self.tombs.get_mut(&id) {
            if t.generation == 0 && rec.generation != 0 && rec.generation <= t.declared_unix_ns {
                // Now we know which instance departed.
                t.generation = rec.generation;
            }
            let current = order(t.generation, if t.left { Kind::Leave } else { Kind::Confirm }, t.incarnation);
            if new <= current {
                return false;
            }
            if rec.kind.is_departure() {
                t.generation = rec.generation;
                t.incarnation = rec.incarnation;
                t.left = rec.kind == Kind::Leave;
                return true;
            }
            // A newer instance at the same address: it joined again.
            self.tombs.remove(&id);
            self.add_peer(id, rec, now);
            return true;
        }
        if rec.kind.is_departure() {
            self.insert_tomb(id, rec, now);
        } else {
            self.add_peer(id, rec, now);
        }
        true
    }

    fn about_me(&mut self, rec: &MemberRecord) {
        // Generation 0: the sender never learned our generation; a
        // suspicion still concerns us, a departure may be a previous
        // instance's, so only the former is acted on.
        let ours = rec.generation == self.generation;
        match rec.kind {
            // A sender that never learned our generation cannot know our
            // incarnation either: refute whatever it says.
            Kind::Suspect if rec.generation == 0 || (ours && rec.incarnation >= self.incarnation) => {
                self.refute(rec.incarnation);
            }
            Kind::Confirm | Kind::Leave if ours => {
                let what = if rec.kind == Kind::Leave { "recorded our departure" } else { "declared us dead" };
                self.expel(what);
            }
            _ => {}
        }
    }

    /// Raises our incarnation above `seen` and tells everyone we are alive.
    pub fn refute(&mut self, seen: u64) {
        self.incarnation = self.incarnation.max(seen) + 1;
        crate::debug!("swim {}: refuting a suspicion with incarnation {}", self.self_id.0, self.incarnation);
        let me = self.identity();
        self.gossip.add(Gossip::Member(MemberRecord {
            kind: Kind::Alive,
            address: me.address,
            provider_id: me.provider_id,
            generation: me.generation,
            incarnation: me.incarnation,
        }));
    }

    /// The group no longer counts us: leave our own view (so we never write
    /// the group file again), stop gossiping, and say so.
    pub fn expel(&mut self, why: &str) {
        if self.expelled {
            return;
        }
        self.expelled = true;
        self.gossip.clear();
        let (address, pid) = self.self_id.clone();
        crate::error!(
            "swim: the group {why} ({address}, provider {pid}); this member is out of the group and stays out: \
             destroy the provider and register it again with a join bootstrap to come back"
        );
        if self.view.remove_member(&address, pid) {
            self.events.push(Event::Membership(Update::Died, address, pid));
        }
    }

    fn add_peer(&mut self, id: Id, rec: &MemberRecord, now: Instant) {
        let health = if rec.kind == Kind::Suspect { Health::Suspect { since: now } } else { Health::Alive };
        self.peers.insert(id.clone(), Peer { generation: rec.generation, incarnation: rec.incarnation, health });
        if !self.view.contains_member(&id.0, id.1) {
            self.view.add_member(&id.0, id.1);
        }
        // New members are probed within this round, at a random place.
        let lo = self.probe_next.min(self.probe_order.len());
        let at = lo + self.rng.below(self.probe_order.len() - lo + 1);
        self.probe_order.insert(at, id.clone());
        self.events.push(Event::Membership(Update::Joined, id.0, id.1));
    }

    fn remove_peer(&mut self, id: &Id, rec: &MemberRecord, now: Instant) {
        self.peers.remove(id);
        self.view.remove_member(&id.0, id.1);
        self.insert_tomb(id.clone(), rec, now);
        let update = if rec.kind == Kind::Leave { Update::Left } else { Update::Died };
        self.events.push(Event::Membership(update, id.0.clone(), id.1));
    }

    fn insert_tomb(&mut self, id: Id, rec: &MemberRecord, now: Instant) {
        if self.tombs.len() >= MAX_TOMBSTONES {
            if let Some(oldest) = self.tombs.iter().min_by_key(|(_, t)| t.at).map(|(k, _)| k.clone()) {
                self.tombs.remove(&oldest);
            }
        }
        self.tombs.insert(
            id,
            Tomb {
                generation: rec.generation,
                incarnation: rec.incarnation,
                left: rec.kind == Kind::Leave,
                at: now,
                declared_unix_ns: unix_ns(),
            },
        );
    }

    /// Merges one metadata record (last writer wins); true if it changed.
    pub fn merge_meta(&mut self, rec: &MetaRecord) -> bool {
        if self.expelled {
            return false;
        }
        if is_reserved(&rec.key) {
            crate::warning!("swim: ignoring a metadata record for the reserved key \"{}\"", rec.key);
            return false;
        }
        self.clock = self.clock.max(rec.version);
        let entry =
            MetaEntry { value: rec.value.clone(), version: rec.version, origin: rec.origin.clone(), origin_pid: rec.origin_pid };
        if let Some(cur) = self.meta.get(&rec.key) {
            if entry.order() <= cur.order() {
                return false;
            }
        }
        match &entry.value {
            Some(v) => {
                if self.view.find_metadata(&rec.key) != Some(v.as_str()) {
                    self.view.add_metadata(&rec.key, v);
                    self.events.push(Event::Metadata(rec.key.clone(), v.clone()));
                }
            }
            None => {
                if self.view.remove_metadata(&rec.key).is_some() {
                    self.events.push(Event::MetadataRemoved(rec.key.clone()));
                }
            }
        }
        self.meta.insert(rec.key.clone(), entry);
        true
    }

    /// A metadata change made here: a new version, applied and gossiped.
    pub fn set_local_meta(&mut self, key: &str, value: Option<&str>) {
        self.clock += 1;
        let rec = MetaRecord {
            key: key.to_string(),
            value: value.map(str::to_string),
            version: self.clock,
            origin: self.self_id.0.clone(),
            origin_pid: self.self_id.1,
        };
        if self.merge_meta(&rec) {
            self.gossip.add(Gossip::Meta(rec));
        }
    }

    /// Everything we know, for a sync or a join reply.
    pub fn full_state(&self) -> FullState {
        let mut members = Vec::with_capacity(self.peers.len() + self.tombs.len() + 1);
        let me = self.identity();
        members.push(MemberRecord {
            kind: Kind::Alive,
            address: me.address,
            provider_id: me.provider_id,
            generation: me.generation,
            incarnation: me.incarnation,
        });
        for (id, p) in &self.peers {
            let kind = if matches!(p.health, Health::Suspect { .. }) { Kind::Suspect } else { Kind::Alive };
            members.push(Self::record_of(kind, id, p));
        }
        for (id, t) in &self.tombs {
            members.push(MemberRecord {
                kind: if t.left { Kind::Leave } else { Kind::Confirm },
                address: id.0.clone(),
                provider_id: id.1,
                generation: t.generation,
                incarnation: t.incarnation,
            });
        }
        let metadata = self
            .meta
            .iter()
            .map(|(k, e)| MetaRecord {
                key: k.clone(),
                value: e.value.clone(),
                version: e.version,
                origin: e.origin.clone(),
                origin_pid: e.origin_pid,
            })
            .collect();
        FullState { members, metadata }
    }

    // ---- failure detection --------------------------------------------

    /// The next member to probe: a shuffled round-robin over the members,
    /// reshuffled after each round.
    pub fn next_probe_target(&mut self) -> Option<Id> {
        if self.peers.is_empty() || self.expelled {
            return None;
        }
        for _ in 0..2 {
            while self.probe_next < self.probe_order.len() {
                let id = self.probe_order[self.probe_next].clone();
                self.probe_next += 1;
                if self.peers.contains_key(&id) {
                    return Some(id);
                }
            }
            let mut order: Vec<Id> = self.peers.keys().cloned().collect();
            order.sort();
            for i in (1..order.len()).rev() {
                let j = self.rng.below(i + 1);
                order.swap(i, j);
            }
            self.probe_order = order;
            self.probe_next = 0;
        }
        None
    }

    /// Up to `k` random members other than `target` to probe it indirectly,
    /// members not under suspicion first.
    pub fn helpers(&mut self, k: usize, target: &Id) -> Vec<Id> {
        let mut alive = Vec::new();
        let mut suspected = Vec::new();
        for (id, p) in &self.peers {
            if id == target {
                continue;
            }
            match p.health {
                Health::Alive => alive.push(id.clone()),
                Health::Suspect { .. } => suspected.push(id.clone()),
            }
        }
        alive.sort();
        suspected.sort();
        let mut out = Vec::new();
        for mut pool in [alive, suspected] {
            while out.len() < k && !pool.is_empty() {
                let i = self.rng.below(pool.len());
                out.push(pool.swap_remove(i));
            }
        }
        out
    }

    /// Our own probes failed: suspect `id` at its current incarnation.
    pub fn suspect(&mut self, id: &Id, now: Instant) -> bool {
        let Some(p) = self.peers.get(id) else { return false };
        if matches!(p.health, Health::Suspect { .. }) || self.expelled {
            return false;
        }
        let rec = Self::record_of(Kind::Suspect, id, p);
        crate::debug!("swim {}: suspecting ({}, {})", self.self_id.0, id.0, id.1);
        self.announce(rec, now)
    }

    /// `id`'s current generation and incarnation, under `kind`.
    fn record_of(kind: Kind, id: &Id, p: &Peer) -> MemberRecord {
        MemberRecord { kind, address: id.0.clone(), provider_id: id.1, generation: p.generation, incarnation: p.incarnation }
    }

    /// Applies our own verdict and, if it changed anything, gossips it.
    fn announce(&mut self, rec: MemberRecord, now: Instant) -> bool {
        if self.merge_member(&rec, now) {
            self.gossip.add(Gossip::Member(rec));
            return true;
        }
        false
    }

    /// Members suspected for `timeout` or longer.
    pub fn expired_suspicions(&self, now: Instant, timeout: Duration) -> Vec<Id> {
        let mut out: Vec<Id> = self
            .peers
            .iter()
            .filter(|(_, p)| matches!(p.health, Health::Suspect { since } if now.duration_since(since) >= timeout))
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    /// After a stall: every suspicion starts over (our timers ran while we
    /// could not probe, so they prove nothing).
    pub fn restart_suspicions(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            if let Health::Suspect { .. } = p.health {
                p.health = Health::Suspect { since: now };
            }
        }
    }

    /// Gives a suspect that still answers another full suspicion period.
    pub fn extend_suspicion(&mut self, id: &Id, now: Instant) {
        if let Some(p) = self.peers.get_mut(id) {
            if let Health::Suspect { .. } = p.health {
                p.health = Health::Suspect { since: now };
            }
        }
    }

    /// Declares a (still suspected) member dead.
    pub fn confirm(&mut self, id: &Id, now: Instant) -> bool {
        let Some(p) = self.peers.get(id) else { return false };
        if !matches!(p.health, Health::Suspect { .. }) {
            return false;
        }
        let rec = Self::record_of(Kind::Confirm, id, p);
        crate::info!("swim {}: declaring ({}, {}) dead", self.self_id.0, id.0, id.1);
        self.announce(rec, now)
    }

    /// Forgets tombstones older than `ttl`.
    pub fn gc(&mut self, now: Instant, ttl: Duration) {
        self.tombs.retain(|_, t| now.duration_since(t.at) < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> Id {
        (format!("na+sm://{n}-0"), 1)
    }

    fn rec(kind: Kind, n: u32, generation: u64, incarnation: u64) -> MemberRecord {
        let (address, provider_id) = id(n);
        MemberRecord { kind, address, provider_id, generation, incarnation }
    }

    fn state(me: u32, others: &[u32]) -> State {
        let mut v = GroupView::new();
        v.add_member(&id(me).0, 1);
        for o in others {
            v.add_member(&id(*o).0, 1);
        }
        State::new(id(me), 100 + me as u64, v, Instant::now())
    }

    fn who(n: u32, generation: u64, incarnation: u64) -> Identity {
        Identity { address: id(n).0, provider_id: 1, generation, incarnation }
    }

    #[test]
    fn any_order_converges() {
        let records = vec![
            rec(Kind::Join, 5, 50, 1),
            rec(Kind::Suspect, 2, 20, 1),
            rec(Kind::Alive, 2, 20, 2),
            rec(Kind::Confirm, 3, 30, 1),
            rec(Kind::Alive, 3, 30, 4),
            rec(Kind::Leave, 4, 40, 1),
            rec(Kind::Suspect, 4, 40, 9),
        ];
        let mut digests = Vec::new();
        for rotation in 0..records.len() {
            for reverse in [false, true] {
                let mut s = state(1, &[2, 3, 4]);
                let mut rs = records.clone();
                rs.rotate_left(rotation);
                if reverse {
                    rs.reverse();
                }
                for r in &rs {
                    s.merge_member(r, Instant::now());
                }
                digests.push(s.view.digest());
                assert!(s.view.contains_member(&id(2).0, 1));
                assert!(!s.view.contains_member(&id(3).0, 1), "death is final within a generation");
                assert!(!s.view.contains_member(&id(4).0, 1));
                assert!(s.view.contains_member(&id(5).0, 1));
                assert_eq!(s.peers[&id(2)].health, Health::Alive, "refuted at incarnation 2");
            }
        }
        assert!(digests.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn suspicion_about_us_is_refuted_and_death_expels() {
        let mut s = state(1, &[2]);
        let now = Instant::now();
        s.merge_member(&rec(Kind::Suspect, 1, 101, 1), now);
        assert_eq!(s.incarnation, 2);
        assert!(!s.gossip.is_empty());
        // A stale confirm of an older instance of us is ignored...
        s.merge_member(&rec(Kind::Confirm, 1, 99, 5), now);
        assert!(!s.expelled);
        // ...ours is not.
        s.merge_member(&rec(Kind::Confirm, 1, 101, 1), now);
        assert!(s.expelled);
        assert!(!s.view.contains_member(&id(1).0, 1));
        assert_eq!(s.events.last(), Some(&Event::Membership(Update::Died, id(1).0, 1)));
    }

    #[test]
    fn departed_instances_stay_out_until_a_new_generation_joins() {
        let mut s = state(1, &[2]);
        let now = Instant::now();
        assert_eq!(s.admit(&who(2, 20, 1), now), Admission::Member);
        assert!(s.suspect(&id(2), now));
        assert!(s.confirm(&id(2), now));
        assert!(!s.view.contains_member(&id(2).0, 1));
        // The resumed instance refutes with a higher incarnation: still out.
        assert!(matches!(s.admit(&who(2, 20, 7), now), Admission::Departed(Status::DeclaredDead { generation: 20, .. })));
        assert!(!s.merge_member(&rec(Kind::Alive, 2, 20, 7), now));
        assert!(!s.view.contains_member(&id(2).0, 1));
        // A new instance (restart + join) gets in.
        assert_eq!(s.admit(&who(2, 21, 1), now), Admission::Unknown);
        assert!(s.merge_member(&rec(Kind::Join, 2, 21, 1), now));
        assert!(s.view.contains_member(&id(2).0, 1));
        assert_eq!(s.admit(&who(1, 101, 1), now), Admission::Invalid("the message claims to come from ourselves".into()));
    }

    #[test]
    fn unknown_generation_tombstones_cover_older_instances() {
        let mut s = state(1, &[2]);
        let now = Instant::now();
        // Never heard from 2: its generation is unknown when it dies.
        assert!(s.suspect(&id(2), now));
        assert!(s.confirm(&id(2), now));
        let born_before = unix_ns() - 1_000_000;
        assert!(matches!(s.admit(&who(2, born_before, 3), now), Admission::Departed(_)));
        assert!(!s.merge_member(&rec(Kind::Alive, 2, born_before, 3), now));
        assert_eq!(s.admit(&who(2, unix_ns() + 1_000_000_000, 1), now), Admission::Unknown);
    }

    #[test]
    fn metadata_is_last_writer_wins() {
        let mut a = state(1, &[2]);
        let mut b = state(2, &[1]);
        a.set_local_meta("k", Some("a"));
        b.set_local_meta("k", Some("b"));
        let (sa, sb) = (a.full_state(), b.full_state());
        a.merge_state(&sb, Instant::now());
        b.merge_state(&sa, Instant::now());
        assert_eq!(a.view.find_metadata("k"), b.view.find_metadata("k"));
        // A later write (after seeing the others) wins everywhere.
        a.set_local_meta("k", None);
        b.merge_state(&a.full_state(), Instant::now());
        assert_eq!(b.view.find_metadata("k"), None);
        assert_eq!(b.events.last(), Some(&Event::MetadataRemoved("k".into())));
        assert!(!b.merge_meta(&MetaRecord {
            key: "__type__".into(),
            value: Some("x".into()),
            version: 99,
            origin: String::new(),
            origin_pid: 0
        }));
    }

    #[test]
    fn gossip_limits_and_priorities() {
        assert_eq!(transmit_limit(1), 1);
        assert_eq!(transmit_limit(2), 3);
        assert_eq!(transmit_limit(8), 9);
        assert_eq!(transmit_limit(9), 12);
        let mut g = GossipBuffer::default();
        for n in 0..12 {
            g.add(Gossip::Member(rec(Kind::Alive, n, 1, 1)));
        }
        let first = g.gather(8, 2, Some(&id(0)));
        assert_eq!(first.len(), 8);
        assert_eq!(first[0], Gossip::Member(rec(Kind::Alive, 0, 1, 1)));
        // Least sent first: the 4 not sent yet lead the next batch.
        let second = g.gather(8, 2, None);
        assert!(second[..4].iter().all(|e| !first.contains(e)));
        for _ in 0..4 {
            g.gather(8, 2, None);
        }
        assert!(g.is_empty());
    }

    #[test]
    fn probing_covers_every_member() {
        let mut s = state(1, &[2, 3, 4, 5]);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 {
            seen.insert(s.next_probe_target().unwrap());
        }
        assert_eq!(seen.len(), 4);
        let h = s.helpers(3, &id(2));
        assert_eq!(h.len(), 3);
        assert!(!h.contains(&id(2)));
    }
}
