//! Joining the group (at registration, or again after a change of primary
//! left us out) and leaving it (a follower's destroy).

use super::state::{Role, State};
use super::wire::{self, Claim, JoinReply, LeaveReply, Ping, Snapshot};
use super::Core;
use crate::flock::error::{FlockError, Result};
use crate::flock::view::{GroupView, Member};
use crate::rpc::codec;
use crate::rpc::{PendingCall, RpcError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Joiners a member remembers having turned away (see `tell_waiting_joiners`).
const MAX_WAITING_JOINERS: usize = 64;

/// How long a joiner keeps trying (and so how long a member that turned it
/// away remembers it).
fn join_patience(core: &Core) -> Duration {
    Duration::from_secs(5).max(core.election_wait() * 2 + core.window())
}

/// Asks the group to admit us: the primary named by the view first (if
/// any), then every member of the view, following redirections. When every
/// member turned us away because the group is choosing a new primary, waits
/// for the new primary to announce itself (`Core::claims`: it pings the
/// joiners that asked it during the election; a rejoining follower adopts
/// it), for at most an election's length, then asks everyone again. Gives
/// up with the most telling error once every member failed (or the deadline
/// passed while the group was busy electing a primary).
///
/// This drives a [`Joiner`] and waits for it: registration returns once
/// joined. A follower that must join again drives one from its timed work
/// instead, without waiting.
pub(super) fn join_group(core: &Core, first: Option<Member>, known: &GroupView) -> Result<Snapshot> {
    let mut joiner = Joiner::new(core, first, known)?;
    loop {
        match joiner.poll(core) {
            JoinStep::Done(result) => return result,
            JoinStep::Asking(_) => joiner.wait_answer(),
            JoinStep::Pausing(until) => core.claims.wait_past(joiner.seen, until.saturating_duration_since(Instant::now())),
        }
    }
}

/// Where a join stands (see [`Joiner::poll`]).
pub(super) enum JoinStep {
    /// A request is in flight: its answer, or its deadline (given), moves
    /// the join on.
    Asking(Instant),
    /// Every member turned us away while the group chooses a primary: a
    /// change of `Core::claims`, or the time given, moves the join on.
    Pausing(Instant),
    Done(Result<Snapshot>),
}

/// One join, as a sequence of requests that [`Joiner::poll`] moves along
/// without ever waiting.
pub(super) struct Joiner {
    me: Member,
    payload: Vec<u8>,
    attempt: Duration,
    deadline: Instant,
    order: Vec<Member>,
    queue: VecDeque<Member>,
    last_err: Option<FlockError>,
    /// Someone answered but could not admit us yet (electing, redirecting).
    worth_retrying: bool,
    /// `Core::claims` when the current round started: an announcement
    /// during the round is not missed.
    seen: u64,
    /// Waiting between rounds until then.
    pause: Option<Instant>,
    /// The request in flight.
    call: Option<(Member, PendingCall)>,
    /// The answer `wait_answer` got, not yet looked at.
    answered: Option<(Member, std::result::Result<Vec<u8>, RpcError>)>,
    requests: u32,
}

impl Joiner {
    pub fn new(core: &Core, first: Option<Member>, known: &GroupView) -> Result<Joiner> {
        let me = core.me.clone();
        let mut order: Vec<Member> = Vec::new();
        for m in first.into_iter().chain(known.members().iter().cloned()) {
            if m != me && !order.contains(&m) {
                order.push(m);
            }
        }
        if order.is_empty() {
            return Err(FlockError::InvalidArgs("the initial view names no member to join through".into()));
        }
        Ok(Joiner {
            payload: codec::encode(&me),
            me,
            attempt: core.attempt_timeout(500, 2000),
            deadline: Instant::now() + join_patience(core),
            queue: order.iter().cloned().collect(),
            order,
            last_err: None,
            worth_retrying: false,
            seen: core.claims.generation(),
            pause: None,
            call: None,
            answered: None,
            requests: 0,
        })
    }

    /// The join failed: with the most telling error seen.
    fn failed(&mut self) -> Result<Snapshot> {
        Err(self.last_err.take().unwrap_or_else(|| FlockError::Other("could not join the group".into())))
    }

    /// Blocks until the request in flight is answered or times out.
    pub fn wait_answer(&mut self) {
        if let Some((target, call)) = self.call.take() {
            self.answered = Some((target, call.wait()));
        }
    }

    /// Moves the join as far as it goes without waiting.
    pub fn poll(&mut self, core: &Core) -> JoinStep {
        loop {
            if core.stop.load(Ordering::Acquire) {
                return JoinStep::Done(Err(FlockError::InvalidGroup("destroyed while joining".into())));
            }
            if self.answered.is_none() {
                if let Some((_, call)) = &self.call {
                    if !call.test() {
                        return JoinStep::Asking(call.deadline());
                    }
                    if let Some((target, call)) = self.call.take() {
                        self.answered = Some((target, call.wait()));
                    }
                }
            }
            if let Some((target, outcome)) = self.answered.take() {
                if let Some(done) = self.on_answer(target, outcome) {
                    return JoinStep::Done(done);
                }
                if Instant::now() >= self.deadline {
                    return JoinStep::Done(self.failed());
                }
                continue;
            }
            if let Some(until) = self.pause {
                if core.claims.generation() == self.seen && Instant::now() < until {
                    return JoinStep::Pausing(until);
                }
                self.pause = None;
                self.seen = core.claims.generation();
                self.queue = self.order.iter().cloned().collect();
                let hint = {
                    let mut s = core.state.lock();
                    let rejoining = s.role == Role::Follower;
                    s.primary_hint.take().or_else(|| rejoining.then(|| s.claim.primary.clone()))
                };
                if let Some(p) = hint.filter(|p| *p != self.me) {
                    self.queue.retain(|m| *m != p);
                    self.queue.push_front(p);
                }
            }
            if self.requests >= 256 {
                return JoinStep::Done(self.failed());
            }
            let Some(target) = self.queue.pop_front() else {
                let now = Instant::now();
                if !self.worth_retrying || now >= self.deadline {
                    return JoinStep::Done(self.failed());
                }
                self.worth_retrying = false;
                self.pause = Some(self.deadline.min(now + core.election_wait()));
                continue;
            };
            self.requests += 1;
            match core.call_async(&target, wire::JOIN, self.payload.clone(), self.attempt) {
                Ok(call) => self.call = Some((target, call)),
                Err(e) => self.answered = Some((target, Err(e))),
            }
        }
    }

    /// Looks at one answer; `Some` once the join is settled.
    fn on_answer(&mut self, target: Member, outcome: std::result::Result<Vec<u8>, RpcError>) -> Option<Result<Snapshot>> {
        match outcome {
            Ok(bytes) => match codec::decode::<JoinReply>(&bytes) {
                Ok(JoinReply::Joined(snap)) => {
                    if snap.view.contains_member(&self.me.address, self.me.provider_id) {
                        return Some(Ok(snap));
                    }
                    self.last_err = Some(FlockError::Other("the primary's answer does not list this member".into()));
                }
                Ok(JoinReply::NotPrimary(d)) => {
                    self.worth_retrying = true;
                    let p = d.claim.primary;
                    if !d.electing && p != target && p != self.me && self.queue.front() != Some(&p) {
                        self.queue.push_front(p);
                    }
                    self.last_err = Some(FlockError::Other(format!(
                        "({}, {}) is not the primary and no primary could be reached",
                        target.address, target.provider_id
                    )));
                }
                Ok(JoinReply::Error { code, message }) => return Some(Err(crate::flock::protocol::remote_error(code, message))),
                Err(e) => self.last_err = Some(e.into()),
            },
            Err(RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_)) => {
                self.last_err = Some(FlockError::InvalidProvider(format!(
                    "no centralized Flock provider with id {} at {}",
                    target.provider_id, target.address
                )));
            }
            Err(e) => self.last_err = Some(FlockError::Rpc(e)),
        }
        None
    }
}

