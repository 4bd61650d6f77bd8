//! A member's state, shared by its RPC handlers, its timed work and the
//! `Backend` API, always used under the core's lock. Every change of the
//! view goes through here, so each one is paired with the event that tells
//! the provider about it (events are queued under the lock, so they reach
//! the provider in the order the changes were made; they are delivered
//! outside it, see `backends::outbox`).

use super::wire::{Change, Claim, Snapshot, Standing, Tombstone};
use crate::flock::protocol::Update;
use crate::flock::view::{GroupView, Member};
use std::collections::VecDeque;
use std::time::Instant;

/// Removed members remembered (oldest forgotten first).
const MAX_TOMBSTONES: usize = 256;

pub use crate::flock::backends::{CONFIG_KEY, TYPE_KEY};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Registering: waiting for the primary's answer to our join.
    Joining,
    Primary,
    Follower,
    /// Declared dead (or deposed) by the group: frozen until the provider
    /// is destroyed and registered again.
    Expelled,
    /// Destroyed.
    Stopped,
}

/// What the provider must hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Membership(Update, String, u16),
    Metadata(String, String),
}

pub struct State {
    pub role: Role,
    pub claim: Claim,
    /// Number of the last change applied (the primary's counter).
    pub version: u64,
    pub view: GroupView,
    pub tombstones: VecDeque<Tombstone>,
    /// Highest term heard of (a new primary takes the next one).
    pub max_term_seen: u64,
    /// Last message from our primary (follower).
    pub last_contact: Instant,
    /// Whether we heard from the primary since we started following it.
    pub contacted: bool,
    /// Last message from another member of the view (evidence that we are
    /// not cut off, needed before promoting ourselves).
    pub last_peer_evidence: Option<Instant>,
    /// The view must be pulled from the primary.
    pub sync_wanted: bool,
    /// The primary does not know us (but did not expel us): join again.
    pub rejoin_wanted: bool,
    /// Another member suspects our primary: check it now.
    pub check_primary_now: bool,
    /// We are choosing a new primary.
    pub electing: bool,
    /// New primary: ping everyone right away.
    pub announce: bool,
    /// Members started together from one view may come up seconds apart:
    /// until then, a primary does not declare dead a member of its initial
    /// view that never answered.
    pub grace_until: Option<Instant>,
    /// The members of the initial view (those the grace applies to).
    pub initial_members: Vec<Member>,
    /// Joiners we could not admit (we were not the primary): should we
    /// become the primary, we ping them at once, so that they retry
    /// without waiting out their deadline. With when they asked.
    pub waiting_joiners: VecDeque<(Member, Instant)>,
    /// Joining: the primary that announced itself to us (see above).
    pub primary_hint: Option<Member>,
    /// Queues an event for the provider.
    events: Box<dyn Fn(Event) + Send>,
}

impl State {
    pub fn new(role: Role, claim: Claim, view: GroupView, events: Box<dyn Fn(Event) + Send>) -> State {
        let now = Instant::now();
        State {
            role,
            max_term_seen: claim.term,
            claim,
            version: 0,
            view,
            tombstones: VecDeque::new(),
            last_contact: now,
            contacted: false,
            last_peer_evidence: None,
            sync_wanted: false,
            rejoin_wanted: false,
            check_primary_now: false,
            electing: false,
            announce: false,
            grace_until: None,
            initial_members: Vec::new(),
            waiting_joiners: VecDeque::new(),
            primary_hint: None,
            events,
        }
    }

    fn emit(&self, e: Event) {
        (self.events)(e);
    }

    /// We heard from our primary.
    pub fn contact(&mut self) {
        self.last_contact = Instant::now();
        self.contacted = true;
        self.check_primary_now = false;
    }

    pub fn note_term(&mut self, term: u64) {
        self.max_term_seen = self.max_term_seen.max(term);
    }

    pub fn standing_of(&self, m: &Member) -> Standing {
        if self.view.contains_member(&m.address, m.provider_id) {
            Standing::Member
        } else if self.tombstones.iter().any(|t| t.member == *m) {
            Standing::Expelled
        } else {
            Standing::Unknown
        }
    }

    fn bury(&mut self, member: Member, update: Update) {
        self.tombstones.retain(|t| t.member != member);
        if self.tombstones.len() >= MAX_TOMBSTONES {
            self.tombstones.pop_front();
        }
        self.tombstones.push_back(Tombstone { member, update });
    }

    /// Adds a member (no-op if present); an explicit join clears its tombstone.
    pub fn add_member(&mut self, m: &Member) -> bool {
        self.tombstones.retain(|t| t.member != *m);
        if self.view.contains_member(&m.address, m.provider_id) {
            return false;
        }
        self.view.add_member(&m.address, m.provider_id);
        self.emit(Event::Membership(Update::Joined, m.address.clone(), m.provider_id));
        true
    }

    /// Removes a member (no-op if absent), remembering why.
    pub fn remove_member(&mut self, m: &Member, why: Update) -> bool {
        if !self.view.remove_member(&m.address, m.provider_id) {
            return false;
        }
        self.bury(m.clone(), why);
        self.emit(Event::Membership(why, m.address.clone(), m.provider_id));
        true
    }

