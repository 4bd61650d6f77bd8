//! The primary's side: handling joins, leaves, metadata changes and view
//! pulls; pushing every change to the followers; pinging the followers and
//! declaring dead those that stop answering; handing over (graceful leave
//! of the primary). Becoming the primary, and stepping down, are role
//! transitions (`roles`).

use super::state::{Role, State};
use super::wire::{
    self, Change, Claim, HandoverReply, JoinReply, LeaveReply, MetadataReply, MetadataReq, Ping, PingReply, Redirect, Snapshot,
    Standing, SyncReply, SyncReq, UpdateMsg,
};
use super::{earliest, Core, Rng};
use crate::flock::backends::check_metadata;
use crate::flock::error::{code, Result};
use crate::flock::protocol::Update;
use crate::flock::view::Member;
use crate::rpc::codec;
use crate::rpc::{PendingCall, RpcError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

fn redirect(s: &State) -> Redirect {
    Redirect { claim: s.claim.clone(), electing: s.electing }
}

/// Applies a change as the primary: it gets the next version number and
/// is pushed to every follower but `exclude`. None if nothing changed.
fn commit(core: &Core, s: &mut State, change: Change, exclude: Option<&Member>) -> Option<UpdateMsg> {
    if !s.apply(&change) {
        return None;
    }
    s.version += 1;
    let msg = UpdateMsg { claim: s.claim.clone(), version: s.version, digest_after: s.view.digest(), change };
    core.broadcast(s, &msg, exclude);
    Some(msg)
}

// ---- handlers -------------------------------------------------------------

pub(super) fn on_sync(core: &Arc<Core>, payload: &[u8]) -> Result<Vec<u8>> {
    let req = codec::decode::<SyncReq>(payload)?;
    let s = core.state.lock();
    let reply = if s.role != Role::Primary {
        SyncReply::NotPrimary(redirect(&s))
    } else {
        match s.standing_of(&req.requester) {
            Standing::Member => {
                if req.claim == s.claim && req.version == s.version && req.digest == s.view.digest() {
                    SyncReply::UpToDate { claim: s.claim.clone(), version: s.version }
                } else {
                    SyncReply::Full(s.snapshot())
                }
            }
            Standing::Expelled => SyncReply::NotMember { claim: s.claim.clone(), expelled: true },
            Standing::Unknown => SyncReply::NotMember { claim: s.claim.clone(), expelled: false },
        }
    };
    Ok(codec::encode(&reply))
}

pub(super) fn on_join(core: &Arc<Core>, payload: &[u8]) -> Result<Vec<u8>> {
    let member = codec::decode::<Member>(payload)?;
    // Before the lock: nothing calls the engine under it.
    let unusable = core.engine.lookup(&member.address).err();
    let mut s = core.state.lock();
    let reply = if s.role != Role::Primary {
        if s.role == Role::Follower && !core.is_me(&member) {
            super::join::note_waiting_joiner(core, &mut s, member);
        }
        JoinReply::NotPrimary(redirect(&s))
    } else if core.is_me(&member) {
        JoinReply::Error { code: code::INVALID_ARGS, message: "a member cannot join its own group".into() }
    } else if let Some(e) = unusable {
        JoinReply::Error { code: code::INVALID_ARGS, message: format!("cannot admit a member at \"{}\": {e}", member.address) }
    } else {
        if s.view.contains_member(&member.address, member.provider_id) {
            if core.limiter.allow("join-present") {
                crate::warning!(
                    "join request from ({}, {}), which is already a member: answered with the current view",
                    member.address,
                    member.provider_id
                );
            }
        } else {
            let change = Change::Membership { update: Update::Joined, member: member.clone() };
            commit(core, &mut s, change, Some(&member));
            crate::info!("({}, {}) joined the group", member.address, member.provider_id);
        }
        JoinReply::Joined(s.snapshot())
    };
    Ok(codec::encode(&reply))
}

pub(super) fn on_leave(core: &Arc<Core>, sender: Option<&str>, payload: &[u8]) -> Result<Vec<u8>> {
    let member = codec::decode::<Member>(payload)?;
    let mut s = core.state.lock();
    let reply = if s.role != Role::Primary {
        LeaveReply::NotPrimary(redirect(&s))
    } else if !core.sent_by(sender, &member.address) {
        if core.limiter.allow("leave-forged") {
            crate::warning!(
                "rejected a leave request for ({}, {}) sent from {}",
                member.address,
                member.provider_id,
                sender.unwrap_or("?")
            );
        }
        LeaveReply::Error { code: code::INVALID_ARGS, message: "a member can only leave for itself".into() }
    } else if core.is_me(&member) {
        LeaveReply::Error { code: code::INVALID_ARGS, message: "the primary leaves by handing over".into() }
    } else if !s.view.contains_member(&member.address, member.provider_id) {
        if core.limiter.allow("leave-unknown") {
            crate::warning!("leave request from ({}, {}), which is not a member", member.address, member.provider_id);
        }
        LeaveReply::NotMember
    } else {
        let change = Change::Membership { update: Update::Left, member: member.clone() };
        commit(core, &mut s, change, Some(&member));
        crate::info!("({}, {}) left the group", member.address, member.provider_id);
        LeaveReply::Done
    };
    Ok(codec::encode(&reply))
}

/// Sets (`Some`) or removes (`None`) a metadata entry as the primary (see
/// `commit`). None if nothing changed.
pub(super) fn commit_metadata(core: &Core, s: &mut State, key: &str, value: Option<&str>) -> Option<UpdateMsg> {
    let change = match value {
        Some(v) => Change::MetadataSet { key: key.to_string(), value: v.to_string() },
        None => Change::MetadataRemove { key: key.to_string() },
    };
    commit(core, s, change, None)
}

pub(super) fn on_metadata(core: &Arc<Core>, payload: &[u8]) -> Result<Vec<u8>> {
    let req = codec::decode::<MetadataReq>(payload)?;
    let reply = match check_metadata(&req.key, req.value.as_deref()) {
        Err(e) => MetadataReply::Error { code: e.code(), message: e.to_string() },
        Ok(()) => {
            let mut s = core.state.lock();
            if s.role != Role::Primary {
                MetadataReply::NotPrimary(redirect(&s))
            } else {
                match commit_metadata(core, &mut s, &req.key, req.value.as_deref()) {
                    Some(msg) => MetadataReply::Applied(msg),
                    None => MetadataReply::Unchanged,
                }
            }
        }
    };
    Ok(codec::encode(&reply))
}

/// Graceful leave of the primary: the first member (in view order) that
/// accepts becomes the primary of the next term and removes us (LEFT).
/// When nobody takes over, the group is stopping as a whole (e.g.
/// `bedrock-shutdown -f FILE`) if no member refused, and some said they
/// leave too or are gone already: members that did not answer in time are
/// then most likely busy leaving as well. That is normal and logged at info
/// level; anything else is worth a warning.
pub(super) fn hand_over(core: &Core, snap: &Snapshot) {
    let payload = codec::encode(snap);
    let (mut refused, mut leaving) = (false, false);
    let mut failures = Vec::new();
    for m in snap.view.members() {
        if core.is_me(m) {
            continue;
        }
        match core.call(m, wire::HANDOVER, payload.clone(), core.farewell_timeout()) {
            Ok(b) => match codec::decode::<HandoverReply>(&b) {
                Ok(HandoverReply::Accepted) => {
                    crate::info!("handed the primary role over to ({}, {})", m.address, m.provider_id);
                    return;
                }
                Ok(HandoverReply::Leaving) => {
                    leaving = true;
                    crate::debug!("({}, {}) is leaving too", m.address, m.provider_id);
                }
                _ => {
                    refused = true;
                    crate::debug!("({}, {}) refused to take over", m.address, m.provider_id);
                }
            },
            Err(e) if e.callee_gone() => {
                leaving = true;
                crate::debug!("({}, {}) has left already: {e}", m.address, m.provider_id);
            }
            Err(e) => {
                crate::debug!("({}, {}) cannot take over: {e}", m.address, m.provider_id);
                failures.push(format!("({}, {}): {e}", m.address, m.provider_id));
            }
        }
    }
    if snap.view.member_count() <= 1 {
        return;
    }
    if leaving && !refused {
        crate::info!("no member took over the primary role: the other members are leaving too");
    } else {
        let why = if failures.is_empty() { String::new() } else { format!(" ({})", failures.join("; ")) };
        crate::warning!("no member took over the primary role; the group will elect a primary when it notices{why}");
    }
}

// ---- ping loop ------------------------------------------------------------

/// What a ping's outcome says of a follower that is certainly gone: it
/// answered that it is leaving (its leave request may have gone to a
/// primary it knew before us), its engine answered that the provider or
/// the process is going away (left), or its process has certainly exited
/// (died). No partition looks like any of these, so the follower is removed
/// at once instead of after `ping_max_num_timeouts` silent pings, and its
/// silence is no sign that we are the one cut off.
fn departure(outcome: &std::result::Result<Vec<u8>, RpcError>) -> Option<(Update, String)> {
    match outcome {
        Ok(b) => {
            matches!(codec::decode::<PingReply>(b), Ok(PingReply::Leaving)).then(|| (Update::Left, "is leaving".to_string()))
        }
        Err(e @ RpcError::PeerGone { .. }) => Some((Update::Died, format!("is gone ({e})"))),
        Err(e) if e.certainly_gone() => Some((Update::Left, format!("has left ({e})"))),
        Err(_) => None,
    }
}

struct Peer {
    failures: u32,
    /// Send times of pings in flight.
    probes: Vec<Instant>,
    next_ping: Instant,
    last_sent: Option<Instant>,
    last_ack: Instant,
    /// Send time of the newest answered ping: an older ping failing later
    /// says nothing new.
    acked_sent: Option<Instant>,
}

impl Peer {
    fn ever_answered(&self) -> bool {
        self.acked_sent.is_some()
    }
}

struct InFlight {
    member: Member,
    sent: Instant,
    call: PendingCall,
}

/// The primary's timer work: one ping schedule per follower.
///
/// A follower is pinged every `ping_interval_ms` (drawn in `[min, max]`).
/// Once a ping has gone unanswered for half of `ping_timeout_ms`, the
/// follower is suspect and the next ping leaves at once, then every half
/// timeout, so that the `ping_max_num_timeouts` pings whose timeouts declare
/// it dead overlap instead of following each other. Any answer clears the
/// suspicion.
#[derive(Default)]
pub(super) struct Pinger {
    claim: Option<Claim>,
    peers: HashMap<Member, Peer>,
    calls: Vec<InFlight>,
    rng: Option<Rng>,
    cut_off_logged: bool,
    /// A member found dead is spared until then (the start-up grace).
    grace_ends: Option<Instant>,
    /// Followers whose answer says they are gone (see `departure`), to be
    /// removed at once by `bury`.
    departing: Vec<(Member, Update, String)>,
}

impl Pinger {
    pub fn reset(&mut self, core: &Core) {
        self.claim = None;
        self.peers.clear();
        self.grace_ends = None;
        self.departing.clear();
        core.abandon(self.calls.drain(..).map(|c| (c.member, c.call)));
    }

    /// One round; returns when the next is due.
    pub fn tick(&mut self, core: &Core, claim: &Claim) -> Option<Instant> {
        if self.claim.as_ref() != Some(claim) {
            self.reset(core);
            self.claim = Some(claim.clone());
        }
        let now = Instant::now();
        let (members, announce, version, digest) = {
            let mut s = core.state.lock();
            if s.role != Role::Primary || s.claim != *claim {
                // Changed under our feet: the next step acts on it.
                return Some(now);
            }
            let announce = std::mem::take(&mut s.announce);
            let members: Vec<Member> = s.view.members().iter().filter(|m| !core.is_me(m)).cloned().collect();
            (members, announce, s.version, s.view.digest())
        };
        let rng = self.rng.get_or_insert_with(|| core.rng());
        self.peers.retain(|m, _| members.contains(m));
        for m in members {
            self.peers.entry(m).or_insert_with(|| Peer {
                failures: 0,
                probes: Vec::new(),
                next_ping: now + core.cfg.interval(rng.unit()),
                last_sent: None,
                last_ack: now,
                acked_sent: None,
            });
        }
        if announce {
            for p in self.peers.values_mut() {
                p.next_ping = now;
            }
        }
        let (keep, gone): (Vec<InFlight>, Vec<InFlight>) =
            std::mem::take(&mut self.calls).into_iter().partition(|c| self.peers.contains_key(&c.member));
        self.calls = keep;
        core.abandon(gone.into_iter().map(|c| (c.member, c.call)));

        let mut i = 0;
        while i < self.calls.len() {
            if !self.calls[i].call.test() {
                i += 1;
                continue;
            }
            let done = self.calls.swap_remove(i);
            let outcome = done.call.wait();
            if self.on_result(core, claim, done.member, done.sent, outcome) {
                // Stepped down.
                self.reset(core);
                return Some(now);
            }
        }
        self.bury(core, claim);
        self.send(core, claim, version, digest)
    }

    /// Accounts for one answer (or failure); true if we stepped down.
    fn on_result(
        &mut self,
        core: &Core,
        claim: &Claim,
        member: Member,
        sent: Instant,
        outcome: std::result::Result<Vec<u8>, RpcError>,
    ) -> bool {
        if let Err(e) = &outcome {
            crate::debug!("ping to ({}, {}) failed: {e}", member.address, member.provider_id);
        }
        if let Some((update, why)) = departure(&outcome) {
            self.departing.push((member, update, why));
            return false;
        }
        let answered = match outcome.map(|b| codec::decode::<PingReply>(&b)) {
            Ok(Ok(PingReply::Accepted)) => true,
            // Alive, but it does not know us yet (it missed our join before
            // we took over): it will find us through the members it knows.
            Ok(Ok(PingReply::Unknown(c))) if !c.beats(claim) => true,
            Ok(Ok(PingReply::Follows(c))) | Ok(Ok(PingReply::Refused(c))) | Ok(Ok(PingReply::Unknown(c))) => {
                // The follower knows a primary that beats us: if it is one of
                // ours, we are the stale one.
                if c.beats(claim) && !core.is_me(&c.primary) {
                    let mut s = core.state.lock();
                    if s.role == Role::Primary
                        && s.claim == *claim
                        && s.view.contains_member(&c.primary.address, c.primary.provider_id)
                    {
                        crate::warning!(
                            "primary ({}, {}) of term {} steps down: ({}, {}) leads term {}",
                            core.me.address,
                            core.provider_id,
                            claim.term,
                            c.primary.address,
                            c.primary.provider_id,
                            c.term
                        );
                        core.adopt(&mut s, c);
                        return true;
                    }
                }
                false
            }
            // Taken by `departure` above.
            Ok(Ok(PingReply::Leaving)) | Ok(Err(_)) | Err(_) => false,
        };
        let Some(p) = self.peers.get_mut(&member) else {
            return false;
        };
        p.probes.retain(|t| *t != sent);
        if answered {
            p.failures = 0;
            p.last_ack = Instant::now();
            p.acked_sent = Some(p.acked_sent.map_or(sent, |a| a.max(sent)));
        } else if p.acked_sent.is_none_or(|a| sent > a) {
            p.failures += 1;
        }
        false
    }

    /// Declares dead the followers that missed `ping_max_num_timeouts`
    /// pings in a row, unless no follower at all answers (then we are
    /// probably the one cut off, and nobody is removed).
    fn bury(&mut self, core: &Core, claim: &Claim) {
        for (m, update, why) in std::mem::take(&mut self.departing) {
            match self.remove(core, claim, &m, update) {
                None => return,
                Some(true) => crate::info!("({}, {}) {why}: removed from the group", m.address, m.provider_id),
                Some(false) => {}
            }
        }
        let k = core.max_timeouts();
        self.grace_ends = None;
        let dead: Vec<Member> = self.peers.iter().filter(|(_, p)| p.failures >= k).map(|(m, _)| m.clone()).collect();
        if dead.is_empty() {
            return;
        }
        let now = Instant::now();
        let window = core.window();
        let (protected, grace_until): (Vec<Member>, Option<Instant>) = {
            let s = core.state.lock();
            match s.grace_until {
                Some(g) if now < g => (s.initial_members.clone(), Some(g)),
                _ => (Vec::new(), None),
            }
        };
        for m in dead {
            if protected.contains(&m) && !self.peers.get(&m).is_some_and(Peer::ever_answered) {
                // Perhaps not started yet (members launched from one view):
                // looked at again when the grace ends.
                self.grace_ends = grace_until;
                continue;
            }
            let evidence = self.peers.len() <= 1
                || self.peers.iter().any(|(o, p)| *o != m && p.failures == 0 && now.duration_since(p.last_ack) <= window);
            if !evidence {
                if !self.cut_off_logged {
                    crate::warning!(
                        "primary ({}, {}): no follower answers pings; this member may be cut off, so nobody is \
                         declared dead until one answers",
                        core.me.address,
                        core.provider_id
                    );
                    self.cut_off_logged = true;
                }
                continue;
            }
            self.cut_off_logged = false;
            match self.remove(core, claim, &m, Update::Died) {
                None => return,
                Some(true) => crate::info!("({}, {}) missed {k} pings in a row: declared dead", m.address, m.provider_id),
                Some(false) => {}
            }
        }
    }

    /// Removes follower `m` from the group (commits `update`) and forgets
    /// its pings: whether the view changed, or None if we no longer lead
    /// under `claim`.
    fn remove(&mut self, core: &Core, claim: &Claim, m: &Member, update: Update) -> Option<bool> {
        let changed = {
            let mut s = core.state.lock();
            if s.role != Role::Primary || s.claim != *claim {
                return None;
            }
            commit(core, &mut s, Change::Membership { update, member: m.clone() }, None).is_some()
        };
        self.peers.remove(m);
        let (gone, keep): (Vec<InFlight>, Vec<InFlight>) =
            std::mem::take(&mut self.calls).into_iter().partition(|c| c.member == *m);
        self.calls = keep;
        core.abandon(gone.into_iter().map(|c| (c.member, c.call)));
        Some(changed)
    }

    /// Sends the pings that are due; returns when the next step is due:
    /// the next ping of a follower, the moment a ping in flight has gone
    /// unanswered long enough to make its follower suspect (or to send the
    /// next of a suspect's overlapping pings), the deadline of a ping in
    /// flight, the end of the start-up grace. An answer kicks a step
    /// earlier.
    fn send(&mut self, core: &Core, claim: &Claim, version: u64, digest: u64) -> Option<Instant> {
        let now = Instant::now();
        let t = core.timeout();
        let half = t / 2;
        let k = core.max_timeouts();
        let rng = self.rng.get_or_insert_with(|| core.rng());
        let payload = codec::encode(&Ping { claim: claim.clone(), version, digest });
        let mut wake = self.grace_ends;
        for (m, p) in self.peers.iter_mut() {
            let oldest = p.probes.iter().min().copied();
            let suspect = p.failures > 0 || oldest.is_some_and(|o| now.duration_since(o) >= half);
            let due = if p.failures >= k {
                // Waiting for evidence before burial: keep the normal pace.
                p.probes.is_empty() && now >= p.next_ping
            } else if p.probes.is_empty() {
                now >= p.next_ping || suspect
            } else {
                suspect && p.probes.len() < (k - p.failures) as usize && p.last_sent.is_none_or(|l| now.duration_since(l) >= half)
            };
            if due {
                match core.call_async(m, wire::PING, payload.clone(), t) {
                    Ok(call) => {
                        self.calls.push(InFlight { member: m.clone(), sent: now, call });
                        p.probes.push(now);
                    }
                    // An address we cannot even send to counts as a miss.
                    Err(_) => p.failures += 1,
                }
                p.last_sent = Some(now);
                if !suspect || p.failures >= k {
                    p.next_ping = now + core.cfg.interval(rng.unit());
                }
            }
            // When this follower needs us next (besides its answers and the
            // deadlines of its pings, counted below).
            let next = if p.failures >= k {
                p.probes.is_empty().then_some(p.next_ping)
            } else if p.probes.is_empty() {
                // A miss without a ping in flight (it could not be sent):
                // suspect, so pinged again half a timeout later.
                Some(if p.failures > 0 { p.last_sent.map_or(now, |l| l + half) } else { p.next_ping })
            } else {
                let oldest = p.probes.iter().min().copied().unwrap_or(now);
                let suspect = p.failures > 0 || now.duration_since(oldest) >= half;
                if !suspect {
                    Some(oldest + half)
                } else if p.probes.len() < (k - p.failures) as usize {
                    Some(p.last_sent.map_or(now, |l| l + half))
                } else {
                    None
                }
            };
            wake = earliest(wake, next);
        }
        // A ping without an answer is noticed at its deadline.
        earliest(wake, self.calls.iter().map(|c| c.call.deadline()).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certain_answers_count_as_departures() {
        let leaving = Ok(codec::encode(&PingReply::Leaving));
        assert!(matches!(departure(&leaving), Some((Update::Left, _))));
        let accepted = Ok(codec::encode(&PingReply::Accepted));
        assert!(departure(&accepted).is_none());
        let exited = Err(RpcError::PeerGone { addr: "na+sm://1-0".into(), message: "process 1 has exited".into() });
        assert!(matches!(departure(&exited), Some((Update::Died, _))));
        let destroyed = Err(RpcError::NoSuchProvider { name: "ping".into(), provider_id: 1 });
        assert!(matches!(departure(&destroyed), Some((Update::Left, _))));
        // Silence, or a failure a partition could cause, is no proof.
        let timeout = Err(RpcError::Timeout { name: "ping".into(), addr: "x".into(), millis: 10 });
        assert!(departure(&timeout).is_none());
        let unreachable = Err(RpcError::Unreachable { addr: "x".into(), message: "did not accept in time".into() });
        assert!(departure(&unreachable).is_none());
    }
}
