//! The follower's side: answering pings, applying pushed changes, pulling
//! the view when something is missing, watching the primary, and choosing a
//! new primary when it dies.

use super::join::{JoinStep, Joiner};
use super::state::{Role, State};
use super::wire::{
    self, Change, Claim, HandoverReply, Ping, PingReply, Snapshot, Standing, SyncReply, SyncReq, UpdateMsg, UpdateReply,
    WhoisReply, WhoisReq,
};
use super::{earliest, Core};
use crate::flock::error::Result;
use crate::flock::protocol::Update;
use crate::flock::view::Member;
use crate::rpc::codec;
use crate::rpc::{PendingCall, RpcError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Applies a change that comes from the primary (pushed, or returned by a
/// metadata request) in version order; anything out of order makes us
/// pull the whole view instead.
pub(super) fn apply_from_primary(core: &Core, s: &mut State, msg: &UpdateMsg) -> UpdateReply {
    if msg.claim != s.claim {
        if msg.claim.beats(&s.claim)
            && !core.is_me(&msg.claim.primary)
            && s.view.contains_member(&msg.claim.primary.address, msg.claim.primary.provider_id)
        {
            core.adopt(s, msg.claim.clone());
            return UpdateReply::Gap;
        }
        return UpdateReply::Refused;
    }
    if s.role != Role::Follower {
        return UpdateReply::Refused;
    }
    s.contact();
    if msg.version <= s.version {
        return UpdateReply::Duplicate;
    }
    if msg.version > s.version + 1 {
        s.sync_wanted = true;
        core.kick(s);
        return UpdateReply::Gap;
    }
    if let Change::Membership { update: Update::Died | Update::Left, member } = &msg.change {
        if core.is_me(member) {
            core.expel(s, "was removed from the group by its primary");
            return UpdateReply::Applied;
        }
    }
    s.apply(&msg.change);
    s.version = msg.version;
    if s.view.digest() != msg.digest_after {
        crate::debug!("view diverged from the primary's after version {}: pulling it", msg.version);
        s.sync_wanted = true;
        core.kick(s);
    }
    UpdateReply::Applied
}

/// Installs a view pulled from the primary, unless ours is newer.
fn install_pulled(core: &Core, s: &mut State, snap: Snapshot) {
    let newer = (snap.claim == s.claim && snap.version >= s.version) || snap.claim.beats(&s.claim);
    if snap.claim == s.claim || snap.claim.beats(&s.claim) {
        s.contact();
    }
    if newer {
        if snap.view.contains_member(&core.me.address, core.provider_id) {
            let new_term = snap.claim != s.claim;
            s.install(snap);
            if new_term {
                core.claims_changed();
            }
        } else {
            s.rejoin_wanted = true;
            core.kick(s);
        }
    }
}

/// Pulls the primary's view now, waiting for it (a follower that must show
/// a change it just made, but missed the changes before it).
pub(super) fn pull_now(core: &Core) {
    let (claim, req) = {
        let s = core.state.lock();
        if s.role != Role::Follower {
            return;
        }
        let req = SyncReq { requester: core.me.clone(), claim: s.claim.clone(), version: s.version, digest: s.view.digest() };
        (s.claim.clone(), req)
    };
    let reply = core.call(&claim.primary, wire::SYNC, codec::encode(&req), core.timeout()).ok();
    if let Some(Ok(SyncReply::Full(snap))) = reply.map(|b| codec::decode::<SyncReply>(&b)) {
        let mut s = core.state.lock();
        if s.role == Role::Follower && s.claim == claim {
            install_pulled(core, &mut s, snap);
        }
    }
}

// ---- handlers -------------------------------------------------------------

pub(super) fn on_ping(core: &Arc<Core>, sender: Option<&str>, payload: &[u8]) -> Result<Vec<u8>> {
    let ping = codec::decode::<Ping>(payload)?;
    let mut s = core.state.lock();
    if !core.sent_by(sender, &ping.claim.primary.address) {
        if core.limiter.allow("ping-forged") {
            crate::warning!(
                "rejected a ping claiming to come from {} sent from {}",
                ping.claim.primary.address,
                sender.unwrap_or("?")
            );
        }
        return Ok(codec::encode(&PingReply::Refused(s.claim.clone())));
    }
    let reply = match s.role {
        Role::Joining => {
            // A new primary that we asked during its election tells us it
            // now leads (the sender was checked above): our join retries
            // with it at once.
            s.primary_hint = Some(ping.claim.primary.clone());
            core.claims_changed();
            PingReply::Refused(s.claim.clone())
        }
        Role::Stopped => PingReply::Leaving,
        Role::Expelled => PingReply::Refused(s.claim.clone()),
        Role::Primary | Role::Follower => {
            if ping.claim == s.claim {
                if s.role == Role::Primary {
                    PingReply::Refused(s.claim.clone())
                } else {
                    s.contact();
                    if ping.version != s.version || ping.digest != s.view.digest() {
                        s.sync_wanted = true;
                        core.kick(&mut s);
                    }
                    PingReply::Accepted
                }
            } else if ping.claim.beats(&s.claim) {
                let p = &ping.claim.primary;
                if !core.is_me(p) && s.view.contains_member(&p.address, p.provider_id) {
                    core.adopt(&mut s, ping.claim);
                    PingReply::Accepted
                } else {
                    if core.limiter.allow("ping-unknown") {
                        crate::warning!(
                            "rejected a ping from ({}, {}), which is not a member of this group's view",
                            p.address,
                            p.provider_id
                        );
                    }
                    // Perhaps a member we missed took over: check our own
                    // primary; if it is gone, the election asks the members we
                    // know, who can vouch for the newcomer.
                    if s.role == Role::Follower && !s.check_primary_now {
                        s.check_primary_now = true;
                        core.kick(&mut s);
                    }
                    PingReply::Unknown(s.claim.clone())
                }
            } else {
                // Ours beats the sender's claim: tell it, it steps down.
                PingReply::Follows(s.claim.clone())
            }
        }
    };
    Ok(codec::encode(&reply))
}

pub(super) fn on_update(core: &Arc<Core>, sender: Option<&str>, payload: &[u8]) -> Result<Vec<u8>> {
    let msg = codec::decode::<UpdateMsg>(payload)?;
    let mut s = core.state.lock();
    if !core.sent_by(sender, &msg.claim.primary.address) {
        if core.limiter.allow("update-forged") {
            crate::warning!(
                "rejected an update claiming to come from {} sent from {}",
                msg.claim.primary.address,
                sender.unwrap_or("?")
            );
        }
        return Ok(codec::encode(&UpdateReply::Refused));
    }
    let reply = match s.role {
        // The join answer is on its way: pull the view once it is in.
        Role::Joining => {
            s.sync_wanted = true;
            UpdateReply::Gap
        }
        Role::Expelled | Role::Stopped => UpdateReply::Refused,
        Role::Primary | Role::Follower => apply_from_primary(core, &mut s, &msg),
    };
    Ok(codec::encode(&reply))
}

pub(super) fn on_whois(core: &Arc<Core>, payload: &[u8]) -> Result<Vec<u8>> {
    let req = codec::decode::<WhoisReq>(payload)?;
    let mut s = core.state.lock();
    let now = Instant::now();
    let standing = s.standing_of(&req.requester);
    let is_member = standing == Standing::Member && !core.is_me(&req.requester);
    if is_member {
        s.last_peer_evidence = Some(now);
    }
    let since_contact = now.duration_since(s.last_contact);
    let fresh = s.role == Role::Primary || (s.role == Role::Follower && s.contacted && since_contact <= core.silence_limit());
    // Another member thinks our common primary is dead: check it now rather
    // than at our own pace, so that the rightful successor (perhaps us)
    // reaches the same verdict quickly.
    if req.suspect && is_member && s.role == Role::Follower && req.claim == s.claim && since_contact > core.cfg.interval_max() {
        s.check_primary_now = true;
        core.kick(&mut s);
    }
    let reply = WhoisReply {
        active: matches!(s.role, Role::Primary | Role::Follower),
        claim: s.claim.clone(),
        electing: s.electing,
        standing,
        primary_fresh: fresh,
    };
    Ok(codec::encode(&reply))
}

pub(super) fn on_handover(core: &Arc<Core>, sender: Option<&str>, payload: &[u8]) -> Result<Vec<u8>> {
    let snap = codec::decode::<Snapshot>(payload)?;
    let mut s = core.state.lock();
    if s.role == Role::Stopped {
        // We are leaving too (a whole group stopped at once, for example):
        // nothing to warn about.
        crate::debug!(
            "not taking over from ({}, {}): this member is leaving too",
            snap.claim.primary.address,
            snap.claim.primary.provider_id
        );
        return Ok(codec::encode(&HandoverReply::Leaving));
    }
    // A primary of a newer term than we know may hand over before its
    // first ping reached us (it took over from the primary we follow and
    // was then stopped itself, as when a whole group stops member by
    // member): its snapshot brings us up to date.
    let newer = snap.claim.beats(&s.claim);
    let ok = core.sent_by(sender, &snap.claim.primary.address)
        && s.role == Role::Follower
        && (snap.claim == s.claim || newer)
        && snap.view.contains_member(&core.me.address, core.provider_id);
    if !ok {
        if core.limiter.allow("handover") {
            crate::warning!("refused to take over from ({}, {})", snap.claim.primary.address, snap.claim.primary.provider_id);
        }
        return Ok(codec::encode(&HandoverReply::Refused));
    }
    let old = snap.claim.primary.clone();
    if newer || snap.version >= s.version {
        // Catch up first (reporting what we had missed), then take over.
        s.install(snap);
    }
    core.promote(&mut s, Some((old, Update::Left)));
    Ok(codec::encode(&HandoverReply::Accepted))
}

// ---- watchdog -------------------------------------------------------------

struct InFlight {
    sent: Instant,
    call: PendingCall,
}

enum Decision {
    /// Settled (new primary adopted or taken over, or expelled).
    Done,
    /// Try again after this long.
    Wait(Duration),
}

/// An election in progress: `whois` questions in flight, in view order.
/// The first round asks the members before us; if none answers and no
/// other member showed signs of life lately, a second round asks those
/// after us (is anyone there, or are we cut off?).
struct Election {
    /// Our view without the dead primary.
    candidates: Vec<Member>,
    /// Our place in `candidates`.
    mine: usize,
    /// Another member answered (us, recently, or in this election).
    evidence: bool,
    /// The second round.
    after: bool,
    /// This round's questions (`None`: could not be sent).
    asked: Vec<(Member, Option<PendingCall>)>,
}

/// A follower's timed work. Every `update_interval` it compares its version
/// and digest with the primary's (pulling the view if they differ), and it
/// pulls at once when a ping or push revealed a gap. When the primary has
/// been silent for longer than the longest ping gap, those pulls become
/// probes, sent like the primary's pings to a suspect follower; after
/// `ping_max_num_timeouts` failed probes in a row the primary is dead and
/// an election starts. Elections and rejoins are calls in flight like the
/// probes: a step starts them and a later step (kicked by their answers, or
/// at their deadline) goes on; no step waits.
#[derive(Default)]
pub(super) struct Watch {
    claim: Option<Claim>,
    calls: Vec<InFlight>,
    misses: u32,
    seen_contact: Option<Instant>,
    last_probe: Option<Instant>,
    next_check: Option<Instant>,
    defer_until: Option<Instant>,
    /// Elections run since the primary last answered (only the first one
    /// is logged as a warning: a cut-off member retries for as long as the
    /// cut lasts).
    elections: u32,
    election: Option<Election>,
    rejoin: Option<Joiner>,
}

impl Watch {
    pub fn reset(&mut self, core: &Core) {
        let primary = self.claim.as_ref().map(|c| c.primary.clone()).unwrap_or_else(|| core.me.clone());
        core.abandon(self.calls.drain(..).map(|c| (primary.clone(), c.call)));
        if self.election.take().is_some() {
            let mut s = core.state.lock();
            if self.claim.as_ref() == Some(&s.claim) && s.role == Role::Follower {
                s.electing = false;
            }
        }
        // Calls dropped unanswered are forgotten by the engine.
        *self = Watch::default();
    }

    /// One step; returns when the next is due.
    pub fn tick(&mut self, core: &Core, claim: &Claim) -> Option<Instant> {
        if self.claim.as_ref() != Some(claim) {
            self.reset(core);
            self.claim = Some(claim.clone());
        }
        let mut i = 0;
        while i < self.calls.len() {
            if !self.calls[i].call.test() {
                i += 1;
                continue;
            }
            let done = self.calls.swap_remove(i);
            self.on_result(core, claim, done.sent, done.call.wait());
        }
        let now = Instant::now();
        let (last_contact, contacted, sync_wanted, rejoin, check_now) = {
            let s = core.state.lock();
            if s.role != Role::Follower || s.claim != *claim {
                // Changed under our feet: the next step acts on it.
                return Some(now);
            }
            (s.last_contact, s.contacted, s.sync_wanted, s.rejoin_wanted, s.check_primary_now)
        };
        if self.seen_contact.is_none_or(|c| last_contact > c) {
            self.misses = 0;
            self.seen_contact = Some(last_contact);
            self.defer_until = None;
            self.elections = 0;
            if self.election.is_some() {
                // The primary is alive after all.
                self.finish_election(core, claim, Decision::Done);
            }
        }
        if self.election.is_some() {
            return self.election_step(core, claim);
        }
        let deferred = self.defer_until.is_some_and(|d| now < d);
        if self.rejoin.is_some() || (rejoin && !deferred) {
            return self.rejoin_step(core, claim);
        }
        let next_check = *self.next_check.get_or_insert(now + core.cfg.update_interval());
        let k = core.max_timeouts();
        let half = core.timeout() / 2;
        let limit = if contacted {
            core.silence_limit()
        } else {
            // Members started together from one view: the primary may come
            // up late; do not replace it over a slow start.
            core.startup_grace()
        };
        let silence = now.duration_since(last_contact);
        let suspect = check_now || silence > limit || self.misses > 0;
        if self.misses >= k {
            if !deferred {
                self.elect(core, claim);
                return Some(Instant::now());
            }
            // While we wait for another member to take over, keep checking
            // on the old primary at the normal pace.
            if self.calls.is_empty() && self.last_probe.is_none_or(|l| now.duration_since(l) >= core.cfg.interval_max()) {
                self.send(core, claim);
            }
        } else if suspect {
            let budget = (k - self.misses) as usize;
            if self.calls.is_empty()
                || (self.calls.len() < budget && self.last_probe.is_none_or(|l| now.duration_since(l) >= half))
            {
                self.send(core, claim);
            }
        } else if self.calls.is_empty() && (sync_wanted || now >= next_check) {
            self.send(core, claim);
            self.next_check = Some(now + core.cfg.update_interval());
        }
        // Next thing to do (answers kick a step earlier): a call's deadline;
        // while the primary is suspect, the next probe or the end of a
        // deferral; else the next check, or the moment the primary's
        // silence makes it suspect.
        let mut wake = self.calls.iter().map(|c| c.call.deadline()).min();
        if self.misses >= k {
            if self.calls.is_empty() {
                wake = earliest(wake, self.last_probe.map(|l| l + core.cfg.interval_max()));
            }
            wake = earliest(wake, self.defer_until);
        } else if suspect {
            if self.calls.len() < (k - self.misses) as usize {
                wake = earliest(wake, self.last_probe.map(|l| l + half));
            }
        } else {
            if self.calls.is_empty() {
                wake = earliest(wake, self.next_check);
            }
            wake = earliest(wake, Some(last_contact + limit + Duration::from_millis(1)));
        }
        if rejoin {
            // Deferred (a rejoin failed): tried again then.
            wake = earliest(wake, self.defer_until);
        }
        wake
    }

    /// Pulls (or probes) the primary's view asynchronously.
    fn send(&mut self, core: &Core, claim: &Claim) {
        let req = {
            let mut s = core.state.lock();
            s.sync_wanted = false;
            SyncReq { requester: core.me.clone(), claim: claim.clone(), version: s.version, digest: s.view.digest() }
        };
        let now = Instant::now();
        self.last_probe = Some(now);
        match core.call_async(&claim.primary, wire::SYNC, codec::encode(&req), core.timeout()) {
            Ok(call) => self.calls.push(InFlight { sent: now, call }),
            Err(e) => {
                crate::debug!("cannot reach the primary: {e}");
                self.misses += 1;
            }
        }
    }

    fn on_result(&mut self, core: &Core, claim: &Claim, sent: Instant, outcome: std::result::Result<Vec<u8>, RpcError>) {
        if let Err(e) = &outcome {
            crate::debug!("view check with the primary failed: {e}");
        }
        let reply = match outcome.map(|b| codec::decode::<SyncReply>(&b)) {
            Ok(Ok(r)) => r,
            _ => {
                // Only failures newer than the last sign of life count.
                if self.seen_contact.is_none_or(|c| sent >= c) {
                    self.misses += 1;
                }
                return;
            }
        };
        let mut s = core.state.lock();
        if s.role != Role::Follower || s.claim != *claim {
            return;
        }
        match reply {
            SyncReply::UpToDate { claim: c, .. } => {
                if c == *claim {
                    s.contact();
                }
            }
            SyncReply::Full(snap) => install_pulled(core, &mut s, snap),
            SyncReply::NotMember { expelled, .. } => {
                s.contact();
                if expelled {
                    core.expel(&mut s, "was declared dead by the group");
                } else {
                    s.rejoin_wanted = true;
                    core.kick(&mut s);
                }
            }
            SyncReply::NotPrimary(d) => {
                if d.claim.beats(&s.claim) && !core.is_me(&d.claim.primary) {
                    // Our primary itself tells us who leads now.
                    core.adopt(&mut s, d.claim);
                } else if self.seen_contact.is_none_or(|c| sent >= c) {
                    // It no longer leads and names nobody better.
                    self.misses += 1;
                }
            }
        }
    }

    /// Joins again after a primary change left us out of its view (we were
    /// not declared dead: explicit rejoin is only for that case): starts
    /// the join, or moves it on; returns when the next step is due.
    fn rejoin_step(&mut self, core: &Core, claim: &Claim) -> Option<Instant> {
        if self.rejoin.is_none() {
            let known = {
                let mut s = core.state.lock();
                s.rejoin_wanted = false;
                s.view.clone()
            };
            match Joiner::new(core, Some(claim.primary.clone()), &known) {
                Ok(j) => self.rejoin = Some(j),
                Err(e) => return self.rejoin_failed(core, e),
            }
        }
        let step = self.rejoin.as_mut().map(|j| j.poll(core))?;
        match step {
            JoinStep::Asking(until) | JoinStep::Pausing(until) => Some(until),
            JoinStep::Done(Ok(snap)) => {
                self.rejoin = None;
                let mut s = core.state.lock();
                if s.role == Role::Follower {
                    s.install(snap);
                    s.contact();
                    core.claims_changed();
                }
                Some(Instant::now())
            }
            JoinStep::Done(Err(e)) => {
                self.rejoin = None;
                self.rejoin_failed(core, e)
            }
        }
    }

    fn rejoin_failed(&mut self, core: &Core, e: crate::flock::error::FlockError) -> Option<Instant> {
        crate::warning!("could not join the group again: {e}");
        let mut s = core.state.lock();
        s.rejoin_wanted = true;
        let until = Instant::now() + core.window();
        self.defer_until = Some(until);
        Some(Instant::now())
    }

    /// Sends `whois` ("I suspect the primary") to each of `members`.
    fn ask(&self, core: &Core, claim: &Claim, members: &[Member]) -> Vec<(Member, Option<PendingCall>)> {
        let req = codec::encode(&WhoisReq { requester: core.me.clone(), claim: claim.clone(), suspect: true });
        members
            .iter()
            .map(|m| {
                let call = core.call_async(m, wire::WHOIS, req.clone(), core.timeout());
                if let Err(e) = &call {
                    crate::debug!("cannot ask ({}, {}) about the primary: {e}", m.address, m.provider_id);
                }
                (m.clone(), call.ok())
            })
            .collect()
    }

    /// The primary is dead: the first member of our view (in view order,
    /// the dead primary left out) that answers becomes the primary. We ask
    /// the members before us; if one answers, it is the successor and we
    /// wait for its pings (our question told it to check the primary). If
    /// none does, we are the successor, provided some other member answers
    /// (a member that can reach nobody assumes it is the one cut off and
    /// keeps its view). This starts the election; `election_step` goes on
    /// once the answers are in.
    fn elect(&mut self, core: &Core, claim: &Claim) {
        let now = Instant::now();
        let (candidates, evidence) = {
            let mut s = core.state.lock();
            if s.role != Role::Follower || s.claim != *claim {
                return;
            }
            let c: Vec<Member> = s.view.members().iter().filter(|m| **m != claim.primary).cloned().collect();
            let Some(_) = c.iter().position(|m| core.is_me(m)) else {
                // Not in our own view any more: join again.
                s.rejoin_wanted = true;
                return;
            };
            s.electing = true;
            (c, s.last_peer_evidence.is_some_and(|t| now.duration_since(t) <= core.window()))
        };
        self.elections += 1;
        if self.elections == 1 {
            crate::warning!(
                "flock centralized member ({}, {}): primary ({}, {}) of term {} does not answer; choosing a new primary",
                core.me.address,
                core.provider_id,
                claim.primary.address,
                claim.primary.provider_id,
                claim.term
            );
        }
        let mine = candidates.iter().position(|m| core.is_me(m)).unwrap_or(0);
        let asked = self.ask(core, claim, &candidates[..mine]);
        self.election = Some(Election { candidates, mine, evidence, after: false, asked });
    }

    /// Goes on with the election once this round's answers are in (or
    /// their deadline passed); returns when the next step is due.
    fn election_step(&mut self, core: &Core, claim: &Claim) -> Option<Instant> {
        let e = self.election.as_mut()?;
        let pending = e.asked.iter().filter_map(|(_, c)| c.as_ref()).filter(|c| !c.test()).map(PendingCall::deadline).max();
        if pending.is_some() {
            return pending;
        }
        let answers: Vec<(Member, Option<WhoisReply>)> = e
            .asked
            .drain(..)
            .map(|(m, c)| {
                let reply = c.and_then(|c| c.wait().ok()).and_then(|b| codec::decode::<WhoisReply>(&b).ok()).filter(|r| r.active);
                (m, reply)
            })
            .collect();
        let first = answers.into_iter().find_map(|(_, r)| r);
        let decision = if !e.after {
            match first {
                Some(r) => {
                    e.evidence = true;
                    // Alive and not yet in charge: it will be (we told it).
                    self.consider(core, claim, r).unwrap_or(Decision::Wait(core.election_wait()))
                }
                None => {
                    let e = self.election.as_mut()?;
                    if !e.evidence && e.candidates.len() > 1 && e.mine + 1 < e.candidates.len() {
                        let after = e.candidates[e.mine + 1..].to_vec();
                        let asked = self.ask(core, claim, &after);
                        let deadline = asked.iter().filter_map(|(_, c)| c.as_ref().map(PendingCall::deadline)).max();
                        let e = self.election.as_mut()?;
                        e.after = true;
                        e.asked = asked;
                        // Answers kick a step; none sent: go on at once.
                        return Some(deadline.unwrap_or_else(Instant::now));
                    }
                    self.conclude(core, claim)
                }
            }
        } else {
            match first.map(|r| self.consider(core, claim, r)) {
                Some(Some(d)) => d,
                Some(None) => {
                    if let Some(e) = self.election.as_mut() {
                        e.evidence = true;
                    }
                    self.conclude(core, claim)
                }
                None => self.conclude(core, claim),
            }
        };
        self.finish_election(core, claim, decision);
        Some(Instant::now())
    }

    /// Nobody before us answered: we take over if another member answered
    /// (or we are the only member left); else we assume we are cut off.
    fn conclude(&mut self, core: &Core, claim: &Claim) -> Decision {
        let Some(e) = self.election.as_ref() else { return Decision::Done };
        if e.evidence || e.candidates.len() == 1 {
            let mut s = core.state.lock();
            if s.role == Role::Follower && s.claim == *claim && !core.stop.load(Ordering::Acquire) {
                core.promote(&mut s, Some((claim.primary.clone(), Update::Died)));
            }
            Decision::Done
        } else {
            if self.elections == 1 {
                crate::warning!(
                    "flock centralized member ({}, {}) reaches no other member: assuming it is cut off, it keeps its \
                     view and does not take over",
                    core.me.address,
                    core.provider_id
                );
            }
            Decision::Wait(core.window())
        }
    }

    fn finish_election(&mut self, core: &Core, claim: &Claim, decision: Decision) {
        self.election = None;
        {
            let mut s = core.state.lock();
            if s.role == Role::Follower && s.claim == *claim {
                s.electing = false;
            }
        }
        if let Decision::Wait(d) = decision {
            self.defer_until = Some(Instant::now() + d);
        }
    }

    /// Acts on another member's answer during an election; None if it
    /// only shows that member is alive.
    fn consider(&mut self, core: &Core, claim: &Claim, r: WhoisReply) -> Option<Decision> {
        let mut s = core.state.lock();
        s.last_peer_evidence = Some(Instant::now());
        if s.role != Role::Follower || s.claim != *claim {
            return Some(Decision::Done);
        }
        if r.standing == Standing::Expelled {
            core.expel(&mut s, "was declared dead by the group");
            return Some(Decision::Done);
        }
        if r.claim.beats(claim) && !core.is_me(&r.claim.primary) {
            // Vouched for by a member of our view.
            core.adopt(&mut s, r.claim);
            return Some(Decision::Done);
        }
        if r.primary_fresh && r.claim == *claim {
            // It still hears from our primary: the primary is alive and we
            // are the ones cut off from it.
            return Some(Decision::Wait(core.silence_limit()));
        }
        None
    }
}