/// A member that is not the primary turned `joiner` away: remember it, so
/// that we can tell it at once should we become the primary.
pub(super) fn note_waiting_joiner(core: &Core, s: &mut State, joiner: Member) {
    let now = Instant::now();
    let patience = join_patience(core);
    s.waiting_joiners.retain(|(m, at)| *m != joiner && now.duration_since(*at) < patience);
    if s.waiting_joiners.len() >= MAX_WAITING_JOINERS {
        s.waiting_joiners.pop_front();
    }
    s.waiting_joiners.push_back((joiner, now));
}

/// We just became the primary: ping the joiners we turned away while the
/// group was choosing (they are still trying), so that they ask us again
/// now instead of at the end of their wait. Fire and forget (the reaper
/// collects the answers); the pings leave once the caller has released
/// the state lock (`Core::post`).
pub(super) fn tell_waiting_joiners(core: &Core, s: &mut State) {
    let now = Instant::now();
    let patience = join_patience(core);
    let to: Vec<Member> = s
        .waiting_joiners
        .drain(..)
        .filter(|(m, at)| now.duration_since(*at) < patience && !s.view.contains_member(&m.address, m.provider_id))
        .map(|(m, _)| m)
        .collect();
    let payload = codec::encode(&Ping { claim: s.claim.clone(), version: s.version, digest: s.view.digest() });
    core.post(super::Mail { to, rpc: wire::PING, payload, timeout: core.timeout() });
}

