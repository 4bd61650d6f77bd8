//! What a member does on its own: probe one member per protocol period
//! (directly, then through helpers), expire suspicions, sync with members
//! whose digest differs, join and leave; and the threads that run it.

use super::state::{self, Admission, Event, Id};
use super::wire::{self, Ack, Announce, Envelope, Gossip, Kind, MemberRecord, PingReq, PingReqReply, StateReply, Status, Sync};
use super::{Answer, Shared, LEAVE_TIMEOUT, MAX_LEAVE_FANOUT, UNKNOWN_STREAK_LIMIT};
use crate::flock::backend::UpdateSink;
use crate::flock::error::{FlockError, Result};
use crate::rpc::codec;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

impl Shared {
    /// Pings `to`; None if it did not answer (in time, or sensibly).
    pub(super) fn ping(&self, to: &Id, env: &Envelope, timeout: Duration) -> Option<(Answer, Envelope)> {
        let bytes = match self.call(to, wire::PING, codec::encode(env), timeout) {
            Ok(b) => b,
            Err(e) => {
                crate::debug!("swim: ping of ({}, {}) failed: {e}", to.0, to.1);
                return None;
            }
        };
        match codec::decode::<Ack>(&bytes) {
            Ok(Ack { status, envelope: e }) if e.sender.address == to.0 && e.sender.provider_id == to.1 => {
                let answer = self.on_answer(status, &e);
                Some((answer, e))
            }
            Ok(_) => {
                crate::warning!("swim: ({}, {}) answered a ping in another member's name", to.0, to.1);
                None
            }
            Err(e) => {
                crate::warning!("swim: malformed ping answer from ({}, {}): {e}", to.0, to.1);
                None
            }
        }
    }

    /// Applies what an answering member (one we called) says, about itself
    /// and about us.
    pub(super) fn on_answer(&self, status: Status, from: &Envelope) -> Answer {
        let now = Instant::now();
        self.with_state(|st| {
            if st.expelled {
                return Answer::Alive;
            }
            match status {
                Status::Ok => {
                    if st.stalled {
                        // A member still counts us in: what we knew is
                        // usable again (anti-entropy refreshes the rest).
                        crate::info!("swim: a member answered us as a member; resuming after the stall");
                        st.stalled = false;
                    }
                    if st.admit(&from.sender, now) == Admission::Member {
                        st.process_gossip(&from.gossip, now);
                    }
                    st.unknown_streak = 0;
                    Answer::Alive
                }
                Status::UnknownSender => {
                    if now < st.young_until {
                        return Answer::AliveAnnounce;
                    }
                    st.unknown_streak += 1;
                    if st.unknown_streak >= UNKNOWN_STREAK_LIMIT.min(st.peers.len().max(1) as u32) {
                        st.expel("no longer knows us");
                    }
                    Answer::Alive
                }
                Status::DeclaredDead { generation, .. } | Status::Left { generation, .. } => {
                    if generation == st.generation {
                        st.expel(if matches!(status, Status::Left { .. }) {
                            "recorded our departure"
                        } else {
                            "declared us dead"
                        });
                    }
                    Answer::Alive
                }
                Status::NotMember => Answer::NotAlive,
            }
        })
    }

    /// Announces our join to `targets` at once; returns how many accepted
    /// (their full state is merged) and the last failure.
    pub(super) fn announce_join(&self, targets: &[Id]) -> (usize, Option<FlockError>) {
        let env = self.with_state(|st| st.bare_envelope());
        let payload = codec::encode(&Announce { kind: Kind::Join, envelope: env });
        let calls: Vec<_> =
            targets.iter().map(|t| (t, self.call_async(t, wire::ANNOUNCE, payload.clone(), self.announce_timeout()))).collect();
        let mut accepted = 0;
        let mut last = None;
        for (target, call) in calls {
            let outcome =
                call.and_then(|c| c.wait()).map_err(FlockError::from).and_then(|b| Ok(codec::decode::<StateReply>(&b)?));
            match outcome {
                Ok(StateReply { status: Status::Ok, state: Some(state) }) => {
                    self.with_state(|st| st.merge_state(&state, Instant::now()));
                    accepted += 1;
                }
                Ok(StateReply { status, .. }) => {
                    last = Some(FlockError::Other(format!("({}, {}) refused our join: {status:?}", target.0, target.1)));
                }
                Err(e) => {
                    crate::debug!("swim: join announcement to ({}, {}) failed: {e}", target.0, target.1);
                    last = Some(e);
                }
            }
        }
        (accepted, last)
    }

