//! Joining the group (at registration, or again after a change of primary
//! left us out) and leaving it (a follower's destroy).

use super::state::{Role, State};
use super::wire::{self, Claim, JoinReply, LeaveReply, Ping, Snapshot};
use super::Core;
use crate::flock::error::{FlockError, Result};
use crate::flock::view::{GroupView, Member};
use crate::rpc::codec;
use crate::rpc::RpcError;
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
pub(super) fn join_group(core: &Core, first: Option<Member>, known: &GroupView) -> Result<Snapshot> {
    let me = core.me.clone();
    let payload = codec::encode(&me);
    let attempt = core.attempt_timeout(500, 2000);
    let deadline = Instant::now() + join_patience(core);
    let mut order: Vec<Member> = Vec::new();
    for m in first.into_iter().chain(known.members().iter().cloned()) {
        if m != me && !order.contains(&m) {
            order.push(m);
        }
    }
    if order.is_empty() {
        return Err(FlockError::InvalidArgs("the initial view names no member to join through".into()));
    }
    let mut queue: VecDeque<Member> = order.iter().cloned().collect();
    let mut last_err: Option<FlockError> = None;
    // Someone answered but could not admit us yet (electing, redirecting).
    let mut worth_retrying = false;
    // Read before each round: an announcement during the round is not missed.
    let mut seen = core.claims.generation();
    for _ in 0..256 {
        if core.stop.load(Ordering::Acquire) {
            return Err(FlockError::InvalidGroup("destroyed while joining".into()));
        }
        let Some(target) = queue.pop_front() else {
            let now = Instant::now();
            if !worth_retrying || now >= deadline {
                break;
            }
            worth_retrying = false;
            core.claims.wait_past(seen, (deadline - now).min(core.election_wait()));
            seen = core.claims.generation();
            queue = order.iter().cloned().collect();
            let hint = {
                let mut s = core.state.lock();
                let rejoining = s.role == Role::Follower;
                s.primary_hint.take().or_else(|| rejoining.then(|| s.claim.primary.clone()))
            };
            if let Some(p) = hint.filter(|p| *p != me) {
                queue.retain(|m| *m != p);
                queue.push_front(p);
            }
            continue;
        };
        match core.call(&target, wire::JOIN, payload.clone(), attempt) {
            Ok(bytes) => match codec::decode::<JoinReply>(&bytes) {
                Ok(JoinReply::Joined(snap)) => {
                    if snap.view.contains_member(&me.address, me.provider_id) {
                        return Ok(snap);
                    }
                    last_err = Some(FlockError::Other("the primary's answer does not list this member".into()));
                }
                Ok(JoinReply::NotPrimary(d)) => {
                    worth_retrying = true;
                    let p = d.claim.primary;
                    if !d.electing && p != target && p != me && queue.front() != Some(&p) {
                        queue.push_front(p);
                    }
                    last_err = Some(FlockError::Other(format!(
                        "({}, {}) is not the primary and no primary could be reached",
                        target.address, target.provider_id
                    )));
                }
                Ok(JoinReply::Error { code, message }) => return Err(crate::flock::protocol::remote_error(code, message)),
                Err(e) => last_err = Some(e.into()),
            },
            Err(RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_)) => {
                last_err = Some(FlockError::InvalidProvider(format!(
                    "no centralized Flock provider with id {} at {}",
                    target.provider_id, target.address
                )));
            }
            Err(e) => last_err = Some(FlockError::Rpc(e)),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Err(last_err.unwrap_or_else(|| FlockError::Other("could not join the group".into())))
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
/// collects the answers).
pub(super) fn tell_waiting_joiners(core: &Core, s: &mut State) {
    let now = Instant::now();
    let patience = join_patience(core);
    let joiners: Vec<Member> =
        s.waiting_joiners.drain(..).filter(|(_, at)| now.duration_since(*at) < patience).map(|(m, _)| m).collect();
    if joiners.is_empty() {
        return;
    }
    let payload = codec::encode(&Ping { claim: s.claim.clone(), version: s.version, digest: s.view.digest() });
    let mut started = Vec::new();
    for m in joiners {
        if s.view.contains_member(&m.address, m.provider_id) {
            continue;
        }
        match core.call_async(&m, wire::PING, payload.clone(), core.timeout()) {
            Ok(c) => started.push((m, c)),
            Err(e) => crate::debug!("cannot tell joiner ({}, {}) that we lead now: {e}", m.address, m.provider_id),
        }
    }
    core.abandon(started);
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
            Err(e) => {
                crate::warning!("could not tell the primary that this member leaves ({e}); it will be declared dead instead");
                return;
            }
        }
    }
}