/// Graceful leave of a follower: tell the primary (following one
/// redirection if it changed); if nobody answers, the primary will declare
/// us dead instead.
pub(super) fn leave(core: &Core, claim: &Claim) {
    let payload = codec::encode(&core.me);
    let mut target = claim.primary.clone();
    for _ in 0..3 {
        match core.call(&target, wire::LEAVE, payload.clone(), core.farewell_timeout()) {
            Ok(bytes) => match codec::decode::<LeaveReply>(&bytes) {
                Ok(LeaveReply::Done) | Ok(LeaveReply::NotMember) => return,
                Ok(LeaveReply::NotPrimary(d)) if d.claim.primary != target && !core.is_me(&d.claim.primary) => {
                    target = d.claim.primary;
                }
                Ok(LeaveReply::NotPrimary(_)) => {
                    // It no longer acts as primary and names no other: it is
                    // leaving too (the whole group may be stopping), and
                    // whoever leads next will not count us.
                    crate::debug!("({}, {}) is leaving too: our leave needs no processing", target.address, target.provider_id);
                    return;
                }
                Ok(other) => {
                    crate::warning!("the primary did not process our leave: {other:?}");
                    return;
                }
                Err(e) => {
                    crate::warning!("unreadable answer to our leave request: {e}");
                    return;
                }
            },
            Err(e) if e.callee_gone() => {
                // Its provider or its process is gone: it left before us.
                crate::debug!(
                    "({}, {}) has left already ({e}): our leave needs no processing",
                    target.address,
                    target.provider_id
                );
                return;
            }
            Err(e @ RpcError::Timeout { .. }) => {
                // Busy, most likely leaving too (a whole group stopped at
                // once); if not, it declares us dead, which is also right.
                crate::info!("the primary did not answer our leave in time ({e}); it will declare this member dead instead");
                return;
            }
            Err(e @ RpcError::Remote { .. }) => {
                // Its handler could not take the request: in a whole group
                // stopped at once the primary's member is being destroyed
                // while its RPCs are still registered.
                crate::info!(
                    "the primary could not process our leave ({e}); it is leaving too, or it will declare this member dead"
                );
                return;
            }
            Err(e) => {
                crate::warning!("could not tell the primary that this member leaves ({e}); it will be declared dead instead");
                return;
            }
        }
    }
}