    /// Joins through the members of the initial view: a few first (their
    /// gossip reaches the rest), everyone else if none of those accepted,
    /// then everyone again (a busy member may have missed its deadline).
    pub(super) fn join_group(&self) -> Result<()> {
        let mut others: Vec<Id> = self.with_state(|st| {
            let mut v: Vec<Id> = st.peers.keys().cloned().collect();
            v.sort();
            for i in (1..v.len()).rev() {
                let j = st.rng.below(i + 1);
                v.swap(i, j);
            }
            v
        });
        if others.is_empty() {
            crate::info!("swim: the initial view names no other member: starting a group of one");
            return Ok(());
        }
        let fanout = others.len().min(state::transmit_limit(others.len() + 1).max(3) as usize);
        let rest = others.split_off(fanout);
        let all: Vec<Id> = others.iter().chain(&rest).cloned().collect();
        let mut accepted = 0;
        let mut last = None;
        for round in [&others, &rest, &all, &all] {
            if round.is_empty() {
                continue;
            }
            (accepted, last) = self.announce_join(round);
            if accepted > 0 {
                break;
            }
        }
        if accepted > 0 {
            return Ok(());
        }
        crate::error!("swim: no member of the initial view accepted our join");
        Err(match last {
            // Network failures keep the RPC error (FLOCK_ERR_FROM_MERCURY),
            // as the centralized backend's join does.
            Some(e @ FlockError::Rpc(_)) => e,
            Some(e) => FlockError::Other(format!("swim: no member of the initial view accepted our join: {e}")),
            None => FlockError::Other("swim: no member of the initial view accepted our join".into()),
        })
    }

    /// Tells other members we leave (those that miss it learn it by gossip).
    pub(super) fn leave_group(&self) {
        let plan = self.with_state(|st| {
            if st.expelled || st.peers.is_empty() {
                return None;
            }
            let mut targets: Vec<Id> = st.peers.keys().cloned().collect();
            targets.sort();
            for i in (1..targets.len()).rev() {
                let j = st.rng.below(i + 1);
                targets.swap(i, j);
            }
            targets.truncate(MAX_LEAVE_FANOUT);
            Some((targets, st.bare_envelope()))
        });
        let Some((targets, env)) = plan else { return };
        let payload = codec::encode(&Announce { kind: Kind::Leave, envelope: env });
        let calls: Vec<_> =
            targets.iter().filter_map(|t| self.call_async(t, wire::ANNOUNCE, payload.clone(), LEAVE_TIMEOUT).ok()).collect();
        let total = calls.len();
        let delivered = calls.into_iter().filter_map(|c| c.wait().ok()).count();
        crate::debug!("swim: leave announced to {delivered} of {total} members");
    }

    /// Push-pull of full states with `peer` (run when digests differ).
    pub(super) fn sync_with(&self, peer: &Id) {
        let (env, mine) = self.with_state(|st| (st.bare_envelope(), st.full_state()));
        let reply = self
            .call(peer, wire::SYNC, codec::encode(&Sync { envelope: env, state: mine }), self.sync_timeout())
            .map_err(FlockError::from)
            .and_then(|b| Ok(codec::decode::<StateReply>(&b)?));
        match reply {
            Ok(StateReply { status: Status::Ok, state: Some(theirs) }) => {
                self.with_state(|st| st.merge_state(&theirs, Instant::now()))
            }
            Ok(StateReply { status, .. }) => crate::debug!("swim: sync with ({}, {}) answered {status:?}", peer.0, peer.1),
            Err(e) => crate::debug!("swim: sync with ({}, {}) failed: {e}", peer.0, peer.1),
        }
    }

    // ---- the protocol period --------------------------------------------

    pub(super) fn protocol_period(&self) {
        let ttl = self.tombstone_ttl();
        if self.with_state(|st| {
            st.gc(Instant::now(), ttl);
            st.expelled
        }) {
            return;
        }
        if !self.state.lock().stalled {
            self.expire_suspicions();
        }
        let Some(target) = self.with_state(|st| st.next_probe_target()) else { return };
        if !self.probe(&target) {
            self.with_state(|st| {
                if !st.stalled {
                    st.suspect(&target, Instant::now());
                }
            });
        }
    }