    /// Sets (`Some`) or removes (`None`) a metadata entry; true if it changed.
    pub fn set_metadata(&mut self, key: &str, value: Option<&str>) -> bool {
        let changed = match value {
            Some(v) => {
                if self.view.find_metadata(key) == Some(v) {
                    false
                } else {
                    self.view.add_metadata(key, v);
                    true
                }
            }
            None => self.view.remove_metadata(key).is_some(),
        };
        if changed {
            self.emit(Event::Metadata(key.to_string(), value.unwrap_or("").to_string()));
        }
        changed
    }

    pub fn apply(&mut self, change: &Change) -> bool {
        match change {
            Change::Membership { update: Update::Joined, member } => self.add_member(member),
            Change::Membership { update: Update::Moved, .. } => false,
            Change::Membership { update, member } => self.remove_member(member, *update),
            Change::MetadataSet { key, value } => self.set_metadata(key, Some(value)),
            Change::MetadataRemove { key } => self.set_metadata(key, None),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            claim: self.claim.clone(),
            version: self.version,
            view: self.view.clone(),
            tombstones: self.tombstones.iter().cloned().collect(),
        }
    }

    /// Takes the primary's state as ours without reporting differences (a
    /// joiner: upstream reports nothing to the joiner itself).
    pub fn install_quiet(&mut self, snap: Snapshot) {
        self.note_term(snap.claim.term);
        self.claim = snap.claim;
        self.version = snap.version;
        self.view = snap.view;
        self.tombstones = snap.tombstones.into_iter().rev().take(MAX_TOMBSTONES).rev().collect();
    }

    /// Replaces our view with the primary's, telling the provider about
    /// every difference (removed members, with the reason the primary
    /// recorded; added members; changed metadata).
    pub fn install(&mut self, snap: Snapshot) {
        let Snapshot { claim, version, view, tombstones } = snap;
        self.note_term(claim.term);
        self.claim = claim;
        self.version = version;
        self.tombstones = tombstones.into_iter().rev().take(MAX_TOMBSTONES).rev().collect();
        let old = std::mem::replace(&mut self.view, view);
        for m in old.members() {
            if !self.view.contains_member(&m.address, m.provider_id) {
                let why = self.tombstones.iter().find(|t| t.member == *m).map(|t| t.update).unwrap_or(Update::Died);
                self.emit(Event::Membership(why, m.address.clone(), m.provider_id));
            }
        }
        for m in self.view.members() {
            if !old.contains_member(&m.address, m.provider_id) {
                self.emit(Event::Membership(Update::Joined, m.address.clone(), m.provider_id));
            }
        }
        for (k, _) in old.metadata() {
            if self.view.find_metadata(k).is_none() {
                self.emit(Event::Metadata(k.clone(), String::new()));
            }
        }
        for (k, v) in self.view.metadata() {
            if old.find_metadata(k) != Some(v.as_str()) {
                self.emit(Event::Metadata(k.clone(), v.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: &str) -> Member {
        Member { address: a.into(), provider_id: 1 }
    }

    #[test]
    fn changes_emit_events_in_order_and_install_diffs() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let claim = Claim { term: 1, primary: m("a") };
        let mut s = State::new(Role::Follower, claim.clone(), GroupView::new(), Box::new(move |e| tx.send(e).unwrap()));
        assert!(s.add_member(&m("a")));
        assert!(!s.add_member(&m("a")));
        assert!(s.add_member(&m("b")));
        assert!(s.set_metadata("k", Some("v")));
        assert!(!s.set_metadata("k", Some("v")));
        assert!(s.remove_member(&m("b"), Update::Died));
        assert!(!s.remove_member(&m("b"), Update::Died));
        assert_eq!(s.standing_of(&m("b")), Standing::Expelled);
        assert_eq!(s.standing_of(&m("a")), Standing::Member);
        assert_eq!(s.standing_of(&m("z")), Standing::Unknown);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                Event::Membership(Update::Joined, "a".into(), 1),
                Event::Membership(Update::Joined, "b".into(), 1),
                Event::Metadata("k".into(), "v".into()),
                Event::Membership(Update::Died, "b".into(), 1),
            ]
        );
        // A snapshot where "a" left and "c" joined, "k" removed, "x" set.
        let mut view = GroupView::new();
        view.add_member("c", 1);
        view.add_metadata("x", "y");
        s.install(Snapshot {
            claim: Claim { term: 2, primary: m("c") },
            version: 7,
            view,
            tombstones: vec![Tombstone { member: m("a"), update: Update::Left }],
        });
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                Event::Membership(Update::Left, "a".into(), 1),
                Event::Membership(Update::Joined, "c".into(), 1),
                Event::Metadata("k".into(), String::new()),
                Event::Metadata("x".into(), "y".into()),
            ]
        );
        assert_eq!(s.max_term_seen, 2);
        assert_eq!(s.version, 7);
    }
}
