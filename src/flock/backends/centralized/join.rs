//! Joining the group (at registration, or again after a change of primary
//! left us out) and leaving it (a follower's destroy).

use super::wire::{self, Claim, JoinReply, LeaveReply, Snapshot};
use super::Core;
use crate::flock::error::{FlockError, Result};
use crate::flock::view::{GroupView, Member};
use crate::rpc::codec;
use crate::rpc::RpcError;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Asks the group to admit us: the primary named by the view first (if
/// any), then every member of the view, following redirections. Gives up
/// with the most telling error once every member failed (or the deadline
/// passed while the group was busy electing a primary).
pub(super) fn join_group(core: &Core, first: Option<Member>, known: &GroupView) -> Result<Snapshot> {
    let me = core.me.clone();
    let payload = codec::encode(&me);
    let attempt = core.attempt_timeout(500, 2000);
    let deadline = Instant::now() + Duration::from_secs(5).max(core.election_wait() * 2 + core.window());
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
    for _ in 0..256 {
        if core.stop.load(Ordering::Acquire) {
            return Err(FlockError::InvalidGroup("destroyed while joining".into()));
        }
        let Some(target) = queue.pop_front() else {
            if !worth_retrying || Instant::now() >= deadline {
                break;
            }
            worth_retrying = false;
            std::thread::sleep(core.timeout().min(Duration::from_millis(500)));
            queue = order.iter().cloned().collect();
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