    /// Direct probe, then indirect; true if `target` showed signs of life.
    pub(super) fn probe(&self, target: &Id) -> bool {
        let env = self.with_state(|st| st.envelope(Some(target)));
        if let Some((answer, theirs)) = self.ping(target, &env, self.config.ping_timeout()) {
            match answer {
                Answer::NotAlive => {}
                Answer::AliveAnnounce => {
                    self.announce_join(std::slice::from_ref(target));
                    return true;
                }
                Answer::Alive => {
                    let ours = self.state.lock().state_digest();
                    if theirs.digest != ours && !self.stopping() {
                        self.sync_with(target);
                    }
                    return true;
                }
            }
        }
        let k = self.config.ping_req_members as usize;
        let helpers = self.with_state(|st| st.helpers(k, target));
        let calls: Vec<_> = helpers
            .iter()
            .filter_map(|h| {
                let env = self.with_state(|st| st.envelope(Some(h)));
                let payload = codec::encode(&PingReq { envelope: env, target: target.0.clone(), target_pid: target.1 });
                self.call_async(h, wire::PING_REQ, payload, self.config.ping_req_timeout()).ok().map(|c| (h, c))
            })
            .collect();
        let mut alive = false;
        for (helper, call) in calls {
            let reply = call.wait().map_err(FlockError::from).and_then(|b| Ok(codec::decode::<PingReqReply>(&b)?));
            match reply {
                Ok(PingReqReply { status, probe, envelope: env })
                    if env.sender.address == helper.0 && env.sender.provider_id == helper.1 =>
                {
                    self.on_answer(status, &env);
                    if probe.responded {
                        alive = true;
                        if probe.generation != 0 {
                            let rec = MemberRecord {
                                kind: Kind::Alive,
                                address: target.0.clone(),
                                provider_id: target.1,
                                generation: probe.generation,
                                incarnation: probe.incarnation,
                            };
                            self.with_state(|st| {
                                if st.merge_member(&rec, Instant::now()) {
                                    st.gossip.add(Gossip::Member(rec));
                                }
                            });
                        }
                    }
                }
                Ok(_) => crate::warning!("swim: ({}, {}) answered a ping-req in another member's name", helper.0, helper.1),
                Err(e) => crate::debug!("swim: ping-req through ({}, {}) failed: {e}", helper.0, helper.1),
            }
        }
        alive
    }

    /// Suspicions that ran out: one last direct ping (carrying the
    /// suspicion, so a live member refutes it in its answer), then death.
    pub(super) fn expire_suspicions(&self) {
        let timeout = self.config.suspicion_timeout();
        let expired = self.with_state(|st| st.expired_suspicions(Instant::now(), timeout));
        let calls: Vec<_> = expired
            .into_iter()
            .map(|id| {
                let env = self.with_state(|st| st.envelope(Some(&id)));
                let call = self.call_async(&id, wire::PING, codec::encode(&env), self.config.ping_timeout()).ok();
                (id, call)
            })
            .collect();
        for (id, call) in calls {
            let answer = call
                .and_then(|c| c.wait().ok())
                .and_then(|b| codec::decode::<Ack>(&b).ok())
                .filter(|a| a.envelope.sender.address == id.0 && a.envelope.sender.provider_id == id.1)
                .map(|a| self.on_answer(a.status, &a.envelope));
            match answer {
                Some(Answer::Alive | Answer::AliveAnnounce) => self.with_state(|st| st.extend_suspicion(&id, Instant::now())),
                _ => {
                    self.with_state(|st| st.confirm(&id, Instant::now()));
                }
            }
        }
    }
}

pub(super) fn protocol_loop(shared: Weak<Shared>, stop: Receiver<()>, period: Duration) {
    // Upstream arms its timer for one period before the first probe.
    let mut next = Instant::now() + period;
    loop {
        if let Some(s) = shared.upgrade() {
            s.with_state(|st| st.sleeping_until = Some(next));
        }
        match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(s) = shared.upgrade() else { return };
        if s.stopping() || s.engine.is_finalizing() {
            return;
        }
        let start = Instant::now();
        s.with_state(|st| {
            s.note_stall(st, start);
            st.sleeping_until = None;
        });
        s.protocol_period();
        let took = start.elapsed();
        if took > s.longest_period() {
            // Frozen while probing: the sleeping-time check cannot see it.
            s.with_state(|st| {
                st.sleeping_until = Some(start + s.longest_period());
                s.note_stall(st, Instant::now());
            });
        }
        // A probe longer than a period (slow timeouts) delays the next one
        // rather than queueing periods up.
        next = (start + period).max(Instant::now());
    }
}

pub(super) fn emit_loop(events: Receiver<Event>, sink: Arc<dyn UpdateSink>) {
    for e in events.iter() {
        match e {
            Event::Membership(update, address, pid) => sink.membership(update, &address, pid),
            Event::Metadata(key, value) => sink.metadata(&key, &value),
            Event::MetadataRemoved(key) => sink.metadata_removed(&key),
        }
    }
}
